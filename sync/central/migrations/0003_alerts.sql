-- Alerts inbox: raise_camera_alerts() turns check_camera_performance() into alerts (run it every minute:
-- `edge central alerts`), plus the guide's two functional indexes (text search on alert titles,
-- case-insensitive camera name). check_camera_performance() no longer counts offline reports as slow ones.

-- Automatic alerts are marked, so that only they are ever resolved automatically: an alert a person
-- raised stays open until a person resolves it, whatever its type.
ALTER TABLE alerts ADD COLUMN is_automatic boolean NOT NULL DEFAULT false;

-- At most one open alert per camera and type (contains camera_id, the Citus distribution column). It is
-- the arbiter of raise_camera_alerts()'s ON CONFLICT, which is why concurrent runs never duplicate.
CREATE UNIQUE INDEX idx_alerts_open_camera_type ON alerts (camera_id, alert_type) WHERE NOT is_resolved;

-- Guide: functional indexes. Full-text search in alert titles ("latency", "offline", a camera id) and
-- camera lookup by name whatever its case (WHERE lower(camera_name) = lower($1)).
CREATE INDEX idx_alerts_title_search ON alerts USING gin (to_tsvector('english', title));
CREATE INDEX idx_camera_configurations_name_lower ON camera_configurations (lower(camera_name));

-- check_camera_performance() of 0002, except that latency, drops and frame rate are averaged over the
-- reports made while the stream was up: a box reports an offline stream with 0 frames/s, which made an
-- offline camera raise low_fps beside offline, and again for a whole window after it came back.
CREATE OR REPLACE FUNCTION check_camera_performance(win interval DEFAULT '5 minutes')
RETURNS TABLE (camera_id text, alert_type text, alert_message text, alert_severity text)
LANGUAGE sql STABLE AS $$
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
    WHERE c.is_active AND (h.last_heartbeat IS NULL OR h.last_heartbeat < now() - win OR h.status = 'offline')
$$;

-- One statement (so one transaction): open an alert for every condition check_camera_performance(win)
-- reports on an active registered camera without an open alert of that type, and resolve the open
-- automatic alerts whose condition no longer holds. Idempotent; concurrent runs wait on each other's rows
-- (unique index, row locks) instead of duplicating or double-counting. Returns how many were opened and
-- resolved.
CREATE FUNCTION raise_camera_alerts(win interval DEFAULT '5 minutes')
RETURNS TABLE (opened integer, resolved integer)
LANGUAGE sql VOLATILE AS $$
    WITH failing AS (
        SELECT p.camera_id, p.alert_type, p.alert_message, p.alert_severity
        FROM check_camera_performance(win) p
        JOIN camera_configurations c ON c.camera_id = p.camera_id AND c.is_active
    ), opening AS (
        INSERT INTO alerts (camera_id, alert_type, severity, title, message, is_automatic)
        SELECT f.camera_id, f.alert_type, f.alert_severity, f.camera_id || ': ' || f.alert_type, f.alert_message, true
        FROM failing f
        ORDER BY f.camera_id, f.alert_type  -- concurrent runs take the keys in one order: no deadlock
        ON CONFLICT (camera_id, alert_type) WHERE NOT is_resolved DO NOTHING
        RETURNING 1
    ), resolving AS (
        UPDATE alerts a SET is_resolved = true, resolved_at = now()
        WHERE a.is_automatic AND NOT a.is_resolved
          AND NOT EXISTS (SELECT FROM failing f WHERE f.camera_id = a.camera_id AND f.alert_type = a.alert_type)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM opening)::integer, (SELECT count(*) FROM resolving)::integer
$$;
