"""Writing output files safely: atomic, owner-only, spreadsheet-formula-safe.

Every file smartstreet-geo writes goes through :func:`atomic_write_bytes`: the
bytes go to a temporary file in the target folder, are flushed to disk, and
then replace the target in one step, so an interrupted run never leaves a
half-written list (the previous file, if any, stays intact). Files are created
readable by their owner only (mode 0600): they hold personal data.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write_bytes", "neutralise_formulae", "write_csv"]

#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
FILE_MODE = 0o600


def neutralise_formulae(values: pd.Series) -> pd.Series:
    """Prefix a quote to text that a spreadsheet would run as a formula.

    Cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return are
    prefixed with ``'`` (shown by spreadsheets, never executed). A cell that
    is just a number (``-2.5``, ``+44``) is left alone.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    pandas.Series
        Non-text values unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_formulae(pd.Series(["=1+1", "-2.5", "@SUM(A1)", "Oak St", None])).tolist()
    ["'=1+1", '-2.5', "'@SUM(A1)", 'Oak St', nan]
    """
    if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        return values
    text = values.astype("str")
    risky = text.str.startswith(FORMULA_TRIGGERS).fillna(False).astype(bool)
    risky &= ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + text[risky]
    return out


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = FILE_MODE) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    Parameters
    ----------
    path : str or Path
        The target; its folder must exist.
    data : bytes
    mode : int, default 0o600

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def write_csv(frame: pd.DataFrame, path: str | Path, *, float_format: str | None = None) -> Path:
    """Write ``frame`` as UTF-8 CSV, formula-safe, atomically, owner-only.

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
    float_format : str, optional
        Passed to :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    Path
    """
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = neutralise_formulae(safe[col])
    buf = io.StringIO()
    safe.to_csv(buf, index=False, lineterminator="\n", float_format=float_format)
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
