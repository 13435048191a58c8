"""The cells of an XLSX sheet, written column by column instead of cell by cell.

Why by hand: xlsxwriter (the project's XLSX library, which writes everything else of
the workbook here: styles, column widths, frozen header, document properties) takes one
Python call per row and compresses with zlib's default level; at a licence area's 2
million letters that is minutes (benchmarks/README.md, "XLSX"). No maintained writer is
both fast and reproducible (rustpy-xlsxwriter stamps the clock into the file). So the
data rows of each sheet are built here with Arrow string kernels, one column at a time,
as exactly the XML xlsxwriter writes in its ``constant_memory`` mode (inline strings, the
same escapes; a test compares the two byte for byte), and the package is deflated with
zlib at level 1 (5 times faster than xlsxwriter's level 6 here, see :class:`Deflate`).

One deliberate difference from xlsxwriter: a text that starts with ``<r>`` and ends with
``</r>`` is written by xlsxwriter *unescaped*, as rich-text XML. Data is never markup
here: such a text is escaped like any other and printed as typed.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow_text import text_buffers

__all__ = ["pack_texts", "read_parts", "rezip", "sheet_rows"]


def _letters(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _cell_text(values: pd.Series) -> tuple[pa.Array, npt.NDArray[np.bool_], bool]:
    """Return a column's cell texts, which cells exist, and whether it is a number column.

    Missing values and empty texts have no cell (xlsxwriter writes ``""`` as a blank).
    Numbers are formatted as xlsxwriter does (``%.16G``); booleans are ``true``/``false``;
    any other value is ``str()`` of it.
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        text = np.where(values.to_numpy(dtype=bool, na_value=False), "true", "false")
        arr = pa.array(text, pa.large_string())
        present = values.notna().to_numpy()
        return arr, present, False
    if pd.api.types.is_numeric_dtype(dtype):
        nums = values.to_numpy(dtype=float, na_value=float("nan"))
        present = ~np.isnan(nums)
        # Python's own formatting, as xlsxwriter's; number columns are rare in these lists
        arr = pa.array(
            [f"{x:.16G}" if p else "" for x, p in zip(nums.tolist(), present, strict=True)],
            pa.large_string(),
        )
        return arr, present, True
    # a cell is written where there is text: not missing (a null in Arrow), not empty
    known: npt.NDArray[np.bool_] | None = None  # (Arrow's nulls are the missing values)
    if (as_text := only_text(values)) is not None:
        arr = as_text
    else:
        known = values.notna().to_numpy()  # NaT, say, is text here ("NaT") but missing
        # text stays text: str() of each value (a bool in an object column as true/false)
        arr = pa.array(
            [
                None
                if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                else ("true" if v else "false")
                if isinstance(v, bool | np.bool_)
                else str(v)
                for v in values.astype(object).tolist()
            ],
            pa.large_string(),
        )
    present = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False) > 0
    if known is not None:
        present &= known
    return arr, present, False


def only_text(values: pd.Series) -> pa.LargeStringArray | None:
    """Return a column of text and missing values as one Arrow text array, else None.

    Arrow text (``str`` dtype) as it is, without a copy of its characters. An ``object``
    column when every value is text or missing: Arrow converts it in C, some ten times
    faster than ``str()`` of each value, to the same text (``str(s)`` is ``s``), missing
    values (None, NaN, NA, NaT) as nulls. None for any other column, and for one with a
    value that is not text (numbers, booleans, dates, bytes) or that UTF-8 cannot encode
    (a lone surrogate): the caller then deals with each value.

    Examples
    --------
    >>> only_text(pd.Series(["a", None, float("nan")], dtype=object)).to_pylist()
    ['a', None, None]
    >>> only_text(pd.Series(["a", 1.5], dtype=object)) is None
    True
    """
    if isinstance(values.dtype, pd.StringDtype):
        text = pa.array(values.array)  # zero-copy for Arrow-backed text
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        return text.cast(pa.large_string())
    if values.dtype != object:
        return None
    try:
        arr = pa.array(values.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowException, UnicodeError):
        return None
    if not (pa.types.is_string(arr.type) or pa.types.is_null(arr.type)):
        return None  # bytes infer as binary: str() of bytes is not their text
    return arr.cast(pa.large_string())


