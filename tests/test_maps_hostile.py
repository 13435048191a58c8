"""Hostile text through every map builder: data is never a template, markup or code (issue 11).

folium/branca render every element as a Jinja2 template, and branca renders the
*output* of each element's macros as a template a second time. So text from the
inputs must never be part of what branca renders: it reaches the page only in
one JSON data island that the page's own script reads with ``JSON.parse`` and
shows with ``textContent``.

The checks, for every value of :data:`hostile.HOSTILE` in every text field that
reaches a map (equipment id, free-text kind, install date, circuit id,
substation id and name, normally-open edge id, customer address lines and post
town in internal mode, title, tile attribution), through every builder:

- no exception, no template evaluation (the ``mkdir`` payload creates nothing,
  ``{{7*7}}`` never becomes ``49``);
- the page outside the data island is the same bytes whatever the data (so no
  value can reach markup, script or a template);
- the data island parses as JSON and holds each value exactly (stripped of
  surrounding whitespace, as the map shows it); nothing personal beyond the
  allowlist is in it.

What the browser shows is checked in ``test_maps_browser.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

from hostile import HOSTILE, hostile_ids
from smartstreet_geo import maps
from smartstreet_geo.errors import ParameterError
from smartstreet_geo.maps._assets import EXTERNAL_RESOURCE
from test_maps import _map_command, data_island, outside_island, render

VALUES = [v for _, v in HOSTILE]
N = len(VALUES)
#: The payload that creates a folder when a template evaluates it.
RCE = dict(HOSTILE)["jinja_rce"]
#: Categories cycled over the hostile customers.
CATS = list(maps.CATEGORIES)


def shown(value: str) -> str:
    """The text a map shows for a value (surrounding whitespace trimmed)."""
    return value.strip()


def nth(i: int) -> str:
    return VALUES[i % N]


def frame(columns: dict[str, Any], geoms: list[Any]) -> gpd.GeoDataFrame:
    """A BNG GeoDataFrame whose text columns are object dtype (a lone surrogate cannot be
    stored in pandas' default Arrow-backed ``str`` dtype, but can reach a map as ``object``)."""
    data = {
        k: pd.Series(v, dtype=object)
        if isinstance(v, list) and any(isinstance(x, str) for x in v)
        else v
        for k, v in columns.items()
    }
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs="EPSG:27700")


# --------------------------------------------------------------------------- hostile frames
def hostile_equipment() -> gpd.GeoDataFrame:
    """One item per hostile value: id, kind, date, circuit and substation all hostile."""
    return frame(
        {
            "equipment_id": VALUES,
            "kind": [nth(i + 1) for i in range(N)],
            "install_date": [nth(i + 2) for i in range(N)],
            "circuit_id": [nth(i + 3) for i in range(N)],
            "substation_id": [nth(i + 4) for i in range(N)],
            "outage_required": [i % 2 == 0 for i in range(N)],
            "radius_m": 20.0,
            "n_customers_within": np.arange(N),
        },
        [Point(384_000 + 80 * i, 398_000) for i in range(N)],
    )


def hostile_edges() -> gpd.GeoDataFrame:
    """Per value: a closed edge whose circuit id is the value, an open one whose edge id is."""
    rows, geoms = [], []
    for i, v in enumerate(VALUES):
        y = 398_300 + 40 * i
        rows.append({"edge_id": f"E{i}", "circuit_id": v, "normally_open": False})
        geoms.append(LineString([(384_000, y), (384_060, y)]))
        rows.append({"edge_id": v, "circuit_id": f"C{i}", "normally_open": True})
        geoms.append(LineString([(384_100, y), (384_101, y)]))
    return frame({k: [r[k] for r in rows] for k in rows[0]}, geoms)


def hostile_substations() -> gpd.GeoDataFrame:
    """Per value: a substation named by it, and one whose id is it (no name)."""
    ids = [f"S{i}" for i in range(N)] + VALUES
    names: list[str | None] = [*VALUES, *([None] * N)]
    geoms = [Point(383_800, 398_300 + 40 * i) for i in range(2 * N)]
    return frame({"substation_id": ids, "name": names}, geoms)


def hostile_customers() -> gpd.GeoDataFrame:
    """One customer per value; every personal and address field hostile."""
    return frame(
        {
            "customer_id": [f"NOTSHOWN-ID-{v}" for v in VALUES],
            "name": [f"NOTSHOWN-NAME-{v}" for v in VALUES],
            "phone": [f"NOTSHOWN-PHONE-{v}" for v in VALUES],
            "address_line_1": VALUES,
            "address_line_2": [nth(i + 1) for i in range(N)],
            "address_line_3": [None if i % 3 else nth(i + 5) for i in range(N)],
            "post_town": [nth(i + 2) for i in range(N)],
            "postcode": ["M1 1AA"] * N,
            "map_category": [CATS[i % len(CATS)] for i in range(N)],
        },
        [Point(384_000 + 50 * i, 397_600) for i in range(N)],
    )


