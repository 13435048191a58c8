"""Maps analysts can use offline (issue 16) and at scale (issue 14): the page's tools.

Data checks (no browser): the colour-vision-safe palette, area summaries, the
search index (postcodes on an internal map, postcode sectors only on a shared
one), reasons in internal popups only. Browser checks (headless Chromium,
every request but ``file:`` aborted): search finds a postcode, an equipment id
and a circuit; bookmarks move the view; the legend is the layer control and
folds; measuring and full screen; equipment is drawn on canvas (no element per
item) and overlapping icons merge; nothing is ever fetched.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point

from hostile import HOSTILE
from smartstreet_geo import maps
from smartstreet_geo.crs import bng_to_lonlat
from test_maps import data_island, demo_result, render

# --------------------------------------------------------------------------- palette
#: Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
_CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}
_XYZ = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]


def _lab(hex_colour: str, cvd: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour as seen with a colour-vision deficiency."""
    c = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    rgb = np.clip(np.array(_CVD[cvd]) @ rgb, 0, 1)
    t = (np.array(_XYZ) @ rgb) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colours: dict[str, str]) -> tuple[float, str]:
    worst = (math.inf, "")
    for (a, ca), (b, cb) in itertools.combinations(colours.items(), 2):
        for cvd in _CVD:
            d = float(np.linalg.norm(_lab(ca, cvd) - _lab(cb, cvd)))
            worst = min(worst, (d, f"{a}/{b} ({cvd})"))
    return worst


@pytest.mark.parametrize("table", ["CATEGORIES", "SHARED_CATEGORIES"])
def test_contact_colours_stay_apart_with_colour_vision_deficiency(table):
    colours = {k: s.color for k, s in getattr(maps, table).items()}
    distance, pair = _closest_pair(colours)
    assert distance >= 30, pair
    # the control: the palette before issue 16 fails the same check
    before = {"phone_call": "#e31a1c", "manual_review": "#c51b7d", "installation_letter": "#ff7f00",
              "leaflet": "#1f78b4", "not_contacted": "#a0a0a0"}  # fmt: skip
    assert _closest_pair(before)[0] < 30


def test_phone_call_and_manual_review_differ_in_shape_too():
    island = data_island(render(maps.campaign_map(demo_result(), tiles="none", internal=True)))
    looks = {lay["spec"]["key"]: lay["spec"] for lay in island["layers"]}
    assert looks["customers_manual_review"].get("shape") == "square"
    assert looks["customers_phone_call"].get("shape") is None  # a dot


# --------------------------------------------------------------------------- areas, search
@pytest.fixture(scope="module")
def shared_island() -> dict[str, Any]:
    return data_island(render(maps.campaign_map(demo_result(), tiles="none")))


@pytest.fixture(scope="module")
def internal_island() -> dict[str, Any]:
    return data_island(render(maps.campaign_map(demo_result(), tiles="none", internal=True)))


