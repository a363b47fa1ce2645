"""../shared/tools/rtsp_serve.py serving a video file as a live camera on 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import select
import socket
import subprocess
from pathlib import Path
from signal import SIGTERM

from tests.support import TOOLS, LoopbackPeer, require


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


class Rtsp401(LoopbackPeer):
    """A loopback RTSP peer that demands Digest credentials and refuses every user (a camera with a wrong password).
    `close()` stops it."""

    def talk(self, conn: socket.socket) -> None:
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
                lines = req.decode(errors="replace").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                cseq = headers.get("cseq", "1").encode()
                conn.sendall(b"RTSP/1.0 " + self.answer(lines[0].split(" ")[0], headers) + b"\r\nCSeq: "
                             + cseq + b'\r\nWWW-Authenticate: Digest realm="cam", nonce="abc123"\r\n\r\n')

    def answer(self, method: str, headers: dict[str, str]) -> bytes:
        return b"401 Unauthorized"


class DigestCamera(Rtsp401):
    """A loopback RTSP peer that accepts one user and password (Digest, RFC 2617 without qop), then answers 404:
    proof that the password reached the camera intact. `authorized` lists the User-Agents that got in."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.authorized: list[str] = []
        super().__init__()

    def answer(self, method: str, headers: dict[str, str]) -> bytes:
        given = dict(re.findall(r'(\w+)="([^"]*)"', headers.get("authorization", "")))
        if given.get("username") == self.user:
            ha1 = _md5(f"{self.user}:cam:{self.password}")
            if given.get("response") == _md5(f"{ha1}:abc123:{_md5(method + ':' + given.get('uri', ''))}"):
                self.authorized.append(headers.get("user-agent", ""))
                return b"404 Not Found"
        return b"401 Unauthorized"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
