"""An Arrow text array's buffers as numpy views, for the code that reads them directly."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["text_buffers"]


def text_buffers(arr: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Return a ``string``/``large_string`` array's offsets and its data bytes, no copy.

    The offsets are the array's own ``n + 1`` (its slice of the buffer, so they need not
    start at 0): value ``i`` is ``data[offsets[i]:offsets[i + 1]]``. ``large_string``
    offsets are a view; 32-bit ones are widened (a copy of the offsets only). The data is
    the whole buffer (empty when the array has none). A null slot's bytes are empty or to
    be ignored.

    Examples
    --------
    >>> offsets, data = text_buffers(pa.array(["ab", None, "c"], pa.large_string())[1:])
    >>> offsets.tolist(), bytes(data[offsets[0] : offsets[-1]])
    ([2, 2, 3], b'c')
    """
    n = len(arr)
    buffers = arr.buffers()
    if buffers[1] is None:  # (an empty array may have no offsets)
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    wide = pa.types.is_large_string(arr.type)
    stored = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
    offsets: npt.NDArray[np.int64] = np.asarray(
        stored[arr.offset : arr.offset + n + 1], dtype=np.int64
    )
    if buffers[2] is None:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(buffers[2], dtype=np.uint8)
