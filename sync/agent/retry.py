"""Which central errors are worth retrying, and the tenacity policy that retries them (bounded, capped, jittered)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import tenacity

from edge.config import SyncSettings
from sync.sync_binary import EncodeError

# SQLSTATE classes of errors that go away by themselves: connection exception, insufficient resources,
# operator intervention (server shutting down or starting), transaction rollback (serialization, deadlock).
_TRANSIENT_CLASSES = ("08", "53", "57", "40")


def is_transient(e: BaseException) -> bool:
    """True for a lost or refused connection and for server-side conditions that clear up; data errors are not."""
    if isinstance(e, psycopg.Error):
        state = e.sqlstate
        if state is None:
            return isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError))
        return state[:2] in _TRANSIENT_CLASSES
    return isinstance(e, (ConnectionError, TimeoutError))


def is_data_error(e: BaseException) -> bool:
    """Errors caused by the rows themselves: class 22 data exception, 23 integrity violation, or a value the
    binary encoder cannot represent."""
    return isinstance(e, (psycopg.errors.DataError, psycopg.errors.IntegrityError, EncodeError))


def retrying(settings: SyncSettings, on_retry: Callable[[tenacity.RetryCallState], None],
             stop: threading.Event) -> tenacity.Retrying:
    """Exponential backoff from `retry_initial_s`, capped at `retry_max_s`, with jitter; at most `retry_attempts`,
    and none once `stop` is set (the sleep between attempts ends early too)."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_any(tenacity.stop_after_attempt(settings.retry_attempts),
                               tenacity.stop_when_event_set(stop)),
        wait=tenacity.wait_exponential_jitter(multiplier=settings.retry_initial_s, max=settings.retry_max_s,
                                              jitter=settings.retry_initial_s),
        before_sleep=on_retry,
        sleep=stop.wait,
        reraise=True,
    )
