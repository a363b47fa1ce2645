"""Which failed connections are central refusing for good (a person must fix the DSN) and which are outages."""

import psycopg
import pytest

from sync.connect import is_transient, refusal


@pytest.mark.parametrize("message, permanent", [
    ('connection to server at "h", port 5432 failed: FATAL:  password authentication failed for user "b"', True),
    ('connection to server at "h", port 5432 failed: FATAL:  database "x" does not exist', True),
    ('FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "b", database "d", no encryption', True),
    ("SSL error: certificate verify failed", True),
    ("failed to resolve host 'central.invalid': [Errno -2] Name or service not known", True),
    ('connection to server at "h", port 1 failed: Connection refused', False),
    ("connection timeout expired", False),
    ("failed to resolve host 'central': [Errno -3] Temporary failure in name resolution", False),
    ("FATAL:  the database system is starting up", False),
    ("FATAL:  sorry, too many clients already", False),
])
def test_refusals_are_told_from_outages(message, permanent):
    e = psycopg.OperationalError(message)
    assert (refusal(e) is not None) == permanent
    assert is_transient(e) == (not permanent)  # the agent retries outages only
