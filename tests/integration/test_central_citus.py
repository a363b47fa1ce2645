"""Citus-readiness of the central schema, checked on the migrated catalog of one server: fast, and each failure
names the rule (the central suite also runs on a real cluster: tests/integration/test_central_citus_cluster.py
and the "citus" backend of central_dsn).

sync.central.citus.PLAN is the one place that decides what each table of schema public becomes on Citus (CITUS
here is derived from it). The tests hold the catalog to the rules Citus enforces when it distributes a table
(create_distributed_table, create_reference_table, foreign keys, triggers on shards), so a migration that adds a
table, key or trigger Citus would refuse fails here, naming the object and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import psycopg
import pytest

from sync.central.citus import CAMERA_ANCHOR, PLAN, Kind
from tests.support.sync import migrate_central

pytestmark = pytest.mark.pg

Distributed = tuple[Literal["distributed"], str, str]  # ("distributed", distribution column, co-location group)
Decision = Literal["reference", "local"] | Distributed

CAMERA: Distributed = ("distributed", "camera_id", "camera")
DEVICE: Distributed = ("distributed", "device_id", "device")

# Every table of schema public (partitioned parents, not their partitions; materialized views too): PLAN's
# decision, a co-location group named after its anchor's key.
CITUS: dict[str, Decision] = {
    p.table: (CAMERA if (p.colocate_with or p.table) == CAMERA_ANCHOR else DEVICE) if p.kind == Kind.DISTRIBUTED
    else ("reference" if p.kind == Kind.REFERENCE else "local")
    for p in PLAN
}

# (table, trigger) of every trigger on a Citus table: each runs on every shard, and only with
# citus.enable_unsafe_triggers (sync/central/citus.py, migrate.py), so a new one needs a decision here.
TRIGGERS_ON_CITUS_TABLES = {("camera_health", "camera_health_ingest"), ("counting_results", "counting_results_daily"),
                            ("counting_results", "counting_results_daily_change"),
                            ("counting_line_versions", "counting_line_versions_apply")}


def is_citus(decision: Decision) -> bool:
    """Distributed or reference: sharded or replicated by Citus (a local table stays on the coordinator)."""
    return decision != "local"


def dist_column(decision: Decision) -> str | None:
    return decision[1] if isinstance(decision, tuple) else None


def group(decision: Decision) -> str | None:
    return decision[2] if isinstance(decision, tuple) else None


@dataclass(frozen=True)
class Column:
    type: str
    not_null: bool
    generated: bool
    identity: bool
    collation: str | None
    deterministic: bool
    hashable: bool  # the type has a default hash operator class


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str  # pg_constraint.confupdtype: a no action, r restrict, c cascade, n set null, d set default
    on_delete: str


@dataclass(frozen=True)
class Catalog:
    """What the rules need of schema public, by name; relations include partitions unless said otherwise."""

    tables: dict[str, str]  # top-level table or materialized view -> relkind
    root: dict[str, str]  # relation -> its top-level table
    columns: dict[str, dict[str, Column]]
    unique_keys: list[tuple[str, str, str, tuple[str, ...]]]  # (relation, name, kind, key columns, '' = expression)
    exclusions: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]  # (relation, name, columns, operators)
    foreign_keys: list[ForeignKey]
    triggers: list[tuple[str, str, bool, str]]  # (relation, trigger, row-level, function)
    functions: dict[str, tuple[str, tuple[str, ...]]]  # function -> (source, argument types), overloads merged
    policies: list[tuple[str, str, bool]]  # (relation, policy, has a subquery)
    inherits: list[tuple[str, str, bool, str]]  # (parent, child, child is a partition, child relkind)
    view_reads: set[tuple[str, str]]  # (view or materialized view, relation it reads)

    def decision(self, relation: str) -> Decision:
        """The decision of the relation's top-level table (partitions share their parent's)."""
        return CITUS.get(self.root.get(relation, relation), "local")


PUBLIC = "'public'::regnamespace"
RELKINDS = "('r', 'p', 'm', 'f')"


def attnames(keys: str, rel: str, limit: str = "") -> str:
    """SQL: the column names of attribute numbers `keys` of relation `rel`, in order ('' for an expression)."""
    return (f"array(SELECT coalesce(a.attname, '') FROM unnest({keys}) WITH ORDINALITY key(num, pos) "
            f"LEFT JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = key.num {limit} ORDER BY key.pos)")


def read_catalog(dsn: str) -> Catalog:
    """Read schema public's catalog: pg_class, pg_attribute, pg_index, pg_constraint, pg_trigger, pg_proc, ..."""
    with psycopg.connect(dsn) as conn:
        def rows(sql: str) -> list[tuple]:
            return conn.execute(sql).fetchall()

        rels = rows(f"""
            SELECT c.relname, c.relkind, c.relispartition,
                   (SELECT r.relname FROM pg_class r WHERE r.oid = coalesce(pg_partition_root(c.oid), c.oid))
            FROM pg_class c WHERE c.relnamespace = {PUBLIC} AND c.relkind IN {RELKINDS}""")
        columns: dict[str, dict[str, Column]] = {}
        for rel, col, *info in rows(f"""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated <> '',
                   a.attidentity <> '', co.collname, coalesce(co.collisdeterministic, true),
                   EXISTS (SELECT FROM pg_opclass o JOIN pg_am m ON m.oid = o.opcmethod
                           WHERE m.amname = 'hash' AND o.opcdefault
                             AND (o.opcintype = a.atttypid OR EXISTS (
                                  SELECT FROM pg_cast k WHERE k.castsource = a.atttypid
                                    AND k.casttarget = o.opcintype AND k.castmethod = 'b')))
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_collation co ON co.oid = a.attcollation
            WHERE c.relnamespace = {PUBLIC} AND c.relkind IN {RELKINDS} AND a.attnum > 0 AND NOT a.attisdropped"""):
            columns.setdefault(rel, {})[col] = Column(*info)
        unique_keys = rows(f"""
            SELECT t.relname, i.relname,
                   CASE (SELECT k.contype FROM pg_constraint k
                         WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u'))
                        WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE constraint' ELSE 'unique index' END,
                   {attnames('x.indkey', 'x.indrelid', 'WHERE key.pos <= x.indnkeyatts')}
            FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indisunique AND t.relnamespace = {PUBLIC}""")
        exclusions = rows(f"""
            SELECT t.relname, k.conname, {attnames('k.conkey', 'k.conrelid')},
                   array(SELECT o.oprname FROM unnest(k.conexclop) WITH ORDINALITY e(op, pos)
                         JOIN pg_operator o ON o.oid = e.op ORDER BY e.pos)
            FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
            WHERE k.contype = 'x' AND t.relnamespace = {PUBLIC}""")
        foreign_keys = rows(f"""
            SELECT k.conname, t.relname, {attnames('k.conkey', 'k.conrelid')},
                   f.relname, {attnames('k.confkey', 'k.confrelid')}, k.confupdtype, k.confdeltype
            FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
            WHERE k.contype = 'f' AND k.conparentid = 0 AND {PUBLIC} IN (t.relnamespace, f.relnamespace)""")
        triggers = rows(f"""
            SELECT c.relname, t.tgname, (t.tgtype & 1) = 1, p.proname
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND c.relnamespace = {PUBLIC}""")
        functions = rows(f"""
            SELECT p.proname, p.prosrc, array(SELECT format_type(a, NULL) FROM unnest(p.proargtypes) a)
            FROM pg_proc p WHERE p.pronamespace = {PUBLIC}""")
        policies = rows(f"""
            SELECT c.relname, p.polname,
                   coalesce(p.polqual::text, '') || coalesce(p.polwithcheck::text, '') LIKE '%{{SUBLINK%'
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = {PUBLIC}""")
        inherits = rows(f"""
            SELECT p.relname, c.relname, c.relispartition, c.relkind
            FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid
            WHERE {PUBLIC} IN (p.relnamespace, c.relnamespace)""")
        view_reads = rows(f"""
            SELECT DISTINCT v.relname, t.relname
            FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class
            JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                            AND d.refclassid = 'pg_class'::regclass
            JOIN pg_class t ON t.oid = d.refobjid
            WHERE v.relkind IN ('v', 'm') AND t.oid <> v.oid AND v.relnamespace = {PUBLIC}""")
    return Catalog(
        tables={rel: kind for rel, kind, partition, _ in rels if not partition},
        root={rel: root for rel, _, _, root in rels},
        columns=columns,
        unique_keys=[(t, i, kind, tuple(cols)) for t, i, kind, cols in unique_keys],
        exclusions=[(t, c, tuple(cols), tuple(ops)) for t, c, cols, ops in exclusions],
        foreign_keys=[ForeignKey(n, t, tuple(c), f, tuple(fc), u, d) for n, t, c, f, fc, u, d in foreign_keys],
        triggers=triggers,
        functions={name: ("\n".join(src for n, src, _ in functions if n == name),
                          tuple(a for n, _, args in functions if n == name for a in args))
                   for name in {n for n, _, _ in functions}},
        policies=policies, inherits=inherits, view_reads=set(view_reads))


