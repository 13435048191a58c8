"""Identifier columns as Arrow strings: blanks as nulls, fast hashing and lookups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]


def arrow_text(values: Any, n: int | None = None) -> pa.Array:
    """Return ``values`` as an Arrow ``large_string`` array; blank text becomes null.

    ``None`` gives ``n`` nulls. Numbers are written as text (``7`` is ``"7"``);
    surrounding whitespace is removed.
    """
    if values is None:
        return pa.nulls(0 if n is None else n, pa.large_string())
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("str")
    arr = pa.array(s.array)
    if isinstance(arr, pa.ChunkedArray):  # pragma: no cover - depends on pandas internals
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    trimmed = pc.utf8_trim_whitespace(arr)
    if pc.sum(pc.binary_length(trimmed)) != pc.sum(pc.binary_length(arr)):
        arr = trimmed  # else keep the original: no copy of clean ids
    blank = pc.equal(pc.binary_length(arr), 0)
    if pc.any(blank).as_py():
        arr = pc.if_else(blank, pa.scalar(None, pa.large_string()), arr)
    return arr


def to_series(arr: pa.Array) -> pd.Series:
    """Arrow strings as a pandas ``str`` Series (zero-copy)."""
    return pd.Series(arr.to_pandas(), dtype="str")


def take(arr: pa.Array, idx: npt.ArrayLike) -> pa.Array:
    """``arr[idx]`` for an integer index array (negative index gives null)."""
    index = np.asarray(idx, dtype=np.int64)
    mask = index < 0
    if mask.any():
        return arr.take(pa.array(np.where(mask, 0, index), mask=mask))
    return arr.take(pa.array(index))


def lookup(values: pa.Array, value_set: pa.Array) -> IntArray:
    """Position of each value in ``value_set`` (-1 for null or not found)."""
    found = pc.index_in(values, value_set=value_set)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def shown(values: Iterable[Any], limit: int = 5) -> str:
    """First few values, comma separated, with how many more (for messages)."""
    vals = list(values)
    head = ", ".join(str(v) for v in vals[:limit])
    more = len(vals) - limit
    return head + (f" and {more} more" if more > 0 else "")
