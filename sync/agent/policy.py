"""Pure decisions of the sync agent (no I/O): when a batch is due, when the buffer needs an alert."""

from __future__ import annotations

from edge.store.outbox import Pending


def batch_due(pending: Pending, now_us: int, batch_size: int, max_wait_s: float, draining: bool) -> bool:
    """Cut a batch when a full one is waiting, when the oldest row has waited `max_wait_s`, or when draining."""
    if pending.rows == 0:
        return False
    if draining or pending.rows >= batch_size or pending.oldest_us is None:
        return True
    return now_us - pending.oldest_us >= max_wait_s * 1_000_000


def buffer_alert_due(size_bytes: int, limit_bytes: int, last_alert_us: int | None, now_us: int,
                     every_s: float = 3600.0) -> bool:
    """Alert when the buffer is over its limit, at most once per `every_s`."""
    return size_bytes > limit_bytes and (last_alert_us is None or now_us - last_alert_us >= every_s * 1e6)
