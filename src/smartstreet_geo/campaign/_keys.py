"""One rule for "is this value given?": a missing or blank value is unknown and matches nothing."""

from __future__ import annotations

import pandas as pd

from .phones import _missing

__all__ = ["known"]


def known(values: pd.Series) -> pd.Series:
    r"""Return True where a value is present and not blank (a missing key matches nothing).

    Text columns are checked with vectorised string methods; an ``object``
    column is checked value by value, since it may hold text the Arrow string
    type cannot (a lone surrogate) or values that are not text at all.

    Examples
    --------
    >>> import pandas as pd
    >>> known(pd.Series(["C1", "", "  ", None])).tolist()
    [True, False, False, False]
    >>> known(pd.Series(["a\ud800", 5, float("nan")], dtype=object)).tolist()
    [True, True, False]
    """
    if values.dtype == object:
        return pd.Series(
            [v.strip() != "" if isinstance(v, str) else not _missing(v) for v in values],
            index=values.index,
            dtype=bool,
        )
    text = values.astype("str")
    return (values.notna() & text.str.strip().ne("")).fillna(False).astype(bool)
