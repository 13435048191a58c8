"""Proximity: customers within R of equipment, nearest equipment.

Read as a specification: small hand-computed tables first (like GeoPandas'
``sjoin_nearest`` tests), then properties that hold for any input (Hypothesis:
equal to brute force, independent of row order, monotone in R), then realistic
data against ``geopandas.sjoin``, then the errors.
"""

from __future__ import annotations

import math
from fractions import Fraction

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, MultiLineString, Point, Polygon

from smartstreet_geo.errors import CRSError, EmptyGeometryError, ParameterError
from smartstreet_geo.proximity import (
    DISTANCE_TOLERANCE_M,
    ProximityIndex,
    customers_near,
    nearest_equipment,
)

E0, N0 = 400_000.0, 300_000.0  # a place in England; keeps float magnitudes realistic
TOL = DISTANCE_TOLERANCE_M
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def customers_frame(xy, ids=None) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    ids = [f"c{i:04d}" for i in range(len(xy))] if ids is None else ids
    return gpd.GeoDataFrame(
        {"customer_id": ids}, geometry=shapely.points(xy[:, 0], xy[:, 1]), crs="EPSG:27700"
    )


def equipment_frame(geoms_or_xy, ids=None, kinds=None, **cols) -> gpd.GeoDataFrame:
    if len(geoms_or_xy) and not isinstance(geoms_or_xy[0], shapely.Geometry):
        xy = np.asarray(geoms_or_xy, dtype=float).reshape(-1, 2)
        geoms = shapely.points(xy[:, 0], xy[:, 1])
    else:
        geoms = np.asarray(geoms_or_xy, dtype=object)
    n = len(geoms)
    data = {"equipment_id": ids if ids is not None else [f"e{i:03d}" for i in range(n)]}
    if kinds is not None:
        data["kind"] = kinds
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs="EPSG:27700")


def pairs_of(frame: pd.DataFrame) -> list[tuple]:
    return list(frame.itertuples(index=False, name=None))


# --------------------------------------------------------------------------- brute force
def brute_within(cxy, exy, radius, cids=None, eids=None) -> list[tuple]:
    """Every pair with hypot <= R, decided as the engine documents, distance sqrt(dx^2+dy^2)."""
    cxy = np.asarray(cxy, float).reshape(-1, 2)
    exy = np.asarray(exy, float).reshape(-1, 2)
    r = np.broadcast_to(np.asarray(radius, float), (len(exy),))
    cids = [f"c{i:04d}" for i in range(len(cxy))] if cids is None else cids
    eids = [f"e{i:03d}" for i in range(len(exy))] if eids is None else eids
    out = []
    for i, (x, y) in enumerate(cxy):
        for j, (ex, ey) in enumerate(exy):
            dx, dy = x - ex, y - ey
            d2 = dx * dx + dy * dy
            if d2 <= (r[j] + TOL) ** 2:
                out.append((cids[i], eids[j], math.sqrt(d2)))
    return sorted(out, key=lambda t: (t[0], t[1]))


def brute_nearest(cxy, exy, k, max_distance=None) -> list[tuple]:
    cxy = np.asarray(cxy, float).reshape(-1, 2)
    exy = np.asarray(exy, float).reshape(-1, 2)
    out = []
    for i, (x, y) in enumerate(cxy):
        d = np.sqrt((x - exy[:, 0]) ** 2 + (y - exy[:, 1]) ** 2)
        ok = np.ones(len(d), bool) if max_distance is None else d <= max_distance + TOL
        if not ok.any():
            continue
        dk = np.sort(d[ok])[min(k, ok.sum()) - 1]
        for j in np.flatnonzero(ok & (d <= dk + TOL)):
            rank = 1 + int((d[ok] < d[j] - TOL).sum())
            out.append((f"c{i:04d}", f"e{j:03d}", float(d[j]), rank))
    return sorted(out, key=lambda t: (t[0], t[2], t[1]))


# --------------------------------------------------------------------------- hand-computed tables
WITHIN_CASES = [
    # id, customers (offsets from E0, N0), equipment, radius, expected (customer, equipment, metres)
    ("same_point", [(0, 0)], [(0, 0)], 0, [(0, 0, 0.0)]),
    ("exactly_at_radius_counts", [(30, 40)], [(0, 0)], 50, [(0, 0, 50.0)]),
    ("just_outside", [(30, 40.001)], [(0, 0)], 50, []),
    ("zero_radius_excludes_neighbour", [(0, 0), (0.01, 0)], [(0, 0)], 0, [(0, 0, 0.0)]),
    (
        "flats_share_a_coordinate",
        [(3, 4), (3, 4), (3, 4)],
        [(0, 0)],
        5,
        [(0, 0, 5.0), (1, 0, 5.0), (2, 0, 5.0)],
    ),
    (
        "two_equipment_at_one_site",
        [(0, 10)],
        [(0, 0), (0, 0)],
        10,
        [(0, 0, 10.0), (0, 1, 10.0)],
    ),
    (
        "collinear_ties_both_sides",
        [(-20, 0), (-10, 0), (10, 0), (20, 0), (21, 0)],
        [(0, 0)],
        20,
        [(0, 0, 20.0), (1, 0, 10.0), (2, 0, 10.0), (3, 0, 20.0)],
    ),
    ("no_customers", [], [(0, 0)], 50, []),
    ("far_away", [(1000, 0)], [(0, 0)], 50, []),
]


