"""glibc malloc tuning for `edge run`: a process that lives for months with a thread per camera.

glibc gives each allocating thread an arena of its own (up to 8 per core) and keeps what is freed in it;
frames (~0.5 MB) and network inputs (~2 MB) allocated and freed across readers and detector workers then
leave RSS creeping up. Two arenas, and handing freed memory back at every health tick, cut the creep to
a third at no measurable CPU cost (`make soak`, docs/benchmarks.md). The arena cap only applies if set
before a second thread allocates: call `limit_arenas` first. An operator's own MALLOC_ARENA_MAX (read by
glibc at start) is left alone. Without glibc both functions do nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


def limit_arenas(arenas: int = 2) -> bool:
    """Cap the number of malloc arenas; False if MALLOC_ARENA_MAX is set or there is no glibc (no change)."""
    if _LIBC is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


def trim() -> None:
    """Give memory freed since the last call back to the OS (glibc malloc_trim)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
