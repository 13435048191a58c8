"""OSTN15 conversions against the Ordnance Survey's published test points, and plausibility."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

import smartstreet_geo as ssg
from smartstreet_geo.crs import classify_bng, classify_lonlat, require_bng

# OS OSTN15 test points (OSTN15_TestInput_ETRStoOSGB / OSTN15_TestOutput_ETRStoOSGB, OS 2016):
# id, ETRS89 latitude, ETRS89 longitude, National Grid easting, northing (published to the mm).
# Contains OS data (c) Crown copyright and database rights 2016, OSI BSD licence.
OS_TEST_POINTS = [
    ("TP01", 49.92226393730, -6.29977752014, 91492.146, 11318.804),
    ("TP02", 49.96006137820, -5.20304609998, 170370.718, 11572.405),
    ("TP03", 50.43885825610, -4.10864563561, 250359.811, 62016.569),
    ("TP04", 50.57563665000, -1.29782277240, 449816.371, 75335.861),
    ("TP05", 50.93127937910, -1.45051433700, 438710.920, 114792.250),
    ("TP06", 51.40078220140, -3.55128349240, 292184.870, 168003.465),
    ("TP07", 51.37447025550, 1.44454730409, 639821.835, 169565.858),
    ("TP08", 51.42754743020, -2.54407618349, 362269.991, 169978.690),
    ("TP09", 51.48936564950, -0.11992557180, 530624.974, 178388.464),
    ("TP10", 51.85890896400, -4.30852476960, 241124.584, 220332.641),
    ("TP11", 51.89436637350, 0.89724327012, 599445.590, 225722.826),
    ("TP12", 52.25529381630, -2.15458614387, 389544.190, 261912.153),
    ("TP20", 53.80021519630, -1.66379168242, 422242.186, 433818.701),
    ("TP30", 57.48625000720, -4.21926398555, 267056.768, 846176.972),
    ("TP40", 60.13308091660, -2.07382822798, 395999.668, 1138728.951),
]
_TP = np.array([p[1:] for p in OS_TEST_POINTS])


def test_ostn15_forward_matches_os_test_points_to_1cm():
    e, n = ssg.lonlat_to_bng(_TP[:, 1], _TP[:, 0])
    err = np.hypot(e - _TP[:, 2], n - _TP[:, 3])
    assert err.max() <= 0.01, dict(zip([p[0] for p in OS_TEST_POINTS], err, strict=True))


def test_ostn15_inverse_matches_os_test_points_to_1cm():
    lon, lat = ssg.bng_to_lonlat(_TP[:, 2], _TP[:, 3])
    # degrees to ground metres at each latitude
    dx = (lon - _TP[:, 1]) * 111_320 * np.cos(np.radians(_TP[:, 0]))
    dy = (lat - _TP[:, 0]) * 110_574
    assert np.hypot(dx, dy).max() <= 0.01


def test_helmert_fallback_would_fail_the_same_check():
    """Why we do not rely on pyproj's default: without the OSTN15 grid it is metres off."""
    from pyproj import Transformer
    from pyproj.transformer import TransformerGroup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "best transformation is not available"
        group = TransformerGroup("EPSG:4258", "EPSG:27700", always_xy=True)
        if group.best_available:
            pytest.skip("this PROJ has the OSTN15 grid installed")
        t = Transformer.from_crs("EPSG:4258", "EPSG:27700", always_xy=True)
        e, n = t.transform(_TP[:, 1], _TP[:, 0])
    assert np.hypot(e - _TP[:, 2], n - _TP[:, 3]).max() > 1.0


def test_agrees_with_convertbng_and_osgb_on_random_points():
    """Two independent OSTN15 implementations as oracles, over Great Britain."""
    convertbng = pytest.importorskip("convertbng.cutil")
    import osgb

    rng = np.random.default_rng(27700)
    lon = rng.uniform(-5.5, 1.5, 3000)
    lat = rng.uniform(50.2, 58.5, 3000)
    e, n = ssg.lonlat_to_bng(lon, lat)
    ce, cn = convertbng.convert_bng(lon, lat)
    both = ~np.isnan(ce)
    assert both.mean() > 0.5
    # convertbng rounds to the millimetre
    assert np.nanmax(np.hypot(e - ce, n - cn)[both]) <= 0.002
    for i in range(0, 3000, 30):
        oe, on = osgb.ll_to_grid(lat[i], lon[i], rounding=6)
        assert abs(oe - e[i]) < 1e-3 and abs(on - n[i]) < 1e-3
        olat, olon = osgb.grid_to_ll(e[i], n[i], rounding=10)
        assert abs(olat - lat[i]) < 1e-8 and abs(olon - lon[i]) < 1e-8