@pytest.fixture
def catalog(pg_dsn: str) -> Catalog:
    migrate_central(pg_dsn)
    return read_catalog(pg_dsn)


# -- the rules: each returns its violations, every one naming the object ------------------------------------

def unclassified(cat: Catalog) -> list[str]:
    return ([f"{t} (relkind {k}) has no decision in CITUS" for t, k in cat.tables.items() if t not in CITUS]
            + [f"{t} is in CITUS but the migrations do not create it" for t in set(CITUS) - set(cat.tables)]
            + [f"{t}: a materialized view stays local" for t, k in cat.tables.items()
               if k == "m" and is_citus(CITUS.get(t, "local"))])


def unique_keys_without_dist_column(cat: Catalog) -> list[str]:
    """Of partitions too. Stricter than Citus on one point: an INCLUDE column does not count."""
    bad = []
    for rel, name, kind, cols in cat.unique_keys:
        col = dist_column(cat.decision(rel))
        if col is not None and col not in cols:
            bad.append(f"{kind} {name} on {rel} ({', '.join(c or '<expression>' for c in cols)}) lacks {col}")
    for rel, name, cols, ops in cat.exclusions:
        col = dist_column(cat.decision(rel))
        if col is not None and (col, "=") not in zip(cols, ops):
            bad.append(f"EXCLUDE constraint {name} on {rel} lacks '{col} WITH ='")
    return bad


