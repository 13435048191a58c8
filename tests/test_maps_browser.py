"""Saved maps in a real browser: headless Chromium, network blocked, hostile data.

Needs the Debian package ``chromium`` (``/usr/bin/chromium``, or set
``SSG_CHROMIUM``) and ``pip install playwright`` (no browser download: Playwright
drives the system Chromium). Skipped with the reason when either is missing.
Screenshots go to ``build/test-screenshots/`` for a reviewer to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smartstreet_geo import maps
from test_maps import HOSTILE, demo_result

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    pytest.skip(
        "playwright is not installed (pip install playwright; it drives /usr/bin/chromium)",
        allow_module_level=True,
    )

CHROMIUM = os.environ.get("SSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the environment
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SSG_CHROMIUM)",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "test-screenshots"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Opened:
    page: Page
    load_s: float
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_map(browser: Browser, path: Path, *, size: tuple[int, int] = (1280, 860)) -> Opened:
    """Open a saved map from file with every non-file request aborted (and recorded)."""
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = ctx.new_page()
    opened = Opened(page, 0.0)

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            opened.blocked.append(url)
            r.abort()

    ctx.route("**/*", route)
    page.on(
        "console",
        lambda m: (
            opened.errors.append(f"{m.text} @ {m.location.get('url', '')}")
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda e: opened.errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: opened.failed.append(r.url))

    def on_dialog(d: Any) -> None:
        opened.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.SSG && SSG.settled()", timeout=30_000, polling=25)
    opened.load_s = time.perf_counter() - start
    return opened


def settle(page: Page) -> None:
    page.wait_for_timeout(100)
    page.wait_for_function("SSG.settled()", timeout=15_000, polling=25)


def expected_counts(res: SimpleNamespace) -> dict[str, int]:
    """Features per layer of a shared (default) map, derived from the input frames."""
    out: dict[str, int] = {}
    cats = res.customers["map_category_shared"].value_counts()
    for key in maps.SHARED_CATEGORIES:
        out[f"customers_{key}"] = int(cats.get(key, 0))
    kinds = [k for k in maps._style.EQUIPMENT_STYLES if k in set(res.equipment["kind"])]
    for i, kind in enumerate(kinds):
        out[f"equipment_{i}"] = int((res.equipment["kind"] == kind).sum())
    closed = res.edges[~res.edges["normally_open"]]
    out["circuits_in_scope"] = closed.loc[closed["in_scope"], "circuit_id"].nunique()
    out["circuits_out_of_scope"] = closed.loc[~closed["in_scope"], "circuit_id"].nunique()
    out["open_points"] = int(res.edges["normally_open"].sum())
    out["substations"] = len(res.substations)
    return out


def test_demo_campaign_map_works_offline_without_tiles(browser, tmp_path):
    res = demo_result()
    path = maps.save_map(maps.campaign_map(res, tiles="none"), tmp_path / "demo.html")
    o = open_map(browser, path)
    page = o.page
    assert page.evaluate("typeof L") == "object"
    assert page.evaluate("L.version") == "1.9.3"
    assert o.errors == [] and o.failed == [] and o.blocked == [] and o.dialogs == []
    assert page.evaluate("SSG.counts()") == expected_counts(res)
    # equipment is drawn on canvas (no DOM element per item); the legend is the layer
    # control: one row with a check box per layer, plus the area summaries
    assert page.locator(".leaflet-marker-icon.ssg-eq").count() == 0
    assert page.locator(".leaflet-ssgCustomers-pane canvas").count() > 0  # the shared scene
    assert page.locator(".ssg-legend label.ssg-legend-row input").count() == (
        len(expected_counts(res)) + 1
    )
    assert page.locator(".leaflet-control-layers").count() == 0  # no second list
    assert page.locator(".ssg-legend").count() == 1
    assert page.locator(".leaflet-control-scale").count() == 1
    # fitted: every customer is inside the opening view
    assert (
        page.evaluate(
            """() => { const b = SSG.map.getBounds(); let out = 0;
        for (const e of Object.values(SSG.registry)) if (e.kind === 'points') {
          const d = e.layer._d, s = SSG.map.options.crs.scale(SSG.map.getZoom());
          for (let i = 0; i < d.X.length; i++)
            if (!b.contains(SSG.map.unproject(L.point(d.X[i] * s, d.Y[i] * s), SSG.map.getZoom()))) out++;
        } return out; }"""
        )
        == 0
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "demo_campaign_fit.png"))

    # street level where the busiest equipment is: dots are drawn, popups work
    lat, lon = _busiest(res)
    page.evaluate(
        "([lat, lon]) => { SSG.map.setView([lat, lon], 17, {animate: false}); }", [lat, lon]
    )
    settle(page)
    painted = page.evaluate(
        """() => { let n = 0; for (const c of document.querySelectorAll('.leaflet-ssgCustomers-pane canvas')) {
          if (!c.width) continue; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4) if (d[i]) n++; } return n; }"""
    )
    assert painted > 500
    page.screenshot(path=str(SHOTS / "demo_campaign_street.png"))
    page.mouse.click(*_centre_on(page, lat, lon))
    popup = page.locator(".leaflet-popup-content")
    assert "Customers within radius" in popup.inner_text()
    # a customer click tells the contact type and nothing about the person
    x, y = _first_point_on_screen(page, "customers_installation_letter")
    page.mouse.click(x, y)
    text = page.locator(".leaflet-popup-content").last.inner_text()
    assert "Installation letter" in text and "customer" in text
    assert "Phone call" not in page.content()  # a shared map has no PSR layer
    assert not any(n in text for n in res.customers["name"].dropna().head(2000))
    assert o.errors == [] and o.blocked == [] and o.dialogs == []


def _busiest(res: SimpleNamespace) -> tuple[float, float]:
    from smartstreet_geo.crs import bng_to_lonlat

    eq = res.equipment.sort_values("n_customers_within", ascending=False).iloc[0]
    lon, lat = bng_to_lonlat([eq.geometry.x], [eq.geometry.y])
    return float(lat[0]), float(lon[0])


def _centre_on(page: Page, lat: float, lon: float, zoom: int = 18) -> tuple[float, float]:
    """Centre the map on a position and return where it is on screen."""
    x, y = page.evaluate(
        """([lat, lon, zoom]) => { SSG.map.closePopup(); SSG.map.setView([lat, lon], zoom, {animate: false});
        const p = SSG.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }""",
        [lat, lon, zoom],
    )
    settle(page)
    return x, y


def _first_point_on_screen(page: Page, key: str) -> tuple[float, float]:
    """Centre the map on the first point of a layer; return its screen position."""
    return tuple(
        page.evaluate(
            """(key) => {
      const e = SSG.registry[key], z = SSG.map.getZoom(), s = SSG.map.options.crs.scale(z);
      const ll = SSG.map.unproject(L.point(e.layer._d.X[0] * s, e.layer._d.Y[0] * s), z);
      SSG.map.closePopup();
      SSG.map.setView(ll, 19, {animate: false});
      const p = SSG.map.latLngToContainerPoint(ll);
      return [p.x, p.y];
    }""",
            key,
        )
    )


def test_tiles_are_the_only_requests_and_the_map_survives_without_them(browser, tmp_path):
    res = demo_result()
    small = SimpleNamespace(
        customers=res.customers.iloc[:5000],
        equipment=res.equipment,
        edges=res.edges,
        substations=res.substations,
    )
    path = maps.save_map(maps.campaign_map(small, tiles="osm"), tmp_path / "tiles.html")
    o = open_map(browser, path)
    assert o.blocked, "the OpenStreetMap layer should have asked for tiles"
    assert all(u.startswith("https://tile.openstreetmap.org/") for u in o.blocked)
    assert set(o.failed) <= set(o.blocked)
    assert [e for e in o.errors if "tile.openstreetmap.org" not in e] == []
    assert o.page.evaluate("SSG.counts()")["customers_leaflet"] == int(
        (small.customers["map_category_shared"] == "leaflet").sum()
    )
    assert o.dialogs == []


def test_hostile_names_neither_execute_nor_break_the_page(browser, tmp_path):
    res = demo_result()
    n = len(HOSTILE)
    cust = res.customers.iloc[:n].copy()
    for col in ("name", "address_line_1", "address_line_2", "post_town", "postcode"):
        cust[col] = list(HOSTILE)
    eq = res.equipment.iloc[:n].copy()
    eq["equipment_id"] = list(HOSTILE)
    eq["kind"] = HOSTILE[0]  # unknown kind: becomes a layer-control label (HTML)
    eq["circuit_id"] = HOSTILE[1]
    subs = res.substations.iloc[:2].assign(name=HOSTILE[2], substation_id=HOSTILE[3])
    edges = res.edges.iloc[:50].assign(circuit_id=HOSTILE[4], edge_id=HOSTILE[1])
    hostile = SimpleNamespace(customers=cust, equipment=eq, edges=edges, substations=subs)
    path = maps.save_map(
        maps.campaign_map(hostile, tiles="none", internal=True, title=HOSTILE[1]),
        tmp_path / "hostile.html",
    )
    o = open_map(browser, path)
    page = o.page
    assert o.errors == [] and o.dialogs == [] and o.blocked == []
    assert page.evaluate("typeof L") == "object"
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.title() == HOSTILE[1]
    labels = page.locator(".ssg-legend").inner_text()
    assert HOSTILE[0] in labels  # shown as text, not parsed as a tag
    assert page.evaluate("SSG.counts()")["equipment_0"] == n

    lat, lon = page.evaluate(
        "() => { const it = SSG.registry.equipment_0.items[0]; return [it.lat, it.lon]; }"
    )
    page.mouse.click(*_centre_on(page, lat, lon))
    popup = page.locator(".leaflet-popup-content").last.inner_text()
    assert any(h.strip() in popup for h in HOSTILE if "\u2028" not in h), popup
    assert HOSTILE[1] in popup  # the circuit id, literally

    # customers: on their own map so that no equipment icon covers them
    path = maps.save_map(
        maps.customers_map(cust.drop(columns="map_category"), tiles="none", internal=True),
        tmp_path / "c.html",
    )
    o2 = open_map(browser, path)
    x, y = _first_point_on_screen(o2.page, "customers_customer")
    o2.page.mouse.click(x, y)
    text = o2.page.locator(".leaflet-popup-content").last.inner_text()
    assert any(h in text for h in HOSTILE[:3]), text
    assert o2.errors == [] and o2.dialogs == [] and o2.blocked == []
    assert o2.page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    o2.page.screenshot(path=str(SHOTS / "hostile_popup.png"))


def test_escaped_text_is_inert_inside_a_real_template_literal(browser):
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    run = """(s) => { const out = eval('`' + s + '`');
      const div = document.createElement('div'); div.innerHTML = out; document.body.appendChild(div);
      return [out, div.textContent, div.querySelectorAll('img,script').length]; }"""
    # control: the harness does see execution when text is not escaped
    page.evaluate(run, "Smith ${alert(2)}")
    assert dialogs == ["2"]
    dialogs.clear()
    for text in HOSTILE:
        escaped = maps.escape_text(text)
        out, shown, elements = page.evaluate(run, escaped)
        assert out == escaped  # no ${...} substitution, no early end of the literal
        assert shown == text  # and the reader sees the original characters
        assert elements == 0
    page.wait_for_timeout(200)  # let any onerror fire
    assert dialogs == []
    page.close()


def test_aggregated_map_loads_with_counts(browser, tmp_path):
    res = demo_result()
    path = maps.save_map(
        maps.campaign_map(res, tiles="none", aggregate_m=100, min_group=5), tmp_path / "agg.html"
    )
    o = open_map(browser, path)
    assert o.errors == [] and o.blocked == [] and o.dialogs == []
    counts = o.page.evaluate("SSG.counts()")
    shown = sum(counts[f"customers_{k}"] for k in maps.SHARED_CATEGORIES)
    assert not any(k == "customers_phone_call" for k in counts)
    assert 0 < shown <= len(res.customers)


# --------------------------------------------------------------------------- hostile catalogue
#: Every text the page shows, read back from the DOM as hex UTF-16 code units (so that lone
#: surrogates and NULs reach Python unchanged): tooltips and popups are opened one by one.
_COLLECT = """() => {
  const u = (s) => { let h = ''; for (let i = 0; i < s.length; i++) h += s.charCodeAt(i).toString(16).padStart(4, '0'); return h; };
  const map = SSG.map, out = {eq: [], lines: [], subs: [], addresses: [], customerHeads: 0};
  const tip = (layer, latlng) => { layer.openTooltip(latlng); const t = layer.getTooltip().getElement();
    const r = t.textContent === undefined ? null : t; return r; };
  for (const e of Object.values(SSG.registry)) {
    if (e.kind === 'equipment') e.items.forEach((item, i) => {
      const key = Object.keys(SSG.registry).find((k) => SSG.registry[k] === e);
      const tipText = u(SSG.equipmentTip(key, i));
      const c = SSG.openEquipment(key, i).getElement().querySelector('.leaflet-popup-content');
      const rows = {};
      for (const tr of c.querySelectorAll('tr')) rows[tr.querySelector('th').textContent] = u(tr.querySelector('td').textContent);
      out.eq.push({tip: tipText, id: u(c.querySelector('b').textContent), rows});
      map.closePopup();
    });
    if (e.kind === 'lines') e.items.forEach((item, i) => {
      const key = Object.keys(SSG.registry).find((k) => SSG.registry[k] === e);
      out.lines.push(u(SSG.lineTip(key, i).querySelector('b').textContent));
    });
    if (e.kind === 'substations') e.layer.eachLayer((m) => {
      const t = tip(m), note = t.querySelector('.ssg-tip > div');
      out.subs.push([u(t.querySelector('b').textContent), note ? u(note.textContent) : null]); m.closeTooltip();
    });
  }
  const seen = new Set();
  for (const e of Object.values(SSG.registry)) {
    if (e.kind !== 'points') continue;
    const d = e.layer._d, z = map.getZoom(), s = map.options.crs.scale(z);
    for (let i = 0; i < d.X.length; i++) {
      const ll = map.unproject(L.point(d.X[i] * s, d.Y[i] * s), z);
      map.fire('click', {latlng: ll});
      const p = map._popup && map._popup.isOpen() ? map._popup.getElement() : null;
      const c = p && p.querySelector('.ssg-customers');
      if (!c) continue;
      out.customerHeads++;
      for (const li of c.querySelectorAll('.ssg-addresses li')) seen.add(u(li.textContent));
      map.closePopup();
    }
  }
  out.addresses = [...seen];
  // the legend is the layer control: one row per layer, with its check box
  out.layerNames = [...document.querySelectorAll('.ssg-legend label.ssg-legend-row .ssg-layer-label')].map((n) => u(n.textContent));
  out.legendRows = [...document.querySelectorAll('.ssg-legend-row > span:last-child')].map((n) => u(n.textContent));
  out.legendTitle = u(document.querySelector('.ssg-legend-title').textContent);
  out.title = u(document.title);
  const a = document.querySelector('.ssg-attribution');
  out.attribution = a ? u(a.textContent) : null;
  out.scripts = document.querySelectorAll('script').length;
  out.injected = document.querySelectorAll('img[src="x"], .leaflet-control-layers b, .ssg-legend b').length;
  return out;
}"""


def _text(units: str | None) -> str | None:
    """Hex UTF-16 code units from the page back to a Python string (lone surrogates kept)."""
    if units is None:
        return None
    return bytes.fromhex(units).decode("utf-16-be", "surrogatepass")


def _collapse(title: str) -> str:
    """``document.title`` as Chromium returns it: runs of spaces and control characters
    (U+0000-U+0020) become one space, stripped at both ends."""
    return re.sub(r"[\x00-\x20]+", " ", title).strip(" ")


def test_every_hostile_value_is_shown_literally_by_every_builder(browser, tmp_path):
    from collections import Counter

    from test_maps_hostile import (
        VALUES,
        expected_labels,
        hostile_customers,
        hostile_edges,
        hostile_equipment,
        hostile_substations,
        shown,
    )

    eq, edges, subs, cust = (
        hostile_equipment(),
        hostile_edges(),
        hostile_substations(),
        hostile_customers(),
    )
    joined = "|".join(VALUES)  # every value at once in the title and the attribution
    tiles = "https://tiles.invalid/{z}/{x}/{y}.png"
    res = SimpleNamespace(customers=cust, equipment=eq, edges=edges, substations=subs)
    plain = cust.drop(columns="map_category")
    pages = {
        "campaign_internal": maps.campaign_map(
            res, internal=True, tiles=tiles, tile_attribution=joined, title=joined
        ),
        "campaign": maps.campaign_map(res, tiles="osm", tile_attribution=VALUES[0], title=joined),
        "equipment": maps.equipment_map(eq, tiles="none", title=joined),
        "circuits": maps.circuits_map(edges, subs, in_scope=VALUES[::2], tiles="none"),
        "customers": maps.customers_map(plain, tiles="none", title=joined),
        "customers_internal": maps.customers_map(plain, tiles="none", internal=True),
    }
    kinds = Counter(shown(k) for k in eq["kind"])
    want_eq = sorted(
        (f"{shown(r.equipment_id)} \u2014 {shown(r.kind)}", shown(r.equipment_id), shown(r.kind),
         shown(r.install_date), shown(r.circuit_id), shown(r.substation_id))
        for r in eq.itertuples()
    )  # fmt: skip
    want_lines = sorted(
        {shown(v) for v in edges.loc[~edges["normally_open"], "circuit_id"]}
    ) + sorted(f"Normally-open point {shown(v)}".strip() for v in VALUES)
    want_subs = sorted(
        (shown(n), f"substation {shown(i)}") if isinstance(n, str) else (shown(i), "")
        for i, n in zip(subs["substation_id"], subs["name"], strict=True)
    )
    cat_label = {k: s.label for k, s in maps.CATEGORIES.items()}
    for name, m in pages.items():
        o = open_map(browser, maps.save_map(m, tmp_path / f"{name}.html"))
        got = o.page.evaluate(_COLLECT)
        title = _text(got["legendTitle"])
        where = f"{name}: "
        assert o.dialogs == [], where + str(o.dialogs)
        assert [e for e in o.errors if "tiles.invalid" not in e and "openstreetmap" not in e] == []
        assert got["injected"] == 0 and got["scripts"] == 5, where  # assets (2), island, body
        assert not (tmp_path / "pwned").exists()
        if name in {"campaign_internal", "campaign", "equipment", "customers"}:
            assert title == joined, where
            assert _text(got["title"]) == _collapse(joined), where
        if name == "campaign_internal":
            assert _text(got["attribution"]) == joined
            assert o.blocked and all(u.startswith("https://tiles.invalid/") for u in o.blocked)
        if name == "campaign":
            assert _text(got["attribution"]) == VALUES[0]  # after the OSM credit
        if name in {"campaign_internal", "campaign", "equipment"}:
            shown_eq = sorted(
                (_text(e["tip"]), _text(e["id"]), _text(e["rows"]["Kind"]),
                 _text(e["rows"]["Install date"]), _text(e["rows"]["Circuit"]),
                 _text(e["rows"]["Substation"]))
                for e in got["eq"]
            )  # fmt: skip
            assert shown_eq == want_eq, where
            names = {_text(n) for n in got["layerNames"]}
            assert {f"{k} ({n})" for k, n in kinds.items()} <= names, where
            legend = {_text(n) for n in got["legendRows"]}
            assert {f"{k} ({n})" for k, n in kinds.items()} <= legend, where
        if name in {"campaign_internal", "campaign", "circuits"}:
            assert sorted(_text(x) for x in got["lines"]) == sorted(want_lines), where
            assert sorted((_text(b), _text(n) or "") for b, n in got["subs"]) == want_subs, where
        if name.startswith(("campaign", "customers")):
            assert got["customerHeads"] > 0, where
            addresses = {_text(a) for a in got["addresses"]}
            if name == "campaign_internal":
                assert addresses == {
                    f"{lab} \u2014 {cat_label[c]}"
                    for lab, c in zip(expected_labels(cust), cust["map_category"], strict=True)
                }
            elif name == "customers_internal":
                assert addresses == {f"{lab} \u2014 Customer" for lab in expected_labels(cust)}
            else:
                assert addresses == set(), where  # pseudonymous: no address at all
        o.page.context.close()
