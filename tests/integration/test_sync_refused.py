"""`edge sync` against a real PostgreSQL that demands passwords: a connection central refuses for good (wrong
password, database or role; a port that is not PostgreSQL) ends the agent at once in one line, `--once` or not;
an outage is waited out and the rows delivered afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sync.central.roles import create_device_role
from tests.support import LoopbackPeer
from tests.support.pg import PgServer, reconfigure, socket_params
from tests.support.sync import buffer_event_ids, central_event_ids, fill, migrate_central

PASSWORD = "box-pw-4711"
SLOW_RETRIES = "retry_attempts = 10\nretry_initial_s = 5.0\nretry_max_s = 60.0\n"  # retrying would take minutes


@pytest.fixture(scope="module")
def central(pg_factory: Callable[[], PgServer]) -> Iterator[tuple[PgServer, str]]:
    """A server that admits TCP logins with a password only (scram), migrated, with role box_box1."""
    srv = pg_factory()
    reconfigure(srv, "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
                password_encryption="scram-sha-256")
    with psycopg.connect(**socket_params(srv), autocommit=True) as conn:
        conn.execute("CREATE DATABASE central")
    admin = f"host={srv.dir}/sock port={srv.port} user=postgres dbname=central"
    migrate_central(admin)
    create_device_role(admin, "box1", PASSWORD)
    yield srv, admin


def box_url(srv: PgServer, password: str = PASSWORD, db: str = "central", user: str = "box_box1",
            port: int | None = None) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port or srv.port}/{db}"


def sync(tmp_path: Path, dsn: str, *args: str, settings: str = SLOW_RETRIES,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "box.toml"
    config.write_text(f'device_id = "box1"\n[buffer]\npath = "{tmp_path / "buffer.sqlite"}"\n'
                      f'[sync]\ndsn = "{dsn}"\n{settings}')
    return subprocess.run([sys.executable, "-m", "edge.cli", "sync", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout)


class NotPostgres(LoopbackPeer):
    """A loopback peer that answers like an SSH server: a DSN whose port is wrong."""

    def talk(self, conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")



@pytest.mark.parametrize("case", ["password", "database", "role", "not postgres"])
@pytest.mark.parametrize("once", [True, False], ids=["once", "continuous"])
def test_a_refused_connection_stops_the_agent_in_one_line(central, tmp_path, case, once):
    srv, admin = central
    peer = NotPostgres() if case == "not postgres" else None
    dsn = {"password": box_url(srv, password="wrong-pw"), "database": box_url(srv, db="nosuchdb"),
           "role": box_url(srv, user="box_nobody"), "not postgres": box_url(srv, port=peer.port if peer else 0)}[case]
    fill(tmp_path / "buffer.sqlite", 50)
    out = sync(tmp_path, dsn, *(["--once"] if once else []))  # 10 retries from 5 s would outlast the timeout
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: central database refused the connection"), lines
    assert "fix [sync] dsn" in lines[0] and "wrong-pw" not in out.stderr and PASSWORD not in out.stderr
    assert len(buffer_event_ids(tmp_path / "buffer.sqlite")) == 50 and central_event_ids(admin) == []


def test_an_outage_is_waited_out_then_everything_is_delivered(pg_factory, tmp_path):
    srv = pg_factory()
    migrate_central(srv.url)
    create_device_role(srv.url, "box1", PASSWORD)
    fill(tmp_path / "buffer.sqlite", 200)
    pending = buffer_event_ids(tmp_path / "buffer.sqlite")
    srv.stop()
    config = tmp_path / "box.toml"
    config.write_text(f'device_id = "box1"\n[buffer]\npath = "{tmp_path / "buffer.sqlite"}"\n'
                      f'[sync]\ndsn = "{box_url(srv, db="postgres")}"\nretry_initial_s = 0.1\nretry_max_s = 1.0\n')
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "sync", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()  # central down: the agent waits, it does not give up
        srv.start()
        for _ in range(120):
            if central_event_ids(srv.url) == pending:
                break
            time.sleep(0.5)
        assert central_event_ids(srv.url) == pending
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