def pack_texts(
    columns: list[pa.Array],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Pack Arrow text columns of equal length for a row-writing kernel.

    Parameters
    ----------
    columns : list of pyarrow large_string arrays (or chunked arrays)

    Returns
    -------
    data : ndarray of uint8
        Every column's UTF-8 bytes, one column after the other.
    offsets : ndarray of int64, shape (n_rows + 1, n_columns)
        Where cell ``(r, c)`` starts (``offsets[r, c]``) and ends (``offsets[r + 1, c]``) in
        ``data``; row-major, so a row's cells are side by side in memory.
    """
    n = len(columns[0]) if columns else 0
    datas: list[npt.NDArray[np.uint8]] = []
    offsets = np.empty((n + 1, len(columns)), dtype=np.int64)
    base = 0
    for j, arr in enumerate(columns):
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        offs, raw = text_buffers(arr)
        raw = raw[offs[0] : offs[-1]]
        offsets[:, j] = offs - offs[0] + base
        base += len(raw)
        datas.append(raw)
    return (np.concatenate(datas) if datas else np.empty(0, np.uint8)), offsets


#: Rows rendered at a time: a sheet's XML (about 1 KB a letter) is never whole in memory.
BLOCK_ROWS = 131_072


def sheet_rows(table: pd.DataFrame, first_row: int = 2) -> tuple[Iterator[memoryview], int]:
    """Return the ``<row>`` elements of a table's data rows, as xlsxwriter writes them.

    Parameters
    ----------
    table : DataFrame
    first_row : int, default 2
        The sheet row of the first data row (1-based; row 1 is the header).

    Returns
    -------
    tuple of (iterator of memoryview, int)
        The XML bytes, rendered :data:`BLOCK_ROWS` rows at a time as the iterator is read
        (rows without any cell are not written), and the last sheet row written (0 when
        none), which the sheet's ``<dimension>`` before the rows needs: the blocks at the
        end are rendered first until one has a row (almost always the last block alone),
        and kept for their turn.
    """
    n, n_cols = table.shape
    if n == 0 or n_cols == 0:
        return iter(()), 0
    letters = [_letters(j).encode() for j in range(n_cols)]
    letter_offsets = np.zeros(n_cols + 1, dtype=np.int64)
    letter_offsets[1:] = np.cumsum([len(x) for x in letters])
    letter_bytes = np.frombuffer(b"".join(letters), dtype=np.uint8)

    def render(start: int) -> tuple[memoryview, npt.NDArray[np.int64]]:
        from ._xlsx_kernel import render_rows

        block = table.iloc[start : start + BLOCK_ROWS]
        cells = [_cell_text(block[col]) for col in block.columns]
        data, offsets = pack_texts([c[0] for c in cells])
        present = np.stack([c[1] for c in cells], axis=1)  # row-major: a row's cells together
        is_number = np.array([c[2] for c in cells], dtype=bool)
        del cells
        out, ends = render_rows(
            data, offsets, present, is_number, letter_bytes, letter_offsets, first_row + start
        )
        return out.data, ends

    # the last block is rendered first (kept, not rendered again) to find the last row
    starts = range(0, n, BLOCK_ROWS)
    rendered: dict[int, memoryview] = {}
    last_row = 0
    for start in reversed(starts):
        rendered[start], ends = render(start)
        written = np.flatnonzero(np.diff(ends, prepend=0) > 0)
        if len(written):
            last_row = first_row + start + int(written[-1])
            break

    def blocks() -> Iterator[memoryview]:
        for start in starts:
            yield rendered.pop(start) if start in rendered else render(start)[0]

    return blocks(), last_row


# --------------------------------------------------------------------------- the package
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the date xlsxwriter gives every part
_DOS_TIME = 0


try:  # ISA-L's CRC-32: the same checksum as zlib's, about 7x faster (0.5 s of 1.3 GB of XML)
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - isal is a declared dependency
    _crc32 = zlib.crc32


#: zlib's compression level for the package (xlsxwriter's 6: 5 times slower here, 12% smaller).
DEFLATE_LEVEL = 1
#: zlib's memory level: 7 (a hash table of 16,384 entries, not 32,768) deflates a sheet's
#: XML about 9% faster here, 0.3% larger (benchmarks/README.md, "Deterministic deflate").
DEFLATE_MEMORY = 7
#: Bytes of a chunk compressed at a time, pieces on the row kernels' threads (:class:`Deflate`).
DEFLATE_PIECE = 4 << 20
_WINDOW = 32 << 10  # DEFLATE's history: a piece may refer this far back


class Deflate:
    """Raw DEFLATE of a byte stream, with zlib, in pieces compressed side by side.

    Why zlib and not ISA-L (``isal``, 3-4 times faster here): the same inputs must
    give the same bytes (the manifest's SHA-256 of every file is the run's record), and
    ISA-L's deflate did not: two processes of the same demo run on the CI machine wrote
    a sheet whose content (size and CRC-32) was identical and whose compressed stream was
    one byte apart. On the development machine no run, memory contents or buffer
    alignment tried made it differ, so the cause (a code path of that CPU, or memory it
    reads) could not be pinned down. zlib's output depends on its input alone and is the
    same on every machine, which is what Python's :mod:`zipfile` and reproducible builds
    rely on.

    Why pieces (what pigz does): zlib is one thread. Each chunk given to
    :meth:`compress` is cut into pieces of :data:`DEFLATE_PIECE` bytes, and each piece
    is compressed on its own, on the calling thread and the shared row-kernel threads
    (zlib releases the GIL), primed with the 32 KiB before it as its dictionary (so it
    compresses as well as one stream would) and ended with a sync flush (a byte-aligned
    empty stored block): the pieces concatenated are one valid DEFLATE stream, ended by
    :meth:`flush`. Every piece depends on the bytes alone, never on the threads' timing.
    """

    def __init__(self) -> None:
        self._history = b""  # the last 32 KiB compressed so far

    def compress(self, chunk: bytes | memoryview) -> list[bytes]:
        """Return the compressed pieces of ``chunk``, in order."""
        from ._threads import max_threads, run_ranges

        data = memoryview(chunk).cast("B")
        n = len(data)
        if n == 0:
            return []
        history = self._history

        def piece(lo: int, hi: int) -> bytes:
            before = data[max(lo - _WINDOW, 0) : lo].tobytes()
            if len(before) < _WINDOW:
                before = (history + before)[-_WINDOW:]
            z = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15, DEFLATE_MEMORY, zdict=before)
            return z.compress(data[lo:hi]) + z.flush(zlib.Z_SYNC_FLUSH)

        ranges = [(lo, min(lo + DEFLATE_PIECE, n)) for lo in range(0, n, DEFLATE_PIECE)]
        packed = run_ranges(piece, ranges, max_threads())
        self._history = (history + data[max(n - _WINDOW, 0) :].tobytes())[-_WINDOW:]
        return packed

    @staticmethod
    def flush() -> bytes:
        """Return the end of the stream (an empty final block)."""
        return zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15).flush()


def rezip(
    parts: Iterable[tuple[str, bytes | Iterable[bytes | memoryview]]],
    out: io.BufferedIOBase,
) -> None:
    """Write a ZIP package of ``parts`` (name, bytes or byte chunks) to ``out``.

    ``parts`` and each part's chunks are read once, in order, as they come: a part
    rendered as it is read is never whole in memory, only its compressed bytes.

    The package holds xlsxwriter's parts in xlsxwriter's order (PKZIP 2.0 local headers
    and central directory, Zip64 fields only where a part or an offset passes 4 GiB), at
    a fixed date, and deflated with zlib (:class:`Deflate`), so identical inputs give
    identical bytes on any machine. Each part is compressed in memory first (a sheet of a
    million letters is about 55 MB compressed) so that its sizes go in its local header.
    Read back with :mod:`zipfile` and openpyxl in the tests.
    """
    central: list[bytes] = []
    offset = 0
    big = 0xFFFFFFFF

    def put(b: bytes) -> None:
        nonlocal offset
        out.write(b)
        offset += len(b)

    for name, data in parts:
        chunks = [data] if isinstance(data, bytes | memoryview) else data
        deflate, crc, size = Deflate(), 0, 0
        packed: list[bytes] = []
        for chunk in chunks:
            crc = _crc32(chunk, crc)
            size += len(chunk)
            packed += deflate.compress(chunk)
        packed.append(deflate.flush())
        csize = sum(len(b) for b in packed)
        raw_name = name.encode("utf-8")
        local_offset = offset
        wide = size >= big or csize >= big
        extra = struct.pack("<HHQQ", 1, 16, size, csize) if wide else b""
        version = 45 if wide else 20
        put(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                version,
                0x0800,
                8,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                big if wide else csize,
                big if wide else size,
                len(raw_name),
                len(extra),
            )
            + raw_name
            + extra
        )
        for b in packed:
            put(b)
        far = local_offset >= big
        fields = ([size, csize] if wide else []) + ([local_offset] if far else [])
        c_extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        c_version = 45 if fields else 20
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                c_version,
                c_version,
                0x0800,
                8,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                big if wide else csize,
                big if wide else size,
                len(raw_name),
                len(c_extra),
                0,
                0,
                0,
                0,
                big if far else local_offset,
            )
            + raw_name
            + c_extra
        )
    cd_start = offset
    for entry in central:
        put(entry)
    cd_size = offset - cd_start
    if cd_start >= big:
        z64_end = offset
        put(
            struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                45,
                45,
                0,
                0,
                len(central),
                len(central),
                cd_size,
                cd_start,
            )
        )
        put(struct.pack("<IIQI", 0x07064B50, 0, z64_end, 1))
    put(
        struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            len(central),
            len(central),
            cd_size,
            big if cd_start >= big else cd_start,
            0,
        )
    )


def read_parts(package: bytes) -> list[tuple[str, bytes]]:
    """Return the parts of a small ZIP package (xlsxwriter's skeleton), in order."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]
