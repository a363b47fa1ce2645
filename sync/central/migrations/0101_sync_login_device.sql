-- The per-row device checks of 0100 looked the login role up twice per row, a measurable share of COPY's
-- cost. The same rules through one function that the planner evaluates once per statement.

-- The device id of a box login role (box_<device_id>), NULL for every other role. Declared IMMUTABLE on
-- purpose, so that constraints and policies fold it into a constant when a statement starts: it depends
-- only on the current role, which cannot change during a statement, and constraint expressions are
-- prepared again for every statement (plans that row-level security depends on are re-planned per role).
CREATE FUNCTION sync_login_device() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(current_user, 4) = 'box_' THEN substr(current_user, 5) END
$$;

ALTER TABLE counting_events DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
ALTER TABLE counting_results DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
ALTER TABLE camera_health DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
ALTER TABLE box_health DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
ALTER TABLE sync_batches DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
ALTER TABLE sync_clock_skew DROP CONSTRAINT sync_own_device,
    ADD CONSTRAINT sync_own_device CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());

DROP POLICY sync_read ON counting_results;
DROP POLICY sync_update ON counting_results;
DROP POLICY sync_delete ON counting_results;
CREATE POLICY sync_read ON counting_results FOR SELECT
    USING (sync_login_device() IS NULL OR device_id = sync_login_device());
CREATE POLICY sync_update ON counting_results FOR UPDATE
    USING (sync_login_device() IS NULL OR device_id = sync_login_device());
CREATE POLICY sync_delete ON counting_results FOR DELETE USING (sync_login_device() IS NULL);

DROP POLICY sync_read ON sync_batches;
DROP POLICY sync_admin ON sync_batches;
DROP POLICY sync_delete ON sync_batches;
CREATE POLICY sync_read ON sync_batches FOR SELECT
    USING (sync_login_device() IS NULL OR device_id = sync_login_device());
CREATE POLICY sync_update ON sync_batches FOR UPDATE USING (sync_login_device() IS NULL);
CREATE POLICY sync_delete ON sync_batches FOR DELETE USING (sync_login_device() IS NULL);
