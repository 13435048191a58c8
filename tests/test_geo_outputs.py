"""QGIS-facing outputs read back with pyogrio: layers, CRS, columns, and counts equal to the lists.

The oracle for every count is the campaign's own lists: premises are the
distinct premise keys of the valid customers, their references are the
contact references of letters.csv and phone_calls.csv, the outage layer is the
premises of the outage contacts. A three-customer campaign runs by default; the
demo campaign (85,000 customers, every layer) is opt-in (``-m slow``, ~40 s).
"""

from __future__ import annotations

import os
import stat

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import smartstreet_geo as ssg
from smartstreet_geo.campaign import premise_keys
from smartstreet_geo.errors import ParameterError
from smartstreet_geo.export import pseudonym, staged_output
from smartstreet_geo.geo_outputs import (
    LAYERS,
    campaign_layers,
    geo_output_names,
    radius_polygons,
    write_campaign_layers,
    write_layers,
)

pyogrio = pytest.importorskip("pyogrio")

KEY = bytes(range(16))
slow = pytest.mark.slow


def test_small_campaign_layers_equal_its_csv_lists(tmp_path):
    from smartstreet_geo.cli import main
    from test_cli_conventions import _late_campaign

    campaign = _late_campaign(tmp_path, install_date="2027-03-01", psr="Y")  # outage calls
    assert main(["run", str(campaign), "--out", str(tmp_path / "lists"), "--no-map", "-q"]) == 0
    letters = pd.read_csv(tmp_path / "lists" / "letters.csv", dtype=str)
    calls = pd.read_csv(tmp_path / "lists" / "phone_calls.csv", dtype=str)
    result = ssg.run_campaign(ssg.load_config(campaign))
    out = tmp_path / "geo"
    with staged_output(out, names=geo_output_names("gpkg")) as stage:
        write_campaign_layers(result, stage, geo="gpkg", internal=True)
    path = out / "layers.gpkg"
    listed = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    assert listed == list(LAYERS)
    premises = pyogrio.read_dataframe(path, layer="premises")
    assert premises.crs.to_epsg() == 27700
    assert len(premises) == 3 and premises["n_customers"].tolist() == [1, 1, 1]
    refs = sorted(r for cell in premises["contact_refs"] if cell for r in cell.split(";"))
    assert refs == sorted([*letters["contact_ref"], *calls["contact_ref"]])
    outage = pyogrio.read_dataframe(path, layer="outage_impact")
    assert len(outage) == 3 and set(outage["outage_date"]) == {"2027-03-01"}
    assert sorted(r for c in outage["contact_refs"] for r in c.split(";")) == sorted(
        r for r in refs if "-OL-" in r or "-PC-" in r
    )
    assert len(calls) == 3  # the PSR customers are phoned: only the internal layers say so
    assert set(premises["internal_category"]) == {"phone_call"}
    assert set(premises["contact_category"]) != {"phone_call"}
    assert pyogrio.read_dataframe(path, layer="circuits_in_scope")["edge_id"].tolist() == ["e1"]
    radius = pyogrio.read_dataframe(path, layer="equipment_radius")
    assert radius["radius_m"].tolist() == [30.0]
    assert 0.997 < float(radius.area.iloc[0]) / (np.pi * 30.0**2) <= 1.0


@pytest.fixture(scope="module")
def demo_result() -> ssg.CampaignResult:
    return ssg.run_campaign(ssg.load_config(ssg.demo.path("campaign")))


