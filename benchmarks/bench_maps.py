"""Benchmark: the demo campaign map -- build + save time, HTML size, load time in Chromium.

Run by hand:  python benchmarks/bench_maps.py [--runs 3] [--screenshot docs/img/demo_map.png]

Targets (issue 6): build + save under 3 s, HTML under 4 MB, load in headless
Chromium under 3 s, for the demo campaign (85,520 valid customers; about
67,000 of them are contacted).

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="save a street-level PNG of the map")
    args = parser.parse_args()

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
