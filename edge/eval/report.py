"""The suite's figures as a table an engineer reads: per sequence, pooled, and why the misses were missed."""

from __future__ import annotations

from edge.eval.diagnosis import Miss
from edge.eval.run import SuiteReport
from edge.eval.scoring import Score

_HEAD = (f"{'sequence':<14}{'frames':>7}{'gt':>6}{'counted':>8}{'matched':>8}{'false':>6}{'missed':>7}"
         f"{'P':>7}{'R':>7}{'F1':>7}{'|err|':>6}")
_MISSES = f"{'misses:':<14}" + "".join(f"{m.value:>22}" for m in Miss)


def _row(name: str, frames: str, s: Score, err: int) -> str:
    return (f"{name:<14}{frames:>7}{s.gt:>6}{s.counted:>8}{s.matched:>8}{s.false:>6}{s.missed:>7}"
            f"{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{err:>6}")


def render(report: SuiteReport) -> str:
    out = [_HEAD]
    for s in report.sequences:
        out.append(_row(s.name, str(s.processed), s.total, s.abs_error))
    pooled = report.pooled
    out.append(_row("pooled", "", pooled, report.abs_error))
    out += ["", _MISSES]
    for s in report.sequences:
        out.append(f"{s.name:<14}" + "".join(f"{s.misses.get(m, 0):>22}" for m in Miss))
    cpu = [f"{s.name} {s.cpu_ms_per_frame:.1f}" for s in report.sequences if s.cpu_ms_per_frame is not None]
    out.append("")
    if cpu:
        out.append("detection CPU ms per processed frame (all threads): " + ", ".join(cpu))
        out.append("frames detected (motion gate): " + ", ".join(
            f"{s.name} {100 * s.detected / max(s.processed, 1):.0f}%" for s in report.sequences))
    pct = 100 * report.abs_error / max(pooled.gt, 1)
    committed = f" (committed {report.committed_f1:.3f})" if report.committed_f1 is not None else ""
    out.append(f"pooled event F1 {pooled.f1:.3f}{committed}; summed count error {report.abs_error} of {pooled.gt} "
               f"({pct:.1f}%), summed over sequence x line x direction")
    return "\n".join(out)
