-- Summaries refreshed by `edge central refresh` (REFRESH ... CONCURRENTLY: each has the unique index it
-- needs) and the performance alert function.

-- Last hour of per-minute counts with the camera's name and tenant (refresh every 30-60 s). Results of
-- cameras not registered yet are kept (left join).
CREATE MATERIALIZED VIEW realtime_counting_summary AS
SELECT cr.camera_id, c.camera_name, c.tenant_id, cr.line_name, cr.result_timestamp,
       cr.count_in, cr.count_out, cr.count_in + cr.count_out AS total_count, cr.updated_at
FROM counting_results cr
LEFT JOIN camera_configurations c ON c.camera_id = cr.camera_id
WHERE cr.result_timestamp > now() - interval '1 hour';
CREATE UNIQUE INDEX idx_realtime_counting_summary_camera_timestamp
    ON realtime_counting_summary (camera_id, result_timestamp DESC, line_name);

-- Per camera and local day (camera_configurations.timezone; UTC for unregistered cameras): crossings in
-- and out, the busiest line-minute, line-minutes with traffic (refresh nightly).
CREATE MATERIALIZED VIEW daily_analytics_summary AS
SELECT cr.camera_id,
       (cr.result_timestamp AT TIME ZONE coalesce(c.timezone, 'UTC'))::date AS date,
       sum(cr.count_in)::bigint AS daily_in,
       sum(cr.count_out)::bigint AS daily_out,
       max(cr.count_in + cr.count_out) AS daily_peak_minute,
       count(*) AS active_line_minutes
FROM counting_results cr
LEFT JOIN camera_configurations c ON c.camera_id = cr.camera_id
GROUP BY 1, 2;
CREATE UNIQUE INDEX idx_daily_analytics_summary_camera_date ON daily_analytics_summary (camera_id, date DESC);

-- The guide's check_camera_performance() on the metrics a box reports: over the last `win`, latency,
-- dropped frames and processed frame rate per camera, plus active cameras reported offline or silent.
CREATE FUNCTION check_camera_performance(win interval DEFAULT '5 minutes')
RETURNS TABLE (camera_id text, alert_type text, alert_message text, alert_severity text)
LANGUAGE sql STABLE AS $$
    WITH recent AS (
        SELECT m.camera_id, avg(m.latency_p95_ms) AS p95, avg(m.drop_rate) AS drops, avg(m.fps_processed) AS fps
        FROM camera_performance_metrics m
        WHERE m.metric_timestamp > now() - win
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
    WHERE c.is_active AND (h.last_heartbeat IS NULL OR h.last_heartbeat < now() - win OR h.status = 'offline')
$$;
