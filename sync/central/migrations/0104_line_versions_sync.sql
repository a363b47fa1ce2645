-- Box roles deliver their line versions (0007) like their other rows: insert only, their own device's only
-- (a CHECK, which COPY honours), no SELECT, UPDATE or DELETE. No sequence to grant.
ALTER TABLE counting_line_versions ADD CONSTRAINT sync_own_device
    CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
GRANT INSERT ON counting_line_versions TO edge_box;