ACTIONS = {"n": "SET NULL", "d": "SET DEFAULT", "c": "CASCADE"}


def foreign_key_problem(fk: ForeignKey, src: Decision, dst: Decision) -> str | None:
    """Why Citus refuses this foreign key between tables so decided (None: allowed)."""
    if src == "local" or dst == "local":
        return "links a local table and a Citus table" if is_citus(src) or is_citus(dst) else None
    if src == "reference":
        return None if dst == "reference" else "a reference table may refer to reference tables only"
    col = dist_column(src)
    if col in fk.columns:  # the key must never change the distribution column
        if fk.on_delete in "nd":
            return f"ON DELETE {ACTIONS[fk.on_delete]} would change {col}"
        if fk.on_update in "ndc":
            return f"ON UPDATE {ACTIONS[fk.on_update]} would change {col}"
    if dst == "reference":
        return None
    if group(src) != group(dst):
        return f"distributed tables of different co-location groups ({group(src)}, {group(dst)})"
    positions = [i for i, c in enumerate(fk.columns) if c == col]
    if not positions or positions != [i for i, c in enumerate(fk.ref_columns) if c == dist_column(dst)]:
        return (f"({', '.join(fk.columns)}) -> ({', '.join(fk.ref_columns)}) does not pair {col} with "
                f"{dist_column(dst)} at the same position")
    return None


def refused_foreign_keys(cat: Catalog) -> list[str]:
    return [f"{fk.name}: {fk.table} -> {fk.ref_table}: {problem}" for fk in cat.foreign_keys
            if (problem := foreign_key_problem(fk, cat.decision(fk.table), cat.decision(fk.ref_table)))]


