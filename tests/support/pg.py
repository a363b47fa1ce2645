"""Throwaway PostgreSQL servers (../shared/tools/pg_temp.sh) and PgBouncer, on 127.0.0.1 only."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from models.paths import REPO_ROOT
from tests.support import TOOLS, free_port, require

CONF = REPO_ROOT / "sync" / "central" / "conf"
# The backends the central suite runs on (tests/conftest.py central_dsn): one server and a three-node Citus
# cluster. EDGE_CENTRAL_BACKENDS=pg (or citus) runs one of them, e.g. while working on something else.
CENTRAL_BACKENDS = os.environ.get("EDGE_CENTRAL_BACKENDS", "pg,citus").split(",")


def conf_lines(path: Path) -> str:
    """Setting lines of a postgresql.conf example, comments stripped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return "\n".join(line for line in lines if line)


class PgServer:
    """A throwaway PostgreSQL 15 on 127.0.0.1; stop/start to simulate outages. A context manager: removed after.

    `extra_conf` is appended to postgresql.conf at initdb (e.g. the production example's settings); `preload`
    is shared_preload_libraries (e.g. "citus").
    """

    def __init__(self, extra_conf: str = "", preload: str = "") -> None:
        self.dir = tempfile.mkdtemp(prefix="pg.", dir="/tmp")  # user postgres must reach it
        self.port = free_port()
        self.extra_conf = extra_conf
        self.preload = preload
        self.url = ""

    def start(self) -> str:
        env = dict(os.environ, PG_EXTRA_CONF=self.extra_conf, PG_PRELOAD=self.preload)
        out = subprocess.run(["bash", str(require(TOOLS / "pg_temp.sh")), "start", self.dir, str(self.port)],
                             capture_output=True, text=True, env=env)
        if out.returncode:
            raise RuntimeError(f"PostgreSQL on port {self.port} did not start: {out.stderr.strip()}")
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
    drop_database(server, name)


def drop_database(server: PgServer, name: str) -> None:
    """DROP DATABASE ... WITH (FORCE), again while a Citus maintenance daemon still holds it (it reconnects)."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        for attempt in range(40):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 39:
                    raise
                time.sleep(0.25)


# Test clusters: few shards (each partition of a distributed table is a table per shard: DDL stays fast);
# prepared transactions for two-phase commit; wal_level = logical so that shards move online (rebalance).
CITUS_CONF = "citus.shard_count = 4\nmax_prepared_transactions = 100\nmax_connections = 200\nwal_level = logical"


def citus_node(extra_conf: str = "") -> PgServer:
    """A server with Citus preloaded (not started); `extra_conf` before the test cluster's settings."""
    return PgServer(extra_conf=f"{extra_conf}\n{CITUS_CONF}".strip(), preload="citus")


def unshard(relation: str) -> str:
    """The table a Citus shard belongs to (counting_events_p20261125_102170 -> counting_events_p20261125); on one
    server, and for the coordinator's own names, the name itself."""
    return re.sub(r"_\d+$", "", relation)


def seqscan_off(conn: psycopg.Connection) -> None:
    """enable_seqscan = off for the rest of the transaction, on Citus on the shards too (a placeholder setting on
    one server): plan tests show on a few rows the index a large table would be read through."""
    conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
    conn.execute("SET LOCAL enable_seqscan = off")


