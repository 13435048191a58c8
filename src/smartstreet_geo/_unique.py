"""Sorted distinct values of an integer array, found by sorting.

Since numpy 2.3, ``np.unique`` without ``return_index``, ``return_inverse`` or
``return_counts`` finds the distinct values with a hash table, then sorts them. Where
most values are distinct that is much slower than one sort: 2 million 64-bit keys take
1.9 s against 0.12 s on this project's 2-core machine (numpy 2.4); the hash table wins
only where few values are distinct. The campaign's pair keys (customer row and earlier
contact, outage and customer) are of the first kind.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["sorted_unique"]

_S = TypeVar("_S", bound=np.generic)


def sorted_unique(values: npt.NDArray[_S]) -> npt.NDArray[_S]:
    """Return ``np.unique(values)`` for integer or boolean values, by one sort.

    Other dtypes (floats, where NaN needs ``np.unique``'s care) go to ``np.unique``.

    Examples
    --------
    >>> import numpy as np
    >>> sorted_unique(np.array([3, 1, 3, -2])).tolist()
    [-2, 1, 3]
    """
    a = np.asarray(values).ravel()
    if a.dtype.kind not in "iub":
        return np.unique(a)
    a = np.sort(a)
    if a.size < 2:
        return a
    keep = np.empty(a.size, dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]