def expected_labels(customers: pd.DataFrame) -> list[str]:
    cols = list(maps.INTERNAL_CUSTOMER_COLUMNS)
    out = []
    for row in customers[cols].itertuples(index=False):
        parts = [shown(v) for v in row if isinstance(v, str) and shown(v)]
        out.append(", ".join(parts))
    return out


# --------------------------------------------------------------------------- page checks
@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty folder: a template payload would create ``pwned`` here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def reference_outside() -> str:
    """The page outside the data island for harmless data: every map must equal it."""
    eq = gpd.GeoDataFrame(
        {"equipment_id": ["EQ1"], "kind": ["lv_capacitor"]},
        geometry=[Point(384_000, 398_000)],
        crs="EPSG:27700",
    )
    return outside_island(render(maps.equipment_map(eq, tiles="none")))


def check_page(html: str, reference: str) -> dict[str, Any]:
    """Checks every hostile page passes; returns the parsed data island."""
    assert not Path("pwned").exists(), "a template evaluated the mkdir payload"
    assert "3 49 Road" not in html and "3 {{7*7}} Road" not in outside_island(html)
    assert EXTERNAL_RESOURCE.search(html) is None
    assert outside_island(html) == reference  # data never reaches markup, script or template
    html.encode("utf-8")  # the page can be written (lone surrogates are \u escapes)
    return data_island(html)


def layers(island: dict[str, Any], factory: str) -> list[dict[str, Any]]:
    return [layer for layer in island["layers"] if layer["factory"] == factory]


def equipment_texts(island: dict[str, Any]) -> dict[str, list[str]]:
    items = [(layer, it) for layer in layers(island, "equipment") for it in layer["spec"]["items"]]
    return {
        "id": sorted(it["id"] for _, it in items),
        "kind": sorted(layer["spec"]["label"] for layer, _ in items),
        "date": sorted(it["date"] for _, it in items),
        "circuit": sorted(it["circuit"] for _, it in items),
        "substation": sorted(it["substation"] for _, it in items),
    }


def expected_equipment(eq: pd.DataFrame) -> dict[str, list[str]]:
    def col(name: str) -> list[str]:
        return sorted(shown(v) for v in eq[name])

    return {
        "id": col("equipment_id"),
        "kind": col("kind"),
        "date": col("install_date"),
        "circuit": col("circuit_id"),
        "substation": col("substation_id"),
    }


# --------------------------------------------------------------------------- builders
def test_equipment_map_keeps_every_hostile_field_as_data(reference_outside):
    eq = hostile_equipment()
    island = check_page(render(maps.equipment_map(eq, tiles="none")), reference_outside)
    assert equipment_texts(island) == expected_equipment(eq)
    names = sorted(layer["name"]["label"] for layer in layers(island, "equipment"))
    assert names == sorted({shown(v) for v in eq["kind"]})  # the layer-control labels
    legend = sorted(r["label"] for s in island["legend"]["sections"] for r in s["rows"])
    assert legend == names


def test_circuits_map_keeps_circuit_edge_and_substation_ids_as_data(reference_outside):
    edges, subs = hostile_edges(), hostile_substations()
    for in_scope in (None, VALUES[::2]):
        island = check_page(
            render(maps.circuits_map(edges, subs, in_scope=in_scope, tiles="none")),
            reference_outside,
        )
        lines = {layer["spec"]["key"]: layer["spec"]["items"] for layer in layers(island, "lines")}
        circuits = sorted(it["label"] for k, items in lines.items() if k != "open_points"
                          for it in items)  # fmt: skip
        # one line per circuit: "\t=1+1" and "\r=1+1" are the same circuit once trimmed
        assert circuits == sorted({shown(v) for v in VALUES})
        if in_scope is not None:
            assert sorted(it["label"] for it in lines["circuits_in_scope"]) == sorted(
                {shown(v) for v in in_scope}
            )
        opens = sorted(it["label"] for it in lines["open_points"])
        assert opens == sorted(f"Normally-open point {shown(v)}".strip() for v in VALUES)
        (sub_layer,) = layers(island, "substations")
        got = sorted((it["id"], it["name"] or "") for it in sub_layer["spec"]["items"])
        want = sorted(
            (shown(i), shown(n) if isinstance(n, str) else "")
            for i, n in zip(subs["substation_id"], subs["name"], strict=True)
        )
        assert got == want


