"""Ask an RTSP server why a stream will not open: refused, silent, not RTSP, 401 or 404 (OpenCV cannot tell).

One diagnosis for `edge provision`'s camera check and `edge run`'s health records alike."""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class NotRtsp(Exception):
    """The peer answered, but not in RTSP (another service on that port)."""


@dataclass(frozen=True)
class Probe:
    status: int | None          # RTSP status of DESCRIBE (after authenticating, if asked), None if no answer
    problem: str | None         # what to fix, or None when the stream is there


def _request(sock: socket.socket, url: str, cseq: int, auth: str | None) -> tuple[int, dict[str, str]]:
    lines = [f"DESCRIBE {url} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp", "User-Agent: edge-provision"]
    if auth:
        lines.append(f"Authorization: {auth}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    m = re.match(r"RTSP/\d\.\d (\d{3})", head[0] if head else "")
    if not m:
        raise NotRtsp(head[0] if head else "")
    headers: dict[str, str] = {}
    for h in head[1:]:
        k, _, v = h.partition(":")
        headers.setdefault(k.strip().lower(), v.strip())
    return int(m.group(1)), headers


def _authorization(challenge: str, user: str, password: str, url: str) -> str | None:
    scheme, _, params = challenge.partition(" ")
    if scheme.lower() == "basic":
        import base64

        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if scheme.lower() != "digest":
        return None
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', params))
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"DESCRIBE:{url}")
    response = _md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{url}", response="{response}"'


def _md5(text: str) -> str:
    """RTSP digest authentication is MD5 by definition (RFC 2326 / 2617)."""
    return hashlib.md5(text.encode()).hexdigest()


def probe(url: str, timeout: float = 3.0) -> Probe:
    """DESCRIBE the stream (authenticating with the URL's credentials if challenged); other URLs: no verdict."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        return Probe(None, None)  # only an RTSP server can be asked
    host, port = parts.hostname or "", parts.port or 554
    where = f"{host}:{port}"
    bare = parts._replace(netloc=f"{host}:{port}" if parts.port else host).geturl()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            status, headers = _request(sock, bare, 1, None)
            if status == 401 and parts.username is not None:
                auth = _authorization(headers.get("www-authenticate", ""), unquote(parts.username),
                                      unquote(parts.password or ""), bare)
                if auth:
                    status, headers = _request(sock, bare, 2, auth)
    except NotRtsp:  # not an OSError: no ordering of the clauses below can swallow it
        return Probe(None, f"{where} does not speak RTSP: check the port and the URL scheme")
    except ConnectionRefusedError:
        return Probe(None, f"nothing listens on {where}: check the camera's address and RTSP port")
    except TimeoutError:
        return Probe(None, f"no answer from {where} within {timeout:g} s: check the camera is on and reachable")
    except OSError as e:  # reset, unreachable network, unknown host
        return Probe(None, f"cannot reach {where} ({e.strerror or e}): check the address")
    if status == 401:
        what = "the user name or password in the URL" if parts.username is not None else "credentials"
        return Probe(401, f"the camera at {where} refused access (401 Unauthorized): check {what}")
    if status == 404:
        return Probe(
            404, f"the camera at {where} has no stream at {parts.path or '/'} (404 Not Found): check the stream path"
        )
    if status >= 300:
        return Probe(status, f"the camera at {where} answered RTSP {status}: check the URL")
    return Probe(status, None)
