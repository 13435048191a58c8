"""Compiled kernel: the ``<row>`` XML of a sheet's data rows, from Arrow string buffers.

See :mod:`smartstreet_geo._xlsx` for why the rows are written here and not by
xlsxwriter. The kernel reproduces xlsxwriter's ``constant_memory`` output exactly
(tests/test_xlsx.py compares the two byte for byte), including its escapes, in this
order on each text:

1. a literal ``_xHHHH_`` (hex digits) gets its underscore escaped: ``_x005F_xHHHH_``;
2. C0 controls except tab and newline become ``_xHHHH_``;
3. the non-characters U+FFFE and U+FFFF become ``_xFFFE_`` and ``_xFFFF_``;
4. ``&``, ``<``, ``>`` become XML entities;

and ``<t xml:space="preserve">`` where the escaped text starts or ends with white space
(Python's ``str.isspace``). Two passes: the exact size of every row, then the bytes, so
ranges of rows are written in threads into one buffer.
"""

from __future__ import annotations

# first: it may set NUMBA_CACHE_DIR for numba
from ._numba_cache import CACHE, row_chunks, run_chunks

# isort: split
import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["render_rows"]

_C_OPEN = np.frombuffer(b'<c r="', dtype=np.uint8)
_TEXT_MID = np.frombuffer(b'" t="inlineStr"><is><t>', dtype=np.uint8)
_TEXT_MID_KEEP = np.frombuffer(b'" t="inlineStr"><is><t xml:space="preserve">', dtype=np.uint8)
_TEXT_END = np.frombuffer(b"</t></is></c>", dtype=np.uint8)
_NUM_MID = np.frombuffer(b'"><v>', dtype=np.uint8)
_NUM_END = np.frombuffer(b"</v></c>", dtype=np.uint8)
_ROW_OPEN = np.frombuffer(b'<row r="', dtype=np.uint8)
_ROW_MID = np.frombuffer(b'">', dtype=np.uint8)
_ROW_END = np.frombuffer(b"</row>", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_AMP = np.frombuffer(b"&amp;", dtype=np.uint8)
_LT = np.frombuffer(b"&lt;", dtype=np.uint8)
_GT = np.frombuffer(b"&gt;", dtype=np.uint8)
# Sizes as plain integers: the size pass then needs no array constant compiled in.
_NUM_CELL = len(_C_OPEN) + len(_NUM_MID) + len(_NUM_END)
_TEXT_CELL = len(_C_OPEN) + len(_TEXT_MID) + len(_TEXT_END)
_TEXT_CELL_KEEP = len(_C_OPEN) + len(_TEXT_MID_KEEP) + len(_TEXT_END)
_ROW = len(_ROW_OPEN) + len(_ROW_MID) + len(_ROW_END)


# Few, larger compiled functions: each one costs about 0.1-0.2 s to compile on the first
# run after installing, however small, so one-line helpers are written out in place.


@njit(cache=CACHE, nogil=True)
def _literal_escape_at(data: npt.NDArray[np.uint8], i: int, end: int) -> bool:
    """Whether ``_xHHHH_`` starts at ``data[i]`` (before ``end``)."""
    if i + 7 > end or data[i] != 95 or data[i + 1] != 120 or data[i + 6] != 95:
        return False
    for k in range(i + 2, i + 6):
        h = np.int64(data[k])
        if not ((48 <= h <= 57) or (65 <= h <= 70) or (97 <= h <= 102)):  # hex digit
            return False
    return True


@njit(cache=CACHE, nogil=True)
def _space_at(data: npt.NDArray[np.uint8], i: int, end: int) -> bool | np.bool_:
    """Whether the character at byte ``i`` is white space that survives the escapes."""
    b = np.int64(data[i])
    if b == 32 or b == 9 or b == 10:
        return True
    if b == 0xC2 and i + 1 < end:
        return data[i + 1] == 0x85 or data[i + 1] == 0xA0
    if i + 2 >= end:
        return False
    b1, b2 = np.int64(data[i + 1]), np.int64(data[i + 2])
    if b == 0xE1:
        return b1 == 0x9A and b2 == 0x80
    if b == 0xE2:
        if b1 == 0x80:
            return b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF
        return b1 == 0x81 and b2 == 0x9F
    if b == 0xE3:
        return b1 == 0x80 and b2 == 0x80
    return False


@njit(cache=CACHE, nogil=True)
def _preserve(data: npt.NDArray[np.uint8], start: int, end: int) -> bool | np.bool_:
    """Whether the text starts or ends with white space."""
    if end <= start:
        return False
    if _space_at(data, start, end):
        return True
    last = end - 1  # the first byte of the last character
    while last > start and (data[last] & 0xC0) == 0x80:
        last -= 1
    return _space_at(data, last, end)


@njit(cache=CACHE, nogil=True)
def _escaped_size(data: npt.NDArray[np.uint8], start: int, end: int) -> int:
    n = 0
    i = start
    while i < end:
        b = np.int64(data[i])  # int64: typing uint8 against int literals costs compile time
        if b == 95 and _literal_escape_at(data, i, end):
            n += 13
            i += 7
            continue
        if b < 32 and b != 9 and b != 10:  # a C0 control but tab and newline
            n += 7
        elif b == 38:  # &
            n += 5
        elif b == 60 or b == 62:  # < >
            n += 4
        elif (
            b == 0xEF
            and i + 2 < end
            and data[i + 1] == 0xBF
            and (data[i + 2] == 0xBE or data[i + 2] == 0xBF)
        ):
            n += 7
            i += 3
            continue
        else:
            n += 1
        i += 1
    return n


@njit(cache=CACHE, nogil=True)
def _put(out: npt.NDArray[np.uint8], p: int, src: npt.NDArray[np.uint8]) -> int:
    for k in range(src.shape[0]):
        out[p + k] = src[k]
    return p + src.shape[0]


@njit(cache=CACHE, nogil=True)
def _put_hex4(out: npt.NDArray[np.uint8], p: int, v: int | np.int64) -> int:
    out[p] = 95  # _
    out[p + 1] = 120  # x
    out[p + 2] = _HEX[(v >> 12) & 15]
    out[p + 3] = _HEX[(v >> 8) & 15]
    out[p + 4] = _HEX[(v >> 4) & 15]
    out[p + 5] = _HEX[v & 15]
    out[p + 6] = 95
    return p + 7


@njit(cache=CACHE, nogil=True)
def _put_escaped(
    out: npt.NDArray[np.uint8], p: int, data: npt.NDArray[np.uint8], start: int, end: int
) -> int:
    i = start
    while i < end:
        b = np.int64(data[i])  # int64: typing uint8 against int literals costs compile time
        if b == 95 and _literal_escape_at(data, i, end):
            p = _put_hex4(out, p, np.int64(0x5F))  # "_x005F_", whose "_" starts the literal
            for k in range(1, 7):
                out[p + k - 1] = data[i + k]
            p += 6
            i += 7
            continue
        if b < 32 and b != 9 and b != 10:  # a C0 control but tab and newline
            p = _put_hex4(out, p, np.int64(b))
        elif b == 38:
            p = _put(out, p, _AMP)
        elif b == 60:
            p = _put(out, p, _LT)
        elif b == 62:
            p = _put(out, p, _GT)
        elif (
            b == 0xEF
            and i + 2 < end
            and data[i + 1] == 0xBF
            and (data[i + 2] == 0xBE or data[i + 2] == 0xBF)
        ):
            p = _put_hex4(out, p, 0xFFFE if data[i + 2] == 0xBE else 0xFFFF)
            i += 3
            continue
        else:
            out[p] = b
            p += 1
        i += 1
    return p


@njit(cache=CACHE, nogil=True)
def _digits(v: int) -> int:
    n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


@njit(cache=CACHE, nogil=True)
def _put_int(out: npt.NDArray[np.uint8], p: int, v: int) -> int:
    n = _digits(v)
    for k in range(n - 1, -1, -1):
        out[p + k] = 48 + v % 10
        v //= 10
    return p + n


@njit(cache=CACHE, nogil=True)
def _sizes(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    is_number: npt.NDArray[np.bool_],
    letter_offsets: npt.NDArray[np.int64],
    first_row: int,
    lo: int,
    hi: int,
    sizes: npt.NDArray[np.int64],
    plain: npt.NDArray[np.bool_],
) -> None:
    """First pass: the size in bytes of rows ``lo..hi``, into ``sizes``.

    ``plain[r, c]``: the cell's text needs no escape (the second pass copies it whole).
    """
    n_cols = present.shape[1]
    for r in range(lo, hi):
        row_no = first_row + r
        d = _digits(row_no)
        size = 0
        for c in range(n_cols):
            if not present[r, c]:
                continue
            start, end = offsets[r, c], offsets[r + 1, c]
            cell_ref = letter_offsets[c + 1] - letter_offsets[c] + d
            if is_number[c]:
                size += _NUM_CELL + cell_ref + (end - start)
            else:
                size += _TEXT_CELL_KEEP if _preserve(data, start, end) else _TEXT_CELL
                escaped = _escaped_size(data, start, end)
                plain[r, c] = escaped == end - start  # every escape lengthens the text
                size += cell_ref + escaped
        if size:
            size += _ROW + d
        sizes[r] = size


@njit(cache=CACHE, nogil=True)
def _write(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    is_number: npt.NDArray[np.bool_],
    letters: npt.NDArray[np.uint8],
    letter_offsets: npt.NDArray[np.int64],
    first_row: int,
    lo: int,
    hi: int,
    ends: npt.NDArray[np.int64],
    plain: npt.NDArray[np.bool_],
    out: npt.NDArray[np.uint8],
) -> bool:
    """Second pass: the bytes of rows ``lo..hi``, each ending at ``ends[r]``.

    Returns False when a row's bytes do not end where its size said.
    """
    n_cols = present.shape[1]
    number = np.empty(20, dtype=np.uint8)  # the row number's digits, for every cell's reference
    for r in range(lo, hi):
        p = ends[r - 1] if r else 0
        if ends[r] == p:
            continue
        row_no = first_row + r
        d = _put_int(number, 0, row_no)
        p = _put(out, p, _ROW_OPEN)
        for k in range(d):
            out[p + k] = number[k]
        p += d
        p = _put(out, p, _ROW_MID)
        for c in range(n_cols):
            if not present[r, c]:
                continue
            start, end = offsets[r, c], offsets[r + 1, c]
            p = _put(out, p, _C_OPEN)
            for k in range(letter_offsets[c], letter_offsets[c + 1]):
                out[p] = letters[k]
                p += 1
            for k in range(d):
                out[p + k] = number[k]
            p += d
            if is_number[c]:
                p = _put(out, p, _NUM_MID)
                out[p : p + end - start] = data[start:end]
                p += end - start
                p = _put(out, p, _NUM_END)
            else:
                mid = _TEXT_MID_KEEP if _preserve(data, start, end) else _TEXT_MID
                p = _put(out, p, mid)
                if plain[r, c]:  # most cells: copied whole, without the escapes' tests
                    out[p : p + end - start] = data[start:end]
                    p += end - start
                else:
                    p = _put_escaped(out, p, data, start, end)
                p = _put(out, p, _TEXT_END)
        p = _put(out, p, _ROW_END)
        if p != ends[r]:
            return False
    return True


def render_rows(
    data: npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    is_number: npt.NDArray[np.bool_],
    letters: npt.NDArray[np.uint8],
    letter_offsets: npt.NDArray[np.int64],
    first_row: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Render the data rows of a sheet.

    Two passes over ranges of rows, each range in its own thread (the kernels
    release the GIL): the size of every row, then its bytes.

    Parameters
    ----------
    data : ndarray of uint8
        The UTF-8 bytes of every cell text, all columns.
    offsets : ndarray of int64, shape (n_rows + 1, n_columns)
        Where each cell's text starts and ends in ``data``.
    present : ndarray of bool, shape (n_rows, n_columns)
        Which cells exist (missing and empty texts are not written).
    is_number : ndarray of bool, shape (n_columns,)
        Number columns (the text is the formatted number, written as ``<v>``).
    letters, letter_offsets : ndarray
        The column letters (``A``, ``B`` ...), concatenated, and where each starts.
    first_row : int
        The sheet row (1-based) of the first data row.

    Returns
    -------
    tuple of ndarray
        The XML bytes of every row that has a cell, and the end of each row in those
        bytes (0-length rows, which have no cell, are not written).
    """
    n_rows = present.shape[0]
    chunks = row_chunks(n_rows)
    sizes = np.zeros(n_rows, dtype=np.int64)
    plain = np.zeros(present.shape, dtype=np.bool_)
    run_chunks(
        lambda lo, hi: _sizes(
            data, offsets, present, is_number, letter_offsets, first_row, lo, hi, sizes, plain
        ),
        chunks,
    )
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if n_rows else 0, dtype=np.uint8)
    done = run_chunks(
        lambda lo, hi: _write(
            data,
            offsets,
            present,
            is_number,
            letters,
            letter_offsets,
            first_row,
            lo,
            hi,
            ends,
            plain,
            out,
        ),
        chunks,
    )
    if not all(done):  # the two passes disagree: never hand back a half-written row
        raise RuntimeError("render_rows: a row's size and its bytes disagree")
    return out, ends