@pytest.mark.parametrize(
    ("cxy", "exy", "radius", "expected"),
    [c[1:] for c in WITHIN_CASES],
    ids=[c[0] for c in WITHIN_CASES],
)
def test_within_table(cxy, exy, radius, expected):
    cxy = [(E0 + x, N0 + y) for x, y in cxy]
    exy = [(E0 + x, N0 + y) for x, y in exy]
    got = customers_near(customers_frame(cxy), equipment_frame(exy), radius=radius)
    assert list(got.columns) == ["customer_id", "equipment_id", "distance_m"]
    assert pairs_of(got) == [(f"c{i:04d}", f"e{j:03d}", d) for i, j, d in expected]


NEAREST_CASES = [
    # id, customers, equipment, k, max_distance, expected (customer, equipment, metres, rank)
    ("single", [(0, 0)], [(3, 4), (6, 8)], 1, None, [(0, 0, 5.0, 1)]),
    ("tie_kept", [(0, 0)], [(3, 4), (-4, 3), (10, 0)], 1, None, [(0, 0, 5.0, 1), (0, 1, 5.0, 1)]),
    (
        "k2_tie_at_second",
        [(0, 0)],
        [(1, 0), (0, 2), (2, 0), (3, 0)],
        2,
        None,
        [(0, 0, 1.0, 1), (0, 1, 2.0, 2), (0, 2, 2.0, 2)],
    ),
    (
        "k2_tie_at_first_excludes_third",
        [(0, 0)],
        [(1, 0), (0, 1), (2, 0)],
        2,
        None,
        [(0, 0, 1.0, 1), (0, 1, 1.0, 1)],
    ),
    ("k_larger_than_m", [(0, 0)], [(1, 0), (2, 0)], 5, None, [(0, 0, 1.0, 1), (0, 1, 2.0, 2)]),
    (
        "max_distance_inclusive",
        [(0, 0), (0, 11)],
        [(0, 10)],
        1,
        10,
        [(0, 0, 10.0, 1), (1, 0, 1.0, 1)],
    ),
    ("max_distance_excludes", [(0, 0)], [(0, 10)], 1, 9.99, []),
    (
        "coincident_equipment",
        [(5, 0)],
        [(0, 0), (0, 0), (0, 0)],
        1,
        None,
        [(0, 0, 5.0, 1), (0, 1, 5.0, 1), (0, 2, 5.0, 1)],
    ),
]


@pytest.mark.parametrize(
    ("cxy", "exy", "k", "max_distance", "expected"),
    [c[1:] for c in NEAREST_CASES],
    ids=[c[0] for c in NEAREST_CASES],
)
def test_nearest_table(cxy, exy, k, max_distance, expected):
    cxy = [(E0 + x, N0 + y) for x, y in cxy]
    exy = [(E0 + x, N0 + y) for x, y in exy]
    got = nearest_equipment(
        customers_frame(cxy), equipment_frame(exy), k=k, max_distance=max_distance
    )
    assert list(got.columns) == ["customer_id", "equipment_id", "distance_m", "rank"]
    assert pairs_of(got) == [(f"c{i:04d}", f"e{j:03d}", d, r) for i, j, d, r in expected]


def test_per_kind_radius_and_missing_kind_is_an_error():
    cust = customers_frame([(E0 + 30, N0), (E0 + 45, N0)])
    eq = equipment_frame(
        [(E0, N0), (E0, N0)], ids=["T", "C"], kinds=["oltc_transformer", "lv_capacitor"]
    )
    got = customers_near(cust, eq, radius={"oltc_transformer": 50, "lv_capacitor": 30})
    assert pairs_of(got) == [("c0000", "C", 30.0), ("c0000", "T", 30.0), ("c0001", "T", 45.0)]
    with pytest.raises(ParameterError, match=r"no radius for equipment kind.*lv_capacitor"):
        customers_near(cust, eq, radius={"oltc_transformer": 50})


def test_per_row_radius_column():
    cust = customers_frame([(E0 + 30, N0), (E0 + 45, N0)])
    eq = equipment_frame([(E0, N0), (E0, N0)], ids=["a", "b"], radius_m=[40.0, 45.0])
    got = customers_near(cust, eq, radius="radius_m")
    assert pairs_of(got) == [("c0000", "a", 30.0), ("c0000", "b", 30.0), ("c0001", "b", 45.0)]


