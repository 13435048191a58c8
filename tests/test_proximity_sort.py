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
