-- Central schema: registry (tenants, devices, cameras, lines), delivered data (events, per-minute results,
-- camera and box health), derived time series, camera events, alerts, the sync ledger.
--
-- Keys are Citus-ready with camera_id as distribution column: every unique key and foreign key of a
-- camera-scoped table contains camera_id; tenants and devices are reference tables (docs/central.md).
-- device_id is on every delivered row (generated from camera_id where the box does not send it), so
-- per-device roles can be limited to their own rows.
-- Range-partitioned tables get their dated partitions from `edge central maintain` (partition_policy);
-- each has a DEFAULT partition so no row is ever rejected for want of a partition.

CREATE TABLE tenants (
    tenant_id   bigint PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    device_id     text PRIMARY KEY CHECK (device_id <> '' AND strpos(device_id, '/') = 0),
    tenant_id     bigint REFERENCES tenants,
    location_id   text,
    description   text,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_devices_tenant_id ON devices (tenant_id);

-- The guide's camera_configurations. camera_id = '<device_id>/<camera_name>' (the CHECK keeps it unique
-- per device without a second unique key, which Citus would refuse).
CREATE TABLE camera_configurations (
    camera_id    text PRIMARY KEY,
    device_id    text NOT NULL REFERENCES devices,
    camera_name  text NOT NULL,
    tenant_id    bigint REFERENCES tenants,
    location_id  text,
    camera_type  text NOT NULL DEFAULT 'fixed',
    timezone     text NOT NULL DEFAULT 'UTC',  -- local day of daily_analytics_summary
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (camera_id = device_id || '/' || camera_name)
);
CREATE INDEX idx_camera_configurations_device_id ON camera_configurations (device_id);
CREATE INDEX idx_camera_configurations_tenant_id ON camera_configurations (tenant_id);
CREATE INDEX idx_camera_configurations_location_type ON camera_configurations (location_id, camera_type);
-- Covering partial index of the camera status query (guide: idx_camera_status_covering); it also serves
-- as the guide's "active cameras of a tenant" index. is_active is constant inside it, so not a key column.
CREATE INDEX idx_camera_status_covering ON camera_configurations (tenant_id)
    INCLUDE (camera_id, camera_name, camera_type, location_id, device_id) WHERE is_active;

-- Counting lines (the guide's zones); the key of a line is (camera_id, line_name).
CREATE TABLE counting_lines (
    camera_id   text NOT NULL REFERENCES camera_configurations,
    line_name   text NOT NULL,
    x1 real NOT NULL, y1 real NOT NULL, x2 real NOT NULL, y2 real NOT NULL,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, line_name)
);

-- One row per crossing, COPYed by the sync agent. No foreign keys on delivered tables: a box delivers
-- before (or without) its registration reaching central, and a delivery must never be refused for that.
CREATE TABLE counting_events (
    event_id     uuid NOT NULL,           -- UUIDv7 made on the box
    device_id    text NOT NULL,
    camera_id    text NOT NULL,
    line_name    text NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('in', 'out')),
    track_id     bigint,
    event_ts     timestamptz NOT NULL,    -- frame capture time
    frame_index  bigint,
    score        real,
    model        text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (device_id = split_part(camera_id, '/', 1)),
    PRIMARY KEY (camera_id, event_ts, event_id)   -- also the camera+time index
) PARTITION BY RANGE (event_ts);
CREATE TABLE counting_events_default PARTITION OF counting_events DEFAULT;

-- Per-minute counts per camera and line, upserted (later corrections win).
CREATE TABLE counting_results (
    camera_id        text NOT NULL,
    device_id        text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    line_name        text NOT NULL,
    result_timestamp timestamptz NOT NULL,  -- start of the minute
    count_in         integer NOT NULL DEFAULT 0 CHECK (count_in >= 0),
    count_out        integer NOT NULL DEFAULT 0 CHECK (count_out >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),  -- box time of the last change
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, line_name, result_timestamp)  -- also the index of the lines foreign key
) PARTITION BY RANGE (result_timestamp);
CREATE TABLE counting_results_default PARTITION OF counting_results DEFAULT;
CREATE INDEX idx_counting_results_camera_timestamp ON counting_results (camera_id, result_timestamp DESC);

