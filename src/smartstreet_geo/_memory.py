"""Give freed memory back to the operating system between the steps of a large run (issue 14).

A campaign step frees most of what it allocated (filtered copies, sort keys, text), but the
allocators keep the freed pages for reuse: Arrow's (mimalloc) for its own buffers, the C
library's (glibc malloc) for numpy arrays and Python objects. Neither can reuse the other's,
so at 2.4 million customers about 2 GB of the resident set was memory already freed
(6.06 GB resident after a run, 4.14 GB once both gave their free pages back). Handing them
back at each step boundary keeps the next step's own peak from adding to that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["release_freed_memory", "releasing"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:  # pragma: no cover - no C library to load
        return None
    if trim is None:  # pragma: no cover - not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Return the pages Arrow's pool and the C allocator hold free to the system (milliseconds)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def releasing(say: Callable[[str], None]) -> Callable[[str], None]:
    """Return ``say`` (a step callback) that first releases freed memory, at each step."""

    def step(label: str) -> None:
        release_freed_memory()
        say(label)

    return step
