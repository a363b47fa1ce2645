"""Batching across cameras (pure): which ready frames share one inference call, and whether batches pay here.

A batch is what is ready now: the due frames of cameras whose frames have the same network input size, in the
order the cameras came, at most `max_batch` to a call. No camera ever waits for a batch to fill. Whether to
batch at all depends on the machine and its load (docs/benchmarks.md: on the 2-core x86 machine here one call
of 4 frames took 0.77 of the time per frame of single calls two at once when idle, and 1.03-1.5 x when shared
with other work), so `edge run` times both at start-up on the box itself (edge.vision.detector.probe_batching)
and `use_batches` decides.
"""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from edge.config import Batching


def group_by_size(sizes: Sequence[Hashable], max_batch: int) -> list[list[int]]:
    """Indices of the ready frames (their input sizes in `sizes`), grouped by size in order of first appearance,
    each group split into calls of at most `max_batch`."""
    groups: dict[Hashable, list[list[int]]] = {}
    for i, size in enumerate(sizes):
        calls = groups.setdefault(size, [[]])
        if len(calls[-1]) == max_batch:
            calls.append([])
        calls[-1].append(i)
    return [call for calls in groups.values() for call in calls]


@dataclass(frozen=True)
class Probe:
    """Wall seconds per round for `frames` frames as single calls (several at once) and as one batched call."""

    frames: int
    parallel_s: tuple[float, ...]
    batched_s: tuple[float, ...]

    @property
    def parallel_ms(self) -> float:
        """Per frame, median round."""
        return 1000 * statistics.median(self.parallel_s) / self.frames

    @property
    def batched_ms(self) -> float:
        return 1000 * statistics.median(self.batched_s) / self.frames


def use_batches(setting: Batching, cameras: int, probe: Probe | None) -> bool:
    """`on`/`off` as set; `auto`: batches only for two cameras or more, and only if the probe found them faster."""
    if setting != Batching.AUTO:
        return setting == Batching.ON
    return cameras >= 2 and probe is not None and probe.batched_ms < probe.parallel_ms


def probe_frames(cameras: int, max_batch: int) -> int:
    """How many frames the start-up probe batches: as many as cameras could be ready at once, at most 4 (the
    probe must take a fraction of a second)."""
    return max(2, min(cameras, max_batch, 4))