@pytest.mark.parametrize("internal", [False, True])
@pytest.mark.parametrize("builder", ["customers_map", "campaign_map"])
def test_customer_maps_show_addresses_only_internally_and_only_as_data(
    builder, internal, reference_outside
):
    cust = hostile_customers()
    if builder == "customers_map":
        m = maps.customers_map(cust, tiles="none", internal=internal)
    else:
        res = SimpleNamespace(
            customers=cust,
            equipment=hostile_equipment(),
            edges=hostile_edges(),
            substations=hostile_substations(),
        )
        m = maps.campaign_map(res, tiles="none", internal=internal)
    html = render(m)
    island = check_page(html, reference_outside)
    assert "NOTSHOWN" not in html  # names, phones, customer ids: never
    points = layers(island, "points")
    # everything but the equipment and network layers (which carry the same strings)
    # (search, bookmarks and area names carry equipment, circuit and substation ids)
    other = {"layers": points, "legend": None, "search": None, "bookmarks": None, "areas": None}
    customer_part = json.dumps({**island, **other}, ensure_ascii=False) + json.dumps(
        [x for x in island["legend"]["sections"] if x["title"].startswith("Customers")],
        ensure_ascii=False,
    )
    labels = [
        lab + (", " + spec["rest"][r] if spec["rest"][r] else "")
        for spec in (p["spec"] for p in points)
        for lab, r in zip(spec.get("labels", []), spec.get("ri", []), strict=True)
    ]
    if internal:
        assert sorted(labels) == sorted(expected_labels(cust))
    else:
        assert labels == []
        assert all(set(p["spec"]) & {"labels", "rest", "ri"} == set() for p in points)
        # the search box knows postcode sectors only, and no other customer text
        kinds = {e[0] for e in island["search"]} - {"equipment", "circuit", "substation"}
        assert kinds <= {"postcode sector"}
        sectors = [e[1] for e in island["search"] if e[0] == "postcode sector"]
        assert all(re.fullmatch(r"[A-Z0-9]{2,4} [0-9]", v) for v in sectors), sectors
        for v in VALUES:  # no address value (short ones may occur by chance)
            if len(shown(v)) >= 8:
                assert json.dumps(shown(v), ensure_ascii=False)[1:-1] not in customer_part, v


def test_inputs_map_with_everything_hostile(reference_outside):
    eq = hostile_equipment()
    island = check_page(
        render(
            maps.inputs_map(
                customers=hostile_customers().drop(columns="map_category"),
                equipment=eq,
                edges=hostile_edges(),
                substations=hostile_substations(),
                internal=True,
                tiles="none",
                title=RCE,
            )
        ),
        reference_outside,
    )
    assert equipment_texts(island) == expected_equipment(eq)
    assert island["title"] == RCE and island["legend"]["title"] == RCE


# --------------------------------------------------------------------------- title, attribution
@pytest.mark.parametrize("value", VALUES, ids=hostile_ids())
def test_title_is_data(value, reference_outside):
    eq = hostile_equipment().iloc[:1]
    html = render(maps.equipment_map(eq, tiles="none", title=value))
    island = check_page(html, reference_outside)
    assert island["title"] == value and island["legend"]["title"] == value


@pytest.mark.parametrize("value", VALUES, ids=hostile_ids())
@pytest.mark.parametrize("tiles", ["osm", "https://tiles.example.org/{z}/{x}/{y}.png"])
def test_tile_attribution_is_data(value, tiles):
    eq = hostile_equipment().iloc[:1]
    html = render(maps.equipment_map(eq, tiles=tiles, tile_attribution=value))
    island = data_island(html)
    assert not Path("pwned").exists()
    assert "3 49 Road" not in html
    assert island["tiles"]["attribution"] == value
    assert island["tiles"]["url"] == (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png" if tiles == "osm" else tiles
    )
    # the only difference a tile layer makes outside the island is none at all
    plain = render(maps.equipment_map(eq, tiles="none"))
    assert outside_island(html) == outside_island(plain)