def test_output_sorted_by_customer_id_then_equipment_id_not_row_order():
    cust = customers_frame([(E0, N0), (E0 + 1, N0), (E0 + 2, N0)], ids=["z9", "a1", "m5"])
    eq = equipment_frame([(E0, N0), (E0 + 1, N0)], ids=["y", "b"])
    got = customers_near(cust, eq, radius=5)
    assert got["customer_id"].tolist() == ["a1", "a1", "m5", "m5", "z9", "z9"]
    assert got["equipment_id"].tolist() == ["b", "y"] * 3


def test_sort_false_keeps_customer_row_order():
    cust = customers_frame([(E0, N0), (E0 + 1, N0), (E0 + 2, N0)], ids=["z9", "a1", "m5"])
    eq = equipment_frame([(E0, N0), (E0 + 1, N0)], ids=["y", "b"])
    got = customers_near(cust, eq, radius=5, sort=False)
    assert got["customer_id"].tolist() == ["z9", "z9", "a1", "a1", "m5", "m5"]
    assert got["equipment_id"].tolist() == ["b", "y"] * 3
    near = nearest_equipment(cust, eq, sort=False)
    assert near[["customer_id", "equipment_id"]].values.tolist() == [
        ["z9", "y"],
        ["a1", "b"],
        ["m5", "b"],
    ]


def test_duplicate_customer_ids_keep_row_order():
    cust = customers_frame([(E0 + 2, N0), (E0, N0), (E0 + 1, N0)], ids=[7, 3, 7])
    got = customers_near(cust, equipment_frame([(E0, N0)]), radius=5)
    assert pairs_of(got) == [(3, "e000", 0.0), (7, "e000", 2.0), (7, "e000", 1.0)]


def test_ids_keep_their_dtype():
    cust = customers_frame([(E0, N0)], ids=np.array([1600000000001], dtype=np.int64))
    eq = equipment_frame([(E0, N0)], ids=np.array([7], dtype=np.int64))
    got = customers_near(cust, eq, radius=1)
    assert got["customer_id"].dtype == np.int64
    assert got["equipment_id"].dtype == np.int64


def test_empty_inputs_give_empty_frames_with_columns():
    cust = customers_frame(np.empty((0, 2)))
    eq = equipment_frame([(E0, N0)])
    assert list(customers_near(cust, eq, radius=5).columns) == [
        "customer_id",
        "equipment_id",
        "distance_m",
    ]
    none = equipment_frame(np.empty((0, 2)))
    assert len(customers_near(customers_frame([(E0, N0)]), none, radius=5)) == 0
    assert len(nearest_equipment(customers_frame([(E0, N0)]), none)) == 0


# --------------------------------------------------------------------------- lines and polygons
def test_distance_is_to_the_line_not_its_centroid():
    route = LineString([(E0, N0), (E0 + 1000, N0)])  # a 1 km cable route
    cust = customers_frame([(E0 + 900, N0 + 20), (E0 + 500, N0 + 20.5), (E0 - 30, N0)])
    got = customers_near(cust, equipment_frame([route]), radius=30)
    assert pairs_of(got) == [
        ("c0000", "e000", 20.0),
        ("c0001", "e000", 20.5),
        ("c0002", "e000", 30.0),
    ]


def test_polygon_works_area_inside_counts_at_distance_zero():
    area = Polygon([(E0, N0), (E0 + 100, N0), (E0 + 100, N0 + 100), (E0, N0 + 100)])
    cust = customers_frame([(E0 + 50, N0 + 50), (E0 + 110, N0 + 50), (E0 + 111, N0 + 50)])
    got = customers_near(cust, equipment_frame([area]), radius=10)
    assert pairs_of(got) == [("c0000", "e000", 0.0), ("c0001", "e000", 10.0)]


def test_multilinestring_counts_once_per_customer():
    mls = MultiLineString(
        [[(E0, N0), (E0 + 10, N0)], [(E0, N0 + 2), (E0 + 10, N0 + 2)], [(E0, N0 + 2), (E0, N0)]]
    )
    got = customers_near(customers_frame([(E0 + 5, N0 + 1)]), equipment_frame([mls]), radius=5)
    assert pairs_of(got) == [("c0000", "e000", 1.0)]


@st.composite
def mixed_geometries(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 40))
    cxy = E0 + rng.uniform(0, 200, (n, 2))
    geoms = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["point", "line", "polygon", "multiline"]))
        if kind == "point":
            geoms.append(Point(E0 + rng.uniform(0, 200, 2)))
        elif kind == "line":
            geoms.append(LineString(E0 + rng.uniform(0, 200, (rng.integers(2, 6), 2))))
        elif kind == "polygon":
            c = E0 + rng.uniform(0, 200, 2)
            geoms.append(Point(c).buffer(rng.uniform(1, 40), quad_segs=4))
        else:
            geoms.append(
                MultiLineString(
                    [E0 + rng.uniform(0, 200, (2, 2)), E0 + rng.uniform(0, 200, (3, 2))]
                )
            )
    return cxy, np.asarray(geoms, dtype=object), draw(st.floats(0, 60))


