"""The guide's benchmark queries on a synthetic data set: EXPLAIN shows the intended index and pruning."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sync.central.citus import distribute, is_distributed
from sync.central.migrate import migrate
from sync.central.partitions import maintain
from sync.central.summaries import refresh
from tests.central.queries import BY_NAME
from tests.central.synth import SynthSpec, load
from tests.support.pg import CENTRAL_BACKENDS, CentralBackend

PARAMS = {"camera": "site0003-box1/cam2", "tenant": 3}


@pytest.fixture(scope="module", params=CENTRAL_BACKENDS)
def synth_dsn(central_backend: Callable[[str], CentralBackend], request: pytest.FixtureRequest) -> Iterator[str]:
    """500 cameras, 2 days of counts, 1 hour of health; partitions back 35 days (older ones must be pruned). On
    Citus the data set is loaded before distributing (what `edge central distribute` does to a database in use):
    the loader's SQL is beyond Citus' planner (LATERAL subqueries calling random() without FROM)."""
    with central_backend(request.param).database("t_central_plans", migrated=False) as dsn:
        migrate(dsn)
        maintain(dsn, backfill_days=35)
        load(dsn, SynthSpec(cameras=500, days=2, health_hours=1))
        if request.param == "citus":
            distribute(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        refresh(dsn)
        yield dsn


def plan(dsn: str, query: str) -> str:
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        return "\n".join(r[0] for r in conn.execute("EXPLAIN " + BY_NAME[query].psycopg(), PARAMS))


def scanned(text: str, table: str) -> set[str]:
    """Partitions of `table` the plan still scans."""
    return {w for w in text.replace("(", " ").split() if w.startswith(f"{table}_p") and "_idx" not in w}


def uses_index(text: str, index: str) -> bool:
    """An index scan (plain or bitmap) of `index`: which of the two depends on how rows lie in the heap. On Citus
    the shard's index carries the shard id (idx_alerts_unresolved_102018)."""
    return re.search(rf"Index Scan (using|on) {index}(_\d+)? ", text) is not None


def tasks(text: str) -> int | None:
    """The number of shards a distributed plan sends the query to (None: not a distributed plan)."""
    found = re.search(r"Task Count: (\d+)", text)
    return int(found.group(1)) if found else None


def removed(text: str) -> int:
    """Partitions pruned at executor start (the bound depends on now())."""
    found = re.search(r"Subplans Removed: (\d+)", text)
    assert found, text
    return int(found.group(1))


def test_camera_status_uses_covering_index(synth_dsn: str) -> None:
    text = plan(synth_dsn, "camera_status")
    if tasks(text) is not None:  # by tenant: every shard of the camera group, 125 cameras each, read whole
        assert tasks(text) == 4, text  # the test cluster's citus.shard_count
        return
    assert "Index Only Scan using idx_camera_status_covering" in text


def test_realtime_counting_prunes_to_this_month_and_uses_camera_time_index(synth_dsn: str) -> None:
    text = plan(synth_dsn, "realtime_counting")
    now = datetime.now(UTC)
    this_month = f"counting_results_p{now:%Y%m}"
    assert uses_index(text, f"{this_month}_camera_id_result_timestamp_idx")
    assert f"Seq Scan on {this_month}" not in text
    last_month = f"counting_results_p{now.replace(day=1) - timedelta(days=1):%Y%m}"
    assert last_month not in scanned(text, "counting_results")  # exists (backfill), pruned at executor start
    assert removed(text) >= 1


def test_realtime_summary_uses_its_unique_index(synth_dsn: str) -> None:
    assert "idx_realtime_counting_summary_camera_timestamp" in plan(synth_dsn, "realtime_counting_summary")


def test_stream_quality_prunes_old_days_and_uses_partial_index(synth_dsn: str) -> None:
    text = plan(synth_dsn, "stream_quality")
    now = datetime.now(UTC)
    assert uses_index(text, f"stream_quality_metrics_p{now:%Y%m%d}_metric_timestamp_idx")  # the partial index
    recent = {f"stream_quality_metrics_p{now - timedelta(hours=h):%Y%m%d}" for h in (0, 1)}
    old = scanned(text, "stream_quality_metrics") - recent
    assert all(p > f"stream_quality_metrics_p{now:%Y%m%d}" for p in old), old  # only empty future days remain
    assert removed(text) >= 28  # the older of the 30 days kept


def test_daily_analytics_uses_camera_date_index(synth_dsn: str) -> None:
    assert "Index Scan using idx_daily_analytics_summary_camera_date" in plan(synth_dsn, "daily_analytics")


# Per-camera work on Citus: the router planner sends it to the camera's one shard.
@pytest.mark.parametrize("query", ["realtime_counting", "daily_analytics"])
def test_per_camera_queries_go_to_one_shard_on_citus(synth_dsn: str, query: str) -> None:
    """Real-time counting and one camera's daily analytics: one task (one server: no distributed plan)."""
    text = plan(synth_dsn, query)
    assert tasks(text) == (1 if distributed(synth_dsn) else None), text


def test_ingest_goes_to_one_shard_on_citus(synth_dsn: str) -> None:
    """What the sync agent's delivery runs per camera: the staging route's minute upsert and a health report."""
    with psycopg.connect(synth_dsn) as conn:
        for statement in (
                "INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out) "
                "VALUES (%(camera)s, 'line1', date_trunc('minute', now()), 1, 0) ON CONFLICT (camera_id, line_name, "
                "result_timestamp) DO UPDATE SET count_in = EXCLUDED.count_in, count_out = EXCLUDED.count_out",
                "INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, event_ts) "
                "VALUES (gen_random_uuid(), split_part(%(camera)s, '/', 1), %(camera)s, 'line1', 'in', now())"):
            text = "\n".join(r[0] for r in conn.execute("EXPLAIN " + statement, PARAMS))
            assert tasks(text) == (1 if distributed(synth_dsn) else None), text


def distributed(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return is_distributed(conn)