-- Score of a stream in 0..1: the share of frames kept, times the processed frame rate relative to
-- 5 fps (below it the tracker starts losing people between frames). Offline is 0. Under 0.8 = low quality.
CREATE FUNCTION stream_quality_score(status text, drop_rate real, fps_processed real) RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status = 'offline' THEN 0
                ELSE greatest(0, least(1, 1 - coalesce(drop_rate, 0)))
                     * greatest(0, least(1, coalesce(fps_processed, 0) / 5.0)) END::real
$$;

-- Latest status per camera (the guide's camera_health). The sync agent COPYs every health report here;
-- the trigger below files the report into the time series and keeps only the newest one in this table.
CREATE TABLE camera_health (
    camera_id            text PRIMARY KEY,
    device_id            text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    health_ts            timestamptz NOT NULL,  -- box time of the report
    status               text NOT NULL CHECK (status IN ('online', 'degraded', 'offline')),
    stream_quality_score real,
    fps_in               real,
    fps_processed        real,
    drop_rate            real,
    latency_p50_ms       real,
    latency_p95_ms       real,
    reconnects           integer,
    last_frame_at        timestamptz,
    width                integer,
    height               integer,
    error                text,
    last_heartbeat       timestamptz NOT NULL DEFAULT now()  -- central time the report arrived
);
CREATE INDEX idx_camera_health_status_timestamp ON camera_health (status, last_heartbeat) WHERE status <> 'online';
CREATE INDEX idx_camera_health_quality_score ON camera_health (stream_quality_score) WHERE stream_quality_score < 0.8;

CREATE TABLE stream_quality_metrics (
    camera_id         text NOT NULL,
    device_id         text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    metric_timestamp  timestamptz NOT NULL,
    status            text NOT NULL,
    quality_score     real NOT NULL,
    drop_rate         real,
    fps_processed     real,
    width             integer,
    height            integer,
    PRIMARY KEY (camera_id, metric_timestamp)  -- the guide's (stream, time DESC) index
) PARTITION BY RANGE (metric_timestamp);
CREATE TABLE stream_quality_metrics_default PARTITION OF stream_quality_metrics DEFAULT;
-- Stream-quality monitoring (low scores of all cameras in the last hour, newest first). The guide's
-- version leads with the stream id, which that query does not filter on; time leads here.
CREATE INDEX idx_stream_quality_alerting ON stream_quality_metrics (metric_timestamp DESC) WHERE quality_score < 0.8;

CREATE TABLE camera_performance_metrics (
    camera_id         text NOT NULL,
    device_id         text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    metric_timestamp  timestamptz NOT NULL,
    fps_in            real,
    fps_processed     real,
    drop_rate         real,
    latency_p50_ms    real,
    latency_p95_ms    real,
    reconnects        integer,
    error             text,
    PRIMARY KEY (camera_id, metric_timestamp)
) PARTITION BY RANGE (metric_timestamp);
CREATE TABLE camera_performance_metrics_default PARTITION OF camera_performance_metrics DEFAULT;

-- Camera events hash-partitioned by camera (guide); status changes are recorded here.
CREATE TABLE camera_events (
    camera_id   text NOT NULL,
    event_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    device_id   text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    event_type  text NOT NULL,
    severity    text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    message     text,
    data        jsonb NOT NULL DEFAULT '{}',
    event_ts    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, event_id)
) PARTITION BY HASH (camera_id);
CREATE TABLE camera_events_p0 PARTITION OF camera_events FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE camera_events_p1 PARTITION OF camera_events FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE camera_events_p2 PARTITION OF camera_events FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE camera_events_p3 PARTITION OF camera_events FOR VALUES WITH (MODULUS 4, REMAINDER 3);
-- The guide's "recent events" index had a NOW() predicate, which PostgreSQL refuses (not immutable):
-- a plain (camera, type, time) index serves the same queries.
CREATE INDEX idx_camera_events_camera_type_ts ON camera_events (camera_id, event_type, event_ts DESC);