@PROPS
@given(mixed_geometries())
def test_property_lines_polygons_within_equals_geos_brute_force(scene):
    cxy, geoms, radius = scene
    got = customers_near(customers_frame(cxy), equipment_frame(geoms), radius=radius)
    d = shapely.distance(shapely.points(cxy)[:, None], geoms[None, :]) if len(cxy) else None
    expected = []
    if d is not None:
        for i, j in zip(*np.nonzero(d <= radius + TOL), strict=True):
            expected.append((f"c{i:04d}", f"e{j:03d}", float(d[i, j])))
    assert pairs_of(got) == sorted(expected)


@PROPS
@given(mixed_geometries(), st.integers(1, 3), st.sampled_from([None, 25.0]))
def test_property_lines_polygons_nearest_equals_geos_brute_force(scene, k, max_distance):
    cxy, geoms, _ = scene
    got = nearest_equipment(
        customers_frame(cxy), equipment_frame(geoms), k=k, max_distance=max_distance
    )
    expected = []
    for i, p in enumerate(shapely.points(cxy) if len(cxy) else []):
        d = shapely.distance(p, geoms)
        ok = np.ones(d.size, bool) if max_distance is None else d <= max_distance + TOL
        if not ok.any():
            continue
        dk = np.sort(d[ok])[min(k, ok.sum()) - 1]
        for j in np.flatnonzero(ok & (d <= dk + TOL)):
            expected.append(
                (f"c{i:04d}", f"e{j:03d}", float(d[j]), 1 + int((d[ok] < d[j] - TOL).sum()))
            )
    assert pairs_of(got) == sorted(expected, key=lambda t: (t[0], t[2], t[1]))


# --------------------------------------------------------------------------- properties (points)
@st.composite
def lattice_scene(draw, *, unit: int):
    """Customers and equipment on a lattice of ``1/unit`` metres near (E0, N0).

    Small ranges force duplicates, coincident points, collinear points and
    distances exactly equal to the radius (3-4-5 triangles and friends).
    """
    span = draw(st.sampled_from([3, 10, 60]))
    coord = st.tuples(st.integers(-span, span), st.integers(-span, span))
    base = draw(st.lists(coord, max_size=40))
    dups = draw(st.lists(st.sampled_from(base), max_size=10)) if base else []
    line = draw(st.integers(-span, span))
    collinear = [(line, t) for t in draw(st.lists(st.integers(-span, span), max_size=6))]
    cust = base + dups + collinear
    eq = draw(st.lists(coord, min_size=1, max_size=8))
    eq += draw(st.lists(st.sampled_from(eq), max_size=2))  # equipment sharing a site
    radius_units = draw(st.integers(0, 2 * span))
    return cust, eq, radius_units


def exact_expected(cust, eq, r_units, unit):
    """Exact decimal answer: integer arithmetic in lattice units."""
    out = []
    for i, (x, y) in enumerate(cust):
        for j, (ex, ey) in enumerate(eq):
            d2 = (x - ex) ** 2 + (y - ey) ** 2
            if d2 <= r_units**2:
                out.append((f"c{i:04d}", f"e{j:03d}", d2))
    return sorted(out)


@pytest.mark.parametrize("unit", [1, 1000], ids=["metres", "millimetres"])
@PROPS
@given(data=st.data())
def test_property_within_equals_exact_brute_force_on_lattice(unit, data):
    """Integer and millimetre coordinates: the same answer as exact decimal arithmetic.

    At millimetres the float64 values are not exact (0.001 is not binary), so
    this is where the 1 nm tie tolerance earns its keep: a customer exactly R
    away on paper is within.
    """
    cust, eq, r_units = data.draw(lattice_scene(unit=unit))
    scale = 1 if unit == 1 else 10  # mm lattice: 10 mm steps keep ranges tiny
    cxy = [((E0 * unit + x * scale) / unit, (N0 * unit + y * scale) / unit) for x, y in cust]
    exy = [((E0 * unit + x * scale) / unit, (N0 * unit + y * scale) / unit) for x, y in eq]
    radius = r_units * scale / unit
    got = customers_near(customers_frame(cxy), equipment_frame(exy), radius=radius)
    expected = exact_expected(cust, eq, r_units, unit)
    assert [(c, e) for c, e, _ in pairs_of(got)] == [(c, e) for c, e, _ in expected]
    exact_m = [math.sqrt(float(Fraction(d2 * scale * scale, unit * unit))) for *_, d2 in expected]
    assert np.allclose(got["distance_m"], exact_m, rtol=0, atol=1e-9)


