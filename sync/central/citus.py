"""Central on Citus: the distributed layout of the central schema (`edge central distribute`, `migrate --citus`).

Citus is a separate (AGPL) server we only speak SQL to. PLAN places every table of schema public:
- reference tables (a full copy on every node): `tenants`, `devices`. Small, joined from every shard, and the
  targets of the registry's foreign keys;
- the camera group, distributed on `camera_id`, co-located with `camera_configurations` (same shard count, hash
  ranges and nodes): every camera-scoped table, so a per-camera query, the health trigger and the daily queue
  trigger stay inside one shard group;
- the device group, distributed on `device_id`, co-located with `box_health`: the per-box tables (ledger, clock
  skew, box alerts). A batch's ledger row and its rows are in two groups: one delivery is one distributed
  transaction, which Citus commits with two-phase commit;
- local on the coordinator: `partition_policy`, `schema_migrations` (admin commands only) and the materialized
  view `realtime_counting_summary` (a local relation; REFRESH ... CONCURRENTLY runs the distributed query).

How (each step is something a real Citus 13.2 cluster refused otherwise):
- foreign keys with an end in a table changing kind are dropped and re-created around the distribution:
  create_reference_table('tenants') would pull every table with a key to it into Citus' metadata as a "citus
  local" table, which can then neither be distributed with its keys ("foreign keys from reference tables and
  local tables to distributed tables are not supported") nor be a colocate_with target;
- one transaction in citus.multi_shard_modify_mode = 'sequential' (a transaction that creates shards and then
  touches reference tables with foreign keys must be): a failure (a worker lost mid-way, a key Citus refuses)
  rolls everything back, nothing is half-distributed;
- citus.enable_unsafe_triggers (here and in every later migration, sync/central/migrate.py): the triggers on
  camera_health and counting_results write rows of their own camera only, co-located, which Citus cannot know
  (tests/integration/test_central_citus.py holds every trigger on a distributed table to that);
- user triggers are off while Citus copies existing rows into the shards (the health trigger would re-file
  and drop every camera_health row; the queue trigger would write into a table not distributed yet), and the
  copied rows are removed from the coordinator's own tables afterwards: left there, invisible, they broke
  the next partition DDL ("updated partition constraint for default partition ... would be violated");
- functions Citus has not propagated to the workers (camera_health_record(camera_health): its argument type
  was a local table when it was made) are, with create_distributed_function();
- box roles Citus does not know of are created on the workers (see sync_box_roles).

Checks come first, each a one-line error naming the node and the fix: the extension on the coordinator, at
least one worker, every worker reachable with the database and the same extension version, the migrations
not behind, every table known to PLAN, none placed otherwise. A second run does only what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from edge.errors import Unavailable, UserError
from sync.central.migrate import migrations
from sync.connect import connect, describe, one


class Kind(StrEnum):
    REFERENCE = "reference"
    DISTRIBUTED = "distributed"
    LOCAL = "local"


@dataclass(frozen=True)
class Placement:
    """What one table becomes: a reference table, a distributed one (on `column`, co-located with
    `colocate_with`, or anchoring its own group when None), or a local table on the coordinator."""

    table: str
    kind: Kind
    column: str | None = None
    colocate_with: str | None = None


CAMERA_ANCHOR, DEVICE_ANCHOR = "camera_configurations", "box_health"
CAMERA_TABLES = ("counting_lines", "counting_line_versions", "alerts", "camera_health", "counting_events",
                 "counting_results", "stream_quality_metrics", "camera_performance_metrics", "camera_events",
                 "daily_analytics_summary", "daily_summary_queue")
DEVICE_TABLES = ("sync_batches", "sync_clock_skew", "box_alerts")
# In the order applied: reference tables, then each group's anchor before the tables co-located with it.
PLAN: tuple[Placement, ...] = (
    Placement("tenants", Kind.REFERENCE),
    Placement("devices", Kind.REFERENCE),
    Placement(CAMERA_ANCHOR, Kind.DISTRIBUTED, "camera_id"),
    *(Placement(t, Kind.DISTRIBUTED, "camera_id", CAMERA_ANCHOR) for t in CAMERA_TABLES),
    Placement(DEVICE_ANCHOR, Kind.DISTRIBUTED, "device_id"),
    *(Placement(t, Kind.DISTRIBUTED, "device_id", DEVICE_ANCHOR) for t in DEVICE_TABLES),
    Placement("partition_policy", Kind.LOCAL),
    Placement("schema_migrations", Kind.LOCAL),
    Placement("realtime_counting_summary", Kind.LOCAL),
)

# Top-level relations of schema public (partitions follow their parent) with what Citus made of them.
_TABLES = """
    SELECT c.relname, t.citus_table_type, t.distribution_column, t.colocation_id
    FROM pg_class c
    LEFT JOIN citus_tables t ON t.table_name = c.oid::regclass
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'f') AND NOT c.relispartition
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
"""
# Foreign keys with an end in one of the tables about to change kind (top-level constraints only).
_FKEYS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE contype = 'f' AND conparentid = 0
      AND (conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[]))
    ORDER BY 1, 2
"""
_TRIGGERED = ("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
              "WHERE NOT tgisinternal AND tgparentid = 0 AND tgrelid = ANY(%s::regclass[]) ORDER BY 1")