CREATE TABLE alerts (
    camera_id    text NOT NULL REFERENCES camera_configurations,
    alert_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    device_id    text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    alert_type   text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    title        text NOT NULL,
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    is_resolved  boolean NOT NULL DEFAULT false,
    resolved_at  timestamptz,
    PRIMARY KEY (camera_id, alert_id)
);
CREATE INDEX idx_alerts_unresolved ON alerts (created_at) WHERE NOT is_resolved;
CREATE INDEX idx_alerts_high_priority ON alerts (severity, created_at) WHERE severity IN ('error', 'critical');

CREATE TABLE box_health (
    device_id     text NOT NULL,
    health_ts     timestamptz NOT NULL,
    cpu_percent   real,
    mem_mb        real,
    buffer_bytes  bigint,
    pending_rows  bigint,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, health_ts)
) PARTITION BY RANGE (health_ts);
CREATE TABLE box_health_default PARTITION OF box_health DEFAULT;

-- Sync ledger: written in the transaction that COPYs the batch; a re-sent batch hits the key and is skipped.
CREATE TABLE sync_batches (
    device_id    text NOT NULL,
    stream       text NOT NULL,
    batch_no     bigint NOT NULL,
    row_count    integer NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, stream, batch_no)
);

-- What `edge central maintain` does per range-partitioned table (UTC days / months).
CREATE TABLE partition_policy (
    table_name      text PRIMARY KEY,
    granularity     text NOT NULL CHECK (granularity IN ('day', 'month')),
    retention_days  integer NOT NULL CHECK (retention_days > 0)
);
INSERT INTO partition_policy VALUES
    ('counting_events', 'day', 90),
    ('counting_results', 'month', 730),
    ('stream_quality_metrics', 'day', 30),
    ('camera_performance_metrics', 'day', 30),
    ('box_health', 'day', 30);

-- Health ingest. Runs as the schema owner so that a role allowed only to INSERT into camera_health can
-- deliver; a re-delivered report (already in the time series) changes nothing. A per-device login role
-- (box_<device_id>, see 0100) may only report its own cameras: running as the owner bypasses the CHECK
-- that 0100 puts on camera_health, so the rule is applied here to the login (session) role.
CREATE FUNCTION camera_health_record(r camera_health) RETURNS void
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
                                    width, height, error)
    VALUES (r.camera_id, r.health_ts, r.status, score, r.fps_in, r.fps_processed, r.drop_rate,
            r.latency_p50_ms, r.latency_p95_ms, r.reconnects, r.last_frame_at, r.width, r.height, r.error)
    ON CONFLICT (camera_id) DO UPDATE SET
        health_ts = EXCLUDED.health_ts, status = EXCLUDED.status,
        stream_quality_score = EXCLUDED.stream_quality_score, fps_in = EXCLUDED.fps_in,
        fps_processed = EXCLUDED.fps_processed, drop_rate = EXCLUDED.drop_rate,
        latency_p50_ms = EXCLUDED.latency_p50_ms, latency_p95_ms = EXCLUDED.latency_p95_ms,
        reconnects = EXCLUDED.reconnects, last_frame_at = EXCLUDED.last_frame_at, width = EXCLUDED.width,
        height = EXCLUDED.height, error = EXCLUDED.error, last_heartbeat = now()
    WHERE h.health_ts < EXCLUDED.health_ts;  -- a late, older report only feeds the time series
    IF FOUND AND previous IS DISTINCT FROM r.status THEN
        INSERT INTO camera_events (camera_id, event_type, severity, message, event_ts)
        VALUES (r.camera_id, 'status_change',
                CASE r.status WHEN 'online' THEN 'info' WHEN 'degraded' THEN 'warning' ELSE 'error' END,
                coalesce(previous, 'new') || ' -> ' || r.status, r.health_ts);
    END IF;
END
$$;

-- Every row inserted into camera_health goes through camera_health_record (whose own upsert passes).
CREATE FUNCTION camera_health_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    PERFORM camera_health_record(NEW);
    RETURN NULL;
END
$$;
CREATE TRIGGER camera_health_ingest BEFORE INSERT ON camera_health
    FOR EACH ROW EXECUTE FUNCTION camera_health_ingest();