@PROPS
@given(
    st.lists(st.tuples(st.floats(0, 300), st.floats(0, 300)), max_size=50),
    st.lists(st.tuples(st.floats(0, 300), st.floats(0, 300)), min_size=1, max_size=10),
    st.floats(0, 150),
)
def test_property_within_equals_float_brute_force(cust, eq, radius):
    cxy = [(E0 + x, N0 + y) for x, y in cust]
    exy = [(E0 + x, N0 + y) for x, y in eq]
    got = customers_near(customers_frame(cxy), equipment_frame(exy), radius=radius)
    assert pairs_of(got) == brute_within(cxy, exy, radius)


@PROPS
@given(lattice_scene(unit=1), st.randoms(use_true_random=False))
def test_property_row_order_does_not_change_the_output(scene, rnd):
    cust, eq, r = scene
    cxy = [(E0 + x, N0 + y) for x, y in cust]
    exy = [(E0 + x, N0 + y) for x, y in eq]
    cids = [f"c{i:04d}" for i in range(len(cxy))]
    eids = [f"e{j:03d}" for j in range(len(exy))]
    a = customers_near(customers_frame(cxy, cids), equipment_frame(exy, eids), radius=r)
    ci = list(range(len(cxy)))
    ej = list(range(len(exy)))
    rnd.shuffle(ci)
    rnd.shuffle(ej)
    b = customers_near(
        customers_frame([cxy[i] for i in ci], [cids[i] for i in ci]),
        equipment_frame([exy[j] for j in ej], [eids[j] for j in ej]),
        radius=r,
    )
    pd.testing.assert_frame_equal(a, b)
    na = nearest_equipment(customers_frame(cxy, cids), equipment_frame(exy, eids), k=2)
    nb = nearest_equipment(
        customers_frame([cxy[i] for i in ci], [cids[i] for i in ci]),
        equipment_frame([exy[j] for j in ej], [eids[j] for j in ej]),
        k=2,
    )
    pd.testing.assert_frame_equal(na, nb)


@PROPS
@given(lattice_scene(unit=1), st.integers(0, 30), st.integers(0, 30))
def test_property_monotone_in_radius(scene, r1, r2):
    cust, eq, _ = scene
    r1, r2 = sorted((r1, r2))
    index = ProximityIndex(customers_frame([(E0 + x, N0 + y) for x, y in cust]))
    eqf = equipment_frame([(E0 + x, N0 + y) for x, y in eq])
    small = set(pairs_of(index.within(eqf, radius=r1)))
    large = set(pairs_of(index.within(eqf, radius=r2)))
    assert small <= large


@PROPS
@given(lattice_scene(unit=1), st.integers(1, 4), st.sampled_from([None, 0, 5, 20]))
def test_property_nearest_equals_brute_force_with_ties(scene, k, max_distance):
    cust, eq, _ = scene
    cxy = [(E0 + x, N0 + y) for x, y in cust]
    exy = [(E0 + x, N0 + y) for x, y in eq]
    got = nearest_equipment(
        customers_frame(cxy), equipment_frame(exy), k=k, max_distance=max_distance
    )
    assert pairs_of(got) == brute_nearest(cxy, exy, k, max_distance)
    assert (got["rank"] <= k).all()


@PROPS
@given(
    st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), max_size=40),
    st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), min_size=1, max_size=30),
    st.integers(1, 3),
)
def test_property_nearest_float_coordinates(cust, eq, k):
    cxy = [(E0 + x, N0 + y) for x, y in cust]
    exy = [(E0 + x, N0 + y) for x, y in eq]
    got = nearest_equipment(customers_frame(cxy), equipment_frame(exy), k=k)
    assert pairs_of(got) == brute_nearest(cxy, exy, k)


@PROPS
@given(lattice_scene(unit=1), st.data())
def test_property_per_kind_equals_union_of_single_radius_queries(scene, data):
    cust, eq, _ = scene
    kinds = data.draw(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=len(eq), max_size=len(eq))
    )
    radii = {"a": data.draw(st.integers(0, 20)), "b": data.draw(st.integers(0, 20)), "c": 7}
    cf = customers_frame([(E0 + x, N0 + y) for x, y in cust])
    ef = equipment_frame([(E0 + x, N0 + y) for x, y in eq], kinds=kinds)
    got = customers_near(cf, ef, radius=radii)
    parts = [
        customers_near(cf, ef[ef["kind"] == kind], radius=r)
        for kind, r in radii.items()
        if (ef["kind"] == kind).any()
    ]
    expected = pd.concat(parts).sort_values(["customer_id", "equipment_id"], kind="stable")
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))