@pytest.fixture(scope="module")
def gpkg(demo_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("geo") / "run"
    with staged_output(out, names=geo_output_names("gpkg")) as stage:
        names = write_campaign_layers(demo_result, stage, geo="gpkg")
    assert names == ["layers.gpkg"]
    return out / "layers.gpkg"


def _layer(path, name) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(path, layer=name)


@slow
def test_gpkg_has_every_layer_in_bng_owner_only(gpkg):
    listed = pyogrio.list_layers(gpkg)
    assert [str(n) for n in listed[:, 0]] == list(LAYERS)
    assert dict(zip(listed[:, 0], listed[:, 1], strict=True)) == {
        "premises": "Point",
        "equipment": "Point",
        "equipment_radius": "Polygon",
        "circuits_in_scope": "LineString",
        "substations": "Point",
        "outage_impact": "Point",
    }
    for name in LAYERS:
        info = pyogrio.read_info(gpkg, layer=name)
        assert info["crs"] == "EPSG:27700", name
    assert stat.S_IMODE(os.stat(gpkg).st_mode) == 0o600
    assert [p.name for p in gpkg.parent.iterdir()] == ["layers.gpkg"]  # no journal, no scratch


@slow
def test_premises_equal_the_customers_premises(gpkg, demo_result):
    premises = _layer(gpkg, "premises")
    assert premises.columns.tolist() == [
        "premise_ref",
        "contact_category",
        "n_customers",
        "contact_refs",
        "geometry",
    ]
    keys = premise_keys(demo_result.customers)
    assert len(premises) == keys.nunique()
    assert premises["n_customers"].sum() == len(demo_result.customers)
    assert premises["premise_ref"].is_unique
    # shareable references: the leaflets and installation letters, each on one premise
    contacts = demo_result.contacts
    shown = contacts[contacts["campaign"].isin(["leaflet", "installation_letter"])]
    refs = [r for cell in premises["contact_refs"] if cell for r in cell.split(";")]
    assert sorted(refs) == sorted(shown["contact_ref"])
    # categories: the shareable ones only (a phone call would reveal the PSR)
    assert set(premises["contact_category"]) <= {
        "leaflet",
        "installation_letter",
        "manual_review",
        "not_contacted",
    }
    shared = demo_result.customers["map_category_shared"]
    for category in ("installation_letter", "leaflet"):
        # a premise shows the most serious category of its customers: never more premises
        # than customers in that category, and every such customer's premise is counted
        n_premises = (premises["contact_category"] == category).sum()
        assert 0 < n_premises <= (shared == category).sum()


@slow
def test_internal_premises_list_every_contact_and_customer(demo_result):
    layers = campaign_layers(demo_result, internal=True)
    premises = layers["premises"]
    refs = [r for cell in premises["contact_refs"] if cell for r in cell.split(";")]
    assert sorted(refs) == sorted(demo_result.contacts["contact_ref"])
    ids = [c for cell in premises["customer_ids"] for c in cell.split(";")]
    assert sorted(ids) == sorted(demo_result.customers["customer_id"].astype(str))
    assert "phone_call" in set(premises["internal_category"])


@slow
def test_equipment_radius_and_circuits_equal_the_result(gpkg, demo_result):
    eq = _layer(gpkg, "equipment")
    assert len(eq) == len(demo_result.equipment)
    assert eq["equipment_id"].tolist() == demo_result.equipment["equipment_id"].tolist()
    assert np.allclose(eq["radius_m"], demo_result.equipment["radius_m"])
    radius = _layer(gpkg, "equipment_radius")
    assert len(radius) == len(eq)
    # a point's polygon is the circle of its radius (to 0.2 %), centred on it
    ratio = radius.area / (np.pi * radius["radius_m"] ** 2)
    assert ratio.between(0.997, 1.0).all()
    assert np.allclose(radius.centroid.x, eq.geometry.x, atol=1e-6)
    circuits = _layer(gpkg, "circuits_in_scope")
    assert len(circuits) == int(demo_result.edges["in_scope"].sum())
    assert set(circuits["edge_id"]) == set(
        demo_result.edges.loc[demo_result.edges["in_scope"], "edge_id"]
    )
    assert len(_layer(gpkg, "substations")) == len(demo_result.substations)


@slow
def test_outage_impact_equals_the_outage_contacts(gpkg, demo_result):
    outage = _layer(gpkg, "outage_impact")
    contacts = demo_result.contacts
    affected = contacts[contacts["campaign"].isin(["outage_letter", "outage_phone_call"])]
    assert len(outage) == affected["premise_key"].nunique() > 0
    assert outage["premise_ref"].is_unique
    premises = _layer(gpkg, "premises").set_index("premise_ref")
    # each outage premise is a premise, at the same point
    assert outage["premise_ref"].isin(premises.index).all()
    assert (
        premises.loc[outage["premise_ref"]].geometry.values.geom_equals(outage.geometry.values)
    ).all()
    assert (outage["outage_date"] != "").all() and (outage["circuit_id"] != "").all()
    assert "contact_refs" not in outage.columns and "campaigns" not in outage.columns


@slow
def test_no_personal_data_in_the_shareable_gpkg(gpkg, demo_result):
    data = gpkg.read_bytes()
    customers = demo_result.customers.sample(60, random_state=16)
    for col in ("customer_id", "name", "phone", "address_line_1"):
        for value in customers[col].dropna().astype(str):
            if len(value) >= 6:
                assert value.encode("utf-8") not in data, col
    keys = premise_keys(customers)
    for key in keys.head(50):
        assert key.encode("utf-8") not in data


@slow
def test_parquet_layers_equal_the_gpkg_layers(gpkg, demo_result, tmp_path):
    out = tmp_path / "run"
    with staged_output(out, names=geo_output_names("parquet")) as stage:
        names = write_campaign_layers(demo_result, stage, geo="parquet")
    assert names == [f"{n}.parquet" for n in LAYERS]
    for name in LAYERS:
        path = out / f"{name}.parquet"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        pq = gpd.read_parquet(path)
        assert pq.crs.to_epsg() == 27700
        gp = _layer(gpkg, name)
        assert pq.columns.tolist() == gp.columns.tolist()
        assert len(pq) == len(gp)
        assert pq.geometry.geom_equals_exact(gp.geometry, 1e-9).all()


@slow
def test_pseudonym_key_names_premises_by_their_keyed_pseudonym(demo_result):
    layers = campaign_layers(demo_result, pseudonym_key=KEY)
    premises = layers["premises"]
    keys = sorted(set(premise_keys(demo_result.customers)))
    want = pseudonym(pd.Series(keys, dtype=object), KEY)
    assert sorted(premises["premise_ref"]) == sorted(want)


def test_write_layers_refuses_other_formats_and_crs(tmp_path):
    from shapely import Point

    eq = gpd.GeoDataFrame(
        {"equipment_id": ["T1", "L1"], "kind": ["oltc_transformer", "lv_capacitor"]},
        geometry=[Point(0, 0), Point(100, 0)],
        crs="EPSG:27700",
    ).assign(radius_m=[50.0, 30.0])
    layers = {"equipment_radius": radius_polygons(eq)}
    with pytest.raises(ParameterError, match="choose one of gpkg, parquet"):
        write_layers(layers, tmp_path / "x.shp")
    with pytest.raises(ParameterError, match="not in EPSG:27700"):
        write_layers({"x": eq.to_crs(4326)}, tmp_path / "x.gpkg")
    assert not list(tmp_path.iterdir())
    (path,) = write_layers(layers, tmp_path / "x.gpkg")
    back = pyogrio.read_dataframe(path)
    assert back["radius_m"].tolist() == [50.0, 30.0] and back.crs.to_epsg() == 27700


def test_table_layers_place_rows_at_their_customers(tmp_path):
    from shapely import Point

    from smartstreet_geo.geo_outputs import table_layers

    customers = gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2", "c3"]},
        geometry=[Point(0, 0), Point(10, 0), Point(20, 0)],
        crs="EPSG:27700",
    )
    members = pd.DataFrame(
        {"customer_id": ["c3", "c1", "c9", "c3"], "circuit_id": ["F1", "F1", "F2", "F2"]}
    )
    (layer,) = table_layers({"members": members}, customers).values()
    assert layer.columns.tolist() == ["circuit_id", "geometry"]  # no customer id
    assert layer.geometry.x.fillna(-1).tolist() == [20.0, 0.0, -1, 20.0]  # c9: kept, no point
    assert layer.crs.to_epsg() == 27700
    internal = table_layers({"m": members}, customers, internal=True)["m"]
    assert internal["customer_id"].tolist() == ["c3", "c1", "c9", "c3"]
    keyed = table_layers({"m": members}, customers, pseudonym_key=KEY)["m"]
    assert keyed["customer_ref"].tolist() == pseudonym(members["customer_id"], KEY).tolist()
    (path,) = write_layers({"members": layer}, tmp_path / "m.gpkg")
    back = pyogrio.read_dataframe(path)
    assert len(back) == 4 and back.geometry.isna().sum() == 1
