"""The web page's admin password (scrypt), sessions and login throttle (pure: no server)."""

from __future__ import annotations

import pytest

from edge.config import parse_config
from edge.errors import EdgeError
from edge.web import auth
from edge.web.auth import LoginThrottle, Sessions, hash_password, verify_password


def test_a_password_is_kept_only_as_a_salted_hash():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and "correct horse" not in a  # salted
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct horsE", a) and not verify_password("", a)
    assert not verify_password("correct horse", "scrypt$16384$8$1$bm90$YmFzZTY0")  # another hash
    assert not verify_password("correct horse", "scrypt$x$8$1$!!$??")  # malformed: never a match, never a crash


def test_a_short_password_is_refused_with_one_line():
    with pytest.raises(EdgeError, match="^the web page password is too short: use at least 8 characters$"):
        hash_password("1234567")


def test_the_config_takes_only_a_hash_in_web_password_hash():
    ok = parse_config(f'[web]\npassword_hash = "{hash_password("correct horse")}"\n')
    assert ok.web.password_hash and ok.web.url == "http://127.0.0.1:8080/"
    with pytest.raises(EdgeError, match=r"^config: web.password_hash: is not a password hash: set the web page "
                                        r"password with `edge provision --web-password`$"):
        parse_config('[web]\npassword_hash = "correct horse"\n')
    with pytest.raises(EdgeError, match=r"^config: web.port: Input should be less than or equal to 65535$"):
        parse_config("[web]\nport = 80800\n")


def test_failed_logins_are_throttled_per_client_until_the_window_passes(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    t = LoginThrottle(failures=3, window_s=60)
    for _ in range(3):
        assert t.wait_s("a") == 0
        t.failed("a")
        now[0] += 1
    assert t.wait_s("a") == pytest.approx(57) and t.wait_s("b") == 0
    now[0] += 57
    assert t.wait_s("a") == 0
    t.failed("a")
    t.succeeded("a")
    assert t.wait_s("a") == 0


def test_sessions_expire_and_are_bounded(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    s = Sessions(hours=1, limit=2)
    first, session = s.open()
    assert s.get(first) is session and len(session.csrf) > 30
    assert s.get("made-up") is None and s.get(None) is None
    second, _ = s.open()
    s.open()
    assert s.get(first) is None and s.get(second) is not None  # the oldest went first
    now[0] += 3601
    assert s.get(second) is None
