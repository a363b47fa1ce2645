-- daily_analytics_summary becomes a table kept current incrementally. As a materialized view it was
-- recomputed from all of counting_results at every refresh (8.5 s for 30 days of 1,000 cameras, so minutes
-- for the 730-day retention) and, on Citus, it could only be a local table on the coordinator.
--
-- How: a row trigger on counting_results queues the (camera, minute) of every inserted, changed or deleted
-- per-minute count in daily_summary_queue, in the writer's transaction; refresh_daily_analytics() takes the
-- queue and recomputes only the local days those minutes fall in (a queued camera without a minute: all of
-- its days). Queue rows are only ever inserted and deleted, and the refresh deletes exactly the rows its
-- snapshot sees in the statement that reads the counts with that snapshot: a delivery committed later
-- leaves its queue rows for the next refresh, so no change is lost or counted twice, however refresh and
-- deliveries interleave.
--
-- Days outlive counting_results' retention: dropping an old partition fires no trigger, so the summary
-- keeps a day after its minutes are gone (a few hundred thousand rows a year for 1,000 cameras).
--
-- This migration stays short (it holds the trigger's lock on counting_results until it commits, and minute
-- deliveries wait on it): it carries the view's rows over and queues every camera whole; the first refresh
-- after it recomputes them, with deliveries flowing.

ALTER MATERIALIZED VIEW daily_analytics_summary RENAME TO daily_analytics_summary_0002;
ALTER INDEX idx_daily_analytics_summary_camera_date RENAME TO idx_daily_analytics_summary_0002;

-- Per camera and local day (camera_configurations.timezone at the refresh; UTC for unregistered cameras).
CREATE TABLE daily_analytics_summary (
    camera_id           text NOT NULL,
    date                date NOT NULL,
    daily_in            bigint NOT NULL,
    daily_out           bigint NOT NULL,
    daily_peak_minute   integer NOT NULL,  -- busiest line-minute (in + out)
    active_line_minutes bigint NOT NULL,   -- line-minutes with a count row
    refreshed_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idx_daily_analytics_summary_camera_date PRIMARY KEY (camera_id, date)
);
INSERT INTO daily_analytics_summary (camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes)
SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes
FROM daily_analytics_summary_0002;
DROP MATERIALIZED VIEW daily_analytics_summary_0002;

-- What the next refresh recomputes: the local day of `minute`, or every day of the camera (minute NULL).
-- No key: inserts never wait on each other or on a refresh.
CREATE TABLE daily_summary_queue (
    camera_id text NOT NULL,
    minute    timestamptz,
    queued_at timestamptz NOT NULL DEFAULT now()
);

-- Row level and writing the row's own camera only: what Citus allows on a shard (docs/central.md).
CREATE FUNCTION queue_daily_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO daily_summary_queue (camera_id, minute) VALUES (OLD.camera_id, OLD.result_timestamp);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.camera_id, NEW.result_timestamp)
                                                 IS DISTINCT FROM (OLD.camera_id, OLD.result_timestamp)) THEN
        INSERT INTO daily_summary_queue (camera_id, minute) VALUES (NEW.camera_id, NEW.result_timestamp);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER counting_results_daily AFTER INSERT OR DELETE ON counting_results
    FOR EACH ROW EXECUTE FUNCTION queue_daily_summary();
-- A re-delivered minute with the same counts (the sync agent re-sends the open minute) queues nothing.
CREATE TRIGGER counting_results_daily_change AFTER UPDATE ON counting_results
    FOR EACH ROW WHEN ((OLD.count_in, OLD.count_out, OLD.camera_id, OLD.result_timestamp)
                       IS DISTINCT FROM (NEW.count_in, NEW.count_out, NEW.camera_id, NEW.result_timestamp))
    EXECUTE FUNCTION queue_daily_summary();

-- Recompute what is queued; returns how many camera-days were written or removed. One refresh at a time
-- (advisory lock; the next one then sees everything the previous one wrote). Must run in READ COMMITTED,
-- so that the counts are read after the lock is held.
CREATE FUNCTION refresh_daily_analytics() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_daily_analytics() needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('refresh_daily_analytics'));
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
    RETURN changed;
END $$;

-- Queue one camera, or every camera known (registered or in the summary), whole: after a camera's time
-- zone changed or it was registered with one, or to rebuild the summary. Days older than the camera's
-- oldest minute keep their row.
CREATE FUNCTION queue_daily_rebuild(camera text DEFAULT NULL) RETURNS bigint LANGUAGE sql AS $$
    WITH queued AS (
        INSERT INTO daily_summary_queue (camera_id)
        SELECT camera WHERE camera IS NOT NULL
        UNION
        SELECT camera_id FROM camera_configurations WHERE camera IS NULL
        UNION
        SELECT camera_id FROM daily_analytics_summary WHERE camera IS NULL
        RETURNING 1
    )
    SELECT count(*) FROM queued
$$;

-- Every camera with minutes, whole. A loose index scan (one probe per camera) instead of reading every
-- row: cameras whose minutes arrived after the view's last refresh are in neither list above.
WITH RECURSIVE cameras AS (
    (SELECT camera_id FROM counting_results ORDER BY camera_id LIMIT 1)
    UNION ALL
    SELECT (SELECT cr.camera_id FROM counting_results cr WHERE cr.camera_id > c.camera_id
            ORDER BY cr.camera_id LIMIT 1)
    FROM cameras c WHERE c.camera_id IS NOT NULL
)
INSERT INTO daily_summary_queue (camera_id) SELECT camera_id FROM cameras WHERE camera_id IS NOT NULL;
