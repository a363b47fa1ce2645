"""Central on a real Citus cluster (issue 12): what only a cluster has. `edge central migrate --citus` and
`distribute`, their bad input (one line naming the node and the fix, nothing half-distributed), a migration
applied after distribution, a database in use distributed, a worker stopped while the sync agent delivers,
prepared transactions left on a worker and recovered, PgBouncer in front of the coordinator, a node added and
shards rebalanced while a box delivers, provisioning's registration through the coordinator.

The session's cluster (a coordinator, two workers) is shared with the central suite's "citus" backend; tests
that stop a worker start it again. A spare node with Citus, in no cluster, is this module's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import sync.central.citus as citus
from edge.config import BoxConfig
from edge.errors import Unavailable, UserError
from edge.store.buffer import Buffer
from sync.central.citus import Kind, Placement, distribute
from sync.central.migrate import MIGRATIONS_DIR, migrate, migrations
from sync.central.registry import box_role_dsn, check_delivery, register
from tests.central.queries import BY_NAME
from tests.integration.test_central import run
from tests.integration.test_sync_faults import (
    PRODUCER,
    REPO,
    assert_central_matches_buffer,
    edge,
    write_config,
)
from tests.support import wait_until
from tests.support.pg import CentralBackend, CitusCluster, PgServer, citus_node, pgbouncer
from tests.support.sync import box_dsn, central_event_ids, drain, fill

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def spare() -> Iterator[PgServer]:
    """A started server with Citus preloaded, not in any cluster."""
    node = citus_node()
    node.start()
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(node.dir, ignore_errors=True)


@pytest.fixture
def backend(central_backend: Callable[[str], CentralBackend]) -> CentralBackend:
    return central_backend("citus")


@pytest.fixture
def fresh(backend: CentralBackend, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database on every node with the extension, the workers registered, nothing migrated."""
    with backend.database("c_" + request.node.name.lower()[:40], migrated=False) as dsn:
        yield dsn


