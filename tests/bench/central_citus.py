"""`python -m tests.bench.central_citus` (third part of `make bench-central`): central on one server and on a
three-node Citus cluster, side by side in the same run.

Four throwaway PostgreSQL 15 servers on 127.0.0.1 (../shared/tools/pg_temp.sh), all with the settings of
sync/central/conf/postgresql.conf.example: one single server, and a Citus coordinator with two workers. Both get
the same synthetic data set (tests/central/synth.py; on Citus loaded on the coordinator, then distributed by
`edge central distribute`'s code, as an existing database would be). Then, on each:
- the guide's queries: server execution time (EXPLAIN ANALYZE, on Citus the whole distributed execution) and
  client-side latency (send, execute, fetch), p50/p95, and how many shards each goes to (Task Count);
- ingest through the sync agent's own path (tests/bench/sync.py: a box buffer drained by the Agent, binary COPY
  and the ledger row in one transaction per batch: on Citus a distributed transaction), events/s, alternating
  runs into a separate, empty database on each;
- queries/s of pgbench through PgBouncer (transaction pooling) in front of the server or the coordinator.
Prints a Markdown report with the ratios Citus / single. Every node is on this machine: the cluster's figures
are its overheads (routing, distributed transactions, fan-out), not a scale-out.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from sync.central.citus import distribute
from sync.central.migrate import migrate
from sync.central.partitions import maintain
from sync.central.summaries import refresh
from tests.bench.central import WORKLOADS, end_to_end, explain_runs, machine, random_params, say, throughput
from tests.bench.sync import DEVICE, agent_run, fill, reset
from tests.central.queries import QUERIES
from tests.central.synth import SynthSpec, load
from tests.support.pg import CONF, CitusCluster, PgServer, conf_lines, pgbouncer

BACKENDS = ("single", "citus")
# Each table with its partitions and indexes, largest first.
SIZES = """
    SELECT c.relname, sum(pg_total_relation_size(t.relid))::bigint
    FROM pg_class c CROSS JOIN LATERAL pg_partition_tree(c.oid) t
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
    GROUP BY 1 ORDER BY 2 DESC
