-- Counting line history: every geometry a line has had, with the time it took effect, so that analysts know
-- which line a count belongs to after an installer moved it (edge run's web page, or box.toml edited by hand).
--
-- A box's `edge run` records a version in its buffer when a line is added, moved or removed (at start against
-- the last version it stored, and when the web page saves new lines), stamped with the capture time from
-- which crossings are counted on it; `edge sync` delivers them here (stream "lines", ledger row + COPY).
-- A version holds from valid_from until the next version of the same line; is_active false: removed then.
-- A count of a line at time t belongs to the version with the latest valid_from <= t:
--     SELECT * FROM counting_line_history WHERE camera_id = $1 AND line_name = $2
--       AND valid_from <= $3 AND ($3 < valid_to OR valid_to IS NULL);
--
-- Keyed (camera_id, line_name, valid_from): a re-delivered version hits the key (skipped), and the table is
-- distributed by camera_id, co-located with counting_lines (docs/central.md).
CREATE TABLE counting_line_versions (
    camera_id    text NOT NULL,
    device_id    text NOT NULL GENERATED ALWAYS AS (split_part(camera_id, '/', 1)) STORED,
    line_name    text NOT NULL,
    valid_from   timestamptz NOT NULL,
    x1 real NOT NULL, y1 real NOT NULL, x2 real NOT NULL, y2 real NOT NULL,
    is_active    boolean NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, line_name, valid_from)
);
COMMENT ON TABLE counting_line_versions IS
    'Every geometry of every counting line, from the time it took effect (valid_from) until the next version';

-- The lines registered before this migration: their geometry as the first version, from their registration.
INSERT INTO counting_line_versions (camera_id, line_name, valid_from, x1, y1, x2, y2, is_active)
SELECT camera_id, line_name, created_at, x1, y1, x2, y2, is_active FROM counting_lines;

-- Each version with the time it ended (NULL: still in force).
CREATE VIEW counting_line_history AS
SELECT camera_id, device_id, line_name, valid_from,
       lead(valid_from) OVER (PARTITION BY camera_id, line_name ORDER BY valid_from) AS valid_to,
       x1, y1, x2, y2, is_active
FROM counting_line_versions;

-- The registry (counting_lines) follows the newest version of a line of a registered camera: a version older
-- than one already there (a late re-delivery) changes nothing. Runs as the schema owner, as a box role may
-- only insert versions of its own cameras (0104) and may not write the registry itself.
CREATE FUNCTION counting_line_versions_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM counting_line_versions v WHERE v.camera_id = NEW.camera_id
               AND v.line_name = NEW.line_name AND v.valid_from > NEW.valid_from) THEN
        RETURN NULL;
    END IF;
    UPDATE counting_lines l SET x1 = NEW.x1, y1 = NEW.y1, x2 = NEW.x2, y2 = NEW.y2, is_active = NEW.is_active
    WHERE l.camera_id = NEW.camera_id AND l.line_name = NEW.line_name;
    IF NOT FOUND AND NEW.is_active
       AND EXISTS (SELECT 1 FROM camera_configurations c WHERE c.camera_id = NEW.camera_id) THEN
        INSERT INTO counting_lines (camera_id, line_name, x1, y1, x2, y2, is_active, created_at)
        VALUES (NEW.camera_id, NEW.line_name, NEW.x1, NEW.y1, NEW.x2, NEW.y2, true, NEW.valid_from)
        ON CONFLICT (camera_id, line_name) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER counting_line_versions_apply AFTER INSERT ON counting_line_versions
    FOR EACH ROW EXECUTE FUNCTION counting_line_versions_apply();