# Functions of schema public Citus does not know yet (so not on the workers).
_UNPROPAGATED = """
    SELECT p.oid::regprocedure::text
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
      AND NOT EXISTS (SELECT FROM pg_dist_object o WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid)
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
    ORDER BY 1
"""
_WORKERS = ("SELECT nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 "
            "ORDER BY nodename, nodeport")
_WORKER_VERSIONS = ("SELECT nodename, nodeport, success, result FROM run_command_on_workers($$SELECT coalesce("
                    "(SELECT extversion FROM pg_extension WHERE extname = 'citus'), '-')$$) ORDER BY 1, 2")
# A box's statements run on the workers as its own role (the coordinator connects to them as the session's
# user), so every box_<device> role must exist there, LOGIN, member of edge_box (whose grants Citus propagates
# with the tables). Citus creates a role on the workers only for CREATE ROLE run on the coordinator with the
# extension there, and tracks it (pg_dist_object, per database) only then: not roles made before the extension
# (a single server distributed later) nor roles already on the server when sync_device_role() ran in this
# database. Found on a real cluster: a node added later refused every row of such a box ("role box_box1 does
# not exist"). Created without a password: workers authenticate the coordinator, not the box.
_BOX_ROLES = ("SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid "
              "JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'edge_box' ORDER BY 1")
_ROLES_MISSING = ("SELECT nodename, nodeport, result FROM run_command_on_workers("
                  "format('SELECT string_agg(r, '','') FROM unnest(%%L::text[]) r "
                  "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r)', %s::text[])) ORDER BY 1, 2")
_ROLES_CREATE = """DO $edge$
DECLARE r text;
BEGIN
    -- on this worker only: a worker with Citus metadata would propagate CREATE ROLE to the other nodes, which
    -- are running this block too (a distributed deadlock on a real cluster)
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'edge_box') THEN CREATE ROLE edge_box NOLOGIN; END IF;
    FOREACH r IN ARRAY {roles}::text[] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE edge_box', r);
        END IF;
    END LOOP;
END
$edge$"""


@dataclass
class DistributeReport:
    """What one run did; empty when the database was distributed already."""

    added_nodes: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # "role@host:port" created on a worker

    def lines(self) -> list[str]:
        """What the command prints."""
        out = [f"added worker {n}" for n in self.added_nodes]
        for label, items in (("reference", self.reference), ("distributed", self.distributed),
                             ("propagated", self.functions), ("box roles created on workers", self.roles)):
            if items:
                out.append(f"{label}: {', '.join(items)}")
        return out or ["already distributed: nothing to do"]


