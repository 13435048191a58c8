r"""Compiled kernel: CSV rows (RFC 4180, CRLF) from Arrow string buffers, formula-safe.

Why by hand: :meth:`pandas.DataFrame.to_csv` hands every cell to Python's :mod:`csv`
module as a Python object; at a licence area's millions of rows that is most of the
writing time, and Arrow's CSV writer quotes every text (a different file). This writes
exactly what ``to_csv(index=False, lineterminator="\r\n")`` writes after
:func:`smartstreet_geo.export.neutralise_formulae` (tests/test_csv.py compares the two
byte for byte):

* a text column's cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
  return, and is not just a number, gets a ``'`` in front;
* a field holding ``,``, ``"``, CR or LF is quoted, ``"`` doubled;
* a row of one empty field is written ``""`` (as :mod:`csv` does).

Two passes: the exact size of every row, then the bytes, ranges of rows in threads.
"""

from __future__ import annotations

# first: it may set NUMBA_CACHE_DIR for numba
from ._numba_cache import CACHE, row_chunks, run_chunks

# isort: split
import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["render_csv"]


@njit(cache=CACHE, nogil=True)
def _plain_number(data: npt.NDArray[np.uint8], start: int, end: int) -> bool:
    r"""Whether the text is ``^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$``."""
    i = start
    if i < end and (data[i] == 43 or data[i] == 45):
        i += 1
    digits = 0
    while i < end and 48 <= data[i] <= 57:
        i += 1
        digits += 1
    if i < end and data[i] == 46:  # .
        i += 1
        frac = 0
        while i < end and 48 <= data[i] <= 57:
            i += 1
            frac += 1
        if digits == 0 and frac == 0:
            return False
    elif digits == 0:
        return False
    if i < end and (data[i] == 101 or data[i] == 69):  # e E
        i += 1
        if i < end and (data[i] == 43 or data[i] == 45):
            i += 1
        exp = 0
        while i < end and 48 <= data[i] <= 57:
            i += 1
            exp += 1
        if exp == 0:
            return False
    return i == end


#: A cell's flags, found by the first pass and used by the second (no second scan).
_QUOTE, _PREFIX, _DOUBLE = 1, 2, 4


@njit(cache=CACHE, nogil=True)
def _field(data: npt.NDArray[np.uint8], start: int, end: int, neutralise: bool) -> tuple[int, int]:
    """Return (bytes of the field as written, its flags: quoted, prefixed, quotes doubled)."""
    flags = 0
    if neutralise and end > start:  # a formula-like text: starts with = + - @ TAB CR ...
        b = data[start]
        formula_like = b == 61 or b == 43 or b == 45 or b == 64 or b == 9 or b == 13
        if formula_like and not _plain_number(data, start, end):  # ... and is not a number
            flags |= _PREFIX
    n = end - start + (1 if flags & _PREFIX else 0)
    for k in range(start, end):
        b = data[k]
        if b == 34:  # "
            flags |= _QUOTE | _DOUBLE
            n += 1
        elif b == 44 or b == 13 or b == 10:
            flags |= _QUOTE
    if flags & _QUOTE:
        n += 2
    return n, flags


@njit(cache=CACHE, nogil=True)
def _sizes(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    neutralise: npt.NDArray[np.bool_],
    lo: int,
    hi: int,
    sizes: npt.NDArray[np.int64],
    flags: npt.NDArray[np.uint8],
) -> None:
    """First pass: the size in bytes of rows ``lo..hi`` into ``sizes``, each cell's flags."""
    n_cols = present.shape[1]
    for r in range(lo, hi):
        size = 2 + (n_cols - 1)  # CRLF and the commas
        empty_row = True
        for c in range(n_cols):
            if present[r, c]:
                n, f = _field(data, offsets[r, c], offsets[r + 1, c], neutralise[c])
                flags[r, c] = f
                size += n
                if n:
                    empty_row = False
        if n_cols == 1 and empty_row:
            size += 2  # ""
        sizes[r] = size


@njit(cache=CACHE, nogil=True)
def _write(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    flags: npt.NDArray[np.uint8],
    lo: int,
    hi: int,
    ends: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
) -> bool:
    """Second pass: the bytes of rows ``lo..hi``, each ending at ``ends[r]``.

    Returns False when a row's bytes do not end where its size said.
    """
    n_cols = present.shape[1]
    ok = True
    for r in range(lo, hi):
        p = ends[r - 1] if r else 0
        empty_row = True
        for c in range(n_cols):
            if c:
                out[p] = 44
                p += 1
            if not present[r, c]:
                continue
            start, end = offsets[r, c], offsets[r + 1, c]
            f = flags[r, c]
            if end > start or f & _PREFIX:
                empty_row = False
            if f & _QUOTE:
                out[p] = 34
                p += 1
            if f & _PREFIX:
                out[p] = 39  # '
                p += 1
            if f & _DOUBLE:
                for k in range(start, end):
                    b = data[k]
                    out[p] = b
                    p += 1
                    if b == 34:
                        out[p] = 34
                        p += 1
            else:  # nothing to double: the bytes as they are
                out[p : p + (end - start)] = data[start:end]
                p += end - start
            if f & _QUOTE:
                out[p] = 34
                p += 1
        if n_cols == 1 and empty_row:
            out[p] = 34
            out[p + 1] = 34
            p += 2
        out[p] = 13
        out[p + 1] = 10
        p += 2
        if p != ends[r]:
            ok = False
            break
    return ok


def render_csv(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    neutralise: npt.NDArray[np.bool_],
) -> npt.NDArray[np.uint8]:
    """Render CSV rows (no header).

    Two passes over ranges of rows, each range in its own thread (the kernels
    release the GIL): the size of every row, then its bytes.

    Parameters
    ----------
    data : ndarray of uint8
        The UTF-8 bytes of every cell text, all columns.
    offsets : ndarray of int64, shape (n_rows + 1, n_columns)
        Where each cell's text starts and ends in ``data``.
    present : ndarray of bool, shape (n_rows, n_columns)
        Cells with a value (the others are empty fields).
    neutralise : ndarray of bool, shape (n_columns,)
        Text columns, whose formula-like cells get a ``'`` in front.

    Returns
    -------
    ndarray of uint8
    """
    n_rows = present.shape[0]
    chunks = row_chunks(n_rows)
    sizes = np.zeros(n_rows, dtype=np.int64)
    flags = np.zeros(present.shape, dtype=np.uint8)
    run_chunks(
        lambda lo, hi: _sizes(data, offsets, present, neutralise, lo, hi, sizes, flags), chunks
    )
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if n_rows else 0, dtype=np.uint8)
    done = run_chunks(
        lambda lo, hi: _write(data, offsets, present, flags, lo, hi, ends, out), chunks
    )
    if not all(done):  # the two passes disagree: never hand back a half-written row
        raise RuntimeError("render_csv: a row's size and its bytes disagree")
    return out
