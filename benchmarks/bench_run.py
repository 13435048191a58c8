#!/usr/bin/env python
"""The whole job at scale: ``smartstreet-geo run`` on the demo campaign tiled k times.

    python benchmarks/bench_run.py                    # k = 1, 3, 10, 28
    python benchmarks/bench_run.py --tiles 1 3 10 28 60 --json out.json
    python benchmarks/bench_run.py --tiles 28 --no-cli  # the per-step table only

For each k the bundled demo inputs (customers, equipment, network, substations, circuits and
the campaign file) are tiled k times into a temporary folder: every id gets a ``~t`` suffix
(customer, premise, equipment, circuit, substation, edge and node ids, and the first address
line, so premises without a premise id stay distinct), every dialable phone number of tiles
after the first is replaced by a valid number of its own (a licence area has about one number
per customer; repeating the demo's would measure work done once per distinct number at 1/k of
its size), and tile t is shifted by a whole number of 10 km steps on a 6-wide grid; points
the reader rejects, such as (0, 0), are not moved, so they stay rejected. Known limit: the
demo spans about 90 km by 150 km, so tiles 10 km apart overlap in space; ids keep the
networks apart, but answers are only nearly k times the demo's (k = 3: exactly; k = 28: 65
more contacted, 65 fewer not contacted, of 2.4 million).
The shift moves customers away from their postcode districts, so the benchmark widens the
reader's postcode-district margin (``smartstreet_geo.locate.DISTRICT_MARGIN_M``); the check
still runs, at full cost, on every row. The campaign runs without its ``[locate]`` section (its
extracts would place the tiles' customers without coordinates at the demo's own addresses):
those 680 rows per tile stay rejected.

Measured, each in a fresh child process so peaks do not mix:

* ``steps``: ``run_campaign`` and ``write_campaign`` in one process, timed per step (the
  ``step`` callback's labels), with the resident-set high-water mark (VmHWM);
* ``cli``: ``smartstreet-geo run CAMPAIGN --out DIR`` as a user runs it (warm: the numba
  cache is filled by a run before), wall time and peak resident set of the process.

The scaling exponent is the slope of log(time) against log(customers) between the smallest
and the largest k. Results: benchmarks/README.md, section "The whole job".
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

STEP_KM = 10_000.0
COLS = 6
WIDE_MARGIN_M = 1e9


def _suffix(s: pd.Series, t: int) -> pd.Series:
    s = s.astype("str")
    return s.where(s.isna() | (s.str.strip() == ""), s + f"~{t}")


def _own_numbers(customers: pd.DataFrame, per_tile: int) -> pd.DataFrame:
    """Give every dialable number after the first tile a number of its own.

    A licence area has about one number per customer, where tiles of the demo would repeat
    its 15,685: work done once per distinct number would be measured at 1/k of its size.
    In tiles 1 to k-1, each plainly written dialable number (10 digits after 0, +44 or
    0044) gets the digits of a new number, 0161 5xx xxxx, then 0161 2xx xxxx (every number
    of both blocks is valid, none in a drama range), written in the original's way (its
    prefix and separators). One number gets one new number per tile, in both columns, so
    rows that shared a number, or its text, still do; other values stay as they are, and
    every answer stays k times the demo's.
    """
    from smartstreet_geo.campaign.phones import normalise_uk_phones

    out = customers.copy()
    tile = np.arange(len(out)) // per_tile
    cols = [c for c in ("phone", "nominee_phone") if c in out]
    texts = {c: out[c].astype(object).to_numpy(copy=True) for c in cols}
    rows, keys = {}, []
    for c in cols:
        raw = out[c].astype("str").fillna("")
        digits = raw.str.replace(r"[^0-9+]", "", regex=True)
        plain = (
            raw.str.fullmatch(r"[0-9 ()\-./+]*")
            & digits.str.fullmatch(r"(?:0|\+44|0044)[1-9][0-9]{9}")
            & normalise_uk_phones(out[c]).notna()
        ).to_numpy(dtype=bool)
        rows[c] = np.flatnonzero(plain & (tile > 0))
        nsn_now = digits.str[-10:].to_numpy(dtype=object)[rows[c]].astype(str)
        keys.append(np.char.add(np.char.add(tile[rows[c]].astype(str), ":"), nsn_now))
    serial, _ = pd.factorize(np.concatenate(keys)) if keys else (np.array([], int), None)
    if serial.max(initial=0) >= 7_960_000:  # (0161 496 xxxx is a drama range)
        raise ValueError("more numbers than the two blocks hold")
    block = np.where(serial < 5_000_000, serial + 5_000_000, serial - 3_000_000)
    nsn = np.char.add("161", block.astype(str))
    start = 0
    for c in cols:
        new = nsn[start : start + rows[c].size]
        start += rows[c].size
        for i, r in enumerate(rows[c].tolist()):  # the new digits into the old writing
            old, given, j = texts[c][r], list(new[i]), 10
            chars = list(old)
            for pos in range(len(chars) - 1, -1, -1):
                if j and chars[pos].isdigit():
                    j -= 1
                    chars[pos] = given[j]
            texts[c][r] = "".join(chars)
        out[c] = pd.array(texts[c], dtype="str")
    return out


def make_inputs(k: int, folder: Path) -> Path:
    """Write the demo campaign tiled ``k`` times into ``folder``; return the campaign file."""
    import geopandas as gpd
    import shapely

    from smartstreet_geo import demo
    from smartstreet_geo.crs import classify_bng, lonlat_to_bng

    folder.mkdir(parents=True, exist_ok=True)
    cust = pd.read_parquet(demo.path("customers"))
    eq = pd.read_csv(demo.path("equipment"), dtype=str, keep_default_na=False)
    e, n = lonlat_to_bng(
        eq["longitude"].astype(float).to_numpy(), eq["latitude"].astype(float).to_numpy()
    )
    eq = eq.drop(columns=["longitude", "latitude"]).assign(
        easting=np.round(e, 3), northing=np.round(n, 3)
    )
    edges = gpd.read_parquet(demo.path("network_edges"))
    subs = gpd.read_parquet(demo.path("substations"))
    circuits = pd.read_csv(demo.path("circuits"), dtype=str, keep_default_na=False)

    def offset(t: int) -> tuple[float, float]:
        return (t % COLS) * STEP_KM, -(t // COLS) * STEP_KM

    def plausible(x: pd.Series, y: pd.Series) -> np.ndarray:
        return pd.isna(classify_bng(x.to_numpy(float), y.to_numpy(float)))

    def tiled(frame: pd.DataFrame, ids: list[str], xy: str | None) -> pd.DataFrame:
        parts = []
        for t in range(k):
            part = frame.copy()
            for c in ids:
                if c in part:
                    part[c] = _suffix(part[c], t)
            dx, dy = offset(t)
            if xy == "columns":
                # only plausible points move: a defect such as (0, 0) shifted by a tile's
                # offset would become a valid location and change the answers
                ok = plausible(part["easting"], part["northing"])
                part["easting"] = part["easting"].where(~ok, part["easting"] + dx)
                part["northing"] = part["northing"].where(~ok, part["northing"] + dy)
            elif xy == "geometry":
                part = part.set_geometry(
                    shapely.transform(np.asarray(part.geometry.array), lambda a, d=(dx, dy): a + d),
                    crs=part.crs,
                )
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    node_ids = ["edge_id", "from_node", "to_node", "circuit_id", "substation_id", "node"]
    tiled(
        cust,
        [
            "customer_id",
            "premise_id",
            "address_line_1",
            "circuit_id",
            "substation_id",
            "connection_node",
        ],
        "columns",
    ).pipe(_own_numbers, len(cust)).to_parquet(folder / "customers.parquet", index=False)
    eq_t = tiled(eq, ["equipment_id", "circuit_id", "substation_id"], None)
    eq_ok = plausible(eq["easting"], eq["northing"])
    for t in range(k):  # (string columns: shift by hand)
        rows = slice(t * len(eq), (t + 1) * len(eq))
        dx, dy = offset(t)
        eq_t.loc[eq_t.index[rows], "easting"] = np.where(eq_ok, eq["easting"] + dx, eq["easting"])
        eq_t.loc[eq_t.index[rows], "northing"] = np.where(
            eq_ok, eq["northing"] + dy, eq["northing"]
        )
    eq_t.to_csv(folder / "equipment.csv", index=False)
    tiled(edges, node_ids, "geometry").to_parquet(folder / "network_edges.parquet", index=False)
    tiled(subs, node_ids, "geometry").to_parquet(folder / "substations.parquet", index=False)
    tiled(circuits, ["circuit_id", "substation_id"], None).to_csv(
        folder / "circuits.csv", index=False
    )
    shutil.copy(demo.path("campaign").with_name("psr_needs_codes.csv"), folder)
    campaign = folder / "campaign.toml"
    # without [locate]: its extracts place customers at the demo's (untiled) addresses
    text = demo.path("campaign").read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[locate\].*?(?=^\[|\Z)", "", text)
    campaign.write_text(text, encoding="utf-8")
    return campaign


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
    return out


def _widen_postcode_margin() -> None:
    import smartstreet_geo.locate as locate

    locate.DISTRICT_MARGIN_M = WIDE_MARGIN_M


def child_steps(campaign: Path, out: Path) -> dict:
    """Run and write the campaign in this process, timing each step."""
    _widen_postcode_margin()
    from smartstreet_geo import run_campaign
    from smartstreet_geo.export import write_campaign

    marks: list[tuple[str, float, float]] = []

    def step(label: str) -> None:
        marks.append((label, time.perf_counter(), time.process_time()))

    t0 = time.perf_counter()
    result = run_campaign(campaign, step=step, new_register=True)
    t1 = time.perf_counter()
    marks.append(("writing outputs", t1, time.process_time()))
    write_campaign(result, out)
    t2 = time.perf_counter()
    marks.append(("end", t2, time.process_time()))
    steps = {a[0]: b[1] - a[1] for a, b in itertools.pairwise(marks)}
    cpu = {a[0]: b[2] - a[2] for a, b in itertools.pairwise(marks)}
    return {
        "customers": int(result.manifest["inputs"][0]["rows"]),
        "run_s": t1 - t0,
        "write_s": t2 - t1,
        "total_s": t2 - t0,
        "steps": steps,
        "cpu_steps": cpu,
        "peak_mb": _status()["VmHWM"] / 2**20,
        "counts": {k: int(v) for k, v in result.status_counts().items()},
    }


def cli(campaign: Path, out: Path) -> dict:
    """Time the CLI as a user runs it (a child process); peak resident set of that child.

    The child writes its own VmHWM when it exits: ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the
    largest of every child waited for so far (the steps child, earlier sizes), so it cannot
    give this run's peak.
    """
    code = (
        "import os, sys; import smartstreet_geo.locate as L; L.DISTRICT_MARGIN_M = 1e9\n"
        "from smartstreet_geo.cli import main\n"
        "try:\n"
        "    rc = main(sys.argv[1:])\n"
        "finally:\n"
        "    hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM:')][0]\n"
        "    open(os.environ['BENCH_RUN_HWM'], 'w').write(hwm.split()[1])\n"
        "sys.exit(rc)"
    )
    with tempfile.NamedTemporaryFile(suffix=".hwm", delete=False) as f:
        hwm_file = Path(f.name)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", str(campaign), "--out", str(out), "--new-register"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BENCH_RUN_HWM": str(hwm_file)},
    )
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr[-3000:])
    peak_kb = int(hwm_file.read_text() or 0)
    hwm_file.unlink()
    return {"cli_s": wall, "cli_peak_mb": peak_kb / 1024, "rc": proc.returncode}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 3, 10, 28])
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--no-steps", action="store_true")
    ap.add_argument("--keep", type=Path, help="build the inputs here and keep them")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child-steps", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_steps:
        print(json.dumps(child_steps(*args.child_steps)))
        return []
    results = []
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_run_"))
    for k in args.tiles:
        folder = base / f"k{k}"
        t = time.perf_counter()
        campaign = (
            make_inputs(k, folder / "in")
            if not (folder / "in/campaign.toml").exists()
            else folder / "in/campaign.toml"
        )
        # the load average before and after: other work on a shared machine skews the times
        res: dict = {
            "tiles": k,
            "build_inputs_s": time.perf_counter() - t,
            "load_before": os.getloadavg(),
        }
        if not args.no_steps:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child-steps",
                    str(campaign),
                    str(folder / "out_steps"),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            res.update(json.loads(out.stdout.strip().splitlines()[-1]))
            shutil.rmtree(folder / "out_steps", ignore_errors=True)
        if not args.no_cli:
            cli(campaign, folder / "out_warm")  # fills the numba cache if anything is missing
            shutil.rmtree(folder / "out_warm", ignore_errors=True)
            res.update(cli(campaign, folder / "out_cli"))
            shutil.rmtree(folder / "out_cli", ignore_errors=True)
        res["load_after"] = os.getloadavg()
        print(json.dumps(res), flush=True)
        results.append(res)
    if len(results) >= 2 and "total_s" in results[0]:
        a, b = results[0], results[-1]
        expo = math.log(b["total_s"] / a["total_s"]) / math.log(b["customers"] / a["customers"])
        print(f"scaling exponent (run + write, k={a['tiles']}..{b['tiles']}): {expo:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return results


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