def bad_dist_columns(cat: Catalog) -> list[str]:
    bad: list[str] = []
    kinds: dict[str | None, set[tuple[str, str | None]]] = {}
    for table, decision in CITUS.items():
        col = dist_column(decision)
        if col is None or table not in cat.columns:
            continue
        c = cat.columns[table].get(col)
        if c is None:
            bad.append(f"{table}.{col}: no such column")
            continue
        bad += [f"{table}.{col}: {problem}" for problem, failed in [
            ("NULL allowed", not c.not_null), ("GENERATED ALWAYS AS (...) STORED", c.generated),
            (f"type {c.type} has no default hash operator class", not c.hashable),
            (f"non-deterministic collation {c.collation}", not c.deterministic)] if failed]
        kinds.setdefault(group(decision), set()).add((c.type, c.collation))
    return bad + [f"co-location group {g}: distribution columns of types/collations {sorted(map(str, k))}"
                  for g, k in kinds.items() if len(k) > 1]


def other_limits(cat: Catalog) -> list[str]:
    """Identity columns, partition trees, inheritance and policies of Citus tables."""
    bad = [f"{rel}.{col}: identity column of type {c.type}, Citus takes bigint ones only"
           for rel, cols in cat.columns.items() if is_citus(cat.decision(rel))
           for col, c in cols.items() if c.identity and c.type != "bigint"]
    for parent, child, is_partition, kind in cat.inherits:
        if not is_citus(cat.decision(parent)):
            continue
        if not is_partition:
            bad.append(f"{child} INHERITS {parent}: only declarative partitions go with a Citus table")
        elif kind == "p":
            bad.append(f"{child}: partitioned partition of {parent}, multi-level partitioning")
    bad += [f"{t}: a reference table cannot be partitioned" for t, k in cat.tables.items()
            if CITUS.get(t) == "reference" and k == "p"]
    return bad + [f"policy {pol} on {rel} has a subquery" for rel, pol, sublink in cat.policies
                  if sublink and is_citus(cat.decision(rel))]


def citus_triggers(cat: Catalog) -> list[tuple[str, str, bool, str]]:
    return [t for t in cat.triggers if is_citus(cat.decision(t[0]))]


def reached_functions(cat: Catalog, start: str) -> list[str]:
    """`start` and the functions of schema public that its source calls, transitively (only those of public)."""
    seen = [start] if start in cat.functions else []
    todo = list(seen)
    while todo:
        source = cat.functions[todo.pop()][0]
        for f in cat.functions:
            if f not in seen and re.search(rf"\b{f}\s*\(", source):
                seen.append(f)
                todo.append(f)
    return seen


def undocumented_or_remote_triggers(cat: Catalog) -> list[str]:
    """A trigger on a Citus table runs on the shard of its row: it must be a documented decision, row-level,
    and use only tables of its own co-location group (what allows citus.enable_unsafe_triggers for them)."""
    found = {(table, trigger) for table, trigger, _, _ in citus_triggers(cat)}
    bad = ([f"{t}.{g}: not in TRIGGERS_ON_CITUS_TABLES" for t, g in found - TRIGGERS_ON_CITUS_TABLES]
           + [f"{t}.{g}: in TRIGGERS_ON_CITUS_TABLES but absent" for t, g in TRIGGERS_ON_CITUS_TABLES - found])
    for table, trigger, row_level, function in citus_triggers(cat):
        if not row_level:
            bad.append(f"{trigger} on {table}: statement-level, would run a distributed query from a shard")
        own = cat.decision(table)
        for f in reached_functions(cat, function):
            for other, d in CITUS.items():
                if re.search(rf"\b{other}\b", cat.functions[f][0]) and (group(own) is None or group(d) != group(own)):
                    bad.append(f"{trigger} on {table}: {f}() uses {other} ({d}), not co-located with {table}")
    return bad


def call_arguments(source: str, function: str) -> list[list[str]]:
    """The top-level arguments of every call of `function` in `source`."""
    calls = []
    for m in re.finditer(rf"\b{function}\s*\(", source):
        depth, start, args = 1, m.end(), []
        for i in range(m.end(), len(source)):
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            if depth == 0 or (depth == 1 and source[i] == ","):
                args.append(source[start:i].strip())
                start = i + 1
            if depth == 0:
                break
        calls.append(args)
    return calls


