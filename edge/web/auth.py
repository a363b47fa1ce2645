"""Who may use the box's web page: the admin password, sessions, CSRF tokens, and a throttle on failed logins.

The password is kept only as a scrypt hash (hashlib, memory-hard: a stolen secrets file does not give it away
cheaply) in the secrets file, `[web] password_hash`. A login opens a server-side session named by a random
cookie (HttpOnly, SameSite=Strict); each session has its own CSRF token, which every write must send back, so
another site open in the installer's browser cannot make it save lines. Sessions live in memory: restarting
`edge run` logs everybody out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from edge.errors import UserError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and tens of ms per try
MIN_PASSWORD = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` of a new admin password (what `edge provision` writes to the secrets file)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the web page password is too short: use at least {MIN_PASSWORD} characters")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by `hash_password` (compared in constant time)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected), maxmem=2**26)
    except ValueError:  # the config loader checks the hash's form; a hash it let through still never matches
        return False
    return hmac.compare_digest(got, expected)


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    """Logged-in browsers by session cookie; at most `limit` (the oldest go first), each for `hours`."""

    def __init__(self, hours: float, limit: int = 100) -> None:
        self.seconds, self.limit = hours * 3600, limit
        self._by_token: OrderedDict[str, Session] = OrderedDict()

    def open(self) -> tuple[str, Session]:
        token, session = secrets.token_urlsafe(32), Session(secrets.token_urlsafe(32), time.monotonic() + self.seconds)
        self._by_token[token] = session
        while len(self._by_token) > self.limit:
            self._by_token.popitem(last=False)
        return token, session

    def get(self, token: str | None) -> Session | None:
        session = self._by_token.get(token or "")
        if session is not None and session.expires < time.monotonic():
            del self._by_token[token or ""]
            return None
        return session

    def close(self, token: str | None) -> None:
        self._by_token.pop(token or "", None)


def same_token(sent: str | None, expected: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


class LoginThrottle:
    """After `failures` failed logins within `window_s` from one client, its next tries are refused until the
    oldest of them leaves the window (behind an SSH tunnel every client is 127.0.0.1: then it holds for all)."""

    def __init__(self, failures: int, window_s: float, clients: int = 1000) -> None:
        self.failures, self.window_s, self.clients = failures, window_s, clients
        self._failed: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_s(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        times = self._failed.get(client)
        if times is None:
            return 0.0
        now = time.monotonic()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < self.failures:
            return 0.0
        return times[0] + self.window_s - now

    def failed(self, client: str) -> None:
        self._failed.setdefault(client, deque(maxlen=self.failures)).append(time.monotonic())
        self._failed.move_to_end(client)
        while len(self._failed) > self.clients:
            self._failed.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failed.pop(client, None)
