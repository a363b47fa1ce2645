"""The sync agent under failure, on a real PostgreSQL: SIGKILLed at random points while events keep coming, and
the central server stopped mid-stream. Afterwards central holds exactly the buffer's events."""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from edge.store.buffer import Buffer
from edge.store.outbox import Outbox
from edge.store.schema import Stream
from models.paths import REPO_ROOT
from sync.agent.loop import Agent
from sync.central.citus import is_distributed
from tests.support import wait_until
from tests.support.sync import (
    box_config,
    box_dsn,
    buffer_event_ids,
    buffer_minutes,
    central_event_ids,
    central_minutes,
    crossing,
    migrate_central,
)

pytestmark = pytest.mark.pg
REPO = REPO_ROOT
KILLS = 50

PRODUCER = textwrap.dedent("""
    import sys, time
    from edge.store.buffer import Buffer
    from tests.support.sync import crossing
    with Buffer(sys.argv[1], synchronous="normal") as b:
        while True:
            b.record_frame([crossing(camera=f"cam{i % 2}", direction=("in", "out")[i % 2]) for i in range(20)], 0)
            time.sleep(0.005)
""")


def write_config(path: Path, buffer: Path, dsn: str) -> Path:
    path.write_text(textwrap.dedent(f"""
        device_id = "box1"
        [buffer]
        path = "{buffer}"
        synchronous = "normal"
        [sync]
        dsn = "{dsn}"
        batch_size = 300
        max_wait_s = 0.05
        poll_s = 0.02
        retry_initial_s = 0.05
        retry_max_s = 0.5
    """))
    return path


def edge(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", *args]


def ledger_rows(admin: psycopg.Connection) -> int:
    return int(admin.execute("SELECT COUNT(*) FROM sync_batches").fetchone()[0])


def assert_central_matches_buffer(admin: str, buffer: Path) -> None:
    """Every event of the buffer once in central, none other; every per-minute count the same."""
    central, box = central_event_ids(admin), buffer_event_ids(buffer)
    assert len(central) == len(set(central)), "an event was delivered twice"
    assert central == box, f"{len(set(box) - set(central))} missing, {len(set(central) - set(box))} unknown"
    assert central_minutes(admin) == buffer_minutes(buffer)


def test_sigkilled_agent_loses_and_duplicates_nothing(central_dsn, tmp_path):
    db = tmp_path / "b.sqlite"
    config = write_config(tmp_path / "box.toml", db, box_dsn(central_dsn, "box1"))
    with Buffer(db):
        pass
    rng = random.Random(6)
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(db)], cwd=REPO)
    try:
        with psycopg.connect(central_dsn, autocommit=True) as admin:
            for _ in range(KILLS):
                batches = ledger_rows(admin)
                agent = subprocess.Popen(edge("sync", "--config", str(config)), cwd=REPO, stderr=subprocess.DEVNULL)
                if rng.random() < 0.3:  # while starting, connecting, reading the catalog
                    time.sleep(rng.uniform(0.0, 0.8))
                else:  # while delivering: mid-COPY, between the central commit and the local mark...
                    deadline = time.monotonic() + 20
                    while ledger_rows(admin) == batches and time.monotonic() < deadline:
                        time.sleep(0.01)
                    time.sleep(rng.uniform(0.0, 0.2))
                agent.send_signal(signal.SIGKILL)
                agent.wait()
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait()
    assert len(central_event_ids(central_dsn)) > len(buffer_event_ids(db)) // 2  # the killed agents did deliver
    final = subprocess.run(edge("sync", "--once", "--config", str(config)), cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert len(buffer_event_ids(db)) > 20 * 1000
    assert_central_matches_buffer(central_dsn, db)
    with psycopg.connect(central_dsn, autocommit=True) as admin:
        if is_distributed(admin):  # each batch was a distributed transaction: killed agents left none prepared
            assert admin.execute("SELECT recover_prepared_transactions()").fetchone() == (0,)
            assert admin.execute("SELECT DISTINCT result FROM run_command_on_workers("
                                 "'SELECT count(*) FROM pg_prepared_xacts')").fetchall() == [("0",)]


def test_central_outage_mid_stream_drains_afterwards(central_dsn, central_backend, request, tmp_path):
    server = central_backend(request.node.callspec.params["central_dsn"]).nodes[0]  # on Citus: the coordinator
    db = tmp_path / "b.sqlite"
    config = box_config(db, box_dsn(central_dsn, "box1"), batch_size=500, max_wait_s=0.05, poll_s=0.02,
                        retry_attempts=1000)
    with Buffer(db):
        pass
    stop, produced = threading.Event(), threading.Event()
    agents: list[Agent] = []

    def produce() -> None:
        with Buffer(db, synchronous="normal") as b:
            for _ in range(300):
                b.record_frame([crossing(camera="cam0", track_id=i) for i in range(20)], 0)
                time.sleep(0.01)
        produced.set()

    def deliver() -> None:
        with Outbox(db) as outbox:
            agents.append(Agent(config, outbox, stop))
            try:
                agents[0].run()
            finally:
                agents[0].close()

    threads = [threading.Thread(target=produce), threading.Thread(target=deliver)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        server.stop()
        time.sleep(2.0)  # the box keeps counting; the agent retries
    finally:
        server.start()
    try:
        assert produced.wait(30)
        deadline = time.monotonic() + 60
        with Outbox(db) as outbox:
            while any(outbox.backlog(s).rows for s in Stream) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert agents[0].metrics.retries > 0
    assert len(buffer_event_ids(db)) == 6000
    assert_central_matches_buffer(central_dsn, db)


def test_a_read_only_buffer_pauses_the_agent_which_delivers_once_it_is_writable(pg_dsn, tmp_path, caplog):
    migrate_central(pg_dsn)
    db = tmp_path / "b.sqlite"
    with Buffer(db) as b:
        b.record_frame([crossing(camera="cam0", track_id=i) for i in range(50)], 0)
    stop = threading.Event()
    with Outbox(db) as outbox:
        outbox.conn.execute("PRAGMA query_only = ON")  # as a file system remounted read-only after an error
        agent = Agent(box_config(db, box_dsn(pg_dsn, "box1"), max_wait_s=0.05, poll_s=0.02), outbox, stop)
        thread = threading.Thread(target=agent.run)
        with caplog.at_level(logging.ERROR, "edge.sync"):
            thread.start()
            try:
                assert wait_until(lambda: any(r.message == "buffer refuses writes" for r in caplog.records), 10,
                                  step=0.05)
                assert thread.is_alive() and central_event_ids(pg_dsn) == []
                outbox.conn.execute("PRAGMA query_only = OFF")
                assert wait_until(lambda: len(central_event_ids(pg_dsn)) == len(buffer_event_ids(db)), 20, step=0.05)
            finally:
                stop.set()
                thread.join(10)
                agent.close()
    assert_central_matches_buffer(pg_dsn, db)


