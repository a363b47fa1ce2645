-- Box alerts: what a box records in its buffer's sync_alerts (kind dead_letter: central rejected rows of a
-- batch; buffer_size: the buffer file is over [sync] alert_buffer_bytes), delivered by the sync stream
-- "alerts" like the box's other rows (ledger row + COPY in one transaction), so that operators see every
-- box's alerts in one place:
--     SELECT device_id, alert_ts, kind, message FROM box_alerts WHERE NOT is_resolved ORDER BY alert_ts;
-- and close them: UPDATE box_alerts SET is_resolved = true, resolved_at = now() WHERE device_id = ... AND ...
--
-- Not partitioned. Alerts are rare (a box raises at most one buffer_size alert an hour and one dead_letter
-- alert per batch with rejected rows), so the table stays small, and its retention is not a matter of age:
-- an unresolved alert must stay however old it is, which dropping time partitions would not respect. Delete
-- old resolved alerts instead (DELETE FROM box_alerts WHERE is_resolved AND resolved_at < now() - ...).
--
-- Key: the alert's id in the box buffer (sync_alerts.seq) with its device and time, so a re-delivered alert
-- hits it (the staging route's ON CONFLICT DO NOTHING skips it); the time tells the alerts of a replaced
-- buffer, whose ids start at 1 again, from the old buffer's. It leads with device_id, the Citus distribution
-- column (co-located with box_health).
CREATE TABLE box_alerts (
    device_id     text NOT NULL,
    alert_ts      timestamptz NOT NULL,
    kind          text NOT NULL,
    message       text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    is_resolved   boolean NOT NULL DEFAULT false,
    resolved_at   timestamptz,
    box_alert_id  bigint NOT NULL,
    PRIMARY KEY (device_id, alert_ts, box_alert_id)
);
COMMENT ON TABLE box_alerts IS
    'Alerts the boxes raised (dead letters, buffer over its size limit), delivered by edge sync; open until resolved';

-- The operators' list of open alerts, all boxes, by time.
CREATE INDEX box_alerts_unresolved ON box_alerts (alert_ts) WHERE NOT is_resolved;

-- Box roles: exactly as for box_health (0100, 0101). A box may insert its own device's alerts only (a CHECK,
-- which COPY honours; row-level security would refuse COPY FROM altogether), and has no SELECT, UPDATE or
-- DELETE privilege, so it can read no alert at all, least of all another device's. No sequence to grant.
ALTER TABLE box_alerts ADD CONSTRAINT sync_own_device
    CHECK (sync_login_device() IS NULL OR device_id = sync_login_device());
GRANT INSERT ON box_alerts TO edge_box;
