"""Maps: self-contained, pseudonymous, escaped, and faithful to the data they draw.

The browser half of these checks (Leaflet really loads, nothing executes) is in
``test_maps_browser.py``. The helpers here (``demo_result``, ``page_specs``,
``decode_points``) are shared with it.
"""

from __future__ import annotations

import argparse
import functools
import html as htmllib
import json
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

import smartstreet_geo as ssg
from smartstreet_geo import maps
from smartstreet_geo.crs import bng_to_lonlat
from smartstreet_geo.errors import CRSError, ParameterError, SmartStreetGeoError
from smartstreet_geo.maps._assets import EXTERNAL_RESOURCE, manifest, offline_head
from smartstreet_geo.schema import DEFAULT_RADII_M

ROOT = Path(__file__).resolve().parents[1]

#: Strings that must neither execute nor break a page (issue 6).
HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "Smith ${alert(2)}",
    "O`Brien",
    "</script><script>alert(3)</script>",
    "back\\slash 'single' \"double\" & amp;",
    "line\u2028separator",
)
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "bootstrapcdn",
    "unpkg.com",
    "fontawesome",
    "googleapis",
)


# --------------------------------------------------------------------------- shared helpers
@functools.cache
def demo_inputs() -> SimpleNamespace:
    """The bundled demo data, read once per test session."""
    customers = ssg.read_customers(ssg.demo.path("customers")).data
    equipment = ssg.read_equipment(ssg.demo.path("equipment")).data
    net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    circuits = pd.read_csv(ssg.demo.path("circuits"))
    trial = sorted(circuits.loc[circuits["trial"], "circuit_id"])
    return SimpleNamespace(
        customers=customers,
        equipment=equipment,
        edges=net.edges,
        substations=net.substations,
        trial=trial,
    )


@functools.cache
def demo_result() -> SimpleNamespace:
    """A stand-in campaign result built from the demo data (independent of ``campaign``).

    Customers within the default radius of outage equipment get a call (PSR with a
    phone), manual review (PSR without one) or an installation letter; within the
    radius of other equipment a leaflet; everyone else is not contacted.
    """
    d = demo_inputs()
    cust = d.customers.reset_index(drop=True)
    eq = d.equipment.reset_index(drop=True)
    radius = eq["kind"].map(DEFAULT_RADII_M).to_numpy(dtype=float)
    tree = shapely.STRtree(cust.geometry.values)
    e_idx, c_idx = tree.query(eq.geometry.values, predicate="dwithin", distance=radius)
    outage = eq["outage_required"].to_numpy(dtype=bool)[e_idx]
    near_outage = np.zeros(len(cust), dtype=bool)
    near_outage[c_idx[outage]] = True
    near_any = np.zeros(len(cust), dtype=bool)
    near_any[c_idx] = True
    psr = cust["psr"].to_numpy(dtype=bool)
    has_phone = cust["phone"].notna().to_numpy()
    category = np.full(len(cust), "not_contacted", dtype=object)
    category[near_any] = "leaflet"
    category[near_outage] = "installation_letter"
    category[near_outage & psr & ~has_phone] = "manual_review"
    category[near_outage & psr & has_phone] = "phone_call"
    shared = category.copy()  # as if nobody were on the PSR
    shared[near_outage] = "installation_letter"
    pairs = pd.DataFrame({"e": e_idx, "c": c_idx}).drop_duplicates()
    within = np.bincount(pairs["e"].to_numpy(), minlength=len(eq))
    return SimpleNamespace(
        customers=cust.assign(map_category=category, map_category_shared=shared),
        equipment=eq.assign(radius_m=radius, n_customers_within=within),
        edges=d.edges.assign(in_scope=d.edges["circuit_id"].isin(d.trial)),
        substations=d.substations,
    )


def render(m: folium.Map) -> str:
    return m.get_root().render()


