"""Synthetic but realistic central data, generated inside PostgreSQL (benchmark and plan tests).

Cameras come in pairs per box (`site0001-box1/cam1`, `.../cam2`), spread over tenants and six time
zones. Each line counts in and out per minute along a shop's day in the camera's local time (opening
8:00-22:00, a lunch and a larger evening peak, a trickle at night) scaled by a per-camera factor; only
minutes with a crossing are stored (as a box sends them), and each counted person is also a crossing
event with a UUIDv7. Health reports every `health_interval_s` cover the last `health_hours`: about 2% of
camera-hours are degraded (35% frames dropped) and 0.2% offline.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import psycopg

ZONES = (("Asia/Ho_Chi_Minh", 420), ("Asia/Tokyo", 540), ("Europe/Paris", 60), ("America/New_York", -300),
         ("UTC", 0), ("Australia/Sydney", 660))  # (zone, minutes from UTC, DST ignored)


@dataclass(frozen=True)
class SynthSpec:
    cameras: int = 1000
    lines: int = 2
    days: int = 30
    tenants: int = 50
    peak_per_minute: float = 0.6   # crossings per line and direction per minute at the evening peak
    health_hours: int = 48
    health_interval_s: int = 30
    workers: int = 2               # loading connections


_REGISTRY = """
INSERT INTO tenants SELECT t, 'tenant ' || t FROM generate_series(1, %(tenants)s) t;
INSERT INTO devices (device_id, tenant_id, location_id)
SELECT format('site%%s-box1', lpad(d::text, 4, '0')), 1 + d %% %(tenants)s, 'site' || d
FROM generate_series(1, (%(cameras)s + 1) / 2) d;
CREATE UNLOGGED TABLE synth_cameras AS
SELECT n, format('site%%s-box1', lpad((n / 2 + 1)::text, 4, '0')) AS device_id, 'cam' || (n %% 2 + 1) AS camera_name,
       (n / 2 + 1) %% 6 AS zone, 0.3 + 1.4 * (n * 7919 %% 1000) / 1000.0 AS factor
FROM generate_series(0, %(cameras)s - 1) n;
INSERT INTO camera_configurations (camera_id, device_id, camera_name, tenant_id, location_id, camera_type, timezone)
SELECT s.device_id || '/' || s.camera_name, s.device_id, s.camera_name, d.tenant_id, d.location_id,
       CASE WHEN s.n %% 10 = 0 THEN 'fisheye' ELSE 'fixed' END, (%(zones)s::text[])[s.zone + 1]
FROM synth_cameras s JOIN devices d USING (device_id);
INSERT INTO counting_lines (camera_id, line_name, x1, y1, x2, y2)
SELECT camera_id, 'line' || l, 0, 100 * l, 640, 100 * l FROM camera_configurations, generate_series(1, %(lines)s) l;
"""

# Per (UTC day, worker): the minutes with traffic, returned into the events (one per counted person).
_COUNTS = """
WITH r AS (
    INSERT INTO counting_results (camera_id, line_name, result_timestamp, count_in, count_out, updated_at)
    SELECT l.camera_id, l.line_name, t, x.cin, x.cout, t + interval '59 seconds'
    FROM synth_cameras s
    JOIN counting_lines l ON l.camera_id = s.device_id || '/' || s.camera_name
    CROSS JOIN generate_series(%(day)s::timestamptz, %(day)s::timestamptz + interval '1439 minutes',
                               interval '1 minute') t
    CROSS JOIN LATERAL (SELECT (((extract(epoch FROM t)::bigint / 60 + (%(offsets)s::int[])[s.zone + 1])
                                %% 1440) / 60.0)::float8 AS h) lt
    CROSS JOIN LATERAL (SELECT %(peak)s * s.factor * CASE WHEN lt.h >= 8 AND lt.h < 22
        THEN 0.15 + 0.45 * exp(-(((lt.h - 12.5) / 1.6) ^ 2)) + exp(-(((lt.h - 18) / 1.8) ^ 2))
        ELSE 0.02 END AS lam) rate
    CROSS JOIN LATERAL (SELECT floor(2 * rate.lam * random() + random())::int AS cin,
                               floor(2 * rate.lam * random() + random())::int AS cout) x
    WHERE s.n %% %(workers)s = %(worker)s AND t < %(until)s AND x.cin + x.cout > 0
    ORDER BY t  -- rows of all cameras interleaved in time, as deliveries lay them out
    RETURNING camera_id, line_name, result_timestamp, count_in, count_out)
INSERT INTO counting_events (event_id, device_id, camera_id, line_name, direction, track_id, event_ts,
                             frame_index, score, model)
SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                      PLACING substring(int8send((extract(epoch FROM e.ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                      52, 1), 53, 1), 'hex')::uuid,
       split_part(r.camera_id, '/', 1), r.camera_id, r.line_name,
       CASE WHEN k <= r.count_in THEN 'in' ELSE 'out' END,
       extract(epoch FROM r.result_timestamp)::bigint / 60 * 100 + k,
       e.ts, (extract(epoch FROM e.ts) * 10)::bigint, 0.5 + 0.5 * random(), 'yolox_nano'
FROM r
CROSS JOIN generate_series(1, r.count_in + r.count_out) k
CROSS JOIN LATERAL (SELECT r.result_timestamp + random() * interval '60 seconds' AS ts) e
"""

_HEALTH = """
WITH h AS (
    SELECT s.device_id || '/' || s.camera_name AS camera_id, t,
           CASE WHEN abs(hashtext(s.n || date_trunc('hour', t)::text)::bigint) %% 1000 < 2 THEN 'offline'
                WHEN abs(hashtext(s.n || date_trunc('hour', t)::text)::bigint) %% 1000 < 22 THEN 'degraded'
                ELSE 'online' END AS status
    FROM synth_cameras s
    CROSS JOIN generate_series(%(since)s::timestamptz, %(until)s::timestamptz, %(step)s * interval '1 second') t
    WHERE s.n %% %(workers)s = %(worker)s),
m AS (
    SELECT camera_id, t, status,
           CASE status WHEN 'online' THEN 0.03 * random() WHEN 'degraded' THEN 0.3 + 0.1 * random()
                       ELSE 1 END::real AS drops,
           (10 + random())::real AS fps_in
    FROM h),
q AS (
    INSERT INTO stream_quality_metrics (camera_id, metric_timestamp, status, quality_score, drop_rate, fps_processed,
                                        width, height)
    SELECT camera_id, t, status, stream_quality_score(status, drops, (fps_in * (1 - drops))::real), drops,
           (fps_in * (1 - drops))::real, 1280, 720
    FROM m ORDER BY t)
INSERT INTO camera_performance_metrics (camera_id, metric_timestamp, fps_in, fps_processed, drop_rate,
                                        latency_p50_ms, latency_p95_ms, reconnects)
SELECT camera_id, t, fps_in, (fps_in * (1 - drops))::real, drops, 40 + 20 * random(), 90 + 80 * random(),
       (status = 'offline')::int
FROM m ORDER BY t
"""

# The latest report per camera goes through the ingest trigger, as a delivered one would.
_LATEST = """
INSERT INTO camera_health (camera_id, health_ts, status, fps_in, fps_processed, drop_rate, latency_p50_ms,
                           latency_p95_ms, reconnects, last_frame_at, width, height)
SELECT device_id || '/' || camera_name, %(now)s, CASE WHEN n %% 50 = 7 THEN 'degraded' ELSE 'online' END,
       10, CASE WHEN n %% 50 = 7 THEN 6.5 ELSE 9.9 END, CASE WHEN n %% 50 = 7 THEN 0.35 ELSE 0.01 END,
       45, 120, 0, %(now)s, 1280, 720
FROM synth_cameras
"""


def load(dsn: str, spec: SynthSpec, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Load the data set into an empty migrated database whose partitions cover the last `spec.days`
    (`maintain(..., backfill_days=spec.days)`); returns rows per table."""
    with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        now = conn.execute("SELECT date_trunc('second', now())").fetchone()[0]
        for statement in _REGISTRY.strip().split(";\n"):
            conn.execute(statement, {"tenants": spec.tenants, "cameras": spec.cameras, "lines": spec.lines,
                                     "zones": [z for z, _ in ZONES]})
    first_day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=spec.days - 1)
    counts = [(_COUNTS, {"day": first_day + timedelta(days=d), "until": now, "peak": spec.peak_per_minute,
                         "offsets": [o for _, o in ZONES]}) for d in range(spec.days)]
    health_since = now - timedelta(hours=spec.health_hours)
    health = [(_HEALTH, {"since": health_since + timedelta(hours=h),
                         "until": min(now, health_since + timedelta(hours=h + 1)) - timedelta(microseconds=1),
                         "step": spec.health_interval_s}) for h in range(spec.health_hours)]
    jobs = [(text, dict(params, worker=w, workers=spec.workers))
            for text, params in counts + health for w in range(spec.workers)]
    # A bulk load: no per-row queueing of daily-summary days; every camera is queued whole after it.
    with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        conn.execute("ALTER TABLE counting_results DISABLE TRIGGER counting_results_daily")
    _run_parallel(dsn, jobs, spec.workers, progress)
    with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        conn.execute("ALTER TABLE counting_results ENABLE TRIGGER counting_results_daily")
        conn.execute("SELECT queue_daily_rebuild()")
        conn.execute(_LATEST, {"now": now})
        conn.execute("DROP TABLE synth_cameras")
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("counting_results", "counting_events", "stream_quality_metrics", "camera_health")}


def _run_parallel(dsn: str, jobs: list[tuple[str, dict]], workers: int, progress: Callable[[str], None]) -> None:
    def run(job: tuple[str, dict]) -> None:
        with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
            conn.execute(*job)

    with ThreadPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(run, jobs), 1):
            progress(f"{done}/{len(jobs)} load steps")
