"""Benchmark: the demo campaign map -- build + save time, HTML size, load time in Chromium.

Run by hand:  python benchmarks/bench_maps.py [--runs 3]
              python benchmarks/bench_maps.py --tiles 1 28 [--runs 1]   # the demo tiled k times

Targets (issue 6): build + save under 3 s, HTML under 4 MB, load in headless
Chromium under 3 s, for the demo campaign (85,520 valid customers; about
67,000 of them are contacted). Targets at scale (issue 14, ``--tiles 28``:
2.4 million customers): build + save under 10 s, HTML under 40 MB, load under
5 s, every pan or zoom redrawn in under 0.5 s.

``--tiles K`` repeats the demo stand-in result K times (every id suffixed
``~t``, each copy shifted 12 km east / north on a 7-wide grid, so the four
towns become four overlapping city regions), then times the build and save,
the load, and a fixed tour of pans and zooms: each step is a
``map.setView``/``panBy`` without animation, timed in the page from the call
to the moment every visible canvas layer has drawn its tiles
(``SSG.settled()``, polled every animation frame).

The campaign comes from ``smartstreet_geo.campaign.run_campaign`` on the demo
``campaign.toml`` when that module is there; otherwise a stand-in result (customers
within the default radius get a contact) is used -- the map does the same work
either way. Load time is measured from ``page.goto`` of the saved file to the
moment every customer layer has drawn its tiles (``SSG.settled()``), with all
network requests blocked, in a fresh browser context each run; the median is
reported. Needs ``pip install playwright`` and ``/usr/bin/chromium`` for the
browser figures (they are skipped otherwise).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import shapely

import smartstreet_geo as ssg
from smartstreet_geo.maps import campaign_map, save_map
from smartstreet_geo.schema import DEFAULT_RADII_M

CHROMIUM = os.environ.get("SSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Street-level view used for the screenshot: the Manchester trial substation MCR01.
SCREENSHOT_VIEW = (53.5232, -2.1935, 16)


def stand_in() -> SimpleNamespace:
    customers = ssg.read_customers(ssg.demo.path("customers")).data.reset_index(drop=True)
    equipment = ssg.read_equipment(ssg.demo.path("equipment")).data.reset_index(drop=True)
    net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    circuits = pd.read_csv(ssg.demo.path("circuits"))
    trial = set(circuits.loc[circuits["trial"], "circuit_id"])
    radius = equipment["kind"].map(DEFAULT_RADII_M).to_numpy(dtype=float)
    tree = shapely.STRtree(customers.geometry.values)
    e_idx, c_idx = tree.query(equipment.geometry.values, predicate="dwithin", distance=radius)
    category = np.where(customers["circuit_id"].isin(trial), "leaflet", "not_contacted")
    category = category.astype(object)
    outage = equipment["outage_required"].to_numpy(dtype=bool)[e_idx]
    category[c_idx] = "installation_letter"
    category[c_idx[outage & customers["psr"].to_numpy()[c_idx]]] = "phone_call"
    within = np.bincount(e_idx, minlength=len(equipment))
    return SimpleNamespace(
        customers=customers.assign(map_category=category),
        equipment=equipment.assign(radius_m=radius, n_customers_within=within),
        edges=net.edges.assign(in_scope=net.edges["circuit_id"].isin(trial)),
        substations=net.substations,
    )


def demo_campaign() -> tuple[Any, str]:
    try:
        from smartstreet_geo.campaign import run_campaign

        return run_campaign(ssg.demo.path("campaign")), "run_campaign(demo campaign.toml)"
    except Exception as exc:  # the campaign module is optional for this benchmark
        print(f"(campaign not available: {exc!r}; using a stand-in result)", file=sys.stderr)
        return stand_in(), "stand-in result"


def build_and_save(result: Any, path: Path, runs: int, **kwargs: Any) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        save_map(campaign_map(result, **kwargs), path)
        times.append(time.perf_counter() - start)
    return times


def load_times(path: Path, runs: int, screenshot: Path | None = None) -> list[float] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("(playwright not installed: no browser figures)", file=sys.stderr)
        return None
    if not Path(CHROMIUM).exists():
        print(f"(no Chromium at {CHROMIUM}: no browser figures)", file=sys.stderr)
        return None
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for i in range(runs + 1):  # the first load warms the browser up and is not counted
            ctx = browser.new_context(viewport={"width": 1280, "height": 860})
            ctx.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
            )
            page = ctx.new_page()
            start = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function("window.SSG && SSG.settled()", timeout=60_000, polling=10)
            if i:
                times.append(time.perf_counter() - start)
            if screenshot is not None and i == runs:
                lat, lon, zoom = SCREENSHOT_VIEW
                page.evaluate(
                    "([lat, lon, z]) => { SSG.map.setView([lat, lon], z, {animate: false}); }",
                    [lat, lon, zoom],
                )
                page.wait_for_timeout(200)
                page.wait_for_function("SSG.settled()", timeout=60_000)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
            ctx.close()
        browser.close()
    return times


def _tile(frame: pd.DataFrame, k: int, id_cols: list[str], dx: float, dy: float, cols: int):
    """``frame`` repeated ``k`` times: ids suffixed ``~t``, geometry shifted tile by tile."""
    import geopandas as gpd

    parts = []
    for t in range(k):
        part = frame.copy()
        for c in id_cols:
            if c in part:
                part[c] = part[c].where(part[c].isna(), part[c].astype("str") + f"~{t}")
        part = part.set_geometry(
            shapely.transform(
                np.asarray(part.geometry.array),
                lambda xy, t=t: xy + np.array([(t % cols) * dx, (t // cols) * dy]),
            ),
            crs=part.crs,
        )
        parts.append(part)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=frame.crs)


def tiled(k: int) -> SimpleNamespace:
    """The demo stand-in result repeated ``k`` times (see the module docstring)."""
    base = stand_in()
    # only what a map reads (and the id): the other customer columns would only cost memory
    keep = ["customer_id", "postcode", "map_category", "map_category_shared", "geometry"]
    base.customers = base.customers[[c for c in keep if c in base.customers]]
    dx = dy = 12_000.0
    cols = 7
    ids = ["customer_id", "premise_id", "equipment_id", "edge_id", "from_node", "to_node",
           "circuit_id", "substation_id", "node", "connection_node"]  # fmt: skip
    return SimpleNamespace(
        customers=_tile(base.customers, k, ids, dx, dy, cols),
        equipment=_tile(base.equipment, k, ids, dx, dy, cols),
        edges=_tile(base.edges, k, ids, dx, dy, cols),
        substations=_tile(base.substations, k, ids, dx, dy, cols),
    )


#: The page-side tour: [label, kind, args]; kind "view" = setView([lat, lon], z), "pan" = panBy.
TOUR_JS = """async (tour) => {
  const map = SSG.map, out = [];
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  for (const [label, kind, args] of tour) {
    const t0 = performance.now();
    if (kind === 'view') map.setView([args[0], args[1]], args[2], {animate: false});
    else if (kind === 'fit') map.fitBounds(SSG.home, {padding: [24, 24], animate: false});
    else map.panBy([args[0], args[1]], {animate: false});
    await frame();
    while (!SSG.settled()) await frame();
    out.push([label, performance.now() - t0]);
  }
  return out;
}"""


def tour(lat: float, lon: float) -> list[list[Any]]:
    steps: list[list[Any]] = [["fit (opening view)", "fit", []]]
    for z in (9, 10, 11, 12, 13, 14, 15, 16, 17, 18):
        steps.append([f"zoom {z}", "view", [lat, lon, z]])
        if z in (10, 13, 16, 18):
            steps += [[f"pan at {z} #{i}", "pan", [300 * (-1) ** i, 150]] for i in range(3)]
    for z in (15, 12, 9):
        steps.append([f"zoom out {z}", "view", [lat, lon, z]])
    return steps


def browse(path: Path, centre: tuple[float, float]) -> tuple[float, list[list[Any]]] | None:
    """Load time and the tour's redraw times (ms) in a fresh headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("(playwright not installed: no browser figures)", file=sys.stderr)
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 860})
        ctx.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page = ctx.new_page()
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=120_000)
        page.wait_for_function("window.SSG && SSG.settled()", timeout=120_000, polling=10)
        load = time.perf_counter() - start
        steps = page.evaluate(TOUR_JS, tour(*centre))
        browser.close()
    return load, steps


