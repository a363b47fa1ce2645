"""The sync agent's retry policy: tenacity retries transient central errors (sync/connect.py tells which),
bounded, capped and jittered; data errors are not retried but set aside."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import tenacity

from edge.config import SyncSettings
from sync.agent.binary import EncodeError
from sync.connect import is_transient


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
        sleep=stop.wait,  # type: ignore[arg-type]  # its bool is ignored
        reraise=True,
    )
