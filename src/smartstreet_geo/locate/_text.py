"""Address text made comparable: one canonical spelling, words apart from numbers.

Both sides of a comparison (the customer's address lines and the gazetteer's
parts) go through the same steps, column-wise with pyarrow (no Python loop per
address):

1. upper case; apostrophes removed (``ST JOHN'S`` = ``ST JOHNS``); anything
   but letters and digits becomes a space;
2. abbreviations of street types and other common words are spelled out
   (``RD`` -> ``ROAD``, ``AVE`` -> ``AVENUE`` ...). ``ST`` and ``SAINT`` both
   become ``STREET`` (both sides alike, so no guess between the two is
   needed). Full words keep different street types apart: ``OAK RD`` and
   ``OAK DR`` differ by two letters of six, ``OAK ROAD`` and ``OAK DRIVE`` by
   most of them;
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

__all__ = ["MAX_NUMBERS", "arrow_text", "normalise_address", "split_numbers"]

#: Numbers kept per address (flat, building, range end); more are rare and ignored.
MAX_NUMBERS = 4

# canonical token: spellings (all matched as whole words)
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ROAD": ("RD",),
    "STREET": ("ST", "STR", "SAINT"),
    "AVENUE": ("AVE", "AV", "AVN"),
    "LANE": ("LN",),
    "DRIVE": ("DR", "DRV"),
    "CLOSE": ("CL",),
    "CRESCENT": ("CRES", "CRESC", "CRS"),
    "GROVE": ("GR", "GRV"),
    "GARDENS": ("GDNS", "GDN"),
    "PLACE": ("PL",),
    "SQUARE": ("SQ",),
    "TERRACE": ("TER", "TERR", "TCE"),
    "COURT": ("CT", "CRT"),
    "PARK": ("PK",),
    "WAY": ("WY",),
    "HOUSE": ("HSE", "HO"),
    "COTTAGE": ("COTT",),
    "COTTAGES": ("COTTS",),
    "MOUNT": ("MT",),
    "NORTH": ("N",),
    "SOUTH": ("S",),
    "EAST": ("E",),
    "WEST": ("W",),
    "UPPER": ("UPR",),
    "LOWER": ("LWR",),
    "GREEN": ("GRN",),
    "FARM": ("FM",),
}
_FLAT_WORDS = ("FLAT", "FLT", "APARTMENT", "APARTMENTS", "APT", "UNIT", "MAISONETTE")


# one lookup table, applied token by token (one pass, instead of a regex pass per word)
_KEYS = pa.array([w for ws in _SYNONYMS.values() for w in ws] + list(_FLAT_WORDS), pa.string())
_VALUES = pa.array([c for c, ws in _SYNONYMS.items() for _ in ws] + [""] * len(_FLAT_WORDS))


def arrow_text(values: pd.Series) -> pa.Array:
    """Text as one Arrow array; characters UTF-8 cannot hold (lone surrogates) become ``?``."""
    try:
        arr = pa.array(values.astype("str"), type=pa.string(), from_pandas=True)
    except UnicodeEncodeError:  # rare: clean value by value only then
        clean = values.astype(object).map(
            lambda v: v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v
        )
        arr = pa.array(clean.astype("str"), type=pa.string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


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
    ['2 14 OAK ROAD PEMBERTON', 'STREET JOHNS AVENUE']
    """
    # missing parts are blanked first: pyarrow's "skip" null handling drops all-null rows
    arrays = [pc.fill_null(arrow_text(p), "") for p in parts]
    text = arrays[0] if arrays else pa.array([], pa.string())
    for more in arrays[1:]:
        text = pc.binary_join_element_wise(text, more, " ")
    text = pc.utf8_upper(text)
    for mark in ("'", "’", "`"):  # literal replacements: cheaper than a regex
        text = pc.replace_substring(text, mark, "")
    text = pc.replace_substring_regex(text, r"[^A-Z0-9]+", " ")
    # "14 A OAK RD" and "14A OAK RD" are one number: join a lone letter to the number before it
    text = pc.replace_substring_regex(text, r"\b([0-9]+) ([A-Z])\b", r"\1\2")
    text = pc.utf8_trim_whitespace(text)
    tokens = pc.split_pattern(text, " ")
    flat = pc.list_flatten(tokens)
    at = pc.index_in(flat, value_set=_KEYS)
    mapped = pc.if_else(pc.is_null(at), flat, pc.take(_VALUES, pc.fill_null(at, 0)))
    keep = pc.not_equal(mapped, "")
    owner = np.asarray(pc.list_parent_indices(tokens).to_numpy(), dtype=np.int64)
    kept = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
    counts = np.bincount(owner[kept], minlength=len(text))
    offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    return pc.binary_join(pa.ListArray.from_arrays(offsets, mapped.filter(keep)), " ")


def split_numbers(
    text: pa.Array, codes: dict[str, int], *, drop: pa.Array | None = None
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    """Split normalised addresses into words and number codes.

    Parameters
    ----------
    text : pyarrow.Array of str
        From :func:`normalise_address`.
    codes : dict
        ``{number token: code}``, shared by every call that will be compared
        (extended in place).
    drop : pyarrow.Array of str, optional
        Words to leave out (place names that are never part of a street or
        building name).

    Returns
    -------
    words : numpy.ndarray of str
        The tokens without digits, space-joined, in their order.
    numbers : numpy.ndarray of int64, shape (n, MAX_NUMBERS)
        Codes of the number tokens, sorted ascending per row, padded with -1.

    Examples
    --------
    >>> codes = {}
    >>> words, nums = split_numbers(pa.array(["2 14 OAK ROAD", "ROSE COTTAGE"]), codes)
    >>> words.tolist(), nums.tolist(), codes
    (['OAK ROAD', 'ROSE COTTAGE'], [[0, 1, -1, -1], [-1, -1, -1, -1]], {'2': 0, '14': 1})
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
    if drop is not None and len(drop):
        keep_w &= ~np.asarray(pc.is_in(flat, value_set=drop).to_numpy(zero_copy_only=False))
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
        inv, uniq = pd.factorize(values)
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
