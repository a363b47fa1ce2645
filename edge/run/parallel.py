"""Overlap the stages of recorded-video processing: decode ahead in a thread, infer on several at once."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetch(items: Iterator[Any], work: Callable[[Any], Any], depth: int = 4) -> Iterator[Any]:
    """Run `work` on each item in a background thread, `depth` items ahead of the consumer.

    Decoding and letterboxing (OpenCV releases the GIL) then overlap with inference.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(work(item))
        except BaseException as e:  # surfaced in the consumer
            q.put(e)
        q.put(done)

    thread = threading.Thread(target=run, name="prefetch", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass


def ordered_map(items: Iterator[T], work: Callable[[T], R], workers: int) -> Iterator[R]:
    """`map(work, items)` with `workers` calls running at once, results in input order.

    At most `workers + 1` items are in flight, so memory stays bounded and the consumer (tracking, which
    needs frame order) runs while the next results are computed.
    """
    if workers <= 1:
        yield from map(work, items)
        return
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="work") as pool:
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