def scale_case(k: int, runs: int) -> dict[str, Any]:
    t = time.perf_counter()
    result = tiled(k)
    print(f"demo x{k}: {len(result.customers):,} customers, {len(result.equipment):,} "
          f"equipment, {len(result.edges):,} edges ({time.perf_counter() - t:.1f} s to tile)",
          flush=True)  # fmt: skip
    from smartstreet_geo.crs import bng_to_lonlat

    busiest = result.equipment.sort_values("n_customers_within").iloc[-1].geometry
    lon, lat = bng_to_lonlat([busiest.x], [busiest.y])
    out: dict[str, Any] = {"k": k, "customers": len(result.customers)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.html"
        build = build_and_save(result, path, runs, tiles="none")
        out["build_s"] = statistics.median(build)
        out["html_mb"] = path.stat().st_size / 1e6
        print(f"  build + save {out['build_s']:.2f} s, HTML {out['html_mb']:.1f} MB", flush=True)
        got = browse(path, (float(lat[0]), float(lon[0])))
        if got is not None:
            out["load_s"], steps = got
            ms = [t for _, t in steps]
            out["redraw_median_ms"] = statistics.median(ms)
            out["redraw_max_ms"] = max(ms)
            slowest = max(steps, key=lambda s: s[1])
            print(f"  Chromium load {out['load_s']:.2f} s; {len(ms)} pans/zooms: median "
                  f"{out['redraw_median_ms']:.0f} ms, slowest {slowest[1]:.0f} ms ({slowest[0]})",
                  flush=True)  # fmt: skip
            out["steps"] = steps
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="save a street-level PNG of the map")
    parser.add_argument("--tiles", type=int, nargs="+", help="the demo tiled K times (issue 14)")
    parser.add_argument("--steps", action="store_true", help="print every pan/zoom time")
    args = parser.parse_args()
    if args.tiles:
        rows = [scale_case(k, args.runs) for k in args.tiles]
        print()
        print("| customers | build + save (s) | HTML (MB) | Chromium load (s) | pan/zoom median "
              "(ms) | pan/zoom slowest (ms) |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            nan = float("nan")
            print(f"| {r['customers']:,} | {r['build_s']:.2f} | {r['html_mb']:.1f} | "
                  f"{r.get('load_s', nan):.2f} | {r.get('redraw_median_ms', nan):.0f}"
                  f" | {r.get('redraw_max_ms', nan):.0f} |")  # fmt: skip
            if args.steps:
                for label, ms in r.get("steps", []):
                    print(f"    {label}: {ms:.0f} ms")
        print("\ntargets at 2.4 M: build + save < 10 s, HTML < 40 MB, load < 5 s, "
              "pan/zoom < 500 ms")  # fmt: skip
        return 0

    result, source = demo_campaign()
    n = len(result.customers)
    contacted = int((result.customers["map_category"] != "not_contacted").sum())
    print(f"campaign: {source}; {n:,} customers on the map, {contacted:,} contacted")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, kwargs in (
            ("pseudonymous, no tiles", {"tiles": "none"}),
            ("pseudonymous, OSM tiles (blocked)", {"tiles": "osm"}),
            ("internal (address labels), no tiles", {"tiles": "none", "internal": True}),
            ("aggregated 100 m, k=5, no tiles", {"tiles": "none", "aggregate_m": 100}),
        ):
            path = Path(tmp) / "map.html"
            build = build_and_save(result, path, args.runs, **kwargs)
            size = path.stat().st_size
            shot = args.screenshot if kwargs == {"tiles": "none"} else None
            load = load_times(path, args.runs, screenshot=shot)
            rows.append((label, statistics.median(build), size, load and statistics.median(load)))
    print()
    print("| map | build + save (s) | HTML (MB) | Chromium load (s) |")
    print("|---|---:|---:|---:|")
    for label, b, size, load in rows:
        shown = f"{load:.2f}" if load is not None else "n/a"
        print(f"| {label} | {b:.2f} | {size / 1e6:.2f} | {shown} |")
    print("\ntargets: build + save < 3 s, HTML < 4 MB, load < 3 s")
    if args.screenshot:
        print(f"screenshot: {args.screenshot} ({args.screenshot.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
