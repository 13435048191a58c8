"""Output order: ids sorted as text, whatever shortcut the sort takes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from smartstreet_geo.proximity._inputs import stable_argsort

digit_ids = st.lists(st.from_regex(r"[0-9]{1,4}", fullmatch=True), min_size=0, max_size=60)


@settings(max_examples=200, deadline=None)
@given(ids=digit_ids, pad=st.booleans())
def test_stable_argsort_is_text_order(ids, pad):
    if pad:  # equal-length digit strings (like MPANs) take the integer shortcut
        ids = [i.zfill(4) for i in ids]
    series = pd.Series(ids, dtype="str")
    expected = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    assert stable_argsort(series).tolist() == expected.tolist()


def _radix_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    big = 1 << 16  # above the size where the compiled radix sort takes over
    return [
        1_000_000_000_000 + rng.permutation(big).astype(np.int64) * 7,  # MPAN-like, unique
        rng.integers(0, 50, big),  # many duplicates: stability shows
        rng.integers(-(2**63), 2**63 - 1, big, endpoint=True, dtype=np.int64),  # full range
        np.r_[np.zeros(big, np.int64), rng.integers(0, 2**50, 100)],  # one huge bucket
        np.arange(big, dtype=np.int32)[::-1],  # other widths
        rng.integers(0, 2**63, big, dtype=np.uint64),
        np.full(big, 42, np.int64),
    ]


def test_radix_argsort_equals_numpy_stable_sort():
    for keys in _radix_cases():
        expected = np.argsort(keys, kind="stable")
        assert np.array_equal(stable_argsort(keys), expected)
        assert np.array_equal(stable_argsort(pd.Series(keys)), expected)


def test_uint64_beyond_int64_falls_back_to_numpy():
    keys = np.random.default_rng(4).integers(0, 2**64 - 1, 1 << 16, dtype=np.uint64)
    assert np.array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))


def test_digits_of_other_scripts_sort_as_text():
    ids = pd.Series(["١٢", "12", "٠٩", "07"], dtype="str")  # Arabic-Indic digits are digits too
    expected = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    assert stable_argsort(ids).tolist() == expected.tolist()