# --------------------------------------------------------------------------- tiles
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "none"),
        ("none", "none"),
        ("osm", "osm"),
        ("OSM", "osm"),
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/{z}/{x}/{y}.png"),
        ("https://{s}.tiles.example.org/{z}/{x}/{-y}.png?key=a&b=1",
         "https://{s}.tiles.example.org/{z}/{x}/{-y}.png?key=a&b=1"),
    ],
)  # fmt: skip
def test_check_tiles_accepts_none_osm_and_https_templates(value, expected):
    assert maps.check_tiles(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "javascript:alert(1)//{z}/{x}/{y}",
        "JaVaScRiPt:alert(1)//{z}/{x}/{y}",
        "data:text/html,<script>alert(1)</script>{z}{x}{y}",
        "http://tiles.example.org/{z}/{x}/{y}.png",  # https only
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/tiles.png",  # no {z}/{x}/{y}
        "https:///{z}/{x}/{y}.png",  # no host
        "https://user:pw@tiles.example.org/{z}/{x}/{y}.png",
        'https://tiles.example.org/{z}/{x}/{y}.png"onload=alert(1)',
        "https://tiles.example.org/{{7*7}}/{z}/{x}/{y}.png",
        "https://tiles.example.org/{foo}/{z}/{x}/{y}.png",  # Leaflet throws on {foo}
        "https://tiles.example.org/{z}/{x}/{y}.png ",
        "https://tiles.example.org/\u202e/{z}/{x}/{y}.png",
        "",
        "osm ",
        *VALUES,
    ],
)
def test_check_tiles_refuses_anything_else_before_anything_is_written(value, tmp_path):
    with pytest.raises(ParameterError, match="tile URL template"):
        maps.check_tiles(value)
    eq = hostile_equipment().iloc[:1]
    for build in (
        lambda: maps.equipment_map(eq, tiles=value),
        lambda: maps.circuits_map(hostile_edges().iloc[:2], tiles=value),
        lambda: maps.customers_map(hostile_customers().iloc[:1], tiles=value),
        lambda: maps.campaign_map(
            SimpleNamespace(customers=hostile_customers(), equipment=eq), tiles=value
        ),
    ):
        with pytest.raises(ParameterError, match="tile URL template"):
            build()
    with pytest.raises(ParameterError, match="tile URL template"):
        _map_command(["--equipment", "missing.csv", f"--tiles={value}", "--out", "m.html"])
    assert not Path("m.html").exists()


@pytest.mark.parametrize("option", ["title", "tile_attribution"])
def test_title_and_attribution_must_be_text(option):
    with pytest.raises(ParameterError, match=option):
        maps.equipment_map(hostile_equipment().iloc[:1], tiles="osm", **{option: 5})


def test_check_tiles_refuses_non_text():
    with pytest.raises(ParameterError, match="tile URL template"):
        maps.check_tiles(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- command line
def _write_equipment_csv(path: Path, ids: list[str]) -> None:
    rows = pd.DataFrame(
        {
            "equipment_id": ids,
            "kind": "lv_capacitor",
            "easting": 384_000 + 30 * np.arange(len(ids)),
            "northing": 398_000,
            "circuit_id": ids,
        }
    )
    rows.to_csv(path, index=False, encoding="utf-8")


#: Values a UTF-8 CSV can carry (no lone surrogate) that the reader keeps as they are.
CSV_SAFE = [
    (i, v)
    for i, v in HOSTILE
    if i not in {"lone_surrogate", "nul", "control_bell", "control_escape", "formula_cr"}
    and "\r" not in v
    and "\n" not in v
]


@pytest.mark.parametrize("what", ["title", "attribution"])
def test_map_command_keeps_title_attribution_and_file_values_as_data(what, reference_outside):
    import smartstreet_geo as ssg

    _write_equipment_csv(Path("eq.csv"), [v for _, v in CSV_SAFE])
    # the oracle: the ids exactly as the reader delivers them (it may reject or clean some)
    read = ssg.read_equipment("eq.csv").data
    expected = {shown(v) for v in read["equipment_id"]}
    assert len(expected) >= len(CSV_SAFE) - 3
    for i, value in CSV_SAFE:
        out = f"{i}.html"
        option = [f"--title={value}"] if what == "title" else [f"--tile-attribution={value}"]
        tiles = ["--tiles", "none"] if what == "title" else []
        assert _map_command(["--equipment", "eq.csv", *tiles, *option, "--out", out]) == 0
        html = Path(out).read_bytes().decode("utf-8")
        if what == "title":
            island = check_page(html, reference_outside)
            assert island["title"] == value
        else:
            island = data_island(html)
            assert island["tiles"]["attribution"] == value
            assert not Path("pwned").exists() and "3 49 Road" not in html
        ids = {it["id"] for layer in layers(island, "equipment") for it in layer["spec"]["items"]}
        assert ids == expected, "an id was changed between the reader and the map"


def test_map_command_as_a_real_process_does_not_evaluate_templates(tmp_path):
    import subprocess
    import sys

    _write_equipment_csv(Path("eq.csv"), ["3 {{7*7}} Road", "Unit {{ 3", "{% if %}", RCE])
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "map", "--equipment", "eq.csv",
         "--tiles", "none", "--title", RCE, "--tile-attribution", "{# note", "--out", "m.html"],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "pwned").exists()
    island = data_island(Path("m.html").read_bytes().decode("utf-8"))
    ids = sorted(it["id"] for layer in layers(island, "equipment") for it in layer["spec"]["items"])
    assert ids == sorted(["3 {{7*7}} Road", "Unit {{ 3", "{% if %}", RCE])
    assert island["title"] == RCE
    bad = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "map", "--equipment", "eq.csv",
         "--tiles", "javascript:alert(1)", "--out", "bad.html"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "tile URL template" in bad.stderr
    assert "Traceback" not in bad.stderr and not Path("bad.html").exists()