@pytest.fixture
def distributed(backend: CentralBackend, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, distributed central database."""
    with backend.database("c_" + request.node.name.lower()[:40], migrated=True) as dsn:
        yield dsn


def rows(dsn: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []


def citus_tables(dsn: str) -> dict[str, tuple[str, str, int]]:
    """Every table Citus knows: (kind, distribution column, co-location id)."""
    return {t: (k, c, g) for t, k, c, g in rows(dsn, "SELECT table_name::text, citus_table_type, distribution_column, "
                                                     "colocation_id FROM citus_tables")}


def dbname(dsn: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"])


def one_line(r: Any) -> str:
    """The error of a command that failed as the guide says: exit 2, nothing on stdout, one line on stderr."""
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1, (r.exit_code, r.stdout, r.stderr)
    return str(r.stderr)


def test_migrate_citus_distributes_per_plan_and_distribute_again_is_a_no_op(fresh: str) -> None:
    r = run("migrate", "--dsn", fresh, "--citus")
    assert r.exit_code == 0, r.output
    assert "applied 0008_citus_compat" in r.stdout and "distributed: camera_configurations, " in r.stdout
    tables = citus_tables(fresh)
    for p in citus.PLAN:
        if p.kind == Kind.LOCAL:
            assert p.table not in tables
        elif p.kind == Kind.REFERENCE:
            assert tables[p.table][0] == "reference"
        else:
            assert tables[p.table][:2] == ("distributed", p.column)
            assert tables[p.table][2] == tables[p.colocate_with or p.table][2], p  # co-located with its anchor
    assert tables[citus.CAMERA_ANCHOR][2] != tables[citus.DEVICE_ANCHOR][2]
    # Twice: nothing to do, said in one line, exit 0 (both commands are idempotent).
    for again in (run("distribute", "--dsn", fresh), run("migrate", "--dsn", fresh, "--citus")):
        assert again.exit_code == 0 and again.stdout.endswith("already distributed: nothing to do\n"), again.output
    assert citus_tables(fresh) == tables


def test_bad_input_is_one_line_naming_the_node_and_the_fix(fresh: str, citus_cluster: CitusCluster, spare: PgServer,
                                                           pg_dsn: str, tmp_path: Path) -> None:
    db = dbname(fresh)
    # A server without Citus.
    assert f"error: coordinator 127.0.0.1:{psycopg.conninfo.conninfo_to_dict(pg_dsn)['port']}: database " \
           f"{dbname(pg_dsn)} has no citus extension: set shared_preload_libraries = 'citus' there" in one_line(
               run("distribute", "--dsn", pg_dsn))
    # Not migrated, then migrations behind: nothing distributed.
    assert "the central database is not migrated: run `edge central migrate --citus`" in one_line(
        run("distribute", "--dsn", fresh))
    before = tmp_path / "before"
    shutil.copytree(MIGRATIONS_DIR, before, ignore=shutil.ignore_patterns("0103_*"))
    migrate(fresh, before)
    assert "lacks migration 0103_daily_queue_grant: run `edge central migrate --citus`" in one_line(
        run("distribute", "--dsn", fresh))
    migrate(fresh)
    # A new worker without the database, then without the extension.
    node = f"127.0.0.1:{spare.port}"
    assert f"error: worker {node} has no database {db}: CREATE DATABASE {db} there, then CREATE EXTENSION citus" in (
        one_line(run("distribute", "--dsn", fresh, "--worker", node)))
    with psycopg.connect(spare.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        assert f"error: worker {node}: database {db} has no citus extension: CREATE EXTENSION citus in it" in (
            one_line(run("distribute", "--dsn", fresh, "--worker", node)))
    finally:
        with psycopg.connect(spare.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
    assert "error: --worker 'nowhere': write HOST:PORT" in one_line(
        run("distribute", "--dsn", fresh, "--worker", "nowhere"))
    # A registered worker stopped.
    worker = citus_cluster.workers[1]
    worker.stop()
    try:
        assert f"error: worker 127.0.0.1:{worker.port} is unreachable from the coordinator (" in one_line(
            run("distribute", "--dsn", fresh))
    finally:
        worker.start()
    # A worker's DSN instead of the coordinator's.
    worker_dsn = citus_cluster.workers[0].dsn(db)
    assert "is a Citus worker, not the coordinator: give the coordinator's DSN" in one_line(
        run("distribute", "--dsn", worker_dsn))
    assert citus_tables(fresh) == {}, "nothing distributed"


def test_a_worker_lost_during_distribution_leaves_nothing_distributed(fresh: str, citus_cluster: CitusCluster,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The second worker stops just as the first distributed table is created (the reference tables are made on
    every node by then): the one transaction is rolled back whole, on the workers too; run again, it succeeds."""
    migrate(fresh)
    worker = citus_cluster.workers[1]
    real_connect = citus.connect

    class StopsWorker:
        def __init__(self, conn: psycopg.Connection) -> None:
            self.conn, self.stopped = conn, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.conn, name)

        def __enter__(self) -> StopsWorker:
            return self

        def __exit__(self, *exc: object) -> None:
            self.conn.close()

        def execute(self, query: Any, *args: Any) -> Any:
            text = query if isinstance(query, str) else query.as_string(self.conn)
            if "create_distributed_table" in text and not self.stopped:
                self.stopped = True
                worker.stop()
            return self.conn.execute(query, *args)

    monkeypatch.setattr(citus, "connect", lambda *a, **k: StopsWorker(real_connect(*a, **k)))
    try:
        with pytest.raises(Unavailable) as e:
            distribute(fresh)
    finally:
        worker.start()
    lost = f"worker 127.0.0.1:{worker.port} is unreachable from the coordinator ("
    assert str(e.value).startswith(f"distribution failed, nothing changed (rolled back): {lost}"), str(e.value)
    monkeypatch.undo()
    rows(fresh, "SELECT recover_prepared_transactions()")
    assert citus_tables(fresh) == {}
    left = rows(fresh, "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_class "
                       "WHERE relname ~ '_[0-9]{6}$'$$)")
    assert left == [("0",), ("0",)], "shards left on a worker"
    assert distribute(fresh).distributed and "counting_events" in citus_tables(fresh)