#: The page's one data island: every value from the inputs and options is in it, and only there.
_ISLAND = re.compile(r'<script type="application/json" id="ssg-data">(.*?)</script>', re.S)


def data_island(html: str) -> dict[str, Any]:
    """Parse the map's JSON data island (there must be exactly one)."""
    found = _ISLAND.findall(html)
    assert len(found) == 1, f"{len(found)} data islands"
    data: dict[str, Any] = json.loads(found[0])
    return data


def outside_island(html: str) -> str:
    """The page with the data island emptied: markup and code only."""
    return _ISLAND.sub('<script type="application/json" id="ssg-data"></script>', html)


def page_specs(html: str, factory: str) -> list[dict[str, Any]]:
    """The data of each ``SSG.<factory>`` layer in the page (``"setup"``: the whole island)."""
    island = data_island(html)
    if factory == "setup":
        return [island]
    return [layer["spec"] for layer in island["layers"] if layer["factory"] == factory]


def layer_names(html: str) -> list[str]:
    """The layer-control labels, as the page shows them (label and count, as text)."""
    return [
        f"{layer['name']['label']} ({layer['name']['count']:,})"
        for layer in data_island(html)["layers"]
    ]


def decode_points(spec: dict[str, Any]) -> np.ndarray:
    """Integer (lon, lat) rows in 1/scale degree, as the page decodes them."""
    flat = np.asarray(spec["xy"], dtype=np.int64)
    lon = spec["origin"][0] + np.cumsum(flat[0::2])
    lat = spec["origin"][1] + np.cumsum(flat[1::2])
    return np.column_stack([lon, lat])


def expected_points(frame: gpd.GeoDataFrame) -> np.ndarray:
    lon, lat = bng_to_lonlat(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    return np.column_stack([np.rint(lon * 1e5), np.rint(lat * 1e5)]).astype(np.int64)


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def point_labels(spec: dict[str, Any]) -> list[str]:
    """Address labels of a points layer, as the page puts them together."""
    return [
        lab + (", " + spec["rest"][r] if spec["rest"][r] else "")
        for lab, r in zip(spec["labels"], spec["ri"], strict=True)
    ]


def leaked(page: str, values: set[str], *, k: int = 5) -> list[str]:
    """Values of at least ``k`` characters that occur anywhere in ``page`` (fast prefilter)."""
    grams = {page[i : i + k] for i in range(len(page) - k + 1)}
    return sorted(
        v for v in values if len(v) >= k and v[:k] in grams and v[-k:] in grams and v in page
    )


def personal_values(customers: pd.DataFrame, columns: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for col in columns:
        out |= {str(v) for v in customers[col].dropna().unique()}
    return out


@pytest.fixture(scope="module")
def demo_html() -> str:
    return render(maps.campaign_map(demo_result(), tiles="none"))


@pytest.fixture(scope="module")
def demo_internal_html() -> str:
    return render(maps.campaign_map(demo_result(), tiles="none", internal=True))


# --------------------------------------------------------------------------- escaping
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("Smith ${alert(2)}", "Smith &#36;&#123;alert(2)&#125;"),
        ("3 {{7*7}} Road", "3 &#123;&#123;7*7&#125;&#125; Road"),
        ("O`Brien", "O&#96;Brien"),
        ("a\\`b", "a&#92;&#96;b"),
        ("'\"&", "&#x27;&quot;&amp;"),
        ("Flat 3, Kestrel Court", "Flat 3, Kestrel Court"),
        (None, ""),
        (float("nan"), ""),
        (12, "12"),
    ],
)
def test_escape_text_table(text, expected):
    assert maps.escape_text(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escape_text_is_inert_in_html_and_template_literals_and_reversible(text):
    out = maps.escape_text(text)
    assert not set(out) & set("<>\"'`$\\{}")  # no tag, attribute end, substitution, template
    assert htmllib.unescape(out) == text  # the browser shows the original text


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_script_json_round_trips_and_cannot_close_a_script(value):
    out = maps.script_json(value)
    assert json.loads(out) == value
    assert not set(out) & {"<", ">", "&", "\u2028", "\u2029"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(-(2**62), 2**62), max_size=40), min_size=1, max_size=4),
    st.text(),
)
def test_script_json_writes_int_arrays_as_json_dumps_writes_lists(arrays, text):
    """Long integer arrays (``JSONInts``, written by Arrow) give exactly the text of
    ``json.dumps`` of the same lists (oracle), beside text that looks like a placeholder."""
    from smartstreet_geo.maps._escape import JSONInts

    plain = {"t": text, "a": arrays, "fake": '"0123:0"'}
    wrapped = {"t": text, "a": [JSONInts(np.array(a, dtype=np.int64)) for a in arrays],
               "fake": '"0123:0"'}  # fmt: skip
    assert maps.script_json(wrapped) == maps.script_json(plain)


