"""A run's customers are held as coordinates; their points are made only when read (issue 14).

The oracle for every check is the GeoDataFrame the run held before: the same run with the
customers kept as they came from the reader (``CustomerTable.of`` made the identity).
"""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

import smartstreet_geo as ssg
from smartstreet_geo.campaign import _points, run_campaign
from smartstreet_geo.campaign import run as run_module
from smartstreet_geo.campaign._partition import slim_customers
from smartstreet_geo.campaign._points import CustomerTable
from smartstreet_geo.export import write_campaign
from smartstreet_geo.maps import campaign_map


def _frame(seed: int, n: int, *, name: str = "geometry", missing: float = 0.0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(100_000, 700_000, n).round(3)
    y = rng.uniform(10_000, 1_200_000, n)
    geoms = np.asarray(shapely.points(x, y), dtype=object)
    geoms[rng.random(n) < missing] = None
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i}" for i in range(n)], dtype="str"),
            name: geoms,
            "psr": rng.random(n) < 0.1,
            "source_row": np.arange(2, n + 2),
        },
        index=pd.Index(rng.permutation(n) + 10),
    )
    return gpd.GeoDataFrame(frame, geometry=name, crs="EPSG:27700")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["geometry", "where"])
def test_a_table_gives_back_the_frame_it_was_made_from(seed, name):
    frame = _frame(seed, int(np.random.default_rng(seed).integers(0, 400)), name=name, missing=0.1)
    table = CustomerTable.of(frame)
    assert isinstance(table, CustomerTable) and len(table) == len(frame)
    assert name not in table.frame.columns
    assert_geodataframe_equal(table.geodataframe(), frame)
    assert list(table.geodataframe().columns) == list(frame.columns)
    np.testing.assert_array_equal(table.x, shapely.get_x(frame.geometry.values))  # NaN: None
    # slimmed as the GeoDataFrame is slimmed (the geometry last)
    assert_geodataframe_equal(
        slim_customers(table).geodataframe(), slim_customers(frame), check_like=False
    )


@pytest.mark.parametrize(
    "odd",
    [
        shapely.Point(),  # empty
        shapely.Point(1, 2, 3),  # 3-D
        shapely.LineString([(400_000, 300_000), (400_010, 300_000)]),
        shapely.Point(np.inf, 300_000),
    ],
)
def test_anything_but_plain_points_is_kept_as_it_is(odd):
    frame = _frame(1, 20)
    frame.loc[frame.index[3], "geometry"] = odd
    assert CustomerTable.of(frame) is frame


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """The demo campaign run as it is, and with the customers' points held throughout."""
    result = run_campaign(ssg.demo.path("campaign"), new_register=True)
    mp = pytest.MonkeyPatch()
    mp.setattr(run_module.CustomerTable, "of", classmethod(lambda cls, customers: customers))
    try:
        held = run_campaign(ssg.demo.path("campaign"), new_register=True)
    finally:
        mp.undo()
    return result, held, tmp_path_factory.mktemp("out")


def test_writing_mapping_and_counting_make_no_points(demo_runs, monkeypatch):
    result, held, out = demo_runs
    assert isinstance(result.__dict__["customers"], CustomerTable)
    assert isinstance(held.__dict__["customers"], gpd.GeoDataFrame)

    def refuse(self):
        raise AssertionError("the customers' points were made")

    monkeypatch.setattr(_points.CustomerTable, "geodataframe", refuse)
    write_campaign(result, out / "files")
    campaign_map(result, tiles="none")
    assert result.count_summary() == held.count_summary()
    pd.testing.assert_frame_equal(result.status_table(), held.status_table())
    repr(result)
    result._repr_html_()
    assert isinstance(result.__dict__["customers"], CustomerTable)


def test_the_customers_read_are_the_ones_held_before(demo_runs):
    result, held, _ = demo_runs
    copy = pickle.loads(pickle.dumps(result))  # (a Dask partition's result travels so)
    assert isinstance(copy.__dict__["customers"], CustomerTable)
    for r in (result, copy):
        customers = r.customers
        assert isinstance(customers, gpd.GeoDataFrame)
        assert_geodataframe_equal(customers, held.customers)
        assert r.customers is customers  # made once, then kept
    assert isinstance(result.__dict__["customers"], gpd.GeoDataFrame)


def test_the_map_is_the_same_drawn_from_coordinates(demo_runs):
    from smartstreet_geo.maps._api import page_bytes

    fresh = run_campaign(ssg.demo.path("campaign"), new_register=True)
    _, held, _ = demo_runs
    assert isinstance(fresh.__dict__["customers"], CustomerTable)
    for internal in (False, True):
        a = page_bytes(campaign_map(fresh, tiles="none", internal=internal))
        b = page_bytes(campaign_map(held, tiles="none", internal=internal))
        assert a == b
    assert isinstance(fresh.__dict__["customers"], CustomerTable)