def row_passed_as_table_type(cat: Catalog) -> list[str]:
    """On a shard, NEW and OLD have the shard's row type (camera_health_102008, not camera_health): passed to a
    function declared for the table's row type, the call does not resolve and every write fails."""
    row_types = {rel for rel in cat.root if is_citus(cat.decision(rel))}
    takers = [g for g, (_, args) in cat.functions.items() if row_types & set(args)]
    return [f"{trigger} on {table}: {f}() passes {arg} to {g}({', '.join(cat.functions[g][1])})"
            for table, trigger, _, function in citus_triggers(cat) for f in reached_functions(cat, function)
            for g in takers for args in call_arguments(cat.functions[f][0], g) for arg in args
            if arg.upper() in ("NEW", "OLD")]


RULES: dict[str, Callable[[Catalog], list[str]]] = {
    "every table of schema public has a Citus decision (reference, distributed, local)": unclassified,
    "every PRIMARY KEY / UNIQUE / unique index / EXCLUDE of a distributed table contains its distribution "
    "column": unique_keys_without_dist_column,
    "foreign keys: distributed -> reference, reference -> reference, distributed -> co-located distributed on "
    "the distribution column at the same position; never with a local table": refused_foreign_keys,
    "distribution columns are NOT NULL, hashable, not generated, of one type and collation per co-location "
    "group": bad_dist_columns,
    "identity columns, partitioning, inheritance and policies that Citus takes": other_limits,
    "triggers on Citus tables are documented, row-level and touch co-located tables only":
        undocumented_or_remote_triggers,
}
ROW_TYPES = "triggers on Citus tables do not pass NEW/OLD where a table's row type is declared"


def violations(cat: Catalog, rules: dict[str, Callable[[Catalog], list[str]]]) -> dict[str, list[str]]:
    return {rule: found for rule, check in rules.items() if (found := check(cat))}


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"Citus rule violated: {rule}\n  " + "\n  ".join(v) for rule, v in found.items())


def test_schema_follows_citus_rules(catalog: Catalog) -> None:
    """Every rule of RULES on the migrated schema; the message lists every violation under its rule."""
    found = violations(catalog, RULES)
    assert not found, report(found)


def test_triggers_pass_no_row_as_table_type(catalog: Catalog) -> None:
    """A trigger that works on the table but fails on its shards (checked apart: it is about run time)."""
    found = violations(catalog, {ROW_TYPES: row_passed_as_table_type})
    assert not found, report(found)


# -- the rules bite -----------------------------------------------------------------------------------------

BREAKING_MIGRATION = """
CREATE TABLE gadgets (id int);
CREATE UNIQUE INDEX counting_events_default_event_id ON counting_events_default (event_id);
ALTER TABLE alerts ADD CONSTRAINT alerts_title_key UNIQUE (title),
    ADD CONSTRAINT alerts_excl EXCLUDE USING btree (alert_id WITH =),
    ADD COLUMN policy text REFERENCES partition_policy,
    ADD CONSTRAINT alerts_line_fkey FOREIGN KEY (title, camera_id) REFERENCES counting_lines (camera_id, line_name),
    ADD COLUMN n integer GENERATED BY DEFAULT AS IDENTITY;
ALTER TABLE devices ADD COLUMN camera text REFERENCES camera_configurations;
ALTER TABLE sync_clock_skew ADD COLUMN camera text REFERENCES camera_health,
    ALTER COLUMN device_id TYPE text COLLATE "C";
ALTER TABLE camera_health ADD CONSTRAINT camera_health_cfg_fkey FOREIGN KEY (camera_id)
    REFERENCES camera_configurations ON DELETE SET NULL;
ALTER TABLE sync_batches DROP CONSTRAINT sync_batches_pkey, ALTER COLUMN device_id DROP NOT NULL;
CREATE TABLE alerts_archive () INHERITS (alerts);
CREATE TABLE box_health_p2030 PARTITION OF box_health FOR VALUES FROM ('2030-01-01') TO ('2030-02-01')
    PARTITION BY RANGE (health_ts);
CREATE POLICY sync_known ON sync_batches FOR SELECT USING (EXISTS (SELECT FROM devices));
CREATE MATERIALIZED VIEW alert_counts AS SELECT camera_id, count(*) FROM alerts GROUP BY 1;
CREATE FUNCTION alerts_audit() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN PERFORM alert_note(new); RETURN NULL; END$$;
CREATE FUNCTION alert_note(a alerts) RETURNS void LANGUAGE sql AS 'SELECT FROM partition_policy';
CREATE TRIGGER alerts_audit AFTER INSERT ON alerts FOR EACH STATEMENT EXECUTE FUNCTION alerts_audit();
"""