def test_script_json_still_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError, match="not JSON serializable"):
        maps.script_json({"x": object()})


def test_folium_tooltip_with_escaped_text_has_no_live_template_syntax(tmp_path, monkeypatch):
    # folium writes tooltip text inside a JavaScript template literal (`...`), and branca
    # renders it as a Jinja2 template twice: escape_text makes it inert for both
    from hostile import HOSTILE as CATALOGUE

    monkeypatch.chdir(tmp_path)
    texts = [*HOSTILE, *(v for _, v in CATALOGUE)]
    m = folium.Map(tiles=None)
    marker = folium.Marker([53.5, -2.2]).add_to(m)
    for text in texts:
        folium.Tooltip(maps.escape_text(text)).add_to(marker)
    script = render(m)
    assert not (tmp_path / "pwned").exists()
    literals = re.findall(r"bindTooltip\(\s*`(.*?)`", script, flags=re.S)
    assert len(literals) == len(texts)
    for lit, text in zip(literals, texts, strict=True):
        assert "${" not in lit and "`" not in lit and "<img" not in lit and "</script" not in lit
        assert "{" not in lit and "}" not in lit
        inner = re.fullmatch(r"\s*<div>\s*(.*?)\s*</div>\s*", lit, flags=re.S)
        assert inner is not None, lit
        assert htmllib.unescape(inner.group(1)).strip() == text.strip()  # shown literally


# --------------------------------------------------------------------------- offline
def test_page_loads_nothing_from_a_cdn(demo_html):
    assert EXTERNAL_RESOURCE.search(demo_html) is None
    lowered = demo_html.lower()
    for host in CDN_HOSTS:
        assert host not in lowered, host
    assert "tile.openstreetmap.org" not in demo_html  # no-tiles mode fetches nothing
    assert "<script src" not in lowered and "<link " not in lowered


def test_page_embeds_pinned_leaflet_and_its_licence(demo_html):
    lf = manifest()["leaflet"]
    assert lf["version"] == "1.9.3"
    assert offline_head() in demo_html
    assert 'version="1.9.3"' in demo_html  # the library itself, not just its name
    assert "Redistribution and use in source and binary forms" in demo_html  # BSD licence
    assert "sourceMappingURL" not in demo_html
    assert "url(images/" not in demo_html  # CSS images inlined as data: URIs