def test_index_is_reusable_across_radii_subsets_and_matches_from_coordinates():
    rng = np.random.default_rng(5)
    cxy = E0 + rng.uniform(0, 500, (2000, 2))
    exy = E0 + rng.uniform(0, 500, (30, 2))
    cf, ef = customers_frame(cxy), equipment_frame(exy)
    index = ProximityIndex(cf)
    fast = ProximityIndex.from_coordinates(cf["customer_id"], cxy[:, 0], cxy[:, 1])
    for r in (0, 10, 50, 120):
        got = index.within(ef, radius=r)
        assert pairs_of(got) == brute_within(cxy, exy, r)
        pd.testing.assert_frame_equal(got, fast.within(ef, radius=r))
    shuffled = ProximityIndex(cf.iloc[rng.permutation(len(cf))])
    many = shuffled.nearest(ef, k=2)  # nearly every customer: the one-pass reorder
    pd.testing.assert_frame_equal(many, index.nearest(ef, k=2))
    assert pairs_of(many) == brute_nearest(cxy, exy, 2)
    mask = rng.random(len(cf)) < 0.3
    sub = index.within(ef, radius=50, mask=mask)
    pd.testing.assert_frame_equal(
        sub, customers_near(cf[mask].reset_index(drop=True), ef, radius=50)
    )
    sub_n = index.nearest(ef.iloc[:10], k=2, mask=mask)
    pd.testing.assert_frame_equal(
        sub_n, nearest_equipment(cf[mask].reset_index(drop=True), ef.iloc[:10], k=2)
    )


def test_repeated_queries_on_the_customer_grid_equal_brute_force(monkeypatch):
    from smartstreet_geo.proximity import _index

    monkeypatch.setattr(_index, "_GRID_MIN_CUSTOMERS", 1)
    monkeypatch.setattr(_index, "_GRID_MAX_SHARE", 1e9)  # always worth it
    rng = np.random.default_rng(11)
    cxy = np.round(E0 + rng.uniform(0, 800, (5000, 2)), 1)
    exy = np.round(E0 + rng.uniform(0, 800, (40, 2)), 1)
    ids = rng.permutation(len(cxy))
    cf, ef = customers_frame(cxy, ids=ids), equipment_frame(exy)
    index = ProximityIndex(cf)
    first = index.within(ef, radius=30)  # streams; the second query builds the grid
    assert index._grid is None
    for r in (30, 0, 12.5, 75):
        got = index.within(ef, radius=r)
        assert index._grid is not None
        assert pairs_of(got) == sorted(brute_within(cxy, exy, r, cids=ids), key=lambda t: t[:2])
    pd.testing.assert_frame_equal(index.within(ef, radius=30), first)
    mask = rng.random(len(cf)) < 0.5
    pd.testing.assert_frame_equal(
        index.within(ef, radius=40, mask=mask, sort=False),
        customers_near(cf[mask].reset_index(drop=True), ef, radius=40, sort=False),
    )


def test_progress_is_reported_for_every_customer():
    seen: list[int] = []
    cf = customers_frame(E0 + np.arange(100.0).repeat(2).reshape(-1, 2))
    customers_near(cf, equipment_frame([(E0, E0)]), radius=5, progress=seen.append)
    assert sum(seen) == 100
    seen.clear()
    nearest_equipment(cf, equipment_frame([(E0, E0)]), progress=seen.append)
    assert sum(seen) == 100


def test_batched_queries_equal_one_pass(monkeypatch):
    """Progress reporting runs in batches; results must not depend on them."""
    from smartstreet_geo.proximity import _index

    rng = np.random.default_rng(5)
    cxy = np.round(E0 + rng.uniform(0, 300, (500, 2)), 0)  # integer metres: many ties
    exy = np.round(E0 + rng.uniform(0, 300, (12, 2)), 0)
    cf = customers_frame(cxy).iloc[rng.permutation(len(cxy))]  # ids not in row order
    ef = equipment_frame(exy)
    whole = [nearest_equipment(cf, ef, k=k) for k in (1, 3)]
    near = customers_near(cf, ef, radius=40)
    monkeypatch.setattr(_index, "_BATCH", 7)
    monkeypatch.setattr(_index, "_CHUNK", 3)
    seen: list[int] = []
    for k, expected in zip((1, 3), whole, strict=True):
        got = nearest_equipment(cf, ef, k=k, progress=seen.append)
        pd.testing.assert_frame_equal(got, expected)
    assert sum(seen) == 2 * len(cf)
    pd.testing.assert_frame_equal(customers_near(cf, ef, radius=40, progress=seen.append), near)
    assert pairs_of(whole[1]) == brute_nearest(cxy, exy, 3)


