"""Where numba keeps the compiled kernels: a writable folder, or no on-disk cache.

The kernel modules (``proximity._kernels``, ``network._kernels``) import
:data:`CACHE` from here before they import numba and pass it as
``@njit(cache=CACHE)``. numba looks for a cache folder in this order:
``NUMBA_CACHE_DIR``, the ``__pycache__`` folder next to the kernel module,
then the user-wide ``$XDG_CACHE_HOME/numba`` (``~/.cache/numba``); if none is
writable it raises ``RuntimeError`` when the module is imported. That happens
with a package installed read-only (a system or container image) for a user
without a writable home (a service account). In that case this module points
``NUMBA_CACHE_DIR`` at a private folder in the temporary directory
(``smartstreet-geo-numba-<uid>``, mode 0700, owned by the user: numba's cache
files are pickles, so a folder someone else could write to is never used),
and when even that is impossible it turns caching off, with one log line:
the kernels still run, compiled on every run (about 7 s more on the demo campaign).
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ._threads import max_threads, run_ranges

__all__ = ["CACHE", "row_chunks", "run_chunks"]

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent
#: The folders whose ``__pycache__`` numba uses for the package's kernels.
_KERNEL_FOLDERS = (_PACKAGE, _PACKAGE / "proximity", _PACKAGE / "network")


def _writable(folder: str | Path) -> bool:
    """Whether numba could cache into ``folder`` (the same test numba makes)."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _user_wide() -> Path:
    """Return numba's user-wide cache folder (mirrors ``numba.misc.appdirs.user_cache_dir``)."""
    if sys.platform == "darwin":
        return Path("~/Library/Caches/numba").expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "numba"


def _private_temp() -> Path | None:
    """Return a folder in the temporary directory only this user can write, or None."""
    uid = os.getuid()
    folder = Path(tempfile.gettempdir()) / f"smartstreet-geo-numba-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return None
    # Someone else's folder, a symlink, or one others can write to: its pickles could run code.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
        return None
    return folder if _writable(folder) else None


def _numba_finds_one() -> bool:
    """Whether numba's own search (see the module docstring) finds a writable folder."""
    own = os.environ.get("NUMBA_CACHE_DIR")
    return (
        bool(own and _writable(own))
        or all(_writable(f / "__pycache__") for f in _KERNEL_FOLDERS)
        or _writable(_user_wide())
    )


def _decide() -> bool:
    """Make sure numba can cache the kernels (setting ``NUMBA_CACHE_DIR`` if needed)."""
    if _numba_finds_one():
        return True
    folder = _private_temp()
    if folder is None:
        log.warning(
            "numba cache: no writable folder (package, NUMBA_CACHE_DIR, home, temporary "
            "directory); the kernels are compiled on every run (about 7 s). Set NUMBA_CACHE_DIR "
            "to a writable folder to keep them."
        )
        return False
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: it read the variable at import
        config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]
    log.info("numba cache: package and home folders are read-only; using %s", folder)
    return True


#: Whether the kernels are cached on disk (``@njit(cache=CACHE)``); decided once per process.
CACHE: bool = _decide()


def row_chunks(n: int, min_rows: int = 32_768) -> list[tuple[int, int]]:
    """Split rows ``0..n`` into one contiguous range per thread (at least ``min_rows`` each).

    The row-rendering kernels (:mod:`smartstreet_geo._csv_kernel`,
    :mod:`smartstreet_geo._xlsx_kernel`) are plain ``nogil`` kernels run on these
    ranges from a few Python threads, rather than ``parallel=True`` kernels: a
    parallel kernel takes twice as long to compile on the first run after
    installing, and as long again to load from the cache on every run, for the
    same speed on a handful of cores.
    """
    parts = max(1, min(max_threads(), n // max(min_rows, 1)))
    bounds = [n * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def run_chunks(
    work: Callable[[int, int], object],
    chunks: Sequence[tuple[int, int]],
    threads: int | None = None,
) -> list[object]:
    """Run ``work(lo, hi)`` on each range, in threads when there is more than one.

    ``threads`` (default: one per range) caps the ranges worked on at once; the
    results come in the order of ``chunks``. The calling thread works too, beside the
    process's shared threads (:func:`smartstreet_geo._threads.run_ranges`).
    """
    return run_ranges(work, chunks, min(len(chunks), threads or len(chunks)))