def test_vendored_files_match_their_manifest():
    r = subprocess.run(
        [sys.executable, str(ROOT / "data" / "vendor_map_assets.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    vendor = ROOT / "src" / "smartstreet_geo" / "maps" / "vendor"
    assert (vendor / "leaflet" / "LICENSE").read_text().startswith("BSD 2-Clause License")
    total = sum(p.stat().st_size for p in vendor.rglob("*") if p.is_file())
    assert total < 250_000  # keep the vendored assets small


def test_osm_mode_fetches_only_tiles():
    m = maps.equipment_map(demo_inputs().equipment, tiles="osm")
    page = render(m)
    assert EXTERNAL_RESOURCE.search(page) is None
    urls = set(re.findall(r"https?://[^\s\"'<>)\\]+", page.split("</head>", 1)[1]))
    assert urls == {"https://tile.openstreetmap.org/{z}/{x}/{y}.png"}
    assert data_island(page)["tiles"] == {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "osm": True,
        "attribution": None,  # the OSM credit and its link are constants of the page script
    }
    assert "https://www.openstreetmap.org/copyright" in offline_head()


def test_custom_tile_url_and_plain_text_attribution():
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    page = render(
        maps.equipment_map(demo_inputs().equipment, tiles=url, tile_attribution=HOSTILE[0])
    )
    assert "<img src=x" not in page
    tiles = data_island(page)["tiles"]
    assert tiles == {"url": url, "osm": False, "attribution": HOSTILE[0]}  # shown as text
    default = data_island(render(maps.equipment_map(demo_inputs().equipment, tiles=url)))
    assert default["tiles"]["attribution"] == "Tiles: tiles.example.org"


@pytest.mark.parametrize(
    "tiles",
    [
        "http://example.org/tiles.png",  # no {z}/{x}/{y}
        "http://example.org/{z}/{x}/{y}.png",  # https only
        "javascript:alert(1)//{z}/{x}/{y}",
        'https://example.org/{z}/{x}/{y}.png"onload=alert(1)',
        "ftp://example.org/{z}/{x}/{y}.png",
    ],
)
def test_bad_tile_options_are_refused(tiles):
    with pytest.raises(ParameterError, match="tile URL template"):
        maps.equipment_map(demo_inputs().equipment, tiles=tiles)


def test_save_map_is_atomic_owner_only_and_refuses_cdn_pages(tmp_path):
    path = maps.save_map(
        maps.equipment_map(demo_inputs().equipment, tiles="none"), tmp_path / "m.html"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["m.html"]  # no temporary file left
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    plain = folium.Map()  # folium's default page loads Leaflet from a CDN
    with pytest.raises(ParameterError, match="would not open offline"):
        maps.save_map(plain, tmp_path / "cdn.html")
    m = maps.equipment_map(demo_inputs().equipment, tiles="none")
    from folium.plugins import MarkerCluster

    MarkerCluster().add_to(m)
    with pytest.raises(ParameterError, match="would not open offline"):
        maps.save_map(m, tmp_path / "plugin.html")
    assert not (tmp_path / "cdn.html").exists() and not (tmp_path / "plugin.html").exists()


def test_same_input_gives_byte_identical_pages():
    res = demo_result()
    small = SimpleNamespace(
        customers=res.customers.iloc[:3000],
        equipment=res.equipment,
        edges=res.edges.iloc[:3000],
        substations=res.substations,
    )
    assert render(maps.campaign_map(small, tiles="none")) == render(
        maps.campaign_map(small, tiles="none")
    )


# --------------------------------------------------------------------------- privacy
def test_demo_map_contains_no_personal_data(demo_html):
    cust = demo_inputs().customers
    values = personal_values(
        cust,
        (
            "customer_id",
            "premise_id",
            "name",
            "address_line_1",
            "address_line_2",
            "address_line_3",
            "postcode",
            "phone",
            "nominee_name",
            "nominee_phone",
            "psr_needs",  # single codes are too short to find; every multi-code value is checked
        ),
    )
    assert len(values) > 150_000
    assert leaked(demo_html, values) == []
    digits = {re.sub(r"\D", "", v) for v in cust["phone"].dropna()} - {""}
    assert not digits & set(re.findall(r"\d{10,}", demo_html))
    for spec in page_specs(demo_html, "points"):
        assert set(spec) <= {
            "key",
            "label",
            "color",
            "z",
            "outline",
            "size",
            "alpha",
            "shape",
            "edge",
            "xy",
            "origin",
            "scale",
        }


def test_internal_map_adds_addresses_but_never_names_phones_ids_or_psr(demo_internal_html):
    res = demo_result()
    cust = res.customers
    values = personal_values(
        cust,
        (
            "customer_id",
            "premise_id",
            "name",
            "phone",
            "nominee_name",
            "nominee_phone",
            "psr_needs",
        ),
    )
    assert leaked(demo_internal_html, values) == []
    labels = [
        lab for spec in page_specs(demo_internal_html, "points") for lab in point_labels(spec)
    ]
    assert len(labels) == len(cust)
    first = cust.iloc[0]
    parts = [first[c] for c in maps.INTERNAL_CUSTOMER_COLUMNS if isinstance(first[c], str)]
    assert ", ".join(parts) in labels


@pytest.mark.parametrize("internal", [False, True])
def test_only_allowlisted_columns_reach_the_page(internal):
    res = demo_result()
    cust = res.customers.iloc[:4000].copy()
    cust["secret_note"] = "SECRET-" + cust["customer_id"].astype(str)
    allowed = [*maps.PSEUDONYMOUS_CUSTOMER_COLUMNS, *maps.SECTOR_CUSTOMER_COLUMNS]
    if internal:
        allowed += list(maps.INTERNAL_CUSTOMER_COLUMNS)
    minimal = cust[[*dict.fromkeys(allowed), "geometry"]]

    def page(c: gpd.GeoDataFrame) -> str:
        return render(
            maps.campaign_map(
                SimpleNamespace(customers=c, equipment=res.equipment.iloc[:0]),
                tiles="none",
                internal=internal,
            )
        )

    full = page(cust)
    assert full == page(minimal)  # nothing outside the allowlist influences the page
    assert "SECRET-" not in full


def test_aggregation_hides_small_groups_and_keeps_the_totals():
    res = demo_result()
    cust = res.customers
    m = maps.campaign_map(res, tiles="none", aggregate_m=100, min_group=5)
    page = render(m)
    specs = {s["key"]: s for s in page_specs(page, "points")}
    x, y = cust.geometry.x.to_numpy(), cust.geometry.y.to_numpy()
    groups = (
        pd.DataFrame(
            {"cat": cust["map_category_shared"], "cx": np.floor(x / 100), "cy": np.floor(y / 100)}
        )
        .groupby(["cat", "cx", "cy"])
        .size()
    )
    shown = 0
    for cat, sizes in groups.groupby(level="cat"):
        spec = specs[f"customers_{cat}"]
        assert sorted(spec["n"]) == sorted(sizes[sizes >= 5].tolist())
        assert min(spec["n"], default=5) >= 5
        shown += sum(spec["n"])
    legend = page_specs(page, "setup")[0]["legend"]
    note = next(n for n in legend["notes"] if "grouped" in n)
    suppressed = int(re.search(r"; ([\d,]+) customers", note).group(1).replace(",", ""))
    assert shown + suppressed == len(cust)
    assert not any("labels" in s for s in specs.values())


# --------------------------------------------------------------------------- fidelity
@pytest.mark.parametrize("internal", [False, True])
def test_demo_map_layers_hold_every_feature(demo_html, demo_internal_html, internal):
    res = demo_result()
    html = demo_internal_html if internal else demo_html
    points = {s["key"]: s for s in page_specs(html, "points")}
    column = "map_category" if internal else "map_category_shared"
    styles = maps.CATEGORIES if internal else maps.SHARED_CATEGORIES
    assert set(points) == {f"customers_{cat}" for cat in styles}
    counts = res.customers[column].value_counts()
    for cat in styles:
        assert len(points[f"customers_{cat}"]["xy"]) // 2 == counts.get(cat, 0)
        assert (
            sorted_rows(decode_points(points[f"customers_{cat}"])).tolist()
            == sorted_rows(expected_points(res.customers[res.customers[column] == cat])).tolist()
        )  # OSTN15 positions, rounded to 1e-5 degree
    if internal:
        return
    equipment = page_specs(demo_html, "equipment")
    by_kind = res.equipment["kind"].value_counts()
    assert {s["label"]: len(s["items"]) for s in equipment} == {
        maps._style.EQUIPMENT_STYLES[k].label: n for k, n in by_kind.items()
    }
    items = {it["id"]: it for s in equipment for it in s["items"]}
    for row in res.equipment.itertuples():
        it = items[row.equipment_id]
        assert it["r"] == row.radius_m
        assert it["n"] == row.n_customers_within
        assert it["date"] == row.install_date.strftime("%Y-%m-%d")
        assert it["outage"] is bool(row.outage_required)

    lines = {s["key"]: s for s in page_specs(demo_html, "lines")}
    edges = res.edges
    closed = edges[~edges["normally_open"]]
    assert {it["label"] for it in lines["circuits_in_scope"]["items"]} == set(
        closed.loc[closed["in_scope"], "circuit_id"]
    )
    assert {it["label"] for it in lines["circuits_out_of_scope"]["items"]} == set(
        closed.loc[~closed["in_scope"], "circuit_id"]
    )
    assert len(lines["open_points"]["items"]) == int(edges["normally_open"].sum())
    (subs,) = page_specs(demo_html, "substations")
    assert len(subs["items"]) == len(res.substations)


@pytest.mark.parametrize("internal", [False, True])
def test_legend_counts_match_the_layers(demo_html, demo_internal_html, internal):
    (setup,) = page_specs(demo_internal_html if internal else demo_html, "setup")
    (section,) = [s for s in setup["legend"]["sections"] if s["title"].startswith("Customers")]
    assert "per customer" in section["title"] and "per premise" in section["title"]
    rows = {r["label"]: r["count"] for r in section["rows"]}
    column = "map_category" if internal else "map_category_shared"
    styles = maps.CATEGORIES if internal else maps.SHARED_CATEGORIES
    counts = demo_result().customers[column].value_counts()
    assert rows == {style.label: counts.get(key, 0) for key, style in styles.items()}
    assert setup["bounds"][0][0] < setup["bounds"][1][0]


def test_raw_input_maps():
    d = demo_inputs()
    eq_page = render(maps.equipment_map(d.equipment, tiles="none"))
    items = [it for s in page_specs(eq_page, "equipment") for it in s["items"]]
    assert len(items) == len(d.equipment)
    kinds = d.equipment.set_index("equipment_id")["kind"]
    assert all(it["r"] == DEFAULT_RADII_M[kinds[it["id"]]] for it in items)
    assert all(it["n"] is None for it in items)  # not computed without a campaign

    one = render(maps.equipment_map(d.equipment, radii=12.5, tiles="none"))
    assert {it["r"] for s in page_specs(one, "equipment") for it in s["items"]} == {12.5}

    net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    split = render(maps.circuits_map(net, in_scope=d.trial, tiles="none"))
    keys = {s["key"]: len(s["items"]) for s in page_specs(split, "lines")}
    closed = d.edges[~d.edges["normally_open"]]
    assert (
        keys["circuits_in_scope"]
        == closed.loc[closed["circuit_id"].isin(d.trial), "circuit_id"].nunique()
    )
    plain = render(maps.circuits_map(d.edges, d.substations, tiles="none"))
    assert {s["key"] for s in page_specs(plain, "lines")} == {"circuits", "open_points"}

    cust = render(maps.customers_map(d.customers, tiles="none"))
    (spec,) = page_specs(cust, "points")
    assert spec["key"] == "customers_customer" and len(spec["xy"]) // 2 == len(d.customers)


def test_line_and_area_equipment_get_their_shape_and_radius_zone():
    eq = gpd.GeoDataFrame(
        {"equipment_id": ["CABLE1", "PT1"], "kind": ["link_box_switch", "lv_capacitor"]},
        geometry=[LineString([(384_000, 398_200), (384_100, 398_250)]), Point(384_050, 398_300)],
        crs="EPSG:27700",
    )
    page = render(maps.equipment_map(eq, radii=20, tiles="none"))
    items = {it["id"]: it for s in page_specs(page, "equipment") for it in s["items"]}
    assert "shape" in items["CABLE1"] and "zone" in items["CABLE1"]
    assert "shape" not in items["PT1"] and "zone" not in items["PT1"] and items["PT1"]["r"] == 20


def test_hostile_text_is_data_never_markup():
    res = demo_result()
    cust = res.customers.iloc[: len(HOSTILE)].copy()
    for col in ("name", "address_line_1", "address_line_2", "post_town"):
        cust[col] = list(HOSTILE)
    eq = res.equipment.iloc[: len(HOSTILE)].copy()
    eq["equipment_id"] = list(HOSTILE)
    eq["kind"] = HOSTILE[0]  # an unknown kind becomes a layer name (HTML in Leaflet)
    eq["circuit_id"] = HOSTILE[1]
    subs = res.substations.iloc[:2].assign(name=HOSTILE[2], substation_id=HOSTILE[3])
    page = render(
        maps.campaign_map(
            SimpleNamespace(customers=cust, equipment=eq, substations=subs),
            tiles="none",
            internal=True,
            title=HOSTILE[0],
        )
    )
    for raw in ("<img src=x", "</script><script>", "\u2028"):
        assert raw not in page
    assert "<title>" not in page  # the page script sets document.title from the data
    assert data_island(page)["title"] == HOSTILE[0]
    names = layer_names(page)
    assert HOSTILE[0] + " (6)" in names, names  # a label: the page shows it as text
    ids = [it["id"] for s in page_specs(page, "equipment") for it in s["items"]]
    assert sorted(ids) == sorted(HOSTILE)  # intact as data
    labels = [lab for s in page_specs(page, "points") for lab in point_labels(s)]
    assert any(HOSTILE[1] in lab for lab in labels)


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"aggregate_m": 0}, "aggregate_m"),
        ({"aggregate_m": float("nan")}, "aggregate_m"),
        ({"aggregate_m": 100, "internal": True}, "individual points"),
        ({"aggregate_m": 100, "min_group": 0}, "min_group"),
        ({"min_group": 2.5}, "min_group"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        maps.campaign_map(demo_result(), tiles="none", **kwargs)


def test_campaign_map_needs_known_categories_and_bng():
    res = demo_result()
    no_cat = SimpleNamespace(
        customers=res.customers.drop(columns="map_category"), equipment=res.equipment
    )
    with pytest.raises(ParameterError, match="map_category"):
        maps.campaign_map(no_cat)
    bad = res.customers.iloc[:10].assign(map_category="letter")
    with pytest.raises(ParameterError, match="'letter'"):
        maps.campaign_map(SimpleNamespace(customers=bad, equipment=res.equipment))
    wgs = res.customers.iloc[:10].to_crs("EPSG:4326")
    with pytest.raises(CRSError):
        maps.campaign_map(SimpleNamespace(customers=wgs, equipment=res.equipment))
    with pytest.raises(ParameterError, match=r"no \.equipment"):
        maps.campaign_map(SimpleNamespace(customers=res.customers))


# --------------------------------------------------------------------------- command line
def _map_command(argv: list[str]) -> int:
    from smartstreet_geo.cli import map as map_cli

    parser = argparse.ArgumentParser()
    map_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["map", *argv])
    return int(args.func(args))


def test_map_command_writes_a_pseudonymous_offline_map(tmp_path, capsys):
    d = ssg.demo.path
    out = tmp_path / "map.html"
    code = _map_command(
        [
            "--customers", str(d("customers")),
            "--equipment", str(d("equipment")),
            "--network", str(d("network_edges")),
            "--substations", str(d("substations")),
            "--circuits", str(d("circuits")),
            "--tiles", "none",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert EXTERNAL_RESOURCE.search(page) is None
    lines = {s["key"]: len(s["items"]) for s in page_specs(page, "lines")}
    assert lines["circuits_in_scope"] > 0 and lines["circuits_out_of_scope"] > 0
    stdout = capsys.readouterr().out
    assert "pseudonymous" in stdout
    names = demo_inputs().customers["name"].head(50)
    assert not any(n in stdout or n in page for n in names)
    with pytest.raises(SmartStreetGeoError, match="exists"):
        _map_command(["--equipment", str(d("equipment")), "--out", str(out)])


def test_map_command_options(tmp_path):
    d = ssg.demo.path
    out = tmp_path / "eq.html"
    assert (
        _map_command(["--equipment", str(d("equipment")), "--radius", "15", "--out", str(out)]) == 0
    )
    page = out.read_text(encoding="utf-8")
    assert {it["r"] for s in page_specs(page, "equipment") for it in s["items"]} == {15.0}
    assert "tile.openstreetmap.org" in page  # OpenStreetMap is the default background
    with pytest.raises(ParameterError, match="at least one"):
        _map_command(["--out", str(tmp_path / "x.html")])
    bad = tmp_path / "circuits.csv"
    bad.write_text("circuit_id,trial\nA,maybe\n")
    with pytest.raises(ParameterError, match="'maybe'"):
        _map_command(
            [
                "--equipment",
                str(d("equipment")),
                "--circuits",
                str(bad),
                "--out",
                str(tmp_path / "y.html"),
            ]
        )


def test_map_command_runs_as_a_real_command(tmp_path):
    from smartstreet_geo import cli

    if "map" not in cli._COMMANDS:
        pytest.skip("map is not yet listed in smartstreet_geo.cli._COMMANDS")
    out = tmp_path / "m.html"
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "map", "--equipment",
         str(ssg.demo.path("equipment")), "--tiles", "none", "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert out.exists()
    again = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "map", "--equipment",
         str(ssg.demo.path("equipment")), "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert again.returncode == 1 and "exists" in again.stderr


# --------------------------------------------------------------------------- PSR on a shared map
def test_shared_map_does_not_depend_on_who_is_on_the_psr(demo_html):
    """The default map reads only the shared category: replacing every PSR category changes nothing."""
    res = demo_result()
    blind = SimpleNamespace(
        **{**vars(res), "customers": res.customers.assign(map_category="not_contacted")}
    )
    assert render(maps.campaign_map(blind, tiles="none")) == demo_html
    assert "phone_call" not in json.dumps(page_specs(demo_html, "points"))


def test_shared_map_without_shared_categories_leaves_phone_calls_out():
    res = demo_result()
    cust = res.customers.drop(columns="map_category_shared")
    called = cust["map_category"] == "phone_call"
    assert called.sum() > 10
    page = render(
        maps.campaign_map(SimpleNamespace(customers=cust, equipment=res.equipment), tiles="none")
    )
    shown = np.concatenate([decode_points(s) for s in page_specs(page, "points")])
    psr = expected_points(cust[called])
    # no point of the page is where a called (PSR) customer lives, unless a non-called one
    # lives at the same rounded position
    others = {tuple(p) for p in expected_points(cust[~called]).tolist()}
    assert not ({tuple(p) for p in shown.tolist()} & ({tuple(p) for p in psr.tolist()} - others))
    assert len(shown) == int((~called).sum())
    (setup,) = page_specs(page, "setup")
    assert f"{int(called.sum()):,} customers with an outage call not shown" in " ".join(
        setup["legend"]["notes"]
    )


def test_internal_map_places_phone_calls(demo_internal_html):
    res = demo_result()
    points = {s["key"]: s for s in page_specs(demo_internal_html, "points")}
    called = res.customers[res.customers["map_category"] == "phone_call"]
    assert len(called) > 10
    assert (
        sorted_rows(decode_points(points["customers_phone_call"])).tolist()
        == sorted_rows(expected_points(called)).tolist()
    )