def test_outside_the_ostn15_grid_is_nan_not_a_helmert_guess():
    e, n = ssg.lonlat_to_bng([-20.0, 10.0], [55.0, 45.0])
    assert np.isnan(e).all() and np.isnan(n).all()
    lon, lat = ssg.bng_to_lonlat([-1000.0, 800_000.0], [100.0, 1_300_000.0])
    assert np.isnan(lon).all() and np.isnan(lat).all()


def test_to_bng_geodataframe_uses_ostn15():
    g = gpd.GeoDataFrame(
        geometry=[Point(lon, lat) for _, lat, lon, _, _ in OS_TEST_POINTS], crs=4326
    )
    out = ssg.to_bng(g)
    assert out.crs.to_epsg() == 27700
    got = np.array([[p.x, p.y] for p in out.geometry])
    assert np.abs(got - _TP[:, 2:4]).max() <= 0.01


def test_to_bng_transforms_every_vertex_of_lines():
    line = LineString([(_TP[11, 1], _TP[11, 0]), (_TP[12, 1], _TP[12, 0])])
    out = ssg.to_bng(gpd.GeoDataFrame(geometry=[line], crs="EPSG:4258"))
    coords = np.asarray(out.geometry.iloc[0].coords)
    assert np.abs(coords - _TP[[11, 12], 2:4]).max() <= 0.01


def test_to_bng_from_web_mercator_goes_through_etrs89():
    from pyproj import Transformer

    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = to_merc.transform(_TP[:, 1], _TP[:, 0])
    out = ssg.to_bng(gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=3857))
    got = np.c_[out.geometry.x, out.geometry.y]
    assert np.abs(got - _TP[:, 2:4]).max() <= 0.01


def test_to_bng_refuses_a_frame_without_crs():
    with pytest.raises(ssg.CRSError, match="never assumes"):
        ssg.to_bng(gpd.GeoDataFrame(geometry=[Point(0, 0)]))


@settings(max_examples=300, deadline=None)
@given(
    e=st.floats(min_value=90_000, max_value=650_000, allow_nan=False),
    n=st.floats(min_value=10_000, max_value=1_200_000, allow_nan=False),
)
def test_bng_wgs84_bng_round_trip_within_1mm(e, n):
    lon, lat = ssg.bng_to_lonlat([e], [n])
    e2, n2 = ssg.lonlat_to_bng(lon, lat)
    assert np.hypot(e2[0] - e, n2[0] - n) <= 0.001


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (354500.0, 404100.0, None),
        (np.nan, 404100.0, "missing_coordinates"),
        (np.inf, 404100.0, "invalid_coordinate"),
        (0.0, 0.0, "sentinel_coordinates"),
        (-2.69, 53.53, "degrees_as_metres"),
        (1_000_000.0, 300_000.0, "swapped_coordinates"),
        (-5_000.0, 404100.0, "outside_gb"),
        (700_000.0, 1_250_000.0, None),  # the box edge counts as inside
    ],
)
def test_classify_bng_table(x, y, expected):
    assert classify_bng([x], [y]).tolist() == [expected]


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (-2.69, 53.53, None),
        (53.53, -2.69, "swapped_coordinates"),
        (354500.0, 404100.0, "metres_as_degrees"),
        (2.35, 48.86, "outside_gb"),
        (0.0, 0.0, "sentinel_coordinates"),
        (np.nan, np.nan, "missing_coordinates"),
        (-np.inf, 53.0, "invalid_coordinate"),
    ],
)
def test_classify_lonlat_table(lon, lat, expected):
    assert classify_lonlat([lon], [lat]).tolist() == [expected]


@pytest.mark.parametrize(
    ("crs", "message"),
    [(None, "no CRS"), ("EPSG:4326", "geographic"), ("EPSG:3857", "not British National Grid")],
)
def test_require_bng_raises_with_advice(crs, message):
    g = gpd.GeoSeries([Point(1, 1)], crs=crs)
    with pytest.raises(ssg.CRSError, match=message):
        require_bng(g, what="customers")


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_ostn15_in_blocks_gives_the_same_numbers(block, monkeypatch):
    """The shifts worked out a block of points at a time are bit for bit those of the whole
    array at once (oracle: the same function with one block), both directions, with points
    outside the grid and missing values among them."""
    from smartstreet_geo import _ostn15

    rng = np.random.default_rng(block)
    e = rng.uniform(-50_000, 750_000, 3_001)
    n = rng.uniform(-50_000, 1_300_000, 3_001)
    e[::97] = np.nan
    monkeypatch.setattr(_ostn15, "_BLOCK", 10**9)
    whole = (*_ostn15.bng_to_etrs89(e, n), *_ostn15.etrs89_to_bng(*_ostn15.bng_to_etrs89(e, n)))
    monkeypatch.setattr(_ostn15, "_BLOCK", block)
    parts = (*_ostn15.bng_to_etrs89(e, n), *_ostn15.etrs89_to_bng(*_ostn15.bng_to_etrs89(e, n)))
    for a, b in zip(whole, parts, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(whole[0]).sum() > 1_000  # most points are inside the grid
