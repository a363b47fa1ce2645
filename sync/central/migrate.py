"""Central schema migrations: versioned SQL files (sync/central/migrations/NNNN_name.sql), each applied once,
in its own transaction, recorded with its checksum in schema_migrations."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from edge.errors import UserError
from sync.connect import connect, describe

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
                    conn.execute(mig.path.read_text())
                    conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                                 (mig.version, mig.name, mig.checksum))
            except psycopg.Error as e:
                raise UserError(f"migration {mig.name} failed (rolled back): {describe(e)}") from None
            done.append(mig.name)
        return done
