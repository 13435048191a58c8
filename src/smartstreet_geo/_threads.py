"""Threads beside the run (issue 14).

:func:`beside` runs one piece of work on a thread of its own (the map drawn while the
files are written); :func:`run_ranges` runs a kernel over ranges of rows on the calling
thread and the process's shared worker threads.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["beside", "max_threads", "run_ranges"]

_T = TypeVar("_T")


def beside(fn: Callable[..., _T], *args: Any) -> Future[_T]:
    """Start ``fn(*args)`` on a thread of its own; return its future.

    For work that reads only what it is given (its own frames or views, or a finished
    result) while the caller goes on; ``.result()`` waits for it and re-raises its error.
    The thread ends with the work.
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix=fn.__name__.strip("_"))
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)


def max_threads() -> int:
    """Threads the row kernels may use: ``NUMBA_NUM_THREADS``, else the CPUs (at most 32)."""
    return max(1, min(int(os.environ.get("NUMBA_NUM_THREADS") or 0) or os.cpu_count() or 1, 32))


# The shared worker threads, started on first use and kept for the process. The CSV and
# XLSX writers call their kernels twice per block of rows; a new pool per call started
# fresh threads every time, and each start waits until the new thread has taken the GIL
# to say it is running (at 2.4 M customers some 300 starts, 0.3 s, while the map and the
# XLSX writer held the GIL on other threads).
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_in_pool = threading.local()


def _mark_pool_thread() -> None:
    _in_pool.yes = True


def _forget_pool() -> None:
    """In a forked child the parent's threads do not exist: start afresh when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max(1, max_threads() - 1),
                thread_name_prefix="smartstreet-rows",
                initializer=_mark_pool_thread,
            )
        return _pool


def run_ranges(
    work: Callable[[int, int], _T], ranges: Sequence[tuple[int, int]], threads: int
) -> list[_T]:
    """Return ``[work(lo, hi) for lo, hi in ranges]``, up to ``threads`` ranges at a time.

    The calling thread and ``threads - 1`` of the shared worker threads take the
    ranges one after another until none is left (so many small ranges balance
    themselves); the results come in the order of ``ranges``. ``work`` should
    release the GIL (a ``nogil`` kernel) for the threads to help. Called from one
    of the shared threads, it runs the ranges there, in turn. An error stops the
    taking of new ranges; it is raised once every range taken has finished (none
    is still writing into the caller's arrays).
    """
    n = len(ranges)
    threads = min(threads, n)
    if threads <= 1 or getattr(_in_pool, "yes", False):
        return [work(lo, hi) for lo, hi in ranges]
    results: list[Any] = [None] * n
    taken = itertools.count()  # next() on it is atomic: each range is taken once
    failed = threading.Event()

    def take() -> None:
        while not failed.is_set():
            i = next(taken)
            if i >= n:
                return
            try:
                results[i] = work(*ranges[i])
            except BaseException:
                failed.set()
                raise

    pool = _shared_pool()
    helpers = [pool.submit(take) for _ in range(threads - 1)]
    try:
        take()
    finally:
        concurrent.futures.wait(helpers)
    for h in helpers:
        h.result()  # a helper's error
    return results
