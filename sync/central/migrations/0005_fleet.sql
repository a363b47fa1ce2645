-- Fleet view (`edge central fleet`, sync/central_fleet.py): each box's latest delivery. The ledger's key
-- (device_id, stream, batch_no) cannot find it without reading every ledger row of the box; this index finds
-- it in one descent (ORDER BY received_at DESC LIMIT 1). One entry per delivered batch, beside the COPY of up
-- to [sync] batch_size rows that the batch carries: no measurable cost on delivery.
--
-- Built inside the migration's transaction (CREATE INDEX CONCURRENTLY cannot be), so deliveries wait until it
-- is built (3 s for 5 million ledger rows on a development machine), then go on. Not unique: nothing for
-- Citus to check (the ledger is distributed on device_id, which leads it anyway).
CREATE INDEX idx_sync_batches_device_received ON sync_batches (device_id, received_at);
