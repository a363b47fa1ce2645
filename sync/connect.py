"""Connecting to the central database, for the sync agent, the administrator commands and provisioning alike.

One DSN check, one `connect()`, one reading of driver errors: those that clear up by themselves (retry later)
and those a person must fix. Passwords never reach a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from edge.errors import Unavailable, UserError
from edge.secrets import mask

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DSN_FORM = "postgresql://ROLE:PASSWORD@HOST:5432/DBNAME?sslmode=verify-full"
# SQLSTATE classes of errors that go away by themselves: connection exception, insufficient resources,
# operator intervention (server shutting down or starting), transaction rollback (serialization, deadlock).
_TRANSIENT_CLASSES = ("08", "53", "57", "40")
# A failed connection carries no SQLSTATE in libpq (psycopg's `sqlstate` is None), only a message. These parts of
# it mean central answered and refused, or the DSN points at something that is not central: waiting does not help,
# a person must fix the DSN or central. Anything else (TCP refused or timed out, too many clients, starting up) is
# an outage. Server-side texts are PostgreSQL's English ones (lc_messages); under another language such a refusal
# is taken for an outage: retried, never lost.
_REFUSALS = (
    (r"authentication failed", "check the role name and password"),
    (r"no password supplied", "put the role's password in the DSN"),
    (r"is not permitted to log in", "the role may not log in: create it again with `edge provision --admin-dsn`"),
    (r'database ".*" does not exist', "check the database name"),
    (r'role ".*" does not exist', "check the role name (`edge provision --admin-dsn` creates it)"),
    (r"no pg_hba\.conf entry|pg_hba\.conf rejects", "central's pg_hba.conf does not admit this connection: check "
                                                     "sslmode, or ask central's administrator"),
    (r"permission denied for database", "the role may not connect to that database: grant it CONNECT"),
    (r"certificate verify failed", "check sslrootcert: it must be the CA that signed central's certificate"),
    (r"does not match host name", "the DSN's host must be a name in central's certificate"),
    (r"server does not support ssl", "central does not offer TLS there: check the host, port and sslmode"),
    (r"root certificate file", "the sslrootcert file is missing: give --central-ca or fix the path"),
    (r"expected authentication request|invalid response to ssl negotiation|received invalid response",
     "nothing there speaks PostgreSQL: check the port"),
    (r"name or service not known|no address associated with hostname", "no such host: check the host name"),
)


def refusal(e: BaseException) -> str | None:
    """What to fix when `e` says central refused the connection for good (or is not central); None for an outage."""
    text = str(e).lower()
    return next((hint for pattern, hint in _REFUSALS if re.search(pattern, text)), None)


def check_dsn(dsn: str | None, what: str = "[sync] dsn") -> dict[str, Any]:
    """The DSN's parameters; a one-line UserError (not echoing the DSN) when missing or malformed."""
    if not dsn:
        raise UserError(f"no central database configured: set [sync] dsn in the secrets file ({DSN_FORM})")
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise UserError(f"{what} is not a valid PostgreSQL DSN: write {DSN_FORM}") from None
    if params.get("sslmode", "prefer") not in SSLMODES:
        raise UserError(f"{what} has an unknown sslmode: use one of {', '.join(SSLMODES)} "
                        "(verify-full checks the server certificate and host name)")
    return params


def describe(e: BaseException | str, dsn: str | None = None) -> str:
    """First line of a driver message with `dsn`, its password, and anything like a password masked."""
    secrets: list[str | None] = [dsn]
    if dsn:
        try:
            secrets.append(str(conninfo_to_dict(dsn).get("password") or ""))
        except psycopg.ProgrammingError:
            pass
    return mask(e, *secrets)


def is_transient(e: BaseException) -> bool:
    """True for a lost or refused connection and for server-side conditions that clear up; data errors are not."""
    if isinstance(e, Unavailable):
        return True
    if isinstance(e, psycopg.Error):
        state = e.sqlstate
        if state is None:
            return isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)) and refusal(e) is None
        return state[:2] in _TRANSIENT_CLASSES
    return isinstance(e, (ConnectionError, TimeoutError))


def connect(dsn: str, *, timeout_s: int = 10, autocommit: bool = False, application_name: str = "edge-counter",
            utc: bool = False) -> psycopg.Connection:
    """A connection to central: Unavailable when it cannot be reached now; UserError when the DSN is malformed or
    central refuses it for good (wrong password or database, pg_hba, TLS verification, not PostgreSQL at all).

    No server-side prepared statements, so PgBouncer's transaction pooling can sit in between. `utc` sets the
    session time zone at startup (partition bounds and summaries are UTC days); PgBouncer refuses that startup
    option, so the sync agent does not ask for it.
    """
    options: dict[str, Any] = {"options": "-c TimeZone=UTC"} if utc else {}
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=timeout_s,
                               application_name=application_name[:63], prepare_threshold=None, **options)
    except (psycopg.ProgrammingError, ValueError) as e:
        raise UserError(f"cannot connect to the central database: {describe(e, dsn)}") from None
    except psycopg.Error as e:
        if hint := refusal(e):
            raise UserError(f"central database refused the connection: {describe(e, dsn)}: {hint}") from None
        raise Unavailable(f"cannot connect to the central database: {describe(e, dsn)}") from None


def one(cursor: psycopg.Cursor[Any]) -> Any:
    """The row of a statement that always returns one (an aggregate, a function call)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


@contextmanager
def querying(schema: str, action: str) -> Iterator[None]:
    """Driver errors as one-line UserErrors; a missing table or function means `schema` is not migrated yet."""
    try:
        yield
    except (psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedTable) as e:
        raise UserError(f"the central database has no {schema} ({describe(e)}): "
                        "run `edge central migrate` first") from None
    except psycopg.Error as e:
        raise UserError(f"{action} failed: {describe(e)}") from None
