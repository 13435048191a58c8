"""Compiled kernel: a 64-bit hash of each text value, from Arrow string buffers.

Why by hand: Arrow's ``dictionary_encode`` builds a hash table of every distinct text,
and at a licence area's millions of ids that table is most of the cost (5 million
customer ids: 1.2-2.5 s, the largest single call while the customers are read); Arrow
and pandas expose no row hash of their own. The hash here is only a candidate key:
:func:`smartstreet_geo._ids.id_codes` compares the text of every pair of rows whose
hashes are equal, so a collision between different ids can never join them.
"""

from __future__ import annotations

# first: it may set NUMBA_CACHE_DIR for numba
from ._numba_cache import CACHE

# isort: split
import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["hash_texts"]


@njit(cache=CACHE, nogil=True)
def _hash_into(
    offsets: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
    missing: npt.NDArray[np.bool_],
    out: npt.NDArray[np.int64],
) -> None:
    """FNV-1a over each value's bytes, then splitmix64's finaliser; 63 bits, -1 if missing."""
    for i in range(len(out)):
        if missing[i]:
            out[i] = -1
            continue
        h = np.uint64(0xCBF29CE484222325)
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * np.uint64(0x100000001B3)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
        out[i] = np.int64(h >> np.uint64(1))  # not negative: -1 stays "missing"


def hash_texts(
    offsets: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
    missing: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int64]:
    """Return one non-negative 63-bit hash per value (``-1`` where ``missing``).

    ``offsets`` are the ``n + 1`` byte offsets of the values in ``data`` (an Arrow
    string array's, made 64-bit); equal bytes give equal hashes.
    """
    out = np.empty(len(missing), dtype=np.int64)
    _hash_into(offsets, data, missing, out)
    return out
