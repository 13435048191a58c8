"""The campaign map shows an outage plan (issue 15 part 5).

Oracles: the :class:`~smartstreet_geo.network.OutagePlan` objects of a real
demo campaign run with ``[outage] plan = "backfeed"`` (their elements, parts,
closings and customers) and, for the cables of each de-energised part, a
networkx connected component of the network with the plan's isolated
elements and the normally-open points taken out.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

from hostile import HOSTILE
from smartstreet_geo import demo, maps
from smartstreet_geo.campaign import load_config, run_campaign
from smartstreet_geo.maps._plan import plan_features
from test_maps import (
    data_island,
    decode_points,
    expected_points,
    leaked,
    outside_island,
    point_labels,
    render,
    sorted_rows,
)

PLAN_KEYS = (
    "plan_isolated_nodes",
    "plan_parts",
    "plan_points_to_close",
    "plan_interrupted",
)


@pytest.fixture(scope="module")
def result() -> Any:
    cfg = dataclasses.replace(load_config(demo.path("campaign")), outage_plan="backfeed")
    r = run_campaign(cfg)
    assert r.outage_plans  # the demo has outage days
    return r


@pytest.fixture(scope="module")
def shared_html(result) -> str:
    return render(maps.campaign_map(result, tiles="none"))


@pytest.fixture(scope="module")
def internal_html(result) -> str:
    return render(maps.campaign_map(result, tiles="none", internal=True))


def _layers(html: str) -> dict[str, dict[str, Any]]:
    return {layer["spec"]["key"]: layer for layer in data_island(html)["layers"]}


def _interrupted_ids(result) -> set[str]:
    out: set[str] = set()
    for plan in result.outage_plans.values():
        c = plan.customers
        out |= set(c.loc[c["status"] == "interrupted", "customer_id"].astype(str))
    return out


# --------------------------------------------------------------------------- oracles
def test_layers_hold_the_plans_features_off_when_the_map_opens(result, shared_html):
    layers = _layers(shared_html)
    plans = result.outage_plans
    for key in PLAN_KEYS:
        assert key in layers, key
        assert layers[key]["show"] is False  # off by default: the contact layers are the map
        assert layers[key]["name"]["count"] == (
            len(layers[key]["spec"]["items"])
            if key != "plan_interrupted"
            else len(decode_points(layers[key]["spec"]))
        )
    # isolated nodes: one ring per element of every plan (the demo isolates nodes only)
    want_nodes = sorted(
        f"{day}: isolated node {e.partition(':')[2]}"
        for day, p in plans.items()
        for e in p.elements
    )
    assert all(e.startswith("node:") for p in plans.values() for e in p.elements)
    got = sorted(i["label"] for i in layers["plan_isolated_nodes"]["spec"]["items"])
    assert got == want_nodes
    # parts: one item per (day, part) of the plans' tables
    want_parts = sorted(
        (day, int(r.part), int(r.customers))
        for day, p in plans.items()
        for r in p.parts.itertuples(index=False)
    )
    got_parts = sorted(
        (
            lab.split(":")[0],
            int(lab.split("part ")[1].split(" ")[0]),
            int(lab.split("(")[1].split(" ")[0].replace(",", "")),
        )
        for lab in (i["label"] for i in layers["plan_parts"]["spec"]["items"])
    )
    assert got_parts == want_parts and len(want_parts) > 50
    # points to close: the plans' closings (day and edge id)
    want_close = sorted((day, str(e)) for day, p in plans.items() for e in p.closings["edge_id"])
    got_close = sorted(
        (i["label"].split(":")[0], i["label"].split("close ")[1].split(" ")[0])
        for i in layers["plan_points_to_close"]["spec"]["items"]
    )
    assert got_close == want_close and want_close
    assert {p for _, p in want_close} <= {p for pl in plans.values() for p in pl.points_to_close}


def test_interrupted_customers_are_placed_where_they_are(result, shared_html):
    spec = _layers(shared_html)["plan_interrupted"]["spec"]
    ids = _interrupted_ids(result)
    cust = result.customers
    where = cust[cust["customer_id"].astype(str).isin(ids)].drop_duplicates("customer_id")
    assert len(where) == len(ids)  # every interrupted customer is a valid, located customer
    got = sorted_rows(decode_points(spec))
    want = sorted_rows(expected_points(where))
    np.testing.assert_array_equal(got, want)
    total = sum(p.summary()["customers_interrupted"] for p in result.outage_plans.values())
    assert total >= len(ids) > 100


def test_part_cables_match_an_independent_component_search(result):
    feats = plan_features(result.outage_plans, result.edges)
    assert feats is not None and not feats.notes
    e = result.edges
    closed = e[~e["normally_open"].astype(bool)]
    g = nx.MultiGraph()
    for u, v, eid in zip(closed["from_node"], closed["to_node"], closed["edge_id"], strict=True):
        g.add_edge(u, v, key=eid)
    pe = feats.part_edges
    checked = 0
    for day, plan in result.outage_plans.items():
        iso_nodes = {x.partition(":")[2] for x in plan.elements if x.startswith("node:")}
        iso_edges = {x.partition(":")[2] for x in plan.elements if x.startswith("edge:")}
        cut = [(u, v, k) for u, v, k in g.edges(keys=True) if k in iso_edges]
        view = nx.restricted_view(g, iso_nodes, cut)
        for part in plan.parts.itertuples(index=False):
            nodes = nx.node_connected_component(view, part.head_node)
            assert len(nodes) == part.n_nodes  # the planner's part, found independently
            want = {k for n in nodes for keys in g[n].values() for k in keys} - iso_edges
            got = pe.loc[(pe["day"] == day) & (pe["part"] == part.part), "edge_id"]
            assert set(got) == want and len(got) == len(want), (day, part.part)
            checked += 1
    assert checked == len(feats.parts) > 50


def test_part_cables_on_the_page_decode_to_the_part_edges(result, shared_html):
    """Every vertex drawn for a part lies on (within 1e-5 degree of) one of its cables."""
    from smartstreet_geo.crs import bng_to_lonlat

    spec = _layers(shared_html)["plan_parts"]["spec"]
    feats = plan_features(result.outage_plans, result.edges)
    assert feats is not None
    first = spec["items"][0]
    day, part = first["label"].split(":")[0], int(first["label"].split("part ")[1].split(" ")[0])
    pe = feats.part_edges
    ids = set(pe.loc[(pe["day"] == day) & (pe["part"] == part), "edge_id"])
    geoms = result.edges[result.edges["edge_id"].isin(ids)].geometry
    xs = np.concatenate([np.asarray(g.coords)[:, 0] for g in geoms])
    ys = np.concatenate([np.asarray(g.coords)[:, 1] for g in geoms])
    lon, lat = bng_to_lonlat(xs, ys)
    want = np.column_stack([np.rint(lon * 1e5), np.rint(lat * 1e5)]).astype(np.int64)
    for flat in first["parts"]:
        f = np.asarray(flat, dtype=np.int64)
        pts = np.column_stack(
            [spec["origin"][0] + np.cumsum(f[0::2]), spec["origin"][1] + np.cumsum(f[1::2])]
        )
        # simplification keeps a subset of the vertices (end points always)
        d = np.abs(pts[:, None, :] - want[None, :, :]).max(axis=2).min(axis=1)
        assert d.max() <= 1


def test_legend_section_counts_each_layer(result, shared_html):
    legend = data_island(shared_html)["legend"]
    (section,) = [s for s in legend["sections"] if s["title"].startswith("Outage plan")]
    assert section["title"] == f"Outage plan (backfeed), {len(result.outage_plans)} outage days"
    counts = {row["key"]: row["count"] for row in section["rows"]}
    layers = _layers(shared_html)
    assert counts == {k: layers[k]["name"]["count"] for k in PLAN_KEYS}
    assert counts["plan_interrupted"] == len(_interrupted_ids(result))


# --------------------------------------------------------------------------- privacy
def test_shared_map_carries_no_customer_ids_or_addresses(result, shared_html):
    spec = _layers(shared_html)["plan_interrupted"]["spec"]
    assert not {"labels", "rest", "reasons", "wi", "ri"} & set(spec)  # positions only
    ids = _interrupted_ids(result)
    assert leaked(shared_html, ids) == []
    cust = result.customers
    off = cust[cust["customer_id"].astype(str).isin(ids)]
    addresses = {str(v) for v in off["address_line_1"].dropna()} | {
        str(v) for v in off["postcode"].dropna()
    }
    assert leaked(shared_html, addresses) == []
    assert "Still interrupted" not in shared_html and "PSR)" not in shared_html


def test_internal_map_says_who_and_when(result, internal_html):
    spec = _layers(internal_html)["plan_interrupted"]["spec"]
    labels = point_labels(spec)
    reasons = [spec["reasons"][w] for w in spec["wi"]]
    assert len(labels) == len(reasons) == len(_interrupted_ids(result))
    assert all(r.startswith("Still interrupted under the plan on 20") for r in reasons)
    assert any(r.endswith("(PSR)") for r in reasons)
    assert leaked(internal_html, _interrupted_ids(result)) == []  # ids never, even internal


def test_aggregated_map_groups_the_interrupted_customers_too(result):
    island = data_island(render(maps.campaign_map(result, tiles="none", aggregate_m=100)))
    spec = {layer["spec"]["key"]: layer for layer in island["layers"]}["plan_interrupted"]["spec"]
    assert not {"labels", "reasons"} & set(spec) and spec["cell"] == "100"
    cust = result.customers
    where = cust[cust["customer_id"].astype(str).isin(_interrupted_ids(result))]
    where = where.drop_duplicates("customer_id")
    cells = pd.Series(
        list(zip(where.geometry.x // 100, where.geometry.y // 100, strict=True))
    ).value_counts()
    assert sorted(spec["n"]) == sorted(cells[cells >= 5].tolist())
    hidden = int(cells[cells < 5].sum())
    assert any(f"{hidden:,} customers still interrupted in groups" in n
               for n in island["legend"]["notes"]) == (hidden > 0)  # fmt: skip


# --------------------------------------------------------------------------- no plan
def test_without_a_plan_the_map_is_byte_for_byte_the_same(result):
    plain = dataclasses.replace(result, outage_plans=None)
    html = render(maps.campaign_map(plain, tiles="none"))
    no_attr = SimpleNamespace(
        **{k: getattr(result, k) for k in ("customers", "equipment", "edges", "substations")},
        reconciliation=result.reconciliation,
    )
    assert html == render(maps.campaign_map(no_attr, tiles="none"))
    assert '"plan_' not in html
    assert (
        render(maps.campaign_map(dataclasses.replace(result, outage_plans={}), tiles="none"))
        == html
    )


# --------------------------------------------------------------------------- hand-drawn, hostile
def _obj(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """Text columns as ``object`` (a lone surrogate cannot be an Arrow string)."""
    return pd.DataFrame(
        {
            k: pd.Series(v, dtype=object if isinstance(v[0], str) else None)
            for k, v in columns.items()
        }
    )


def _tiny(text: str) -> SimpleNamespace:
    """S -e1- A -e2- B -e3- C -(open)- D -e4- S2; the plan isolates A, closes the open point.

    Edge and node ids carry ``text``; a fake plan (the attributes the map reads).
    """
    a, b, c = f"A{text}", f"B{text}", f"C{text}"
    op = f"op{text}"
    x0, y0 = 384_000.0, 398_000.0
    pts = {n: (x0 + 20 * i, y0) for i, n in enumerate(["S", a, b, c, "D", "S2"])}
    rows = [("e1", "S", a, False), (f"e2{text}", a, b, False), (f"e3{text}", b, c, False),
            (op, c, "D", True), ("e4", "D", "S2", False)]  # fmt: skip
    edges = gpd.GeoDataFrame(
        _obj(
            {
                "edge_id": [r[0] for r in rows],
                "from_node": [r[1] for r in rows],
                "to_node": [r[2] for r in rows],
                "circuit_id": ["C1", "C1", "C1", None, "C2"],
                "normally_open": [r[3] for r in rows],
            }
        ),
        geometry=[LineString([pts[r[1]], pts[r[2]]]) for r in rows],
        crs="EPSG:27700",
    )
    customers = gpd.GeoDataFrame(
        _obj(
            {
                "customer_id": [f"K1{text}", f"K2{text}"],
                "map_category": ["installation_letter", "not_contacted"],
                "map_category_shared": ["installation_letter", "not_contacted"],
                "address_line_1": [f"1 {text} Road", f"2 {text} Road"],
            }
        ),
        geometry=[Point(x0 + 20, y0 + 5), Point(x0 + 50, y0 + 5)],
        crs="EPSG:27700",
    )
    plan = SimpleNamespace(
        elements=(f"node:{a}",),
        points_to_close=[op],
        parts=_obj(
            {
                "part": [0],
                "n_nodes": [2],
                "head_node": [b],
                "customers": [1],
                "restored": [True],
                "point_to_close": [op],
            }
        ),
        closings=_obj(
            {
                "edge_id": [op],
                "part": [0],
                "donor_circuit": [f"C2{text}"],
                "customers_restored": [1],
            }
        ),
        customers=_obj(
            {
                "customer_id": [f"K1{text}", f"K2{text}"],
                "part": [-1, 0],
                "status": ["interrupted", "restored"],
                "psr": [False, False],
            }
        ),
    )
    equipment = gpd.GeoDataFrame(
        {"equipment_id": ["EQ1"], "kind": ["lv_capacitor"]},
        geometry=[Point(x0 + 20, y0)],
        crs="EPSG:27700",
    )
    return SimpleNamespace(
        customers=customers, equipment=equipment, edges=edges, outage_plans={"2027-01-04": plan}
    )


def test_hand_drawn_plan():
    r = _tiny("x")
    layers = _layers(render(maps.campaign_map(r, tiles="none")))
    assert [i["label"] for i in layers["plan_isolated_nodes"]["spec"]["items"]] == [
        "2027-01-04: isolated node Ax"
    ]
    feats = plan_features(r.outage_plans, r.edges)
    assert feats is not None
    assert sorted(feats.part_edges["edge_id"]) == ["e2x", "e3x"]  # B and C, and the cable to A
    assert feats.parts["n_nodes_found"].tolist() == [2]
    (close,) = layers["plan_points_to_close"]["spec"]["items"]
    assert close["label"] == "2027-01-04: close opx (feeds part 0 from C2x, restores 1 customers)"
    pts = decode_points(layers["plan_interrupted"]["spec"])
    np.testing.assert_array_equal(pts, expected_points(r.customers.iloc[[0]]))


def test_a_network_unlike_the_planned_one_is_said():
    r = _tiny("x")
    r.outage_plans["2027-01-04"].parts.loc[0, "n_nodes"] = 5
    island = data_island(render(maps.campaign_map(r, tiles="none")))
    assert any("differs from the one planned on" in n for n in island["legend"]["notes"])


@pytest.mark.parametrize("text", [v for _, v in HOSTILE], ids=[i for i, _ in HOSTILE])
def test_hostile_ids_are_data_never_markup(text):
    html = render(maps.campaign_map(_tiny(text), tiles="none"))
    reference = outside_island(render(maps.campaign_map(_tiny("x"), tiles="none")))
    assert outside_island(html) == reference  # the ids reach the data island only
    island = data_island(html)
    labels = [i["label"] for i in _layers(html)["plan_isolated_nodes"]["spec"]["items"]]
    assert labels == [f"2027-01-04: isolated node A{text}".strip()] or labels == [
        f"2027-01-04: isolated node {('A' + text).strip()}"
    ]
    # no customer id, even hostile, reaches the page (only the interrupted customer's position)
    assert f"K1{text}" not in json.dumps(island, ensure_ascii=False) and f"K1{text}" not in html
    assert len(decode_points(_layers(html)["plan_interrupted"]["spec"])) == 1


# --------------------------------------------------------------------------- browser
@pytest.mark.browser
def test_plan_layers_exist_and_toggle_in_chromium(result, tmp_path):
    from test_maps_tools import CHROMIUM, _open, _settle

    sync = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    path = maps.save_map(maps.campaign_map(result, tiles="none"), tmp_path / "plan.html")
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            o = _open(browser, path)
            page = o.page
            layers = _layers(path.read_text(encoding="utf-8"))
            for key in PLAN_KEYS:
                assert page.evaluate(f"!!SSG.registry[{json.dumps(key)}]"), key
                assert not page.evaluate(f"SSG.map.hasLayer(SSG.registry.{key}.layer)"), key
                label = layers[key]["name"]["label"]
                count = layers[key]["name"]["count"]
                row = page.locator(".ssg-legend label.ssg-legend-row").filter(has_text=label)
                assert row.count() == 1, label
                assert f"{count:,}" in row.inner_text()
                row.locator("input").check()
                _settle(page)
                assert page.evaluate(f"SSG.map.hasLayer(SSG.registry.{key}.layer)"), key
            tip = page.evaluate("SSG.lineTip('plan_points_to_close', 0).textContent")
            assert ": close " in tip and "normally-open point the plan closes" in tip
            tip = page.evaluate("SSG.lineTip('plan_parts', 0).textContent")
            assert "de-energised part" in tip
            # points to close are drawn at every zoom (plain open points from street zoom)
            page.evaluate("SSG.map.setZoom(11, {animate: false})")
            _settle(page)
            row = page.locator(".ssg-legend label.ssg-legend-row")
            row.filter(has_text=layers["plan_points_to_close"]["name"]["label"]).locator(
                "input"
            ).uncheck()
            _settle(page)
            assert not page.evaluate("SSG.map.hasLayer(SSG.registry.plan_points_to_close.layer)")
            assert o.asked == [] and o.errors == []
        finally:
            browser.close()