LATER = """
-- A migration applied after distribution: what later migrations typically do.
ALTER TABLE counting_results ADD COLUMN source text;
CREATE INDEX idx_counting_results_source ON counting_results (source) WHERE source IS NOT NULL;
CREATE TABLE camera_notes (camera_id text NOT NULL, note_id bigint GENERATED ALWAYS AS IDENTITY,
                           note text NOT NULL, PRIMARY KEY (camera_id, note_id));
CREATE FUNCTION camera_note_count(camera text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT count(*) FROM camera_notes WHERE camera_id = camera); END $$;
CREATE FUNCTION counting_results_source() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.source := coalesce(NEW.source, 'box'); RETURN NEW; END $$;
CREATE TRIGGER counting_results_source BEFORE INSERT ON counting_results
    FOR EACH ROW EXECUTE FUNCTION counting_results_source();
"""


def test_a_migration_applied_after_distribution(distributed: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns, indexes, functions and triggers reach the shards; a new table must be given its place in PLAN
    (distribute names it), then `migrate` distributes it."""
    later = tmp_path / "m"
    shutil.copytree(MIGRATIONS_DIR, later)
    (later / "0200_later.sql").write_text(LATER)
    monkeypatch.setattr(citus, "migrations", lambda: migrations(later))
    assert migrate(distributed, later) == ["0200_later"]
    with pytest.raises(UserError, match="camera_notes not in the Citus plan: add it to sync/central/citus.py PLAN"):
        distribute(distributed)
    monkeypatch.setattr(citus, "PLAN", (*citus.PLAN, Placement("camera_notes", Kind.DISTRIBUTED, "camera_id",
                                                                citus.CAMERA_ANCHOR)))
    report = distribute(distributed)
    assert report.distributed == ["camera_notes"] and "camera_note_count(text)" not in report.functions
    assert citus_tables(distributed)["camera_notes"][2] == citus_tables(distributed)["counting_results"][2]
    with psycopg.connect(distributed, autocommit=True) as conn:
        conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in) "
                     "VALUES ('b1/c', 'l', now(), 1)")
        assert conn.execute("SELECT source FROM counting_results").fetchone() == ("box",)
        conn.execute("INSERT INTO camera_notes (camera_id, note) VALUES ('b1/c', 'x'), ('b1/c', 'y')")
        assert conn.execute("SELECT camera_note_count('b1/c')").fetchone() == (2,)
        assert conn.execute("SELECT count(DISTINCT note_id) FROM camera_notes").fetchone() == (2,)


def test_distributing_a_database_in_use_keeps_its_rows_and_maintain_still_works(fresh: str) -> None:
    """`edge central distribute` on a single-server database with rows: they are copied into the shards (the
    triggers do not fire on that copy), none is left in the coordinator's tables (it would break partition DDL),
    and rows parked in DEFAULT then get their partitions. A box role made before (Citus did not see it: no role on
    the workers) is created on the workers, and the box delivers through the coordinator."""
    migrate(fresh)
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("SET citus.enable_ddl_propagation = off")  # as on a server without Citus
        role = conn.execute("SELECT sync_device_role('inuse-box1')").fetchone()[0]
        conn.execute("INSERT INTO tenants VALUES (1, 't')")
        conn.execute("INSERT INTO devices (device_id, tenant_id) VALUES ('box1', 1)")
        conn.execute("INSERT INTO camera_configurations (camera_id, device_id, camera_name) "
                     "VALUES ('box1/door', 'box1', 'door')")
        conn.execute("INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in) "
                     "VALUES ('box1/door', 'l', date_trunc('minute', now()) - interval '3 days', 4)")
        conn.execute("INSERT INTO camera_health (camera_id, health_ts, status, fps_processed, drop_rate) "
                     "VALUES ('box1/door', now() - interval '1 hour', 'online', 10, 0)")
        tables = ("counting_results", "camera_health", "stream_quality_metrics", "camera_performance_metrics",
                  "camera_events", "daily_summary_queue", "devices")
        before = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()
                  for t in tables}
    r = run("distribute", "--dsn", fresh)
    assert r.exit_code == 0 and "propagated: camera_health_record(camera_health)" in r.stdout, r.output
    assert f"box roles created on workers: {role}@127.0.0.1:" in r.stdout, r.output
    with psycopg.connect(psycopg.conninfo.make_conninfo(fresh, user=role), autocommit=True) as box:
        box.execute("INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, event_ts) "
                    "SELECT gen_random_uuid(), 'inuse-box1', 'inuse-box1/cam' || i, 'l', 'in', now() "
                    "FROM generate_series(1, 20) i")  # 20 cameras: rows on both workers
    with psycopg.connect(fresh, autocommit=True) as conn:
        after = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()
                 for t in tables}
    assert after == before and after["camera_health"] == (1,)
    r = run("maintain", "--dsn", fresh)
    assert r.exit_code == 0, r.output
    assert rows(fresh, "SELECT count(*) FROM camera_performance_metrics_default") == [(0,)]
    assert rows(fresh, "SELECT count(*) FROM camera_performance_metrics") == [(1,)]


@pytest.fixture
def delivering(distributed: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Callable[[], str]]]:
    """A producer filling box1's buffer and `edge sync` delivering it to the coordinator continuously; afterwards
    a last `edge sync --once`, then central must hold the buffer exactly (events once, minute sums equal).
    The third item tells how far delivery got and the agent's last log lines: what a failed wait shows."""
    db = tmp_path / "b.sqlite"
    config = write_config(tmp_path / "box.toml", db, box_dsn(distributed, "box1"))
    with Buffer(db):
        pass
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(db)], cwd=REPO)
    with open(tmp_path / "agent.log", "w") as log:
        agent = subprocess.Popen(edge("--log-level", "info", "sync", "--config", str(config)), cwd=REPO, stderr=log)

    def progress() -> str:
        with sqlite3.connect(db) as conn:
            buffered = conn.execute("SELECT count(*) FROM crossings").fetchone()[0]
        log = (tmp_path / "agent.log").read_text(errors="replace").splitlines()[-8:]
        waits = rows(distributed, "SELECT usename, state, wait_event_type, wait_event, left(query, 60), "
                     "round(extract(epoch FROM now() - query_start)) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'")
        return (f"central {len(central_event_ids(distributed))} events, buffer {buffered}; agent "
                f"{'running' if agent.poll() is None else f'exited {agent.returncode}'}; coordinator backends "
                f"{waits}; log: " + " | ".join(log))

    try:
        yield distributed, agent, progress
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait()
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    final = subprocess.run(edge("sync", "--once", "--config", str(config)), cwd=REPO, capture_output=True, text=True,
                           timeout=180)
    assert final.returncode == 0, final.stderr
    assert_central_matches_buffer(distributed, db)


