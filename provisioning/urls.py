"""Camera sources as installers type them: a camera's password may hold '#', '@', '/', '?', ':' or '%', which a
URL parser reads as the start of a fragment, the host, the path or the port. The user information is cut off at
the last '@', its user and password percent-encoded (FFmpeg and the RTSP probe decode them), and the rest must
then parse as host, port and path. The password is taken as typed: '%41' is those three characters, not 'A'."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from edge.errors import UserError

CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
URL_FORM = "rtsp://USER:PASSWORD@HOST:554/PATH"


def _encode(part: str) -> str:
    """Percent-encode a user or password as typed."""
    return quote(part, safe="")


def camera_source(camera: str, raw: str) -> str:
    """The camera URL with its credentials percent-encoded, or a file path as given; a one-line UserError (never
    echoing the URL, which holds the password) when it cannot be a camera source."""
    raw = raw.strip()
    if not raw:
        raise UserError(f"camera {camera}: no source given: write {URL_FORM}")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise UserError(f"camera {camera}: the source contains control characters: type the URL again ({URL_FORM})")
    m = _URL.fullmatch(raw)
    if not m:
        return raw  # a recorded file (the camera check says if it is missing)
    scheme, rest = m.groups()
    if scheme.lower() not in CAMERA_SCHEMES:
        raise UserError(f"camera {camera}: {scheme}:// is not a camera URL: write {URL_FORM}")
    userinfo, at, hostpart = rest.rpartition("@")
    auth = ""
    if at:
        user, colon, password = userinfo.partition(":")
        auth = _encode(user) + (":" + _encode(password) if colon else "") + "@"
    if any(c.isspace() for c in hostpart):
        raise UserError(f"camera {camera}: the URL's host or path contains a space: write {URL_FORM}")
    url = f"{scheme}://{auth}{hostpart}"
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as e:
        raise UserError(f"camera {camera}: the URL's host or port is invalid ({e}): write {URL_FORM}") from None
    if not host:
        raise UserError(f"camera {camera}: the URL names no host: write {URL_FORM}")
    return url
