"""Central schema migrations: versioned SQL files (sync/central/migrations/NNNN_name.sql), each applied once,
in its own transaction, statement by statement, recorded with its checksum in schema_migrations.

On a Citus coordinator the migrations run as on one server (Citus propagates their DDL to the shards); what a
migration adds is then given its place by `sync.central.citus.distribute` (`edge central migrate` does both).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from edge.errors import UserError
from sync.connect import connect, describe, one

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x6564676543  # advisory lock: one migrate at a time


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, in version order; a misnamed or duplicate version is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise UserError(f"migration file {path.name} is not named NNNN_name.sql")
        if m.group(1) in found:
            raise UserError(f"migrations {found[m.group(1)].path.name} and {path.name} share version {m.group(1)}")
        found[m.group(1)] = Migration(m.group(1), path.stem, path)
    return list(found.values())


_TOKEN = re.compile(r"""--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"|(\$[A-Za-z_0-9]*\$)|;""", re.DOTALL)


def statements(text: str) -> list[str]:
    """The SQL statements of a migration file: split at the semicolons outside comments, quotes and dollar quotes
    (migrations use no E'' strings with backslash-escaped quotes), empty and comment-only pieces left out.

    Why: Citus sends a statement's original query string on to the shards, so CREATE INDEX or CREATE TRIGGER on a
    distributed table inside a multi-statement string fails ("cannot insert multiple commands into a prepared
    statement"). Each migration still runs in one transaction."""
    pieces, start, pos = [], 0, 0
    while (m := _TOKEN.search(text, pos)) is not None:
        if m.group(1):  # a dollar quote: on to its closing tag
            end = text.find(m.group(1), m.end())
            pos = len(text) if end < 0 else end + len(m.group(1))
            continue
        pos = m.end()
        if m.group(0) == ";":
            pieces.append(text[start:pos])
            start = pos
    pieces.append(text[start:])
    code = [_TOKEN.sub(lambda t: "" if t.group(0).startswith(("--", "/*")) else t.group(0), p).strip() for p in pieces]
    return [p.strip() for p, c in zip(pieces, code) if c not in ("", ";")]


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction.

    Returns the names applied (empty: already up to date). A recorded migration whose file changed since
    is an error: fix forward with a new migration instead.
    """
    with connect(dsn, autocommit=True, utc=True) as conn:
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))  # released when the connection closes
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
                         "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            applied: dict[str, str] = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            citus = one(conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"))[0]
        except psycopg.Error as e:
            raise UserError(f"cannot read the applied migrations: {describe(e)}") from None
        done = []
        for mig in migrations(directory):
            if mig.version in applied:
                if applied[mig.version] != mig.checksum:
                    raise UserError(f"migration {mig.name} changed after it was applied: add a new migration instead")
                continue
            try:
                with conn.transaction():
                    if citus:
                        # DDL, then functions over distributed tables in one transaction: one connection per node
                        # ("cannot run function command because there was a parallel operation on a distributed
                        # table in the transaction"). Triggers on distributed tables write co-located rows only
                        # (tests/integration/test_central_citus.py holds them to it), which Citus cannot know.
                        conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
                        conn.execute("SET LOCAL citus.enable_unsafe_triggers = on")
                    for statement in statements(mig.path.read_text()):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                                 (mig.version, mig.name, mig.checksum))
            except psycopg.Error as e:
                raise UserError(f"migration {mig.name} failed (rolled back): {describe(e)}") from None
            done.append(mig.name)
        return done
