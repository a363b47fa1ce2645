"""The central DSN: validated, connected to, and kept out of every message (passwords never logged)."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from edge.errors import EdgeError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def check_dsn(dsn: str | None) -> dict[str, object]:
    """The DSN's parameters; a one-line EdgeError (not echoing the DSN) when missing or malformed."""
    if not dsn:
        raise EdgeError("no central database configured: set [sync] dsn in the secrets file "
                        "(postgresql://ROLE:PASSWORD@HOST:5432/DBNAME?sslmode=verify-full)")
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise EdgeError("[sync] dsn is not a valid PostgreSQL DSN: write "
                        "postgresql://ROLE:PASSWORD@HOST:5432/DBNAME?sslmode=verify-full") from None
    if params.get("sslmode", "prefer") not in SSLMODES:
        raise EdgeError(f"[sync] dsn has an unknown sslmode: use one of {', '.join(SSLMODES)} "
                        "(verify-full checks the server certificate and host name)")
    return params


def redact(text: str, dsn: str) -> str:
    """`text` with the DSN's password (and the DSN itself) masked; first line only."""
    line = (text.strip().splitlines() or ["unknown error"])[0]
    password = str(check_dsn(dsn).get("password") or "")
    for secret in (dsn, password):
        if secret:
            line = line.replace(secret, "***")
    return line


def connect(dsn: str, timeout_s: int, application_name: str) -> psycopg.Connection:
    """A connection for the sync agent (no server-side prepared statements: PgBouncer transaction pooling)."""
    check_dsn(dsn)
    return psycopg.connect(dsn, connect_timeout=timeout_s, application_name=application_name[:63],
                           prepare_threshold=None)
