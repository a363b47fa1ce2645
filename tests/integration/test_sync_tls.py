"""Delivery over TLS to a real PostgreSQL that accepts TLS connections only: `sslmode=verify-full` with the
central CA delivers; a wrong CA, a wrong host name or TLS turned off are refused in one line (no retries: waiting
cannot fix them), nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sync.central.roles import create_device_role
from tests.support.pg import PgServer, reconfigure, socket_params
from tests.support.sync import buffer_event_ids, central_event_ids, fill, migrate_central

pytestmark = pytest.mark.pg
PASSWORD = "tls-s3cret-pw"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)


def make_server_cert(d: Path, ca: str) -> None:
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory,
               pg_factory: Callable[[], PgServer]) -> Iterator[tuple[PgServer, Path]]:
    """A throwaway server whose pg_hba only admits TLS (hostssl), with a certificate for localhost/127.0.0.1."""
    srv = pg_factory()
    data = Path(srv.dir) / "data"
    certs = tmp_path_factory.mktemp("certs")
    make_ca(certs, "central-ca")
    make_ca(certs, "other-ca")
    make_server_cert(certs, "central-ca")
    owner = data.stat()
    for name in ("server.crt", "server.key"):
        target = data / name
        target.write_bytes((certs / name).read_bytes())
        target.chmod(0o600)
        os.chown(target, owner.st_uid, owner.st_gid)
    reconfigure(srv, "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n", ssl="on",
                password_encryption="scram-sha-256")
    with psycopg.connect(**socket_params(srv), autocommit=True) as conn:
        conn.execute("CREATE DATABASE central")
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
