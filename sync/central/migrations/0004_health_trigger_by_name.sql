-- camera_health's trigger hands the row to camera_health_record() by column name, not as a camera_health
-- row: on Citus the trigger fires on a shard (camera_health_102008, a row type of its own), where passing
-- NEW as camera_health would find no function (tests/test_central_citus.py reproduces that).
CREATE OR REPLACE FUNCTION camera_health_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    PERFORM camera_health_record(jsonb_populate_record(NULL::camera_health, to_jsonb(NEW)));
    RETURN NULL;
END
$$;
