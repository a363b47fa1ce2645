"""Migrations run statement by statement (Citus refuses some DDL inside a multi-statement string): the splitter
keeps semicolons inside comments, quotes and dollar quotes, and every migration file splits into statements that
together are the file."""

from __future__ import annotations

import re

from sync.central.migrate import migrations, statements


def test_semicolons_inside_comments_quotes_and_dollar_quotes_do_not_split() -> None:
    text = """-- a comment; still a comment
SELECT 1;
/* block; comment */ SELECT ';', 'it''s; quoted', "odd;name" FROM t;
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN PERFORM 1; RETURN $$x;$$::text::int; END $body$;
DO $$ BEGIN NULL; END $$;
-- trailing; comment only
"""
    assert statements(text) == [
        "-- a comment; still a comment\nSELECT 1;",
        "/* block; comment */ SELECT ';', 'it''s; quoted', \"odd;name\" FROM t;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN PERFORM 1; RETURN $$x;$$::text::int; "
        "END $body$;",
        "DO $$ BEGIN NULL; END $$;",
    ]


def test_a_last_statement_without_semicolon_is_kept() -> None:
    assert statements("SELECT 1; SELECT 2") == ["SELECT 1;", "SELECT 2"]


def test_every_migration_splits_into_the_whole_file() -> None:
    for m in migrations():
        text = m.path.read_text()
        parts = statements(text)
        assert parts, m.name
        assert re.sub(r"\s+", "", "".join(parts)) in re.sub(r"\s+", "", text), m.name
        assert all(p.rstrip().endswith(";") for p in parts), m.name
