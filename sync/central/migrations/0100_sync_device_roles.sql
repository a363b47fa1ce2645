-- Sync agent: least privilege per box, clock-skew flags. Applied after the schema migrations (0001...).
--
-- A box connects as role box_<device_id>, a member of edge_box. It may only insert rows of its own device:
-- CHECK constraints on the delivered tables compare the row's device with the role name (COPY honours CHECK
-- constraints, whereas row-level security would forbid COPY FROM altogether). It cannot read, update or
-- delete events or health rows at all, and row-level security limits what it reads and updates of the
-- per-minute results (upserted) and of the batch ledger to its own device. Roles not named box_* are not
-- affected by any of this.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'edge_box') THEN
        CREATE ROLE edge_box NOLOGIN;
    END IF;
END
$$;

CREATE TABLE sync_clock_skew (
    device_id text NOT NULL,
    stream text NOT NULL,
    batch_no bigint NOT NULL,
    flagged_rows integer NOT NULL,
    min_ts timestamptz NOT NULL,
    max_ts timestamptz NOT NULL,
    box_clock_offset_s double precision NOT NULL,
    flagged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, stream, batch_no)
);
COMMENT ON TABLE sync_clock_skew IS
    'Batches holding rows stamped further from central time than the box''s clock_skew_s (events land in DEFAULT partitions)';

-- Rows of a box role must carry its own device id.
ALTER TABLE counting_events ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR split_part(camera_id, '/', 1) = substr(current_user, 5));
ALTER TABLE counting_results ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR split_part(camera_id, '/', 1) = substr(current_user, 5));
ALTER TABLE camera_health ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR split_part(camera_id, '/', 1) = substr(current_user, 5));
ALTER TABLE box_health ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR device_id = substr(current_user, 5));
ALTER TABLE sync_batches ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR device_id = substr(current_user, 5));
ALTER TABLE sync_clock_skew ADD CONSTRAINT sync_own_device
    CHECK (left(current_user, 4) <> 'box_' OR device_id = substr(current_user, 5));

-- What a box role may see and update of the tables it upserts into or checks.
ALTER TABLE counting_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_read ON counting_results FOR SELECT
    USING (left(current_user, 4) <> 'box_' OR split_part(camera_id, '/', 1) = substr(current_user, 5));
CREATE POLICY sync_update ON counting_results FOR UPDATE
    USING (left(current_user, 4) <> 'box_' OR split_part(camera_id, '/', 1) = substr(current_user, 5));
CREATE POLICY sync_insert ON counting_results FOR INSERT WITH CHECK (true);
CREATE POLICY sync_delete ON counting_results FOR DELETE USING (left(current_user, 4) <> 'box_');

ALTER TABLE sync_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_read ON sync_batches FOR SELECT
    USING (left(current_user, 4) <> 'box_' OR device_id = substr(current_user, 5));
CREATE POLICY sync_insert ON sync_batches FOR INSERT WITH CHECK (true);
CREATE POLICY sync_admin ON sync_batches FOR UPDATE USING (left(current_user, 4) <> 'box_');
CREATE POLICY sync_delete ON sync_batches FOR DELETE USING (left(current_user, 4) <> 'box_');

GRANT INSERT ON counting_events, camera_health, box_health, sync_clock_skew TO edge_box;
GRANT SELECT, INSERT, UPDATE ON counting_results TO edge_box;
GRANT SELECT, INSERT ON sync_batches TO edge_box;

-- Sequences behind serial or identity columns of those tables.
DO $$
DECLARE
    seq text;
BEGIN
    FOR seq IN
        SELECT pg_get_serial_sequence(c.relname, a.attname)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relname IN ('counting_events', 'counting_results', 'camera_health', 'box_health', 'sync_batches')
          AND c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
          AND pg_get_serial_sequence(c.relname, a.attname) IS NOT NULL
    LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO edge_box', seq);
    END LOOP;
END
$$;

-- Create (or re-enable) a box's login role; run by an administrator with CREATEROLE. Prefer a SCRAM verifier
-- (or NULL and psql's \password) to a plain password, which statement logging would show.
CREATE FUNCTION sync_device_role(device text, password text DEFAULT NULL) RETURNS name
LANGUAGE plpgsql AS $$
DECLARE
    role_name name := 'box_' || device;
BEGIN
    IF device !~ '^[a-z0-9][a-z0-9_.-]{0,58}$' THEN
        RAISE EXCEPTION 'device id "%" cannot name a role: use 1-59 lowercase letters, digits, _ . -', device;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE edge_box', role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN', role_name);
    IF password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, password);
    END IF;
    RETURN role_name;
END
$$;
REVOKE ALL ON FUNCTION sync_device_role(text, text) FROM PUBLIC;
