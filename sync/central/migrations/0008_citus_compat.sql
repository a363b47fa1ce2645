-- Functions rewritten so that Citus can plan them (docs/central.md "Scale-out on Citus", sync/central/citus.py); the
-- same results on a single server. Each change says what Citus 13.2 refused.
--
-- 1. SQL functions with parameters that read distributed tables cannot be planned by Citus ("parameterized
--    queries for SQL functions referencing distributed tables are not supported"):
--    check_camera_performance(), raise_camera_alerts() and queue_daily_rebuild() become PL/pgSQL (RETURN
--    QUERY), whose parameters Citus binds before planning. Same statements; #variable_conflict use_column
--    because the output columns of RETURNS TABLE are PL/pgSQL variables.
--    raise_camera_alerts() also takes an advisory lock (one run at a time) instead of inserting in key order,
--    which Citus cannot sort (it loses the collation of the CTE's columns) and which would not prevent
--    deadlocks between shards anyway.
-- 2. camera_health_record(): on a distributed table Citus refuses a non-IMMUTABLE function in ON CONFLICT DO
--    UPDATE SET ("functions used in the DO UPDATE SET clause of INSERTs on distributed tables must be marked
--    IMMUTABLE"): last_heartbeat = now() becomes now() in VALUES and EXCLUDED.last_heartbeat (the same
--    value: now() is the transaction's start time). Its simple CASE (CASE r.status WHEN ...) becomes a
--    searched CASE: Citus 13.2 evaluates the INSERT's non-immutable expressions (the DEFAULT gen_random_uuid()
--    of camera_events.event_id) on the coordinator and in doing so folds a simple CASE's test value into
--    NULL::boolean, which the shard then refuses ("operator does not exist: text = boolean").
-- 3. refresh_daily_analytics(): Citus cannot push down a LATERAL subquery that groups by something else
--    than the distribution column and refers to a CTE ("Group by list without partition column is currently
--    unsupported when a lateral subquery references a column from complex subqueries, CTEs or local
--    tables"). On Citus (pg_dist_partition exists) the two LATERAL range scans become joins (grouped by
--    camera_id, the distribution column), and refreshed_at = now() in DO UPDATE SET becomes
--    EXCLUDED.refreshed_at (its DEFAULT now(), as in 2.). On one server the function runs 0006's statement
--    unchanged: the joins plan worse there (one camera back after a week offline: 820 ms instead of 41 ms,
--    python -m tests.bench.daily). PL/pgSQL plans a statement when it first runs it, so each server only ever
--    plans its own branch.
--    Correctness on Citus: the statement is no longer one snapshot (each CTE Citus plans separately runs as
--    its own statement on the workers), but the queue rows are deleted (first CTE) before the counts are read
--    (a later one), and a minute's queue row and count row are on the same shard group, committed by one
--    local transaction: every queue row deleted has its count visible to the read, and a count committed in
--    between leaves its queue row for the next refresh (read twice, never lost).

CREATE OR REPLACE FUNCTION camera_health_record(r camera_health) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    score real := stream_quality_score(r.status, r.drop_rate, r.fps_processed);
    previous text;
BEGIN
    IF left(session_user, 4) = 'box_' AND split_part(r.camera_id, '/', 1) <> substr(session_user, 5) THEN
        RAISE EXCEPTION 'camera % is not a camera of %', r.camera_id, session_user USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO stream_quality_metrics (camera_id, metric_timestamp, status, quality_score, drop_rate,
                                        fps_processed, width, height)
    VALUES (r.camera_id, r.health_ts, r.status, score, r.drop_rate, r.fps_processed, r.width, r.height)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO camera_performance_metrics (camera_id, metric_timestamp, fps_in, fps_processed, drop_rate,
                                            latency_p50_ms, latency_p95_ms, reconnects, error)
    VALUES (r.camera_id, r.health_ts, r.fps_in, r.fps_processed, r.drop_rate, r.latency_p50_ms,
            r.latency_p95_ms, r.reconnects, r.error);
    SELECT status INTO previous FROM camera_health WHERE camera_id = r.camera_id FOR UPDATE;
    INSERT INTO camera_health AS h (camera_id, health_ts, status, stream_quality_score, fps_in, fps_processed,
                                    drop_rate, latency_p50_ms, latency_p95_ms, reconnects, last_frame_at,
                                    width, height, error, last_heartbeat)
    VALUES (r.camera_id, r.health_ts, r.status, score, r.fps_in, r.fps_processed, r.drop_rate,
            r.latency_p50_ms, r.latency_p95_ms, r.reconnects, r.last_frame_at, r.width, r.height, r.error, now())
    ON CONFLICT (camera_id) DO UPDATE SET
        health_ts = EXCLUDED.health_ts, status = EXCLUDED.status,
        stream_quality_score = EXCLUDED.stream_quality_score, fps_in = EXCLUDED.fps_in,
        fps_processed = EXCLUDED.fps_processed, drop_rate = EXCLUDED.drop_rate,
        latency_p50_ms = EXCLUDED.latency_p50_ms, latency_p95_ms = EXCLUDED.latency_p95_ms,
        reconnects = EXCLUDED.reconnects, last_frame_at = EXCLUDED.last_frame_at, width = EXCLUDED.width,
        height = EXCLUDED.height, error = EXCLUDED.error, last_heartbeat = EXCLUDED.last_heartbeat
    WHERE h.health_ts < EXCLUDED.health_ts;  -- a late, older report only feeds the time series
    IF FOUND AND previous IS DISTINCT FROM r.status THEN
        INSERT INTO camera_events (camera_id, event_type, severity, message, event_ts)
        VALUES (r.camera_id, 'status_change',
                CASE WHEN r.status = 'online' THEN 'info' WHEN r.status = 'degraded' THEN 'warning' ELSE 'error' END,
                coalesce(previous, 'new') || ' -> ' || r.status, r.health_ts);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION check_camera_performance(win interval DEFAULT '5 minutes')
RETURNS TABLE (camera_id text, alert_type text, alert_message text, alert_severity text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH recent AS (
        SELECT m.camera_id, avg(m.latency_p95_ms) AS p95, avg(m.drop_rate) AS drops, avg(m.fps_processed) AS fps
        FROM camera_performance_metrics m
        JOIN stream_quality_metrics q ON q.camera_id = m.camera_id AND q.metric_timestamp = m.metric_timestamp
        WHERE m.metric_timestamp > now() - win AND q.metric_timestamp > now() - win AND q.status <> 'offline'
        GROUP BY m.camera_id
    )
    SELECT r.camera_id, 'high_latency', format('p95 pipeline latency %s ms (limit 200 ms)', round(r.p95::numeric)), 'warning'
    FROM recent r WHERE r.p95 > 200
    UNION ALL
    SELECT r.camera_id, 'frame_drops', format('%s%% of frames dropped (limit 20%%)', round(100 * r.drops::numeric)), 'warning'
    FROM recent r WHERE r.drops > 0.2
    UNION ALL
    SELECT r.camera_id, 'low_fps', format('%s frames/s processed (minimum 5)', round(r.fps::numeric, 1)), 'error'
    FROM recent r WHERE r.fps < 5
    UNION ALL
    SELECT c.camera_id,
           CASE WHEN h.last_heartbeat >= now() - win THEN 'offline' ELSE 'no_heartbeat' END,
           CASE WHEN h.last_heartbeat >= now() - win THEN 'box reports the stream offline: ' || coalesce(h.error, '?')
                ELSE coalesce('last report ' || h.last_heartbeat::text, 'never reported') END,
           'critical'
    FROM camera_configurations c
    LEFT JOIN camera_health h ON h.camera_id = c.camera_id
    WHERE c.is_active AND (h.last_heartbeat IS NULL OR h.last_heartbeat < now() - win OR h.status = 'offline');
END
$$;

CREATE OR REPLACE FUNCTION raise_camera_alerts(win interval DEFAULT '5 minutes')
RETURNS TABLE (opened integer, resolved integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    -- One run at a time (the next one then sees what this one wrote). On Citus the INSERT and the UPDATE
    -- below run on every shard at once, so ordering the keys no longer keeps two runs from deadlocking.
    PERFORM pg_advisory_xact_lock(hashtext('raise_camera_alerts'));
    RETURN QUERY
    WITH failing AS (
        SELECT p.camera_id, p.alert_type, p.alert_message, p.alert_severity
        FROM check_camera_performance(win) p
        JOIN camera_configurations c ON c.camera_id = p.camera_id AND c.is_active
    ), opening AS (
        INSERT INTO alerts (camera_id, alert_type, severity, title, message, is_automatic)
        SELECT f.camera_id, f.alert_type, f.alert_severity, f.camera_id || ': ' || f.alert_type, f.alert_message, true
        FROM failing f  -- no ORDER BY: Citus 13.2 loses the collation of the CTE's text columns when it sorts
                        -- them for this INSERT ("could not determine which collation to use")
        ON CONFLICT (camera_id, alert_type) WHERE NOT is_resolved DO NOTHING
        RETURNING 1
    ), resolving AS (
        UPDATE alerts a SET is_resolved = true, resolved_at = now()
        WHERE a.is_automatic AND NOT a.is_resolved
          AND NOT EXISTS (SELECT FROM failing f WHERE f.camera_id = a.camera_id AND f.alert_type = a.alert_type)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM opening)::integer, (SELECT count(*) FROM resolving)::integer;
END
$$;

CREATE OR REPLACE FUNCTION queue_daily_rebuild(camera text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    queued_count bigint;
BEGIN
    WITH queued AS (
        INSERT INTO daily_summary_queue (camera_id)
        SELECT camera WHERE camera IS NOT NULL
        UNION
        SELECT camera_id FROM camera_configurations WHERE camera IS NULL
        UNION
        SELECT camera_id FROM daily_analytics_summary WHERE camera IS NULL
        RETURNING 1
    )
    SELECT count(*) FROM queued INTO queued_count;
    RETURN queued_count;
END
$$;

CREATE OR REPLACE FUNCTION refresh_daily_analytics() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_daily_analytics() needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('refresh_daily_analytics'));
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN  -- one server: 0006's statement, as is
        WITH queued AS (
            DELETE FROM daily_summary_queue RETURNING camera_id, minute
        ), zoned AS (
            SELECT DISTINCT q.camera_id, coalesce(c.timezone, 'UTC') AS tz,
                   (q.minute AT TIME ZONE coalesce(c.timezone, 'UTC'))::date AS date  -- NULL: the whole camera
            FROM queued q LEFT JOIN camera_configurations c ON c.camera_id = q.camera_id
        ), windows AS (  -- a local day, or all time for a camera queued whole (its days then not again)
            SELECT z.camera_id, z.tz, z.date,
                   coalesce(z.date::timestamp AT TIME ZONE z.tz, '-infinity') AS lo,
                   coalesce((z.date + 1)::timestamp AT TIME ZONE z.tz, 'infinity') AS hi
            FROM zoned z
            WHERE z.date IS NULL OR NOT EXISTS (SELECT 1 FROM zoned w WHERE w.camera_id = z.camera_id AND w.date IS NULL)
        ), fresh AS (  -- LATERAL: each window is a range scan of the (camera_id, result_timestamp) index
            SELECT w.camera_id, d.*
            FROM windows w
            CROSS JOIN LATERAL (
                SELECT (cr.result_timestamp AT TIME ZONE w.tz)::date AS date,
                       sum(cr.count_in)::bigint AS daily_in, sum(cr.count_out)::bigint AS daily_out,
                       max(cr.count_in + cr.count_out) AS daily_peak_minute, count(*) AS active_line_minutes
                FROM counting_results cr
                WHERE cr.camera_id = w.camera_id AND cr.result_timestamp >= w.lo AND cr.result_timestamp < w.hi
                GROUP BY 1
            ) d
        ), spans AS MATERIALIZED (  -- summary days each window answers for: its day; for a whole camera, since its oldest minute
            SELECT w.camera_id, coalesce(w.date, o.first) AS first, coalesce(w.date, 'infinity') AS last
            FROM windows w
            LEFT JOIN (SELECT camera_id, min(date) - 1 AS first FROM fresh GROUP BY camera_id) o
                   ON w.date IS NULL AND o.camera_id = w.camera_id
        ), emptied AS (  -- days answered for without a minute now (LATERAL: key range scans of the summary)
            DELETE FROM daily_analytics_summary s
            WHERE (s.camera_id, s.date) IN (
                SELECT d.camera_id, d.date
                FROM spans p
                CROSS JOIN LATERAL (SELECT camera_id, date FROM daily_analytics_summary
                                    WHERE camera_id = p.camera_id AND date BETWEEN p.first AND p.last
                                    OFFSET 0) d  -- OFFSET 0: kept a parameterized scan, not flattened into a hash join
                WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.camera_id = d.camera_id AND f.date = d.date))
            RETURNING 1
        ), upserted AS (
            INSERT INTO daily_analytics_summary AS s
                (camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes)
            SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes FROM fresh
            ON CONFLICT (camera_id, date) DO UPDATE SET
                daily_in = EXCLUDED.daily_in, daily_out = EXCLUDED.daily_out,
                daily_peak_minute = EXCLUDED.daily_peak_minute, active_line_minutes = EXCLUDED.active_line_minutes,
                refreshed_at = now()
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM emptied) + (SELECT count(*) FROM upserted) INTO changed;
    ELSE  -- Citus: LATERAL range scans become joins grouped by camera_id (see 3. above)
        WITH queued AS (
            DELETE FROM daily_summary_queue RETURNING camera_id, minute
        ), zoned AS (
            SELECT DISTINCT q.camera_id, coalesce(c.timezone, 'UTC') AS tz,
                   (q.minute AT TIME ZONE coalesce(c.timezone, 'UTC'))::date AS date  -- NULL: the whole camera
            FROM queued q LEFT JOIN camera_configurations c ON c.camera_id = q.camera_id
        ), windows AS (
            SELECT z.camera_id, z.tz, z.date,
                   coalesce(z.date::timestamp AT TIME ZONE z.tz, '-infinity') AS lo,
                   coalesce((z.date + 1)::timestamp AT TIME ZONE z.tz, 'infinity') AS hi
            FROM zoned z
            WHERE z.date IS NULL OR NOT EXISTS (SELECT 1 FROM zoned w WHERE w.camera_id = z.camera_id AND w.date IS NULL)
        ), fresh AS (
            SELECT cr.camera_id, (cr.result_timestamp AT TIME ZONE w.tz)::date AS date,
                       sum(cr.count_in)::bigint AS daily_in, sum(cr.count_out)::bigint AS daily_out,
                       max(cr.count_in + cr.count_out) AS daily_peak_minute, count(*) AS active_line_minutes
            FROM windows w
            JOIN counting_results cr ON cr.camera_id = w.camera_id AND cr.result_timestamp >= w.lo AND cr.result_timestamp < w.hi
            GROUP BY 1, 2
        ), spans AS MATERIALIZED (
            SELECT w.camera_id, coalesce(w.date, o.first) AS first, coalesce(w.date, 'infinity') AS last
            FROM windows w
            LEFT JOIN (SELECT camera_id, min(date) - 1 AS first FROM fresh GROUP BY camera_id) o
                   ON w.date IS NULL AND o.camera_id = w.camera_id
        ), emptied AS (
            DELETE FROM daily_analytics_summary s
            USING spans p
            WHERE s.camera_id = p.camera_id AND s.date BETWEEN p.first AND p.last
              AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.camera_id = s.camera_id AND f.date = s.date)
            RETURNING 1
        ), upserted AS (
            INSERT INTO daily_analytics_summary AS s
                (camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes)
            SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes FROM fresh
            ON CONFLICT (camera_id, date) DO UPDATE SET
                daily_in = EXCLUDED.daily_in, daily_out = EXCLUDED.daily_out,
                daily_peak_minute = EXCLUDED.daily_peak_minute, active_line_minutes = EXCLUDED.active_line_minutes,
                refreshed_at = EXCLUDED.refreshed_at
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM emptied) + (SELECT count(*) FROM upserted) INTO changed;
    END IF;
    RETURN changed;
END $$;

-- 4. daily_summary_queue has no key (inserts never wait on each other): its deletes need a replica identity
--    for Citus to move its shards online (citus_rebalance_start() copies with logical replication: "cannot
--    use logical replication to transfer shards of the relation daily_summary_queue since it doesn't have a
--    REPLICA IDENTITY or PRIMARY KEY"). Rows are only inserted and deleted, so the whole row identifies one.
--    No cost on a server whose wal_level is not logical.
ALTER TABLE daily_summary_queue REPLICA IDENTITY FULL;
