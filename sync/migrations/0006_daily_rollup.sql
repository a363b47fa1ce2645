-- daily_analytics_summary becomes a table kept current incrementally. As a materialized view it was
-- recomputed from all of counting_results at every refresh (8.5 s for 30 days of 1,000 cameras, so minutes
-- for the 730-day retention) and, on Citus, it could only be a local table on the coordinator.
--
-- How: a row trigger on counting_results queues the (camera, minute) of every inserted, changed or deleted
-- per-minute count in daily_summary_queue, in the writer's transaction; refresh_daily_analytics() takes the
-- queue and recomputes only the local days those minutes fall in. Queue rows are only ever inserted and
-- deleted, and the refresh deletes exactly the rows its snapshot sees in the statement that reads the counts
-- with that snapshot: a delivery committed later leaves its queue rows for the next refresh, so no change
-- is lost or counted twice, however refresh and deliveries interleave.
--
-- Days outlive counting_results' retention: dropping an old partition fires no trigger, so the summary
-- keeps a day after its minutes are gone (a few hundred thousand rows a year for 1,000 cameras).

DROP MATERIALIZED VIEW daily_analytics_summary;

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

-- Minutes whose day must be recomputed. No key: inserts never wait on each other or on a refresh.
CREATE TABLE daily_summary_queue (
    camera_id text NOT NULL,
    minute    timestamptz NOT NULL,
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

-- Recompute the local days of the queued minutes; returns how many camera-days were recomputed. One
-- refresh at a time (advisory lock; the next one then sees everything the previous one wrote). Must run in
-- READ COMMITTED, so that the counts are read after the lock is held.
CREATE FUNCTION refresh_daily_analytics() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    recomputed bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_daily_analytics() needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('refresh_daily_analytics'));
    WITH queued AS (
        DELETE FROM daily_summary_queue RETURNING camera_id, minute
    ), days AS (
        SELECT DISTINCT q.camera_id, (q.minute AT TIME ZONE z.tz)::date AS date, z.tz
        FROM queued q
        LEFT JOIN camera_configurations c ON c.camera_id = q.camera_id
        CROSS JOIN LATERAL (SELECT coalesce(c.timezone, 'UTC') AS tz) z
    ), fresh AS (
        SELECT d.camera_id, d.date,
               coalesce(sum(cr.count_in), 0)::bigint AS daily_in,
               coalesce(sum(cr.count_out), 0)::bigint AS daily_out,
               coalesce(max(cr.count_in + cr.count_out), 0) AS daily_peak_minute,
               count(cr.camera_id) AS active_line_minutes
        FROM days d
        LEFT JOIN counting_results cr ON cr.camera_id = d.camera_id
            AND cr.result_timestamp >= d.date::timestamp AT TIME ZONE d.tz
            AND cr.result_timestamp < (d.date + 1)::timestamp AT TIME ZONE d.tz
        GROUP BY d.camera_id, d.date
    ), emptied AS (  -- every minute of the day deleted
        DELETE FROM daily_analytics_summary s USING fresh f
        WHERE f.active_line_minutes = 0 AND s.camera_id = f.camera_id AND s.date = f.date
    ), upserted AS (
        INSERT INTO daily_analytics_summary AS s
            (camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes)
        SELECT camera_id, date, daily_in, daily_out, daily_peak_minute, active_line_minutes
        FROM fresh WHERE active_line_minutes > 0
        ON CONFLICT (camera_id, date) DO UPDATE SET
            daily_in = EXCLUDED.daily_in, daily_out = EXCLUDED.daily_out,
            daily_peak_minute = EXCLUDED.daily_peak_minute, active_line_minutes = EXCLUDED.active_line_minutes,
            refreshed_at = now()
    )
    SELECT count(*) INTO recomputed FROM fresh;
    RETURN recomputed;
END $$;

-- Queue every day of one camera (or all) for recomputing: after a camera's time zone changed or it was
-- registered with one, or to rebuild the summary. Queued: both ends of each UTC day with minutes (so both
-- local days it overlaps are recomputed) and the summary's own days back to the camera's oldest minute (a
-- day of the old time zone without minutes in the new one is removed). Older days keep their row.
CREATE FUNCTION queue_daily_rebuild(camera text DEFAULT NULL) RETURNS bigint LANGUAGE sql AS $$
    WITH queued AS (
        INSERT INTO daily_summary_queue (camera_id, minute)
        SELECT DISTINCT cr.camera_id, date_trunc('day', cr.result_timestamp, 'UTC') + e.offs
        FROM counting_results cr
        CROSS JOIN (VALUES (interval '0'), (interval '1 day - 1 minute')) e(offs)
        WHERE camera IS NULL OR cr.camera_id = camera
        UNION
        SELECT s.camera_id, s.date::timestamp AT TIME ZONE coalesce(c.timezone, 'UTC')
        FROM daily_analytics_summary s
        LEFT JOIN camera_configurations c ON c.camera_id = s.camera_id
        WHERE (camera IS NULL OR s.camera_id = camera)
          AND s.date >= (SELECT min(o.result_timestamp) FROM counting_results o
                         WHERE o.camera_id = s.camera_id)::date - 1
        RETURNING 1
    )
    SELECT count(*) FROM queued
$$;

SELECT queue_daily_rebuild();
SELECT refresh_daily_analytics();
