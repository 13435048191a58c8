"""Text cleaning: the Arrow implementation against a plain per-value reference."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from smartstreet_geo.io._fields import clean_texts
from smartstreet_geo.schema import MAX_FIELD_LENGTH

# characters that matter: every kind of whitespace Python knows, controls, punctuation,
# accents and symbols (several bytes per character) and plain letters
_ALPHABET = st.sampled_from(
    list(
        " \t\n\r\f\v\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000|,\"'aZ09é€😀\x00\x07"
    )
)
_VALUES = st.one_of(st.none(), st.text(_ALPHABET, max_size=12))


def reference(value: str | None) -> str | None:
    """What a careful analyst means: trim, one space for each run, blank is missing."""
    if value is None:
        return None
    out = re.sub(r"\s+", " ", value.strip())
    return out or None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_VALUES, min_size=1, max_size=3), min_size=1, max_size=25))
def test_clean_texts_equals_reference(rows):
    width = max(len(r) for r in rows)
    table = [r + [None] * (width - len(r)) for r in rows]
    columns = [pd.Series([row[c] for row in table], dtype="str") for c in range(width)]
    for c, (text, long) in enumerate(clean_texts(columns)):
        expected = [reference(row[c]) for row in table]
        got = [None if pd.isna(v) else v for v in text.tolist()]
        assert got == expected
        assert not long.any()


def test_too_long_counts_characters_not_bytes():
    at_limit = "é" * MAX_FIELD_LENGTH  # 2 bytes each: over the limit in bytes only
    over = "a" * (MAX_FIELD_LENGTH + 1)
    ((text, long),) = clean_texts([pd.Series([at_limit, over, None, "  "], dtype="str")])
    assert long.tolist() == [False, True, False, False]
    assert text.isna().tolist() == [False, False, True, True]


def test_numbers_read_as_floats_print_as_ids():
    ((text, _),) = clean_texts([pd.Series([1600000000001.0, np.nan, 7.0])])
    assert text.tolist()[0] == "1600000000001" and pd.isna(text.tolist()[1])


def test_whole_buffer_scan_respects_chunks_and_slices():
    import pyarrow as pa

    from smartstreet_geo.io._fields import _WS_NEEDS_FIX, _any_match

    dirty = pa.array(["a  b", "c", "d"])  # the run is only in the sliced-off first value
    assert _any_match(pa.chunked_array([dirty]), _WS_NEEDS_FIX)
    assert not _any_match(pa.chunked_array([dirty.slice(1)]), _WS_NEEDS_FIX)
    tail = pa.array(["x", "y\tz"], pa.large_string())
    assert _any_match(pa.chunked_array([tail.slice(1)]), _WS_NEEDS_FIX)
    assert not _any_match(pa.chunked_array([tail.slice(0, 1)]), _WS_NEEDS_FIX)
    assert not _any_match(pa.chunked_array([pa.array([None, None], pa.string())]), _WS_NEEDS_FIX)
    assert not _any_match(pa.chunked_array([], pa.string()), _WS_NEEDS_FIX)
