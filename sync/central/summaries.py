"""The counting summaries analysts read: refreshed on demand (`edge central refresh`, or a schedule)."""

from __future__ import annotations

import time

from edge.errors import UserError
from sync.connect import connect, querying

SUMMARIES = ("realtime_counting_summary", "daily_analytics_summary")


def refresh(dsn: str, views: tuple[str, ...] = SUMMARIES, *, rebuild: bool = False) -> dict[str, float]:
    """Bring each summary up to date; seconds per summary. The real-time one is refreshed CONCURRENTLY
    (readers are never blocked); the daily one recomputes the days of the minutes changed since its last
    refresh (all days with minutes when `rebuild`: after a camera's time zone changed)."""
    unknown = set(views) - set(SUMMARIES)
    if unknown:
        raise UserError(f"unknown summary {', '.join(sorted(unknown))}: choose from {', '.join(SUMMARIES)}")
    statements = {"realtime_counting_summary": ["REFRESH MATERIALIZED VIEW CONCURRENTLY realtime_counting_summary"],
                  "daily_analytics_summary": (["SELECT queue_daily_rebuild()"] if rebuild else [])
                  + ["SELECT refresh_daily_analytics()"]}
    took = {}
    with connect(dsn, autocommit=True, utc=True) as conn:
        for view in views:
            start = time.perf_counter()
            with querying("summaries", f"refresh of {view}"):
                for statement in statements[view]:
                    conn.execute(statement)
            took[view] = time.perf_counter() - start
    return took
