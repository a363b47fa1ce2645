"""edge.run.parallel: results in input order, calls really concurrent, bounded look-ahead, errors surfaced."""

import threading

import pytest

from edge.run.parallel import ordered_map, prefetch


def test_ordered_map_runs_calls_at_once_and_yields_in_input_order():
    barrier = threading.Barrier(2, timeout=5)  # breaks (error) unless two calls are in flight together

    def work(i: int) -> int:
        if i < 2:
            barrier.wait()
        return i * i

    assert list(ordered_map(iter(range(20)), work, workers=2)) == [i * i for i in range(20)]


def test_ordered_map_reads_at_most_workers_plus_one_items_ahead():
    pulled: list[int] = []

    def items():
        for i in range(100):
            pulled.append(i)
            yield i

    results = ordered_map(items(), lambda i: i, workers=3)
    assert next(results) == 0 and len(pulled) == 4
    assert list(results) == list(range(1, 100))


def test_ordered_map_with_one_worker_is_plain_map():
    threads: set[str] = set()
    assert list(ordered_map(iter("abc"), lambda c: threads.add(threading.current_thread().name) or c.upper(), 1)) \
        == ["A", "B", "C"]
    assert threads == {threading.current_thread().name}


@pytest.mark.parametrize("stage", ["work", "items"])
def test_errors_reach_the_consumer(stage):
    def items():
        yield from range(3)
        if stage == "items":
            raise ValueError("bad frame")
        yield 3

    def work(i: int) -> int:
        if stage == "work" and i == 3:
            raise ValueError("bad frame")
        return i

    with pytest.raises(ValueError, match="bad frame"):
        list(ordered_map(prefetch(items(), lambda i: i), work, workers=2))
