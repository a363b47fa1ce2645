"""A box serving its web page: `edge run` as a real process on a box.toml of its own, and Debian's Chromium,
headless, for the browser tests and the benchmark (never a downloaded browser: Playwright drives /usr/bin/chromium).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from models.paths import REPO_ROOT
from tests.support import require

CHROMIUM = Path("/usr/bin/chromium")
# headless, offline, nothing phoning home; Playwright gives each launch a fresh --user-data-dir
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium (scripts/system-deps.sh test installs it), headless."""
    return playwright.chromium.launch(executable_path=str(require(CHROMIUM)), args=CHROMIUM_ARGS, headless=True)


def write_box(folder: Path, source: str, port: int, password_hash: str, lines: str, extra: str = "") -> Path:
    """box.toml (with comments, the camera's source without its password) and its secrets file (the source with
    it, the web password's hash); the config's path."""
    secrets = folder / "secrets.toml"
    secrets.write_text(f'[cameras.door]\nsource = "{source}"\n[web]\npassword_hash = "{password_hash}"\n')
    secrets.chmod(0o600)
    config = folder / "box.toml"
    config.write_text(
        "# the test shop's box\n"
        f'device_id = "box1"\nsecrets_file = "{secrets}"\n\n'
        "[[cameras]]\n"
        'name = "door"  # over the front door\n'
        'source = "rtsp://127.0.0.1/cam"  # the real one, with its password, is in the secrets file\n'
        f"lines = [{lines}]\n\n"
        f'[buffer]\npath = "{folder / "buffer.sqlite"}"\n\n'
        "[capture]\nopen_timeout_s = 5\nread_timeout_s = 1\nfreeze_timeout_s = 2\nbackoff_initial_s = 0.2\n"
        'backoff_max_s = 1\nffmpeg_options = "probesize;32"\n\n'
        f"[web]\nport = {port}  # picked by the test\n{extra}")
    return config


class EdgeRun:
    """`edge run --config CONFIG` in its own process, its log in a file."""

    def __init__(self, config: Path, log: Path, port: int) -> None:
        self.config, self.log, self.url = config, log, f"http://127.0.0.1:{port}"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "--log-level", "info", "run", "--config", str(config)],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

    def wait_ready(self, timeout: float = 60.0) -> EdgeRun:
        """Until the page answers (the model is loaded by then)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge run exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"edge run's page did not answer in {timeout:g} s:\n{self.log.read_text()}")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as systemd stops it; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
