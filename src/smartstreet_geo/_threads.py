"""One piece of work on a thread of its own, beside the run (issue 14)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["beside"]

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
