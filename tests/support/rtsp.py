"""../shared/tools/rtsp_serve.py serving a video file as a live camera on 127.0.0.1."""

from __future__ import annotations

import select
import socket
import subprocess
import threading
from pathlib import Path
from signal import SIGTERM

from tests.support import TOOLS, require


class RtspServer:
    """One looping RTSP camera; `port` 0 picks a free one, which `restart` (stop + start) keeps."""

    def __init__(self, video: Path, log_path: Path, port: int = 0, path: str = "/cam") -> None:
        self.video, self.log_path, self.port, self.path = video, log_path, port, path
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20) -> RtspServer:
        with open(self.log_path, "a") as log:  # a file, not a pipe: a full pipe would block it
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", str(require(TOOLS / "rtsp_serve.py")), str(self.video),
                 "--port", str(self.port), "--path", self.path, "--die-with-parent"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"rtsp_serve did not start: {line!r}\n{Path(self.log_path).read_text()}")
        self.url = line.split()[1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])  # restart() reuses it
        return self

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


class Rtsp401:
    """A loopback RTSP peer that demands Digest credentials and refuses every user (a camera with a wrong password).
    `close()` stops it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while True:
                    try:
                        data = conn.recv(4096)
                    except OSError:
                        break
                    if not data:
                        break
                    buf += data
                    while b"\r\n\r\n" in buf:
                        req, buf = buf.split(b"\r\n\r\n", 1)
                        cseq = next((ln.split(b":")[1].strip() for ln in req.split(b"\r\n")
                                     if ln.lower().startswith(b"cseq")), b"1")
                        conn.sendall(
                            b"RTSP/1.0 401 Unauthorized\r\nCSeq: "
                            + cseq
                            + b'\r\nWWW-Authenticate: Digest realm="cam", nonce="abc123"\r\n\r\n'
                        )

    def close(self) -> None:
        self.sock.close()
