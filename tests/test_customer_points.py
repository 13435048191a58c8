"""A run's customers are held as coordinates; their points are made only when read (issue 14).

The oracle for every check is the GeoDataFrame the run held before: the same run with the
customers kept as they came from the reader (``CustomerTable.of`` made the identity).
"""

from __future__ import annotations

import dataclasses
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
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


def _held_throughout(mp: pytest.MonkeyPatch) -> None:
    """Make a run read its customers as points and hold them so (the run as it was)."""
    mp.setattr(run_module, "read_customer_table", ssg.read_customers)
    mp.setattr(run_module.CustomerTable, "of", classmethod(lambda cls, customers: customers))


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """The demo campaign run as it is, and with the customers' points held throughout."""
    result = run_campaign(ssg.demo.path("campaign"), new_register=True)
    mp = pytest.MonkeyPatch()
    _held_throughout(mp)
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


# --------------------------------------------------------------------------- read as a table
def _demo_rows(n: int = 4_000) -> pd.DataFrame:
    """Demo customers with rows the reader rejects: no coordinates, swapped, a duplicate."""
    frame = pd.read_parquet(ssg.demo.path("customers")).iloc[:n].reset_index(drop=True)
    frame.loc[3, ["easting", "northing"]] = np.nan
    frame.loc[8, ["easting", "northing"]] = frame.loc[8, ["northing", "easting"]].to_numpy()
    frame["easting"] = frame["easting"].astype(object)
    frame.loc[11, "easting"] = "not a number"
    return pd.concat([frame, frame.iloc[[20]]], ignore_index=True)


def _as_read(read) -> gpd.GeoDataFrame:
    data = read.data
    return data.geodataframe() if isinstance(data, CustomerTable) else data


def _lonlat(frame: pd.DataFrame) -> pd.DataFrame:
    from smartstreet_geo.crs import bng_to_lonlat

    out = frame.drop(columns=["easting", "northing"])
    e = pd.to_numeric(frame["easting"], errors="coerce").to_numpy(dtype=float)
    n = pd.to_numeric(frame["northing"], errors="coerce").to_numpy(dtype=float)
    out["longitude"], out["latitude"] = bng_to_lonlat(e, n)
    return out


@pytest.mark.parametrize("layout", ["bng", "lonlat", "both_pairs", "geopackage", "csv"])
def test_reading_a_table_is_reading_points_without_the_points(layout, tmp_path):
    """The oracle: read_customers on the same input; a table where no point is needed."""
    from smartstreet_geo.io.readers import read_customer_table

    frame = _demo_rows()
    source: object = frame
    if layout == "lonlat":
        source = _lonlat(frame)
    elif layout == "both_pairs":
        source = pd.concat([frame, _lonlat(frame)[["longitude", "latitude"]]], axis=1)
    elif layout == "geopackage":
        points = ssg.read_customers(frame).data
        source = tmp_path / "customers.gpkg"
        points.drop(columns=["source_row"]).to_file(source)
    elif layout == "csv":
        source = tmp_path / "customers.csv"
        frame.to_csv(source, index=False)
    expected = ssg.read_customers(source)
    got = read_customer_table(source)
    # coordinates from columns: no point made; a geometry of the file's own, or two pairs
    # compared as points: the GeoDataFrame as read_customers gives it
    as_table = layout in ("bng", "lonlat", "csv")
    assert isinstance(got.data, CustomerTable) is as_table
    assert_geodataframe_equal(_as_read(got), expected.data)
    assert shapely.equals_exact(
        _as_read(got).geometry.values, expected.data.geometry.values, 0
    ).all()
    pd.testing.assert_frame_equal(got.rejects, expected.rejects)
    assert got.n_input == expected.n_input and got.summary() == expected.summary()
    assert got.notes == expected.notes and got.columns_used == expected.columns_used
    if as_table:
        assert expected.rejects["reason_code"].nunique() >= 3  # the odd rows were there


@pytest.mark.parametrize("seed", range(3))
def test_geo_rows_of_a_table_are_the_frames_rows(seed):
    from smartstreet_geo._customer_table import geo_rows

    frame = _frame(seed, 300)
    table = CustomerTable.of(frame)
    rng = np.random.default_rng(seed)
    for rows in (rng.random(300) < 0.2, rng.permutation(300)[:40], np.zeros(0, np.intp)):
        assert_geodataframe_equal(geo_rows(table, rows), frame.iloc[rows])
        assert_geodataframe_equal(geo_rows(frame, rows), frame.iloc[rows])
    np.testing.assert_array_equal(table.total_bounds, frame.total_bounds)


def test_placing_and_proximity_from_coordinates_are_those_from_points():
    """Network.attach and the run's proximity pairs: a table gives what its points give."""
    from smartstreet_geo.campaign.run import near_pairs
    from smartstreet_geo.proximity import customers_near

    customers = ssg.read_customers(ssg.demo.path("customers")).data
    table = CustomerTable.of(customers)
    equipment = ssg.read_equipment(ssg.demo.path("equipment")).data
    radii = {"oltc_transformer": 50, "lv_capacitor": 30, "link_box_switch": 20}
    radii["circuit_breaker"] = 30
    expected = customers_near(customers, equipment, radius=radii)
    assert len(expected) > 1_000
    pd.testing.assert_frame_equal(near_pairs(table, equipment, radii), expected)
    pd.testing.assert_frame_equal(near_pairs(customers, equipment, radii), expected)

    from smartstreet_geo.network import Network

    net_r = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    net = Network(net_r.edges, net_r.substations)
    for infer in ("all", "missing"):
        a, b = net.attach(table, infer=infer), net.attach(customers, infer=infer)
        for field in dataclasses.fields(a):
            got, want = getattr(a, field.name), getattr(b, field.name)
            if isinstance(want, pa.Array):
                assert got.equals(want), field.name
            elif isinstance(want, np.ndarray):
                np.testing.assert_array_equal(got, want, err_msg=field.name)
            else:
                assert got is want or got == want, field.name
        assert a.counts() == b.counts()
        assert (int(a.inferred.sum()) > 0) is (infer == "all")  # (the demo's nodes are known)


def test_a_run_from_coordinates_writes_what_a_run_from_points_wrote(demo_runs, tmp_path):
    """Every output file of the demo, byte for byte, against the run that held points."""
    result, held, _ = demo_runs
    write_campaign(result, tmp_path / "table")
    write_campaign(held, tmp_path / "held")
    names = sorted(p.name for p in (tmp_path / "held").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "table").iterdir())
    for name in names:
        if name in ("manifest.json", "letters.xlsx"):  # a run id and a time; zip dates
            continue
        assert (tmp_path / "table" / name).read_bytes() == (tmp_path / "held" / name).read_bytes()
    assert len(names) >= 8
