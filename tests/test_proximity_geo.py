"""GeoPandas-shaped results: customers_near / nearest_equipment as GeoDataFrames, id names as parameters."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

import smartstreet_geo as ssg
from smartstreet_geo.errors import ParameterError

RADII = {"oltc_transformer": 50.0, "lv_capacitor": 30.0, "link_box_switch": 20.0}


@pytest.fixture(scope="module")
def small() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(16)
    n = 400
    customers = gpd.GeoDataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in rng.permutation(n)],
            "postcode": ["WN5 9XP"] * n,
        },
        geometry=gpd.points_from_xy(rng.uniform(0, 600, n), rng.uniform(0, 600, n)),
        crs="EPSG:27700",
    )
    equipment = gpd.GeoDataFrame(
        {
            "equipment_id": ["T1", "C2", "L3", "R4"],
            "kind": ["oltc_transformer", "lv_capacitor", "link_box_switch", "lv_capacitor"],
            "metres": [50.0, 35.0, 20.0, 10.0],
        },
        geometry=[
            Point(100, 100),
            Point(300, 300),
            Point(500, 120),
            LineString([(0, 500), (600, 500)]),  # a cable route: distance to the line
        ],
        crs="EPSG:27700",
    )
    return customers, equipment


def test_geometry_result_is_the_pairs_plus_kind_radius_and_points(small):
    customers, equipment = small
    plain = ssg.customers_near(customers, equipment, radius=RADII)
    geo = ssg.customers_near(customers, equipment, radius=RADII, geometry=True)
    assert isinstance(geo, gpd.GeoDataFrame) and not isinstance(plain, gpd.GeoDataFrame)
    assert geo.crs.to_epsg() == 27700
    assert geo.columns.tolist() == [
        "customer_id",
        "equipment_id",
        "distance_m",
        "kind",
        "radius_m",
        "geometry",
    ]
    pd.testing.assert_frame_equal(pd.DataFrame(geo[plain.columns]), plain)
    assert len(geo) > 20
    # oracles: the customer's own point, the equipment's kind, the radius for that kind
    by_id = customers.set_index("customer_id").geometry
    assert geo.geometry.geom_equals_exact(
        gpd.GeoSeries(by_id.loc[geo["customer_id"]].values, crs=27700), 0, align=False
    ).all()
    kinds = equipment.set_index("equipment_id")["kind"]
    assert (geo["kind"].to_numpy() == kinds.loc[geo["equipment_id"]].to_numpy()).all()
    assert (geo["radius_m"] == geo["kind"].map(RADII)).all()
    assert (geo["distance_m"] <= geo["radius_m"]).all()
    # the distance is from that geometry to the equipment's geometry
    eq_geom = equipment.set_index("equipment_id").geometry.loc[geo["equipment_id"]].values
    assert np.allclose(
        geo.geometry.distance(gpd.GeoSeries(eq_geom, crs=27700), align=False), geo["distance_m"]
    )


def test_radius_from_a_column_is_reported(small):
    customers, equipment = small
    geo = ssg.customers_near(customers, equipment, radius="metres", geometry=True)
    metres = equipment.set_index("equipment_id")["metres"]
    assert (geo["radius_m"].to_numpy() == metres.loc[geo["equipment_id"]].to_numpy()).all()
    assert "metres" not in geo.columns
    geo50 = ssg.customers_near(customers, equipment, radius=50, geometry=True)
    assert (geo50["radius_m"] == 50).all()


def test_geometry_result_survives_a_merge_and_explore(small):
    customers, equipment = small
    geo = ssg.customers_near(customers, equipment, radius=RADII, geometry=True)
    merged = geo.merge(customers[["customer_id", "postcode"]], on="customer_id")
    assert isinstance(merged, gpd.GeoDataFrame) and merged.crs.to_epsg() == 27700
    pytest.importorskip("folium")
    pytest.importorskip("mapclassify")  # explore() needs it (not a dependency)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # folium/branca internals
        m = geo.head(5).explore()
    assert type(m).__name__ == "Map"


def test_id_columns_are_parameters(small):
    customers, equipment = small
    want = ssg.customers_near(customers, equipment, radius=RADII)
    # the caller's names in, the caller's names out
    cust = customers.rename(columns={"customer_id": "MPAN"})
    cust["customer_id"] = "not-this-one"  # a column with the default name is not used
    eq = equipment.rename(columns={"equipment_id": "asset"})
    got = ssg.customers_near(cust, eq, radius=RADII, customer_id="MPAN", equipment_id="asset")
    pd.testing.assert_frame_equal(
        got, want.rename(columns={"customer_id": "MPAN", "equipment_id": "asset"})
    )
    near = ssg.nearest_equipment(cust, eq, k=2, customer_id="MPAN", equipment_id="asset")
    plain = ssg.nearest_equipment(customers, equipment, k=2)
    pd.testing.assert_frame_equal(
        near, plain.rename(columns={"customer_id": "MPAN", "equipment_id": "asset"})
    )
    with pytest.raises(ParameterError, match="no 'MPAN' column"):
        ssg.customers_near(customers, equipment, radius=RADII, customer_id="MPAN")
    with pytest.raises(ParameterError, match="would name two result columns the same"):
        ssg.customers_near(cust, eq, radius=RADII, customer_id="asset", equipment_id="asset")


def test_nearest_equipment_geometry(small):
    customers, equipment = small
    plain = ssg.nearest_equipment(customers, equipment, k=1)
    geo = ssg.nearest_equipment(customers, equipment, k=1, geometry=True)
    assert geo.columns.tolist() == [
        "customer_id",
        "equipment_id",
        "distance_m",
        "rank",
        "kind",
        "geometry",
    ]
    pd.testing.assert_frame_equal(pd.DataFrame(geo[plain.columns]), plain)
    assert geo["customer_id"].is_unique and len(geo) == len(customers)  # no ties here
    by_id = customers.set_index("customer_id").geometry
    assert geo.geometry.geom_equals_exact(
        gpd.GeoSeries(by_id.loc[geo["customer_id"]].values, crs=27700), 0, align=False
    ).all()


def test_empty_geometry_result_keeps_its_shape(small):
    customers, equipment = small
    geo = ssg.customers_near(customers, equipment, radius=0.0, geometry=True)
    assert len(geo) == 0 and geo.crs.to_epsg() == 27700
    assert "radius_m" in geo.columns and "kind" in geo.columns


def test_network_api_is_exported_beside_the_proximity_api():
    import smartstreet_geo.network as network
    import smartstreet_geo.proximity as proximity

    for name in (
        "Network",
        "circuit_members",
        "reconcile_circuits",
        "downstream_customers",
        "equipment_isolation_points",
    ):
        assert getattr(ssg, name) is getattr(network, name)
        assert name in ssg.__all__
    for name in ("ProximityIndex", "customers_near", "nearest_equipment"):
        assert getattr(ssg, name) is getattr(proximity, name)


def test_one_argument_order_network_customers_equipment():
    import inspect

    def first_params(fn, n):  # type: ignore[no-untyped-def]
        return list(inspect.signature(fn).parameters)[:n]

    assert first_params(ssg.circuit_members, 2) == ["network", "customers"]
    assert first_params(ssg.reconcile_circuits, 2) == ["network", "customers"]
    assert first_params(ssg.downstream_customers, 2) == ["network", "customers"]
    assert first_params(ssg.equipment_isolation_points, 2) == ["network", "equipment"]
    assert first_params(ssg.customers_near, 2) == ["customers", "equipment"]
    assert first_params(ssg.nearest_equipment, 2) == ["customers", "equipment"]
