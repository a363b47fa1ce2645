"""Throwaway PostgreSQL servers (../shared/tools/pg_temp.sh) and PgBouncer, on 127.0.0.1 only."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from models.paths import REPO_ROOT
from tests.support import TOOLS, free_port, require

CONF = REPO_ROOT / "sync" / "central" / "conf"


def conf_lines(path: Path) -> str:
    """Setting lines of a postgresql.conf example, comments stripped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return "\n".join(line for line in lines if line)


class PgServer:
    """A throwaway PostgreSQL 15 on 127.0.0.1; stop/start to simulate outages. A context manager: removed after.

    `extra_conf` is appended to postgresql.conf at initdb (e.g. the production example's settings).
    """

    def __init__(self, extra_conf: str = "") -> None:
        self.dir = tempfile.mkdtemp(prefix="pg.", dir="/tmp")  # user postgres must reach it
        self.port = free_port()
        self.extra_conf = extra_conf
        self.url = ""

    def start(self) -> str:
        env = dict(os.environ, PG_EXTRA_CONF=self.extra_conf) if self.extra_conf else None
        out = subprocess.run(["bash", str(require(TOOLS / "pg_temp.sh")), "start", self.dir, str(self.port)],
                             check=True, capture_output=True, text=True, env=env)
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(TOOLS / "pg_temp.sh"), "stop", self.dir], check=False, capture_output=True)

    def dsn(self, dbname: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + dbname

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def reconfigure(server: PgServer, hba: str, **settings: str) -> None:
    """Replace the server's pg_hba.conf and ALTER SYSTEM `settings`, then reload. Done over the Unix socket, which
    `hba` should keep trusted (`local all all trust`): e.g. to demand passwords or TLS on 127.0.0.1."""
    (Path(server.dir) / "data" / "pg_hba.conf").write_text(hba)
    with psycopg.connect(**socket_params(server), autocommit=True) as conn:
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")


def socket_params(server: PgServer, dbname: str = "postgres") -> dict[str, object]:
    """Connection parameters of the superuser over the server's Unix socket."""
    return {"host": str(Path(server.dir) / "sock"), "port": server.port, "user": "postgres", "dbname": dbname}


@contextmanager
def database(server: PgServer, name: str) -> Iterator[str]:
    """A fresh, empty database on `server` (a leftover of that name is dropped first), dropped afterwards."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server.dsn(name)
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pgbouncer(workdir: Path, pg_port: int, dbname: str) -> Iterator[int]:
    """PgBouncer with the example's pool settings in front of the server; yields its port."""
    example = configparser.ConfigParser(inline_comment_prefixes=(";",))
    example.read(CONF / "pgbouncer.ini.example")
    bdir = workdir / "pgbouncer"
    bdir.mkdir()
    port = free_port()
    settings = dict(example["pgbouncer"], listen_addr="127.0.0.1", listen_port=str(port), unix_socket_dir="",
                    auth_type="trust", auth_file=str(bdir / "userlist.txt"), logfile=str(bdir / "pgbouncer.log"),
                    pidfile=str(bdir / "pgbouncer.pid"))
    (bdir / "userlist.txt").write_text('"postgres" ""\n')
    (bdir / "pgbouncer.ini").write_text(
        f"[databases]\n{dbname} = host=127.0.0.1 port={pg_port} dbname={dbname}\n\n[pgbouncer]\n"
        + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # pgbouncer refuses root
    if as_postgres:
        shutil.chown(bdir, "postgres")
    subprocess.run([*as_postgres, "pgbouncer", "-d", str(bdir / "pgbouncer.ini")], check=True)
    pidfile = bdir / "pgbouncer.pid"
    for _ in range(50):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"pgbouncer did not start: see {bdir / 'pgbouncer.log'}")
    try:
        yield port
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