def _lonlat(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    return bng_to_lonlat(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())


def test_areas_hold_every_feature_once_and_count_it(shared_island):
    res = demo_result()
    areas = shared_island["areas"]
    assert len(areas) == 4  # the demo's four towns
    lon, lat = _lonlat(res.customers)
    shared = res.customers["map_category_shared"].to_numpy()
    labels = {k: s.label for k, s in maps.SHARED_CATEGORIES.items()}
    inside_any = np.zeros(len(lon), dtype=int)
    for area in areas:
        (s, w), (n, e) = area["bounds"]
        pad = 1.5e-5  # bounds are rounded to 1e-5 degree
        inside = (lat >= s - pad) & (lat <= n + pad) & (lon >= w - pad) & (lon <= e + pad)
        inside_any += inside
        rows = {label.strip(): n for label, n in area["rows"]}
        assert rows["Customers"] == int(inside.sum()), area["name"]
        for key, label in labels.items():
            if key != "not_contacted":  # not itemised
                assert rows.get(label, 0) == int((inside & (shared == key)).sum()), label
    assert (inside_any == 1).all()  # the areas do not overlap and miss nobody
    totals = {
        what: sum({lab.strip(): n for lab, n in a["rows"]}[what] for a in areas)
        for what in ("Customers", "Equipment items", "Substations")
    }
    assert totals == {
        "Customers": len(res.customers),
        "Equipment items": len(res.equipment),
        "Substations": len(res.substations),
    }
    names = [a["name"] for a in areas]
    assert names[0].startswith("Area 1: substations ") and len(set(names)) == 4


def _norm(code: str) -> str:
    return re.sub(r"\s+", " ", code.strip()).upper()


def test_search_knows_every_equipment_id_circuit_and_substation(shared_island):
    res = demo_result()
    by_kind: dict[str, list[str]] = {}
    for entry in shared_island["search"]:
        by_kind.setdefault(entry[0], []).append(entry[1])
    assert sorted(by_kind["equipment"]) == sorted(res.equipment["equipment_id"])
    closed = res.edges[~res.edges["normally_open"]]
    assert sorted(by_kind["circuit"]) == sorted(closed["circuit_id"].unique())
    assert len(by_kind["substation"]) == len(res.substations)
    assert {b["label"] for b in shared_island["bookmarks"]} == set(by_kind["substation"])


def test_internal_search_has_each_postcode_at_its_customers_mean_position(internal_island):
    cust = demo_result().customers
    x, y = cust.geometry.x, cust.geometry.y
    want = (
        pd.DataFrame({"pc": cust["postcode"].map(_norm, na_action="ignore"), "x": x, "y": y})
        .dropna()
        .groupby("pc")
        .agg(x=("x", "mean"), y=("y", "mean"), n=("x", "size"))
    )
    got = {e[1]: e for e in internal_island["search"] if e[0] == "postcode"}
    assert sorted(got) == sorted(want.index)
    lon, lat = bng_to_lonlat(want["x"].to_numpy(), want["y"].to_numpy())
    for (pc, row), lo, la in zip(want.iterrows(), lon, lat, strict=True):
        entry = got[pc]
        assert entry[4] == row["n"]
        assert abs(entry[2] - la) < 1e-5 and abs(entry[3] - lo) < 1e-5


def test_shared_map_knows_postcode_sectors_only(shared_island):
    cust = demo_result().customers
    sector = (
        cust["postcode"]
        .map(_norm, na_action="ignore")
        .str.extract(r"^([A-Z0-9]{2,4}) ?([0-9])[A-Z]{2}$")
    )
    sector = (sector[0] + " " + sector[1]).dropna()
    counts = sector.value_counts()
    kept = counts[counts >= 5]
    got = {e[1]: e[4] for e in shared_island["search"] if e[0].startswith("postcode")}
    assert {e[0] for e in shared_island["search"]} == {
        "equipment", "circuit", "substation", "postcode sector"
    }  # fmt: skip
    assert got == {k: int(v) for k, v in kept.items()}
    html = render(maps.campaign_map(demo_result(), tiles="none"))
    full = set(cust["postcode"].dropna().map(_norm))
    assert not [pc for pc in full if pc in html]  # no full postcode anywhere on the page


def test_reasons_reach_internal_popups_only():
    res = demo_result()
    ids = res.customers["customer_id"]
    reasons = "REASON-" + res.customers["map_category"].astype(str) + "-" + (ids.str[-1])
    recon = pd.DataFrame({"customer_id": ids, "reason": reasons, "status": "contacted"})
    result = SimpleNamespace(**vars(res), reconciliation=recon)
    internal = data_island(render(maps.campaign_map(result, tiles="none", internal=True)))
    seen = 0
    for layer in internal["layers"]:
        spec = layer["spec"]
        if layer["factory"] != "points" or not spec.get("xy"):
            continue
        cat = spec["key"].removeprefix("customers_")
        texts = [spec["reasons"][i] for i in spec["wi"]]
        assert all(t.startswith(f"REASON-{cat}-") for t in texts)
        assert sorted(texts) == sorted(reasons[res.customers["map_category"] == cat])
        seen += len(texts)
    assert seen == len(res.customers)
    shared = render(maps.campaign_map(result, tiles="none"))
    assert "REASON-" not in shared


# --------------------------------------------------------------------------- browser
CHROMIUM = os.environ.get("SSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SSG_CHROMIUM)")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        yield b
        b.close()


class Opened(SimpleNamespace):
    page: Any
    asked: list[str]
    errors: list[str]


def _open(browser: Any, path: Path, size: tuple[int, int] = (1280, 860)) -> Opened:
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    o = Opened(page=ctx.new_page(), asked=[], errors=[])

    def route(r: Any) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            o.asked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    o.page.on("console", lambda m: o.errors.append(m.text) if m.type == "error" else None)
    o.page.on("pageerror", lambda e: o.errors.append(str(e)))
    o.page.goto(path.as_uri(), wait_until="load")
    o.page.wait_for_function("window.SSG && SSG.settled()", timeout=30_000, polling=25)
    return o


def _settle(page: Any) -> None:
    page.wait_for_timeout(60)
    page.wait_for_function("SSG.settled()", timeout=15_000, polling=25)


def _view(page: Any) -> dict[str, float]:
    return page.evaluate(
        """() => { const c = SSG.map.getCenter(), b = SSG.map.getBounds();
        return {lat: c.lat, lon: c.lng, z: SSG.map.getZoom(), s: b.getSouth(), n: b.getNorth(),
                w: b.getWest(), e: b.getEast()}; }"""
    )


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on Leaflet's sphere (R = 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


@pytest.fixture(scope="module")
def shared_page(browser, tmp_path_factory) -> Iterator[Opened]:
    path = tmp_path_factory.mktemp("maps") / "shared.html"
    maps.save_map(maps.campaign_map(demo_result(), tiles="none"), path)
    o = _open(browser, path)
    yield o
    o.page.context.close()


@pytest.mark.browser
def test_search_box_finds_a_postcode_sector_from_a_full_postcode(shared_page):
    page, cust = shared_page.page, demo_result().customers
    postcode = cust["postcode"].dropna().iloc[0]
    m = re.fullmatch(r"([A-Z0-9]{2,4}) ?([0-9])[A-Z]{2}", _norm(postcode))
    assert m
    sector = f"{m[1]} {m[2]}"
    normal = cust["postcode"].map(_norm, na_action="ignore")
    in_sector = cust[normal.str[:-2] == sector]
    lon, lat = bng_to_lonlat([in_sector.geometry.x.mean()], [in_sector.geometry.y.mean()])
    box = page.locator(".ssg-search input")
    box.fill(postcode.lower())  # typed as a person would
    assert sector in page.locator(".ssg-results").inner_text()
    box.press("Enter")
    _settle(page)
    v = _view(page)
    assert _metres(v["lat"], v["lon"], lat[0], lon[0]) < 2
    assert v["z"] == 15
    assert sector in page.locator(".leaflet-tooltip").last.inner_text()
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_search_box_finds_equipment_and_circuits(shared_page):
    page, res = shared_page.page, demo_result()
    eq = res.equipment.iloc[7]
    box = page.locator(".ssg-search input")
    box.fill(eq["equipment_id"])
    page.locator(".ssg-results button").first.click()
    _settle(page)
    popup = page.locator(".leaflet-popup-content").last.inner_text()
    assert eq["equipment_id"] in popup and "Customers within radius" in popup
    lon, lat = bng_to_lonlat([eq.geometry.x], [eq.geometry.y])
    v = _view(page)
    assert _metres(v["lat"], v["lon"], lat[0], lon[0]) < 30 and v["z"] == 18  # popup may pan
    circuit = "MCR03-F2"
    edges = res.edges[res.edges["circuit_id"] == circuit]
    box.fill(circuit.lower())
    box.press("Enter")
    _settle(page)
    v = _view(page)
    lon, lat = bng_to_lonlat(*edges.geometry.get_coordinates().to_numpy().T)
    eps = 2e-5
    assert v["s"] - eps <= lat.min() and lat.max() <= v["n"] + eps
    assert v["w"] - eps <= lon.min() and lon.max() <= v["e"] + eps
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_bookmarks_go_to_an_area_and_a_substation(shared_page):
    page = shared_page.page
    island = page.evaluate("SSG.spec")
    area = island["areas"][2]
    page.locator(".ssg-bookmarks").select_option(label=area["name"])
    _settle(page)
    v = _view(page)
    (s, w), (n, e) = area["bounds"]
    assert v["s"] <= s and n <= v["n"] and v["w"] <= w and e <= v["e"]
    area_zoom = v["z"]
    assert area_zoom >= 11  # an area fills the view, not the country
    sub = island["bookmarks"][5]
    page.locator(".ssg-bookmarks").select_option(label=sub["label"])
    _settle(page)
    v = _view(page)
    assert _metres(v["lat"], v["lon"], sub["lat"], sub["lon"]) < 1 and v["z"] == 17
    assert page.locator(".ssg-bookmarks").input_value() != sub["label"]  # menu resets
    page.locator(".ssg-bookmarks").select_option(label="Whole map")
    _settle(page)
    assert _view(page)["z"] < area_zoom
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_legend_is_the_layer_control_and_folds(shared_page):
    page = shared_page.page
    assert page.locator(".leaflet-control-layers").count() == 0  # no second list
    rows = page.locator(".ssg-legend label.ssg-legend-row")
    leaflet_row = rows.filter(has_text="Leaflet (")
    assert leaflet_row.count() == 1
    assert page.evaluate("SSG.map.hasLayer(SSG.registry.customers_leaflet.layer)")
    leaflet_row.locator("input").uncheck()
    _settle(page)
    assert not page.evaluate("SSG.map.hasLayer(SSG.registry.customers_leaflet.layer)")
    leaflet_row.locator("input").check()
    _settle(page)
    assert page.evaluate("SSG.map.hasLayer(SSG.registry.customers_leaflet.layer)")
    summary = page.locator(".ssg-legend summary")
    assert rows.first.is_visible()
    summary.click()
    assert not rows.first.is_visible()  # folded: only the title is left
    summary.click()
    assert rows.first.is_visible()
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_legend_starts_folded_on_a_small_screen(browser, tmp_path):
    path = maps.save_map(maps.campaign_map(demo_result(), tiles="none"), tmp_path / "m.html")
    o = _open(browser, path, size=(600, 500))
    assert not o.page.locator(".ssg-legend label.ssg-legend-row").first.is_visible()
    assert o.page.locator(".ssg-legend summary").is_visible()
    o.page.context.close()


@pytest.mark.browser
def test_measuring_tool_sums_the_distance_between_clicks(shared_page):
    page = shared_page.page
    page.evaluate("SSG.map.setView([53.52, -2.19], 15, {animate: false})")
    _settle(page)
    page.locator(".ssg-tools a").nth(1).click()
    assert page.evaluate("SSG.measuring") is True
    points = [(300, 300), (700, 300), (700, 600)]
    for x, y in points:
        page.mouse.click(x, y)
        page.wait_for_timeout(350)  # not a double click
    lls = [page.evaluate(f"(() => {{ const l = SSG.map.containerPointToLatLng([{x}, {y}]); return [l.lat, l.lng]; }})()") for x, y in points]  # fmt: skip
    want = sum(_metres(*a, *b) for a, b in itertools.pairwise(lls))
    got = page.evaluate("SSG.measured()")
    assert abs(got - want) < 1e-3 * want
    label = page.locator(".leaflet-tooltip").last.inner_text()
    assert label == (f"{want / 1000:.2f} km" if want >= 1000 else f"{round(want):,} m")
    assert page.locator(".leaflet-popup").count() == 0  # clicks measured, no popups
    page.keyboard.press("Escape")
    assert page.evaluate("SSG.measuring") is False
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_fullscreen_button_fills_the_window_and_back(shared_page):
    page = shared_page.page
    size = page.evaluate("[SSG.map.getSize().x, SSG.map.getSize().y]")
    page.locator(".ssg-tools a").first.click()
    page.wait_for_timeout(300)
    full = page.evaluate(
        "!!document.fullscreenElement || SSG.map.getContainer().classList.contains('ssg-fullscreen')"
    )
    assert full
    page.locator(".ssg-tools a").first.click()
    page.wait_for_timeout(300)
    assert page.evaluate("!document.fullscreenElement")
    assert page.evaluate("[SSG.map.getSize().x, SSG.map.getSize().y]") == size
    assert shared_page.asked == [] and shared_page.errors == []


@pytest.mark.browser
def test_opening_view_shows_area_cards_and_merges_overlapping_equipment(browser, tmp_path):
    res = demo_result()
    path = maps.save_map(maps.campaign_map(res, tiles="none"), tmp_path / "m.html")
    o = _open(browser, path)
    page = o.page
    assert page.evaluate("SSG.map.getZoom()") <= 12
    cards = page.locator(".ssg-area-card")
    assert cards.count() == 4 and all(cards.nth(i).is_visible() for i in range(4))
    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    for a, b in itertools.combinations(boxes, 2):  # cards never cover one another
        assert (
            a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
        )  # fmt: skip
    # at the opening zoom each kind's icons in a town merge into a few, with their number
    groups = page.evaluate(
        """() => { const z = SSG.map.getZoom(), out = {};
        for (const [k, e] of Object.entries(SSG.registry)) if (e.kind === 'equipment')
          out[k] = e.layer.groups(z, -1e9, -1e9, 1e9, 1e9, 0).map((g) => g.items.length);
        return out; }"""
    )
    for key, sizes in groups.items():
        assert sum(sizes) == page.evaluate(f"SSG.registry['{key}'].count")
        assert len(sizes) <= 12 < sum(sizes), key
    # clicking a merged icon zooms in towards its items; zoomed in, the cards go
    x, y = page.evaluate(
        """() => { const e = SSG.registry.equipment_2, z = SSG.map.getZoom();
        const g = e.layer.groups(z, -1e9, -1e9, 1e9, 1e9, 0).sort((a, b) => b.items.length - a.items.length)[0];
        const p = SSG.map.layerPointToContainerPoint(SSG.map.project(SSG.map.unproject([g.x, g.y], z), z).subtract(SSG.map.getPixelOrigin()));
        return [p.x, p.y]; }"""
    )
    z0 = page.evaluate("SSG.map.getZoom()")
    page.mouse.click(x, y)
    _settle(page)
    assert page.evaluate("SSG.map.getZoom()") > z0
    page.evaluate("SSG.map.setZoom(16, {animate: false})")
    _settle(page)
    assert not cards.first.is_visible()
    assert o.asked == [] and o.errors == []
    o.page.context.close()


@pytest.mark.browser
def test_thousands_of_equipment_items_make_no_element_each(browser, tmp_path):
    rng = np.random.default_rng(5)
    n = 6_000
    eq = gpd.GeoDataFrame(
        {
            "equipment_id": [f"EQ{i}" for i in range(n)],
            "kind": rng.choice(["lv_capacitor", "oltc_transformer", "link_box_switch"], n),
        },
        geometry=[Point(xy) for xy in rng.uniform([380_000, 390_000], [400_000, 410_000], (n, 2))],
        crs="EPSG:27700",
    )
    path = maps.save_map(maps.equipment_map(eq, tiles="none"), tmp_path / "eq.html")
    o = _open(browser, path)
    page = o.page
    for z in (11, 14, 17):
        page.evaluate(f"SSG.map.setView([53.45, -2.2], {z}, {{animate: false}})")
        _settle(page)
        assert page.locator(".leaflet-marker-icon:not(.ssg-area)").count() == 0
        tiles = page.locator(".leaflet-tile").count()
        assert tiles <= 40  # one canvas per map tile, however many items
    assert sum(page.evaluate("SSG.counts()").values()) == n
    assert o.asked == [] and o.errors == []
    o.page.context.close()


@pytest.mark.browser
def test_hostile_postcodes_are_found_and_shown_as_text(browser, tmp_path):
    values = [v for _, v in HOSTILE if _norm(v) and "\ud800" not in v]
    n = len(values)
    cust = gpd.GeoDataFrame(
        {
            "address_line_1": ["1 Road"] * n,
            "postcode": values,
            "map_category": ["leaflet"] * n,
        },
        geometry=[Point(384_000 + 40 * i, 398_000) for i in range(n)],
        crs="EPSG:27700",
    )
    path = maps.save_map(maps.customers_map(cust, tiles="none", internal=True), tmp_path / "h.html")
    o = _open(browser, path)
    page = o.page
    for value in values[:12]:
        got = page.evaluate("(q) => SSG.find(q, 50).map((e) => e.label)", value)
        assert _norm(value) in got, value
    box = page.locator(".ssg-search input")
    box.fill(values[0])
    text = page.locator(".ssg-results button").first.evaluate("(b) => b.firstChild.textContent")
    assert text == _norm(values[0])
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], .ssg-results b').length") == 0
    assert o.asked == [] and o.errors == []
    o.page.context.close()


