"""Address text made comparable: one canonical spelling, words apart from numbers.

Both sides of a comparison (the customer's address lines and the gazetteer's
parts) go through the same steps, column-wise with pyarrow (no Python loop per
address):

1. upper case; apostrophes removed (``ST JOHN'S`` = ``ST JOHNS``); anything
   but letters and digits becomes a space;
2. street-type words and their abbreviations are brought to one token
   (``ROAD``/``RD`` -> ``RD``, ``STREET``/``ST``/``SAINT`` -> ``ST`` ...): the
   contracted form, so that ``ST`` needs no guess between street and saint;
3. words that only say "this is a flat" (``FLAT``, ``APARTMENT``, ``APT``,
   ``UNIT``, ``FLT``) are dropped - the number that follows them stays;
4. tokens holding a digit (``14``, ``14A``, ``2B``) are the address's
   *numbers*, compared exactly (a fuzzy score would call 14 and 16 Oak Road
   nearly the same house); the other tokens are the *words*, compared fuzzily.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_NUMBERS", "normalise_address", "split_numbers"]

#: Numbers kept per address (flat, building, range end); more are rare and ignored.
MAX_NUMBERS = 4

# canonical token: spellings (all matched as whole words)
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "RD": ("ROAD",),
    "ST": ("STREET", "STR", "SAINT"),
    "AVE": ("AVENUE", "AV", "AVN"),
    "LN": ("LANE",),
    "DR": ("DRIVE", "DRV"),
    "CL": ("CLOSE",),
    "CRES": ("CRESCENT", "CRESC", "CRS"),
    "GR": ("GROVE", "GRV"),
    "GDNS": ("GARDENS", "GDN", "GARDEN"),
    "PL": ("PLACE",),
    "SQ": ("SQUARE",),
    "TER": ("TERRACE", "TERR", "TCE"),
    "CT": ("COURT", "CRT"),
    "PK": ("PARK",),
    "WY": ("WAY",),
    "HSE": ("HOUSE", "HO"),
    "COTT": ("COTTAGE", "COTTAGES", "COTTS"),
    "MT": ("MOUNT",),
    "N": ("NORTH",),
    "S": ("SOUTH",),
    "E": ("EAST",),
    "W": ("WEST",),
    "UPR": ("UPPER",),
    "LWR": ("LOWER",),
    "GRN": ("GREEN",),
    "BROW": ("BRW",),
    "FARM": ("FM",),
}
_FLAT_WORDS = ("FLAT", "FLT", "APARTMENT", "APARTMENTS", "APT", "UNIT", "MAISONETTE")


def _words_re(words: tuple[str, ...]) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


def normalise_address(parts: list[pd.Series]) -> pa.Array:
    """Join address parts (missing ones skipped) and normalise them (see module notes).

    Parameters
    ----------
    parts : list of Series
        Text columns of equal length (address lines, or gazetteer parts).

    Returns
    -------
    pyarrow.Array of str
        One normalised address per row ("" when every part is missing).

    Examples
    --------
    >>> normalise_address([pd.Series(["Flat 2, 14 Oak Road", "St. John's Avenue"]),
    ...                    pd.Series(["Pemberton", None])]).to_pylist()
    ['2 14 OAK RD PEMBERTON', 'ST JOHNS AVE']
    """
    # missing parts are blanked first: pyarrow's "skip" null handling drops all-null rows
    arrays = [
        pc.fill_null(pa.array(p.astype("str"), type=pa.string(), from_pandas=True), "")
        for p in parts
    ]
    text = arrays[0] if arrays else pa.array([], pa.string())
    for more in arrays[1:]:
        text = pc.binary_join_element_wise(text, more, " ")
    text = pc.utf8_upper(text)
    text = pc.replace_substring_regex(text, r"['’`]", "")
    text = pc.replace_substring_regex(text, r"[^A-Z0-9]+", " ")
    for canon, spellings in _SYNONYMS.items():
        text = pc.replace_substring_regex(text, _words_re(spellings), canon)
    text = pc.replace_substring_regex(text, _words_re(_FLAT_WORDS), " ")
    # "14 A OAK RD" and "14A OAK RD" are one number: join a lone letter to the number before it
    text = pc.replace_substring_regex(text, r"\b([0-9]+) ([A-Z])\b", r"\1\2")
    text = pc.replace_substring_regex(text, r" +", " ")
    return pc.utf8_trim_whitespace(text)


def split_numbers(
    text: pa.Array, codes: dict[str, int]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    """Split normalised addresses into words and number codes.

    Parameters
    ----------
    text : pyarrow.Array of str
        From :func:`normalise_address`.
    codes : dict
        ``{number token: code}``, shared by every call that will be compared
        (extended in place).

    Returns
    -------
    words : numpy.ndarray of str
        The tokens without digits, space-joined, in their order.
    numbers : numpy.ndarray of int64, shape (n, MAX_NUMBERS)
        Codes of the number tokens, sorted ascending per row, padded with -1.

    Examples
    --------
    >>> codes = {}
    >>> words, nums = split_numbers(pa.array(["2 14 OAK RD", "ROSE COTT"]), codes)
    >>> words.tolist(), nums.tolist(), codes
    (['OAK RD', 'ROSE COTT'], [[0, 1, -1, -1], [-1, -1, -1, -1]], {'14': 0, '2': 1})
    """
    n = len(text)
    tokens = pc.split_pattern(text, " ")
    flat = pc.list_flatten(tokens)
    owner = np.asarray(pc.list_parent_indices(tokens).to_numpy(), dtype=np.int64)
    is_num = np.asarray(
        pc.fill_null(pc.match_substring_regex(flat, r"[0-9]"), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    # words: keep the non-number tokens, rejoin per row (pyarrow list ops, no Python loop)
    keep_w = ~is_num
    counts = np.bincount(owner[keep_w], minlength=n)
    offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    rebuilt = pa.ListArray.from_arrays(offsets, flat.filter(pa.array(keep_w)))
    words = pc.binary_join(rebuilt, " ")
    words_np = np.asarray(pc.fill_null(words, "").to_numpy(zero_copy_only=False), dtype=object)
    # numbers: code each token, then place them in a (n, MAX_NUMBERS) table, sorted per row
    nums = np.full((n, MAX_NUMBERS), -1, dtype=np.int64)
    at = np.flatnonzero(is_num)
    if at.size:
        values = np.asarray(flat.take(pa.array(at)).to_numpy(zero_copy_only=False), dtype=object)
        uniq, inv = np.unique(values, return_inverse=True)
        lookup = np.empty(len(uniq), dtype=np.int64)
        for i, u in enumerate(uniq.tolist()):  # distinct numbers only: a few thousand
            lookup[i] = codes.setdefault(u, len(codes))
        code = lookup[inv]
        rows = owner[at]
        order = np.lexsort((code, rows))
        rows, code = rows[order], code[order]
        first = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
        pos = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
        keep = pos < MAX_NUMBERS
        nums[rows[keep], pos[keep]] = code[keep]
    return words_np, nums
