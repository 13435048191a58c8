"""A partition's result packed for the trip to the client comes back as it was."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from smartstreet_geo.distributed._packed import PACKED_TABLES, pack_part


def _result() -> SimpleNamespace:
    mixed = pd.DataFrame(
        {
            "text": pd.Series(["a", None, "=1"], dtype="str"),
            "mixed": pd.Series([None, 2.5, "x"], dtype=object),  # Parquet would refuse or coerce
            "flag": [True, False, True],
            "n": np.array([1, 2, 3], dtype="int64"),
        }
    )
    customers = gpd.GeoDataFrame(
        {"customer_id": ["1", "2"]},
        geometry=shapely.points([350000.0, 350001.0], [400000.0, 400001.0]),
        crs="EPSG:27700",
    )
    return SimpleNamespace(
        manifest={"part": {"inputs": {}}},
        contacts=mixed,
        reconciliation=mixed.iloc[:0],
        manual_review=mixed.iloc[1:],
        customers=customers,
        nominee_copies=None,
        rejects=mixed,
        equipment=pd.DataFrame({"equipment_id": ["E1"]}),
        edges=None,
        substations=None,
    )


def test_tables_come_back_with_their_values_dtypes_and_types():
    result = _result()
    packed = pack_part(result)
    assert packed.nbytes > 0
    for name in PACKED_TABLES:
        got, want = packed.take(name), getattr(result, name)
        if want is None:
            assert got is None
            continue
        assert type(got) is type(want)
        pd.testing.assert_frame_equal(got, want)
        assert list(got.dtypes) == list(want.dtypes)
        if isinstance(want, gpd.GeoDataFrame):
            assert got.crs == want.crs and got.geometry.name == want.geometry.name
    assert [type(v) for v in _result().contacts["mixed"]] == [
        type(v) for v in pack_part(_result()).take("contacts")["mixed"]
    ]
    assert not packed.packed  # each table let go once taken


def test_a_table_is_taken_once():
    packed = pack_part(_result())
    packed.take("contacts")
    with pytest.raises(KeyError):
        packed.take("contacts")