EXPECTED = {
    unclassified: ["gadgets (relkind r) has no decision", "alert_counts (relkind m) has no decision"],
    unique_keys_without_dist_column: ["unique index counting_events_default_event_id on counting_events_default "
                                      "(event_id) lacks camera_id",
                                      "UNIQUE constraint alerts_title_key on alerts (title) lacks camera_id",
                                      "EXCLUDE constraint alerts_excl on alerts lacks 'camera_id WITH ='"],
    refused_foreign_keys: ["alerts_policy_fkey: alerts -> partition_policy: links a local table",
                           "alerts_line_fkey: alerts -> counting_lines: (title, camera_id) -> (camera_id, line_name)",
                           "devices_camera_fkey: devices -> camera_configurations: a reference table may refer",
                           "sync_clock_skew_camera_fkey: sync_clock_skew -> camera_health: distributed tables of "
                           "different co-location groups",
                           "camera_health_cfg_fkey: camera_health -> camera_configurations: ON DELETE SET NULL"],
    bad_dist_columns: ["sync_batches.device_id: NULL allowed", "co-location group device: distribution columns"],
    other_limits: ["alerts.n: identity column of type integer", "alerts_archive INHERITS alerts",
                   "box_health_p2030: partitioned partition of box_health", "policy sync_known on sync_batches"],
    undocumented_or_remote_triggers: ["alerts.alerts_audit: not in TRIGGERS_ON_CITUS_TABLES",
                                      "alerts_audit on alerts: statement-level",
                                      "alerts_audit on alerts: alert_note() uses partition_policy (local)"],
    row_passed_as_table_type: ["alerts_audit on alerts: alerts_audit() passes new to alert_note(alerts)"],
}


def test_rules_catch_what_citus_refuses(pg_dsn: str) -> None:
    """A migration breaking every rule: each rule names what it breaks (so no rule passes for want of data)."""
    migrate_central(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(BREAKING_MIGRATION)
    cat = read_catalog(pg_dsn)
    assert set(EXPECTED) == {*RULES.values(), row_passed_as_table_type}, "every rule needs a case here"
    for rule, expected in EXPECTED.items():
        found = rule(cat)
        missed = [e for e in expected if not any(v.startswith(e) for v in found)]
        assert not missed, f"{rule.__name__} misses {missed}; found {found}"


def test_call_arguments() -> None:
    """Top-level arguments, nested calls kept whole, other functions ignored."""
    assert call_arguments("PERFORM g(f(x, y), NEW); x := g (OLD); gg(NEW); g()", "g") == [["f(x, y)", "NEW"],
                                                                                         ["OLD"], [""]]


def test_foreign_key_rule_refuses_what_citus_refuses() -> None:
    """Foreign keys the breaking migration does not make (allowed ones, and ON UPDATE)."""
    def fk(cols: tuple[str, ...], ref_cols: tuple[str, ...], on_update: str = "a", on_delete: str = "a") -> ForeignKey:
        return ForeignKey("k", "a", cols, "b", ref_cols, on_update, on_delete)

    line = fk(("camera_id", "line_name"), ("camera_id", "line_name"))
    assert foreign_key_problem(line, CAMERA, CAMERA) is None
    assert foreign_key_problem(line, CAMERA, "reference") is None
    assert foreign_key_problem(line, "reference", "reference") is None
    assert foreign_key_problem(line, "local", "local") is None
    assert "local table" in foreign_key_problem(line, "local", "reference")
    assert "same position" in foreign_key_problem(fk(("device_id",), ("device_id",)), CAMERA, CAMERA)
    assert "ON UPDATE CASCADE" in foreign_key_problem(fk(("camera_id",), ("camera_id",), on_update="c"),
                                                      CAMERA, CAMERA)
    assert foreign_key_problem(fk(("tenant_id",), ("tenant_id",), on_delete="n"), CAMERA, "reference") is None
