"""Generate the README's map screenshots from the current demo campaign.

Run from the repository root:  python docs/make_screenshots.py [--out docs/img]

Writes ``map_opening.png`` (the view a saved campaign map opens on: area
summaries, the network, the legend that is the layer control, search and
bookmarks) and ``map_street.png`` (street level at the busiest installation in
Manchester, the trial substation MCR01's area) from ``run_campaign`` on the
bundled demo ``campaign.toml``, so the counts in the pictures are today's.

The map is built with ``tiles="none"`` and opened in headless Chromium
(Playwright driving ``/usr/bin/chromium``, or ``SSG_CHROMIUM``) with every
request that is not the file itself aborted; the script fails if the page asked
for anything else or logged an error, so a screenshot never shows a page that
needed the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SIZE = {"width": 1280, "height": 800}


def demo_map(path: Path) -> tuple[float, float]:
    """Save the demo campaign's map; return (lat, lon) of its busiest Manchester installation."""
    import smartstreet_geo as ssg
    from smartstreet_geo.crs import bng_to_lonlat
    from smartstreet_geo.maps import campaign_map, save_map

    result = ssg.run_campaign(ssg.demo.path("campaign"))
    save_map(campaign_map(result, tiles="none", title="Demo campaign"), path)
    eq = result.equipment
    manchester = eq[eq["substation_id"].astype("string").str.startswith("MCR").fillna(False)]
    best = (manchester if len(manchester) else eq).sort_values("n_customers_within").iloc[-1]
    lon, lat = bng_to_lonlat([best.geometry.x], [best.geometry.y])
    return float(lat[0]), float(lon[0])


def shoot(html: Path, out: Path, street: tuple[float, float]) -> list[Path]:
    """Open the map offline and save the two screenshots."""
    from playwright.sync_api import sync_playwright

    asked: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            asked.append(r.request.url)
            r.abort()

    shots = [out / "map_opening.png", out / "map_street.png"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        ctx = browser.new_context(viewport=SIZE, device_scale_factor=1)
        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri(), wait_until="load")
        page.wait_for_function("window.SSG && SSG.settled()", timeout=60_000)
        page.wait_for_timeout(300)  # area cards are placed on the next frame
        page.screenshot(path=str(shots[0]))
        page.evaluate(
            "([lat, lon]) => { SSG.map.setView([lat, lon], 17, {animate: false}); }", list(street)
        )
        page.wait_for_timeout(200)
        page.wait_for_function("SSG.settled()", timeout=60_000)
        page.screenshot(path=str(shots[1]))
        browser.close()
    if asked or errors:
        for shot in shots:
            shot.unlink(missing_ok=True)
        raise SystemExit(f"the page asked for {asked[:3]} / logged errors {errors[:3]}")
    return shots


def main() -> int:
    """Build the demo map and write the screenshots; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SSG_CHROMIUM)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "demo_map.html"
        street = demo_map(html)
        for shot in shoot(html, args.out, street):
            print(f"{shot} ({shot.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