"""


def prepare(dsn: str, spec: SynthSpec, distributed: Callable[[str], object] | None) -> dict[str, float]:
    """Migrate, make the partitions, load (then distribute), VACUUM ANALYZE, refresh; seconds of each step."""
    took = {}
    t = time.perf_counter()
    migrate(dsn)
    maintain(dsn, backfill_days=spec.days)
    load(dsn, spec, say)
    took["load"] = time.perf_counter() - t
    if distributed:
        t = time.perf_counter()
        distributed(dsn)
        took["distribute"] = time.perf_counter() - t
    t = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    took["vacuum"] = time.perf_counter() - t
    took.update({f"refresh {k}": v for k, v in refresh(dsn).items()})
    return took


def tasks(dsn: str, sql: str, params: dict) -> str:
    """Shards the query is sent to ("-": not a distributed plan)."""
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params))
    found = re.search(r"Task Count: (\d+)", plan)
    return found.group(1) if found else "-"


def ingest_db(dsn: str) -> str:
    """A migrated (and on Citus distributed) database with today's partitions and the bench box's role: its DSN."""
    migrate(dsn)
    maintain(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        role = conn.execute("SELECT sync_device_role(%s)", (DEVICE,)).fetchone()[0]
    return dsn.replace("postgres@", f"{role}@", 1)


def bench(spec: SynthSpec, runs: int, events: int, pairs: int, seconds: int, clients: int, shard_count: int) -> None:
    conf = conf_lines(CONF / "postgresql.conf.example")
    workdir = Path(tempfile.mkdtemp(prefix="pg.bench.", dir="/tmp"))  # user postgres must reach it
    os.chmod(workdir, 0o755)
    single, cluster = PgServer(extra_conf=conf), CitusCluster(workers=2, extra_conf=conf)
    try:
        t = time.perf_counter()
        single.start()
        cluster.start()
        say(f"servers started in {time.perf_counter() - t:.1f} s")
        with psycopg.connect(single.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE central")
            conn.execute("CREATE DATABASE ingest")
            server = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
        dsn = {"single": single.dsn("central"), "citus": cluster.create_database("central")}
        ingest_admin = {"single": single.dsn("ingest"), "citus": cluster.create_database("ingest")}
        with psycopg.connect(dsn["citus"]) as conn:
            citus_version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()[0]

        def distributed(d: str) -> object:
            return distribute(d, shard_count=shard_count)

        took = {}
        for name in BACKENDS:
            say(f"loading {name}")
            took[name] = prepare(dsn[name], spec, distributed if name == "citus" else None)
        with psycopg.connect(dsn["single"]) as conn:
            sizes = dict(conn.execute(SIZES).fetchall())
        load_avg = os.getloadavg()[0]
        rng = random.Random(1)
        params = random_params(spec, runs, rng)
        say("measuring queries")
        queries = {(q.name, name): (explain_runs(dsn[name], q, params), end_to_end(dsn[name], q, params))
                   for q in QUERIES for name in BACKENDS}
        shards = {q.name: tasks(dsn["citus"], q.psycopg(), params[0]) for q in QUERIES}
        say("measuring ingest through the sync agent")
        box = {name: ingest_db(ingest_admin[name]) for name in BACKENDS}
        distribute(ingest_admin["citus"], shard_count=shard_count)
        buffer = workdir / "ingest.sqlite"
        fill(buffer, events)
        delivered: dict[str, list[float]] = {name: [] for name in BACKENDS}
        for _ in range(pairs):
            for name in BACKENDS:
                reset(ingest_admin[name], buffer)
                with psycopg.connect(ingest_admin[name], autocommit=True) as admin:
                    delivered[name].append(events / agent_run(admin, buffer, box[name]).seconds)
        say("pgbench through PgBouncer")
        qps = {}
        for name, server_port in (("single", single.port), ("citus", cluster.coordinator.port)):
            (workdir / name).mkdir(mode=0o755)
            with pgbouncer(workdir / name, server_port, "central") as port:
                for workload in ("mix", "realtime_counting"):
                    qps[(workload, name)] = throughput(port, "central", workdir, clients, seconds, spec,
                                                       WORKLOADS[workload])
        report(spec, took, sizes, queries, shards, delivered, qps, runs, events, pairs, seconds, clients, shard_count,
               f"{server}, Citus {citus_version}; 1-min load average {load_avg:.1f} when measuring started, "
               f"{os.getloadavg()[0]:.1f} at the end")
    finally:
        single.stop()
        cluster.stop()
        shutil.rmtree(single.dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def report(spec: SynthSpec, took: dict[str, dict[str, float]], sizes: dict[str, int], queries: dict,
           shards: dict[str, str], delivered: dict[str, list[float]], qps: dict[tuple[str, str], float], runs: int,
           events: int, pairs: int, seconds: int, clients: int, shard_count: int, server: str) -> None:
    print(f"Machine: {machine()}; {server}.\n")
    print(f"Data set: {spec.cameras} cameras x {spec.lines} lines, {spec.days} days, {spec.tenants} tenants, health "
          f"every {spec.health_interval_s} s for {spec.health_hours} h; Citus: {shard_count} shards per co-location "
          "group on 2 workers. Preparation (s): " + "; ".join(
              f"{name} " + ", ".join(f"{k} {v:.1f}" for k, v in took[name].items()) for name in BACKENDS) + ".\n")
    print("On one server, with indexes (MB; the sizing story in docs/central.md uses the shares): " + ", ".join(
        f"{t} {b / 2**20:,.0f}" for t, b in sizes.items()) + ".\n")
    print(f"Per query: {runs} runs with random cameras/tenants, warm cache; server = EXPLAIN ANALYZE execution time, "
          "client = send, execute, fetch all rows (direct connection).\n")
    print("| query | shards (Citus) | single server p50/p95 ms | Citus server p50/p95 ms | ratio server p50 "
          "| single client p50/p95 ms | Citus client p50/p95 ms | ratio client p50 |")
    print("|---|---|---|---|---|---|---|---|")
    for q in QUERIES:
        (se, sc), (ce, cc) = queries[(q.name, "single")], queries[(q.name, "citus")]
        print(f"| {q.name} | {shards[q.name]} | {se['p50']:.3f} / {se['p95']:.3f} | {ce['p50']:.3f} / {ce['p95']:.3f} "
              f"| {ce['p50'] / se['p50']:.1f} | {sc['p50']:.2f} / {sc['p95']:.2f} | {cc['p50']:.2f} / {cc['p95']:.2f} "
              f"| {cc['p50'] / sc['p50']:.1f} |")
    rate = {name: statistics.median(v) for name, v in delivered.items()}
    print(f"\nIngest through the sync agent (a buffer of {events:,} crossings drained by the Agent: binary COPY + "
          f"ledger row per batch; {pairs} alternating runs, median): single {rate['single']:,.0f} events/s, Citus "
          f"{rate['citus']:,.0f} events/s, ratio {rate['citus'] / rate['single']:.2f}.\n")
    print(f"Throughput through PgBouncer, pgbench -M simple -j 2 -T {seconds}, {clients} clients:\n")
    print("| workload | single queries/s | Citus queries/s | ratio |")
    print("|---|---|---|---|")
    for workload in ("mix", "realtime_counting"):
        s, c = qps[(workload, "single")], qps[(workload, "citus")]
        print(f"| {workload} | {s:,.0f} | {c:,.0f} | {c / s:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=500)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--health-hours", type=int, default=6)
    ap.add_argument("--runs", type=int, default=200, help="runs per query and backend")
    ap.add_argument("--events", type=int, default=100_000, help="crossings in the ingest buffer")
    ap.add_argument("--pairs", type=int, default=3, help="alternating ingest runs")
    ap.add_argument("--seconds", type=int, default=15, help="pgbench duration per run")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--shard-count", type=int, default=8, help="shards per co-location group on Citus")
    a = ap.parse_args()
    bench(SynthSpec(cameras=a.cameras, days=a.days, health_hours=a.health_hours), a.runs, a.events, a.pairs,
          a.seconds, a.clients, a.shard_count)


if __name__ == "__main__":
    main()
