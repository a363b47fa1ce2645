"""Delivery over TLS to a real PostgreSQL that accepts TLS connections only: `sslmode=verify-full` with the
central CA delivers; a wrong CA, a wrong host name or TLS turned off are refused in one line (no retries: waiting
cannot fix them), nothing lost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sync.central.roles import create_device_role
from tests.support.pg import PgServer
from tests.support.sync import buffer_event_ids, central_event_ids, fill, migrate_central
from tests.support.tls import tls_only

pytestmark = pytest.mark.pg
PASSWORD = "tls-s3cret-pw"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory,
               pg_factory: Callable[[], PgServer]) -> Iterator[tuple[PgServer, Path]]:
    """A throwaway server whose pg_hba only admits TLS (hostssl), with a certificate for localhost/127.0.0.1."""
    srv = pg_factory()
    certs = tmp_path_factory.mktemp("certs")
    tls_only(srv, certs)
    yield srv, certs


def sync_once(tmp_path: Path, buffer: Path, dsn: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "box.toml"
    config.write_text(f'device_id = "box1"\n[buffer]\npath = "{buffer}"\n[sync]\ndsn = "{dsn}"\n'
                      "retry_attempts = 2\nretry_initial_s = 0.05\n")
    return subprocess.run([sys.executable, "-m", "edge.cli", "sync", "--once", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


def test_verify_full_delivers_over_tls_and_bad_tls_is_refused_in_one_line(tls_server, tmp_path):
    srv, certs = tls_server
    admin = f"host={srv.dir}/sock port={srv.port} user=postgres dbname=central"
    migrate_central(admin)
    role = create_device_role(admin, "box1", PASSWORD)
    box = f"postgresql://{role}:{PASSWORD}@localhost:{srv.port}/central?hostaddr=127.0.0.1&sslmode=verify-full"
    buffer = tmp_path / "buffer.sqlite"
    fill(buffer, 300)
    pending = buffer_event_ids(buffer)

    refusals = (
        (f"{box}&sslrootcert={certs}/other-ca.crt", "certificate verify failed"),
        (f"{box.replace('localhost', 'central.invalid')}&sslrootcert={certs}/central-ca.crt", "does not match"),
        (box.replace("sslmode=verify-full", "sslmode=disable"), "no encryption"),
    )
    for dsn, reason in refusals:
        out = sync_once(tmp_path, buffer, dsn)
        assert out.returncode == 2, out.stderr
        last = out.stderr.strip().splitlines()[-1]  # refused for good: one line at once, no retries
        assert last.startswith("error: central database refused the connection") and reason in last, last
        assert PASSWORD not in out.stderr + out.stdout
    assert central_event_ids(admin) == []

    out = sync_once(tmp_path, buffer, f"{box}&sslrootcert={certs}/central-ca.crt")
    assert out.returncode == 0, out.stderr
    assert central_event_ids(admin) == pending  # every row, once, over the TLS-only listener
    with psycopg.connect(f"{box}&sslrootcert={certs}/central-ca.crt") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