def is_distributed(conn: psycopg.Connection) -> bool:
    """The database has the citus extension and tables distributed by it."""
    if not one(conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"))[0]:
        return False
    return bool(one(conn.execute("SELECT EXISTS (SELECT FROM pg_dist_partition)"))[0])


def distribute(dsn: str, workers: tuple[str, ...] = (), shard_count: int | None = None) -> DistributeReport:
    """Take the migrated central database on a Citus coordinator to PLAN's layout; idempotent.

    `workers` ("host:port") are checked and added to the cluster first when not in it yet; `shard_count` is the
    shard count of the two groups when they are created (default: the server's citus.shard_count).
    """
    if shard_count is not None and shard_count < 1:
        raise UserError(f"--shard-count must be at least 1, not {shard_count}")
    report = DistributeReport()
    with connect(dsn, autocommit=True, utc=True) as conn:
        try:
            version, db = _coordinator(conn)
            report.added_nodes = _add_workers(conn, dsn, workers, version, db)
            _check_behind(conn)
            _check_workers(conn, db, version)
            report.roles = sync_box_roles(conn)
            todo = _todo(conn)
            if todo or conn.execute(_UNPROPAGATED).fetchall():
                try:
                    with conn.transaction():
                        _apply(conn, todo, shard_count, report)
                except psycopg.Error as e:
                    raise _rolled_back(conn, db, version, e) from None
        except psycopg.Error as e:
            raise UserError(f"distribution failed: {describe(e)}") from None
    return report


def _rolled_back(conn: psycopg.Connection, db: str, version: str, e: psycopg.Error) -> UserError | Unavailable:
    """The one-line error of a failed distribution (rolled back whole). A worker lost mid-way reaches us as its
    own last words ("terminating connection due to administrator command"), without its address: the workers are
    checked again to name it."""
    lead = "distribution failed, nothing changed (rolled back): "
    try:
        _check_workers(conn, db, version)
    except (UserError, Unavailable) as found:
        return type(found)(lead + str(found))
    return UserError(lead + describe(e))


def _coordinator(conn: psycopg.Connection) -> tuple[str, str]:
    """(citus version, database name); UserError unless this database is on a Citus coordinator."""
    where, db = f"{conn.info.host}:{conn.info.port}", conn.info.dbname
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()
    if version is None:
        loaded = one(conn.execute("SELECT 'citus' = ANY(string_to_array(replace(current_setting("
                                  "'shared_preload_libraries'), ' ', ''), ','))"))[0]
        fix = ("CREATE EXTENSION citus in it" if loaded
               else "set shared_preload_libraries = 'citus' there, restart it, then CREATE EXTENSION citus in it")
        raise UserError(f"coordinator {where}: database {db} has no citus extension: {fix}")
    group = conn.execute("SELECT groupid FROM pg_dist_local_group").fetchone()
    if group and group[0] != 0:
        raise UserError(f"{where} is a Citus worker, not the coordinator: give the coordinator's DSN")
    return str(version[0]), db


def _check_behind(conn: psycopg.Connection) -> None:
    """UserError when a migration is not applied yet: a schema that is not final is not distributed."""
    if one(conn.execute("SELECT to_regclass('schema_migrations')"))[0] is None:
        raise UserError("the central database is not migrated: run `edge central migrate --citus` "
                        "(it migrates, then distributes)")
    applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    missing = [m.name for m in migrations() if m.version not in applied]
    if missing:
        raise UserError(f"the central database lacks migration{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                        "run `edge central migrate --citus` (it migrates, then distributes)")


def _add_workers(conn: psycopg.Connection, dsn: str, workers: tuple[str, ...], version: str, db: str) -> list[str]:
    """Add the workers ("host:port") not in the cluster yet, each checked first: reached directly with the
    coordinator's credentials, its database, the extension and its version. The ones added."""
    known = {f"{h}:{p}" for h, p in conn.execute(_WORKERS).fetchall()}
    added = []
    for w in workers:
        host, _, port = w.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--worker {w!r}: write HOST:PORT (e.g. worker1.example:5432)")
        if f"{host}:{port}" in known:
            continue
        _check_new_node(dsn, host, int(port), db, version)
        conn.execute("SELECT citus_add_node(%s, %s)", (host, int(port)))
        added.append(f"{host}:{port}")
    return added


def _check_new_node(dsn: str, host: str, port: int, db: str, version: str) -> None:
    where = f"{host}:{port}"
    try:
        with connect(make_conninfo(dsn, host=host, port=port), autocommit=True) as conn:
            found = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()
    except UserError as e:
        if re.search(r'database ".*" does not exist', str(e)):
            raise UserError(f"worker {where} has no database {db}: CREATE DATABASE {db} there, then "
                            "CREATE EXTENSION citus in it") from None
        raise UserError(f"worker {where} refused the coordinator's credentials ({e}): admit them there") from None
    except Unavailable as e:
        raise Unavailable(f"worker {where} is unreachable ({e}): start it or fix the address") from None
    if found is None:
        raise UserError(f"worker {where}: database {db} has no citus extension: CREATE EXTENSION citus in it "
                        "(with shared_preload_libraries = 'citus' on that server)")
    if found[0] != version:
        raise UserError(f"worker {where} has citus {found[0]}, the coordinator {version}: install the same version")


def _check_workers(conn: psycopg.Connection, db: str, version: str) -> None:
    """Every registered worker, as the coordinator reaches it: reachable, the database, the same extension."""
    if not conn.execute(_WORKERS).fetchall():
        raise UserError("the coordinator has no worker nodes: pass --worker HOST:PORT "
                        "(each with the database and CREATE EXTENSION citus)")
    for host, port, ok, result in conn.execute(_WORKER_VERSIONS).fetchall():
        where = f"{host}:{port}"
        if not ok:
            if re.search(r'database ".*" does not exist', result):
                raise UserError(f"worker {where} has no database {db}: CREATE DATABASE {db} there, then "
                                "CREATE EXTENSION citus in it")
            raise Unavailable(f"worker {where} is unreachable from the coordinator ({result.splitlines()[0]}): "
                              "start it, or SELECT citus_remove_node(...) on the coordinator if it is gone for good")
        if result == "-":
            raise UserError(f"worker {where}: database {db} has no citus extension: CREATE EXTENSION citus in it")
        if result != version:
            raise UserError(f"worker {where} has citus {result}, the coordinator {version}: install the same version")


def sync_box_roles(conn: psycopg.Connection) -> list[str]:
    """Create on every worker the box roles (members of edge_box) it lacks; "role@host:port" of each created."""
    roles = [r for (r,) in conn.execute(_BOX_ROLES).fetchall()]
    if not roles:
        return []
    missing = conn.execute(_ROLES_MISSING, (roles,)).fetchall()
    made = [f"{r}@{h}:{p}" for h, p, result in missing if result for r in result.split(",")]
    if made:
        command = _ROLES_CREATE.format(roles=sql.Literal(roles).as_string(conn))
        for host, port, ok, result in conn.execute(
                "SELECT nodename, nodeport, success, result FROM run_command_on_workers(%s) ORDER BY 1, 2",
                (command,)).fetchall():
            if not ok:
                raise UserError(f"worker {host}:{port}: creating the box roles failed ({result.splitlines()[0]}): "
                                "fix it there (the administrator role needs CREATEROLE), then run "
                                "`edge central distribute` again")
    return made


def _todo(conn: psycopg.Connection) -> list[Placement]:
    """The placements not applied yet; UserError for a table PLAN does not know or one placed otherwise."""
    tables = {name: (kind, column, group) for name, kind, column, group in conn.execute(_TABLES).fetchall()}
    by_table = {p.table: p for p in PLAN}
    unknown = sorted(set(tables) - set(by_table))
    if unknown:
        raise UserError(f"table{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not in the Citus plan: add "
                        f"{'it' if len(unknown) == 1 else 'them'} to sync/central/citus.py PLAN (reference, "
                        "distributed and co-located, or local)")
    todo = []
    for p in PLAN:
        if p.table not in tables:
            continue  # not made by the migrations (yet)
        kind, column, group = tables[p.table]
        if kind is None:
            if p.kind != Kind.LOCAL:
                todo.append(p)
            continue
        wrong = None
        if kind == "local":
            wrong = "a Citus local table (left by hand-made steps)"
        elif kind != p.kind:
            wrong = f"a {kind} table, the plan says {p.kind}"
        elif kind == Kind.DISTRIBUTED and column != p.column:
            wrong = f"distributed on {column}, the plan says {p.column}"
        elif p.colocate_with and tables.get(p.colocate_with, (None, None, group))[2] not in (None, group):
            wrong = f"not co-located with {p.colocate_with}"
        if wrong:
            raise UserError(f"{p.table} is {wrong}: SELECT undistribute_table('{p.table}', cascade_via_foreign_keys "
                            "=> true) on the coordinator, then run `edge central distribute` again")
    return todo


def _apply(conn: psycopg.Connection, todo: list[Placement], shard_count: int | None,
           report: DistributeReport) -> None:
    """Everything in the caller's transaction (see the module's docstring for why each step)."""
    conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
    conn.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    names = [p.table for p in todo]
    keys = conn.execute(_FKEYS, {"t": names}).fetchall()
    for table, name, _ in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    triggered = [t for (t,) in conn.execute(_TRIGGERED, (names,)).fetchall()]
    for table in triggered:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)))
    for p in todo:
        if p.kind == Kind.REFERENCE:
            conn.execute("SELECT create_reference_table(%s)", (p.table,))
            report.reference.append(p.table)
            continue
        anchor = shard_count and not p.colocate_with
        own_count = sql.SQL(", shard_count => {}").format(shard_count) if anchor else sql.SQL("")
        conn.execute(sql.SQL("SELECT create_distributed_table({}, {}, colocate_with => {}{})").format(
            p.table, p.column, p.colocate_with or "none", own_count))
        report.distributed.append(p.table)
    for table in triggered:
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table)))
    for p in todo:
        conn.execute("SELECT truncate_local_data_after_distributing_table(%s)", (p.table,))
    for table, name, definition in keys:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                     + sql.SQL(definition))
    for (signature,) in conn.execute(_UNPROPAGATED).fetchall():
        conn.execute("SELECT create_distributed_function(%s)", (signature,))
        report.functions.append(signature)