# --------------------------------------------------------------------------- scale (slow)
@pytest.mark.slow
@pytest.mark.browser
def test_campaign_map_of_2_4_million_customers_stays_usable(browser, tmp_path):
    """Issue 14: the demo tiled 28 times. Targets: build + save < 10 s, HTML < 40 MB,
    load < 5 s, every pan or zoom < 0.5 s; asserted with twice the time (a shared
    machine), measured figures printed (``-s``) and in benchmarks/bench_maps.py."""
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_maps

    result = bench_maps.tiled(28)
    assert len(result.customers) > 2_300_000
    start = time.perf_counter()
    path = maps.save_map(maps.campaign_map(result, tiles="none"), tmp_path / "big.html")
    build = time.perf_counter() - start
    size = path.stat().st_size
    o = _open(browser, path)
    load = o.page.evaluate("performance.now()") / 1000
    busiest = result.equipment.sort_values("n_customers_within").iloc[-1].geometry
    lon, lat = bng_to_lonlat([busiest.x], [busiest.y])
    steps = o.page.evaluate(bench_maps.TOUR_JS, bench_maps.tour(float(lat[0]), float(lon[0])))
    slowest = max(steps, key=lambda s: s[1])
    print(f"build {build:.1f} s, {size / 1e6:.1f} MB, load {load:.1f} s, slowest {slowest}")
    assert o.asked == [] and o.errors == []
    assert size < 40e6
    assert build < 20
    assert load < 10
    assert slowest[1] < 1000, steps
    # every customer is on the page, by layer (a shared map without map_category_shared
    # leaves the phone calls out)
    counts = o.page.evaluate("SSG.counts()")
    drawn = sum(v for k, v in counts.items() if k.startswith("customers_"))
    assert drawn == int((result.customers["map_category"] != "phone_call").sum())
    o.page.context.close()