# --------------------------------------------------------------------------- exactness vs buffers
def test_buffer_and_intersect_misses_pairs_that_are_truly_within():
    """What many analysts do - buffer the equipment, intersect - is not exact.

    A buffer is a polygon whose edges cut inside the true circle, so customers
    just inside the radius but between two buffer vertices are missed. Brute
    force and this engine keep them.
    """
    radius = 50.0
    angles = (np.arange(64) + 0.5) * (2 * np.pi / 64)  # between the buffer's vertices
    rho = radius - 0.01  # one centimetre inside the radius
    cxy = np.c_[E0 + rho * np.cos(angles), N0 + rho * np.sin(angles)]
    cf, ef = customers_frame(cxy), equipment_frame([(E0, N0)])
    ours = customers_near(cf, ef, radius=radius)
    assert pairs_of(ours) == brute_within(cxy, [(E0, N0)], radius)
    assert len(ours) == 64
    buffered = ef.set_geometry(ef.buffer(radius))  # GeoPandas default: 16 segments a quarter
    hits = gpd.sjoin(cf, buffered, predicate="intersects")
    assert len(hits) < len(ours)  # every one of these customers is missed
    assert len(hits) == 0


# --------------------------------------------------------------------------- realistic data
def town(n: int, seed: int) -> np.ndarray:
    """Houses 5-15 m apart along streets, 10% in flats sharing a coordinate, to 0.01 m."""
    rng = np.random.default_rng(seed)
    n_streets = max(1, n // 40)
    sx = E0 + rng.normal(0, 1500, n_streets)
    sy = N0 + rng.normal(0, 1500, n_streets)
    angle = rng.uniform(0, np.pi, n_streets)
    per = rng.multinomial(n, np.full(n_streets, 1 / n_streets))
    street = np.repeat(np.arange(n_streets), per)
    along = np.cumsum(rng.uniform(5, 15, n))
    along -= np.repeat(along[np.r_[0, np.cumsum(per)[:-1]]], per)
    off = np.where(rng.random(n) < 0.5, -8.0, 8.0)
    x = sx[street] + along / 2 * np.cos(angle[street]) - off * np.sin(angle[street])
    y = sy[street] + along / 2 * np.sin(angle[street]) + off * np.cos(angle[street])
    flats = rng.random(n) < 0.1
    x[flats] = np.repeat(x[flats][::10], 10)[: flats.sum()]
    y[flats] = np.repeat(y[flats][::10], 10)[: flats.sum()]
    return np.c_[np.round(x, 2), np.round(y, 2)]


@pytest.mark.parametrize("radius", [50, 200])
def test_realistic_data_equals_geopandas_sjoin_dwithin(radius):
    cxy = town(50_000, seed=3)
    rng = np.random.default_rng(4)
    exy = np.round(cxy[rng.integers(0, len(cxy), 300)] + rng.normal(0, 15, (300, 2)), 2)
    cf, ef = customers_frame(cxy), equipment_frame(exy)
    ours = customers_near(cf, ef, radius=radius)
    sj = gpd.sjoin(cf, ef, predicate="dwithin", distance=radius)
    gp = pd.DataFrame(
        {
            "customer_id": sj["customer_id"].to_numpy(),
            "equipment_id": sj["equipment_id"].to_numpy(),
        }
    )
    gp["distance_m"] = shapely.distance(
        cf.geometry.to_numpy()[sj.index.to_numpy()],
        ef.geometry.to_numpy()[sj["index_right"].to_numpy()],
    )
    gp = gp.sort_values(["customer_id", "equipment_id"]).reset_index(drop=True)
    assert len(ours) > 1000
    # The only possible difference: pairs exactly `radius` apart in decimal
    # (coordinates are to the centimetre) that GEOS measures as a hair over.
    merged = ours.merge(gp, how="outer", indicator=True, on=["customer_id", "equipment_id"])
    extra = merged[merged["_merge"] != "both"]
    assert (extra["_merge"] == "left_only").all()
    ci = cf.set_index("customer_id").loc[extra["customer_id"]].geometry
    ei = ef.set_index("equipment_id").loc[extra["equipment_id"]].geometry
    dx_cm = np.rint((ci.x.to_numpy() - ei.x.to_numpy()) * 100).astype(np.int64)
    dy_cm = np.rint((ci.y.to_numpy() - ei.y.to_numpy()) * 100).astype(np.int64)
    assert (dx_cm**2 + dy_cm**2 == (radius * 100) ** 2).all()
    both = merged[merged["_merge"] == "both"]
    assert (both["distance_m_x"] == both["distance_m_y"]).all()  # same formula, same bits


@pytest.mark.slow
def test_realistic_nearest_equals_geopandas_sjoin_nearest():
    cxy = town(200_000, seed=8)
    rng = np.random.default_rng(9)
    exy = np.round(cxy[rng.integers(0, len(cxy), 500)] + rng.normal(0, 15, (500, 2)), 2)
    cf, ef = customers_frame(cxy), equipment_frame(exy)
    ours = nearest_equipment(cf, ef)
    sj = gpd.sjoin_nearest(cf, ef, distance_col="d")
    assert len(ours) == len(sj)  # float coordinates: no ties here
    got = ours.set_index("customer_id")["equipment_id"]
    exp = sj.set_index("customer_id")["equipment_id"]
    assert (got.loc[exp.index] == exp).all()


# --------------------------------------------------------------------------- errors
def test_geographic_crs_is_an_error():
    cust = gpd.GeoDataFrame({"customer_id": [1]}, geometry=[Point(-2.2, 53.4)], crs="EPSG:4326")
    with pytest.raises(CRSError, match="geographic"):
        customers_near(cust, equipment_frame([(E0, N0)]), radius=5)


def test_crs_mismatch_is_an_error():
    eq = equipment_frame([(E0, N0)]).to_crs("EPSG:4326")
    with pytest.raises(CRSError, match="mismatch"):
        customers_near(customers_frame([(E0, N0)]), eq, radius=5)
    with pytest.raises(CRSError, match="mismatch"):
        nearest_equipment(customers_frame([(E0, N0)]), eq.set_crs(None, allow_override=True))


@pytest.mark.parametrize(
    "bad", [None, Point(), shapely.from_wkt("POINT EMPTY")], ids=["none", "empty", "wkt_empty"]
)
def test_missing_or_empty_customer_geometry_is_an_error(bad):
    cust = gpd.GeoDataFrame(
        {"customer_id": ["ok", "bad"]}, geometry=[Point(E0, N0), bad], crs="EPSG:27700"
    )
    with pytest.raises(EmptyGeometryError, match="customer_id bad"):
        ProximityIndex(cust)


@pytest.mark.parametrize("bad", [None, LineString(), Polygon()], ids=["none", "line", "polygon"])
def test_missing_or_empty_equipment_geometry_is_an_error(bad):
    eq = gpd.GeoDataFrame(
        {"equipment_id": ["ok", "bad"]}, geometry=[Point(E0, N0), bad], crs="EPSG:27700"
    )
    with pytest.raises(EmptyGeometryError, match="equipment_id bad"):
        customers_near(customers_frame([(E0, N0)]), eq, radius=5)


def test_nan_coordinates_are_an_error():
    cust = customers_frame([(E0, N0), (np.nan, N0)])
    with pytest.raises(EmptyGeometryError, match="NaN"):
        ProximityIndex(cust)
    with pytest.raises(EmptyGeometryError, match="NaN"):
        ProximityIndex.from_coordinates(["a"], [np.inf], [N0])


def test_equipment_line_with_nan_vertex_is_an_error():
    with np.errstate(invalid="ignore"):
        line = shapely.from_wkt(f"LINESTRING ({E0} {N0}, NaN {N0 + 5})")
    eq = equipment_frame([line], ids=["route-1"])
    with pytest.raises(EmptyGeometryError, match="route-1"):
        customers_near(customers_frame([(E0, N0)]), eq, radius=5)


def test_customers_must_be_points():
    cust = gpd.GeoDataFrame(
        {"customer_id": ["house"]}, geometry=[Point(E0, N0).buffer(5)], crs="EPSG:27700"
    )
    with pytest.raises(ParameterError, match=r"not points.*Polygon"):
        ProximityIndex(cust)


@pytest.mark.parametrize(
    ("radius", "match"),
    [
        (-1, "negative"),
        (float("nan"), "missing, negative"),
        (True, "metres"),
        ("no_such_column", "names no equipment column"),
        ({"oltc_transformer": "fifty"}, "must be metres"),
        ([50], "not list"),
    ],
)
def test_bad_radius_is_an_error(radius, match):
    eq = equipment_frame([(E0, N0)], kinds=["oltc_transformer"])
    with pytest.raises(ParameterError, match=match):
        customers_near(customers_frame([(E0, N0)]), eq, radius=radius)


def test_per_kind_radius_needs_a_kind_column():
    with pytest.raises(ParameterError, match="'kind' column"):
        customers_near(customers_frame([(E0, N0)]), equipment_frame([(E0, N0)]), radius={"a": 1})


@pytest.mark.parametrize(("k", "max_distance"), [(0, None), (1.5, None), (1, -1.0)])
def test_bad_nearest_options_are_errors(k, max_distance):
    with pytest.raises(ParameterError):
        nearest_equipment(
            customers_frame([(E0, N0)]), equipment_frame([(E0, N0)]), k=k, max_distance=max_distance
        )


def test_missing_id_columns_and_wrong_types_are_errors():
    cust = customers_frame([(E0, N0)]).rename(columns={"customer_id": "mpan"})
    with pytest.raises(ParameterError, match="'customer_id'"):
        ProximityIndex(cust)
    with pytest.raises(TypeError, match="GeoDataFrame"):
        ProximityIndex(pd.DataFrame({"customer_id": [1]}))
    eq = equipment_frame([(E0, N0)]).rename(columns={"equipment_id": "asset"})
    with pytest.raises(ParameterError, match="'equipment_id'"):
        customers_near(customers_frame([(E0, N0)]), eq, radius=1)
    with pytest.raises(ParameterError, match="mask"):
        ProximityIndex(customers_frame([(E0, N0)])).within(
            equipment_frame([(E0, N0)]), radius=1, mask=[1]
        )