def refused_copy_out(conn: psycopg.Connection, statement: str) -> None:
    """`statement` (a COPY ... TO STDOUT) is refused for want of privilege: read through copy(), as on Citus the
    refusal comes from the shard once the COPY has started."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.cursor().copy(statement) as copy:
        for _ in copy:
            pass


class CitusCluster:
    """A real Citus cluster on loopback: a coordinator and `workers` workers, throwaway servers on free ports
    started in parallel. Citus keeps its node list per database and propagates neither CREATE DATABASE nor
    CREATE EXTENSION: `create_database` does both on every node and registers the workers."""

    def __init__(self, workers: int = 2, extra_conf: str = "") -> None:
        self.nodes = [citus_node(extra_conf) for _ in range(workers + 1)]

    @property
    def coordinator(self) -> PgServer:
        return self.nodes[0]

    @property
    def workers(self) -> list[PgServer]:
        return self.nodes[1:]

    def start(self) -> CitusCluster:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(PgServer.start, self.nodes))
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.dir, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        """`name` on every node (a leftover dropped first), a clone of `template` or new with the extension and
        the workers registered; the coordinator's DSN."""
        for node in self.nodes:
            drop_database(node, name)
            with psycopg.connect(node.url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        for node in self.nodes if template else ():
            # Citus records the database it was created in (pg_dist_object, by oid): a clone's record must name the
            # clone, else a node added later is sent the template's name ("database tpl_empty does not exist").
            with psycopg.connect(node.dsn(name), autocommit=True) as conn:
                conn.execute("UPDATE pg_dist_object SET objid = (SELECT oid FROM pg_database WHERE datname = "
                             "current_database()) WHERE classid = 'pg_database'::regclass")
        if template is None:
            for node in self.nodes:
                with psycopg.connect(node.dsn(name), autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION citus")
            with psycopg.connect(self.coordinator.dsn(name), autocommit=True) as conn:
                conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (self.coordinator.port,))
                for node in self.workers:
                    conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (node.port,))
        return self.coordinator.dsn(name)

    def drop_database(self, name: str) -> None:
        for node in self.nodes:
            drop_database(node, name)


class CentralBackend:
    """Fresh central databases on one server ("pg") or on a Citus cluster ("citus"), cloned from templates made
    once: empty (on Citus: the extension on every node, the workers registered) and migrated (the schema, on
    Citus distributed by `edge central distribute`'s code). Cloning a template on every node takes about 0.2 s;
    making a Citus database from scratch 1.5 s, migrating and distributing it 1.5 s more (2 shared cores)."""

    def __init__(self, name: str, nodes: list[PgServer], cluster: CitusCluster | None = None) -> None:
        self.name, self.nodes, self.cluster = name, nodes, cluster
        self._templates: set[str] = set()

    @contextmanager
    def database(self, name: str, *, migrated: bool) -> Iterator[str]:
        """A fresh database `name`, dropped afterwards; its (coordinator's) DSN."""
        dsn = self._create(name, self._template(migrated))
        try:
            yield dsn
        finally:
            for node in self.nodes:
                drop_database(node, name)

    def _create(self, name: str, template: str | None) -> str:
        if self.cluster is not None:
            return self.cluster.create_database(name, template)
        server = self.nodes[0]
        drop_database(server, name)
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return server.dsn(name)

    def _template(self, migrated: bool) -> str:
        from sync.central.citus import distribute
        from sync.central.migrate import migrate

        name = "tpl_migrated" if migrated else "tpl_empty"
        if name not in self._templates:
            dsn = self._create(name, self._template(False) if migrated else None)
            if migrated:
                migrate(dsn)
                if self.cluster is not None:
                    distribute(dsn)
            for node in self.nodes:  # a template may have no session: none may come back either
                with psycopg.connect(node.url, autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            self._templates.add(name)
        return name


@contextmanager
def pgbouncer(workdir: Path, pg_port: int, dbname: str, users: tuple[str, ...] = ("postgres",)) -> Iterator[int]:
    """PgBouncer with the example's pool settings in front of the server, admitting `users`; yields its port."""
    example = configparser.ConfigParser(inline_comment_prefixes=(";",))
    example.read(CONF / "pgbouncer.ini.example")
    bdir = workdir / "pgbouncer"
    bdir.mkdir()
    port = free_port()
    settings = dict(example["pgbouncer"], listen_addr="127.0.0.1", listen_port=str(port), unix_socket_dir="",
                    auth_type="trust", auth_file=str(bdir / "userlist.txt"), logfile=str(bdir / "pgbouncer.log"),
                    pidfile=str(bdir / "pgbouncer.pid"))
    (bdir / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in users))  # auth_type trust: names only
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