def test_a_worker_stopped_mid_delivery_then_started_again(delivering, citus_cluster: CitusCluster) -> None:
    """The agent waits and retries while a worker is down, and resumes by itself once it is back."""
    dsn, agent, progress = delivering
    assert wait_until(lambda: len(central_event_ids(dsn)) > 2000, 60, step=0.05), progress()
    worker = citus_cluster.workers[0]
    worker.stop()
    try:
        time.sleep(4)
        assert agent.poll() is None
    finally:
        worker.start()
    delivered = len(central_event_ids(dsn))
    assert wait_until(lambda: len(central_event_ids(dsn)) > delivered + 2000, 60, step=0.05), progress()


def test_a_prepared_transaction_left_on_a_worker_is_recovered_and_blocks_a_resend(distributed: str,
                                                                                  citus_cluster: CitusCluster) -> None:
    """A delivery is a distributed transaction (ledger row in the device group, rows in the camera group), committed
    with two-phase commit. A SIGKILLed agent cannot leave a prepared transaction (its coordinator backend finishes
    or aborts the commit alone: test_sigkilled_agent_loses_and_duplicates_nothing[citus] checks none is left); a
    worker that dies between PREPARE and COMMIT PREPARED does. Made deterministically: the events' worker is paused
    (SIGSTOP) until the ledger's worker has prepared, then that one is paused before COMMIT PREPARED and its backend
    killed. The coordinator has committed: the batch's rows are visible, its ledger row is not (prepared on that
    worker); a re-send of the batch waits on the prepared ledger key instead of delivering twice; Citus' recovery
    commits it, after which the re-send finds the batch delivered."""
    db = dbname(distributed)
    on_port = {n.port: n.dsn(db) for n in citus_cluster.workers}

    def port_of(table: str, key: str) -> int:
        return int(rows(distributed, "SELECT nodeport FROM pg_dist_shard_placement JOIN pg_dist_shard USING (shardid) "
                                     "WHERE shardid = get_shard_id_for_distribution_column(%s::regclass, %s::text)",
                        table, key)[0][0])

    camera = "box1/door"
    x = port_of("counting_events", camera)
    device = next(d for d in (f"box{i}" for i in range(1, 50)) if port_of("sync_batches", d) != x)
    y = port_of("sync_batches", device)
    ledger = ("INSERT INTO sync_batches (device_id, stream, batch_no, row_count) VALUES (%s, 'events', 1, 1) "
              "ON CONFLICT DO NOTHING RETURNING received_at")
    conn = psycopg.connect(distributed)
    conn.execute(ledger, (device,))
    conn.execute("INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, event_ts) "
                 "VALUES (gen_random_uuid(), 'box1', %s, 'l', 'in', now())", (camera,))

    def backend(port: int) -> int:
        [(pid,)] = rows(on_port[port], "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND application_name LIKE 'citus_internal%%' "
                                       "AND state LIKE 'idle in transaction%%'")
        return int(pid)

    def prepared(port: int) -> list[tuple[Any, ...]]:
        try:
            return rows(on_port[port], "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
        except psycopg.OperationalError:  # in crash recovery
            return []

    bx, by = backend(x), backend(y)
    os.kill(bx, signal.SIGSTOP)
    committer = threading.Thread(target=conn.commit)
    committer.start()
    try:
        assert wait_until(lambda: prepared(y) == [(1,)], 10, step=0.05)
        os.kill(by, signal.SIGSTOP)
    finally:
        os.kill(bx, signal.SIGCONT)
    time.sleep(1)
    os.kill(by, signal.SIGKILL)  # the worker restarts; its prepared transaction survives
    committer.join(30)
    conn.close()
    assert wait_until(lambda: prepared(y) == [(1,)], 30, step=0.05)
    assert rows(distributed, "SELECT count(*) FROM counting_events") == [(1,)]
    assert rows(distributed, "SELECT count(*) FROM sync_batches") == [(0,)]
    with psycopg.connect(distributed, autocommit=True) as resend:
        resend.execute("SET statement_timeout = '2s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            resend.execute(ledger, (device,))
    assert rows(distributed, "SELECT recover_prepared_transactions()") == [(1,)]
    assert prepared(y) == [(0,)]
    assert rows(distributed, "SELECT count(*) FROM sync_batches") == [(1,)]
    assert rows(distributed, ledger, device) == []  # the re-send finds the batch delivered: skipped


def test_pgbouncer_in_front_of_the_coordinator(distributed: str, citus_cluster: CitusCluster, tmp_path: Path) -> None:
    """Transaction pooling (sync/central/conf/pgbouncer.ini.example) in front of the coordinator: a box delivers
    through it (each batch a distributed transaction, kept on one server connection by PgBouncer) and the guide's
    queries run through it."""
    box_dsn(distributed, "box1")  # creates the role
    db = dbname(distributed)
    workdir = Path(tempfile.mkdtemp(prefix="pgb.", dir="/tmp"))  # pgbouncer runs as postgres: not pytest's tmp_path
    workdir.chmod(0o755)
    try:
        with pgbouncer(workdir, citus_cluster.coordinator.port, db, users=("postgres", "box_box1")) as port:
            fill(tmp_path / "b.sqlite", 2000)
            drain(tmp_path / "b.sqlite", f"postgresql://box_box1@127.0.0.1:{port}/{db}")
            assert_central_matches_buffer(distributed, tmp_path / "b.sqlite")
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/{db}", prepare_threshold=None) as conn:
                for query in BY_NAME.values():
                    conn.execute(query.psycopg(), {"camera": "box1/cam0", "tenant": 1}).fetchall()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_node_added_and_shards_rebalanced_while_a_box_delivers(delivering, spare: PgServer) -> None:
    """`edge central distribute --worker` adds the node (and the box roles there), then citus_rebalance_start()
    moves shards onto it with logical replication (writes go on during each copy, a short block at its switch-over)
    while the agent delivers: nothing lost or doubled (the fixture checks), deliveries keep flowing. The longest
    gap between two increases of the delivered count is printed (docs/central.md has the figures)."""
    dsn, agent, progress = delivering
    db = dbname(dsn)
    with psycopg.connect(spare.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    with psycopg.connect(spare.dsn(db), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION citus")
    assert wait_until(lambda: len(central_event_ids(dsn)) > 2000, 60, step=0.05), progress()
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not done.is_set():
                samples.append((time.monotonic(), conn.execute("SELECT count(*) FROM counting_events").fetchone()[0]))
                time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = run("distribute", "--dsn", dsn, "--worker", f"127.0.0.1:{spare.port}")
        assert r.exit_code == 0 and f"added worker 127.0.0.1:{spare.port}" in r.stdout, r.output
        start = time.monotonic()
        rows(dsn, "SELECT citus_rebalance_start()")
        rows(dsn, "SELECT citus_rebalance_wait()")
        took = time.monotonic() - start
        time.sleep(2)
    finally:
        done.set()
        sampler.join()
    moved = rows(dsn, "SELECT count(*) FROM pg_dist_placement JOIN pg_dist_node USING (groupid) WHERE nodeport = %s",
                 spare.port)[0][0]
    assert moved > 0 and agent.poll() is None
    gaps, (last_t, last_n) = [], samples[0]
    for t, n in samples[1:]:
        if n > last_n:
            gaps.append((t, t - last_t))
            last_t, last_n = t, n
    during = [g for t, g in gaps if t >= start]  # a rebalance quicker than one delivery has its gap end after it
    before = [g for t, g in gaps if t < start]
    assert during, f"no delivery during the rebalance ({took:.1f} s) or the 2 s after it: {progress()}"
    assert max(during) < 30, f"deliveries paused {max(during):.1f} s"
    print(f"\nrebalance onto a 4th node: {took:.1f} s, {moved} placements moved, {len(during)} delivery steps during "
          f"it; longest gap between deliveries {max(during):.2f} s during, {max(before, default=0):.2f} s before")


def test_provisioning_registers_a_box_and_checks_its_role_through_the_coordinator(distributed: str) -> None:
    """`edge provision --admin-dsn` against a coordinator: the registration upserts (device in a reference table,
    cameras and lines in the camera group), twice and then with a line moved and one removed; the box's role,
    whose DSN passes the delivery check."""
    lines = [{"name": "entrance", "a": [0, 150], "b": [480, 150]}, {"name": "exit", "a": [0, 200], "b": [480, 200]}]
    config = BoxConfig(device_id="shop9-box1", cameras=[{"name": "door", "source": "rtsp://127.0.0.1/cam",
                                                         "lines": lines}])
    register(distributed, config)
    register(distributed, config)
    moved = BoxConfig(device_id="shop9-box1", cameras=[{"name": "door", "source": "rtsp://127.0.0.1/cam",
                                                        "lines": [{**lines[0], "a": [0, 160]}]}])
    register(distributed, moved)
    assert rows(distributed, "SELECT camera_id, line_name, y1, is_active FROM counting_lines ORDER BY 2") == [
        ("shop9-box1/door", "entrance", 160, True), ("shop9-box1/door", "exit", 200, False)]
    assert rows(distributed, "SELECT device_id FROM devices") == [("shop9-box1",)]
    check_delivery(box_role_dsn(distributed, "shop9-box1", None), "shop9-box1")
