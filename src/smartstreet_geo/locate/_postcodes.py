"""Postcodes: normalising, validating and checking coordinates against them.

The check uses a table of postcode-district centres derived from OS Code-Point
Open (``data/postcode_districts.csv``, built by
``data/build_postcode_districts.py``). Contains OS data © Crown copyright and
database right.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import Reason

__all__ = [
    "check_against_postcodes",
    "district_table",
    "is_valid_postcode",
    "normalise_postcode",
    "normalise_postcodes",
    "postcode_district",
    "valid_postcodes",
]

# The Royal Mail format (BS 7666): outward code A9, A99, AA9, AA99, A9A, AA9A; inward 9AA.
# Letters not used in given positions are excluded, as in the government data standard.
_POSTCODE_RE = re.compile(
    r"^(?:GIR 0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r" [0-9][ABD-HJLNP-UW-Z]{2})$"
)

#: Slack added to a district's radius before a point is called inconsistent with it.
DISTRICT_MARGIN_M = 2_000.0


def normalise_postcode(value: str) -> str:
    """Return ``value`` upper-cased with exactly one space before the inward code.

    Parameters
    ----------
    value : str

    Returns
    -------
    str
        The normalised text; it may still be invalid (see :func:`is_valid_postcode`).

    Examples
    --------
    >>> normalise_postcode(" wn5  9xp ")
    'WN5 9XP'
    >>> normalise_postcode("m94ab")
    'M9 4AB'
    """
    return str(normalise_postcodes(pd.Series([value], dtype="str")).iloc[0])


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_postcode` (missing stays missing).

    Examples
    --------
    >>> normalise_postcodes(pd.Series([" wn5  9xp ", "m94ab", None, "WN12"])).tolist()
    ['WN5 9XP', 'M9 4AB', nan, 'WN12']
    """
    arr = pa.array(values.astype("str"), from_pandas=True)
    arr = pc.utf8_upper(pc.replace_substring_regex(arr, r"\s+", ""))
    compact = pd.Series(pd.array(arr, dtype="str"), index=values.index)
    split = compact.str.slice(0, -3) + " " + compact.str.slice(-3)
    return split.where(compact.str.len() >= 5, compact).astype("str")


def valid_postcodes(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Vectorised :func:`is_valid_postcode`; missing values are not valid.

    Examples
    --------
    >>> valid_postcodes(pd.Series(["CA22 2AB", "M9 4XXX", None])).tolist()
    [True, False, False]
    """
    arr = pa.array(values.astype("str"), from_pandas=True)
    hit = pc.fill_null(pc.match_substring_regex(arr, _POSTCODE_RE.pattern), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def is_valid_postcode(value: str) -> bool:
    """Return True when ``value`` (already normalised) has the UK postcode format.

    Examples
    --------
    >>> is_valid_postcode("CA22 2AB"), is_valid_postcode("M9 4XXX"), is_valid_postcode("WN12")
    (True, False, False)
    """
    return bool(valid_postcodes(pd.Series([value], dtype="str"))[0])


def postcode_district(postcode: str) -> str:
    """Return the outward code (district) of a normalised postcode.

    Examples
    --------
    >>> postcode_district("CA7 9QT")
    'CA7'
    """
    return postcode.split(" ", 1)[0]


@lru_cache(maxsize=1)
def district_table() -> pd.DataFrame:
    """Return the packaged postcode-district centres (indexed by district).

    Returns
    -------
    DataFrame
        Columns ``easting``, ``northing`` (mean of the district's unit postcodes,
        metres), ``radius_m`` (centre to farthest unit) and ``units``.
    """
    path = files("smartstreet_geo").joinpath("data/postcode_districts.csv")
    with path.open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, dtype={"district": str})
    return table.set_index("district")


def check_against_postcodes(
    x: npt.ArrayLike, y: npt.ArrayLike, postcodes: npt.ArrayLike
) -> npt.NDArray[np.object_]:
    """Check National Grid points against their postcode districts.

    A point farther from its district's centre than the district's radius plus
    :data:`DISTRICT_MARGIN_M` is inconsistent. If the swapped pair would be
    consistent the reason is ``swapped_coordinates``, otherwise
    ``postcode_location_mismatch``. Districts missing from the table (new or
    non-geographic postcodes) are not judged.

    Parameters
    ----------
    x, y : array_like
        Eastings and northings, metres.
    postcodes : array_like of str
        Normalised, valid postcodes (others are not judged).

    Returns
    -------
    numpy.ndarray of object
        ``None`` where consistent or not judged, else a reason code.

    Examples
    --------
    A Wigan point, the same point swapped, and a Wigan postcode placed in Carlisle:

    >>> check_against_postcodes(
    ...     [354500.0, 404100.0, 340000.0], [404100.0, 354500.0, 556000.0],
    ...     ["WN5 9XP", "WN5 9XP", "WN5 9XP"]).tolist()
    [None, 'swapped_coordinates', 'postcode_location_mismatch']
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    pcs = (
        postcodes.reset_index(drop=True)
        if isinstance(postcodes, pd.Series)
        else pd.Series(np.asarray(postcodes, dtype=object), dtype="str")
    )
    table = district_table()
    # look each distinct postcode up once (a file has ~20 customers per postcode unit)
    codes, uniques = pd.factorize(pcs)
    outward = pd.Series(uniques, dtype="str").str.slice(0, -4)  # "WN5 9XP" -> "WN5"
    idx_u = table.index.get_indexer(pd.Index(outward))
    idx = np.where(codes >= 0, idx_u[np.clip(codes, 0, None)] if idx_u.size else -1, -1)
    known = idx >= 0
    out = np.full(xa.shape, None, dtype=object)
    if not known.any():
        return out
    everyone = bool(known.all())  # the usual case: no copies of a million points
    rows = idx if everyone else idx[known]
    cx = table["easting"].to_numpy(dtype=np.float64)[rows]
    cy = table["northing"].to_numpy(dtype=np.float64)[rows]
    limit = table["radius_m"].to_numpy(dtype=np.float64)[rows] + DISTRICT_MARGIN_M
    kx, ky = (xa, ya) if everyone else (xa[known], ya[known])
    dx, dy = kx - cx, ky - cy
    far = np.flatnonzero(dx * dx + dy * dy > limit * limit)  # few: object writes only there
    swapped_ok = np.hypot(ky[far] - cx[far], kx[far] - cy[far]) <= limit[far]
    at = far if everyone else np.flatnonzero(known)[far]
    out[at[swapped_ok]] = Reason.SWAPPED_COORDINATES.value
    out[at[~swapped_ok]] = Reason.POSTCODE_LOCATION_MISMATCH.value
    return out
