"""Benchmark the proximity engine against GeoPandas, DuckDB spatial, KD-trees and numpy.

Every measurement runs in its own child process (one at a time) on the same
synthetic data (``_synth.py``: houses 5-15 m apart along streets, flats sharing
a coordinate, EPSG:27700), so peak memory is the child's peak resident set
(VmHWM) and methods cannot share warm caches. Setup (building GeoDataFrames, DuckDB
tables, indexes) is timed separately from the query.

Usage (from the repository root, with the venv active)::

    python benchmarks/bench_proximity.py run            # everything (about an hour)
    python benchmarks/bench_proximity.py run --sizes 67000 --equipment 300
    python benchmarks/bench_proximity.py report         # markdown tables from the results

Results are appended to ``benchmarks/_data/proximity_results.jsonl``.
DuckDB: ``pip install duckdb duckdb-extension-spatial``; the extension file
shipped in that wheel is LOADed, so no network is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
RESULTS = DATA / "proximity_results.jsonl"
sys.path.insert(0, str(HERE))

WITHIN_METHODS = (
    "floor",
    "ours",
    "ours_rows",
    "ours_reused",
    "ours_frame",
    "ours_oneshot_gdf",
    "numpy_grid",
    "scipy_kdtree",
    "geopandas_sjoin",
    "duckdb",
)
OURS_ARRAYS = (
    "ours",
    "ours_rows",
    "ours_reused",
    "ours_frame",
    "ours_nearest",
    "ours_nearest_unsorted",
)
NEAREST_METHODS = (
    "ours_nearest",
    "ours_nearest_unsorted",
    "pykdtree",
    "scipy_nearest",
    "geopandas_sjoin_nearest",
)


# ----------------------------------------------------------------------------- data
def data_path(n: int) -> Path:
    return DATA / f"prox_customers_{n}.npz"


def load(n: int, m: int) -> dict[str, np.ndarray]:
    """Customer and equipment arrays, generated once and cached."""
    from _synth import customers_xy, equipment_xy

    path = data_path(n)
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        x, y = customers_xy(n)
        # MPAN-like numeric ids, not in row order (as a file sorted by postcode would be)
        ids = 1_000_000_000_000 + np.random.default_rng(7).permutation(n).astype(np.int64) * 7
        np.savez(path, x=x, y=y, ids=ids)
    with np.load(path) as f:
        x, y, ids = f["x"], f["y"], f["ids"]
    ex, ey = equipment_xy(m, x, y)
    return {"x": x, "y": y, "ids": ids, "ex": ex, "ey": ey}


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or its peak in this process (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


PRE_QUERY_MB = [float("nan")]


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    PRE_QUERY_MB[0] = rss_mb()
    best, out = float("inf"), None
    for i in range(reps + 2):
        out = None  # the previous run's result is not part of this run's memory
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        if i == 0 and best > 2.0:
            break  # slow methods: one run
        if i + 1 >= reps and best > 0.5:
            break  # fast ones: best of reps + 2 (the machine is shared)
    return best, out


def equipment_frame(d: dict[str, np.ndarray]) -> Any:
    import geopandas as gpd

    m = d["ex"].size
    return gpd.GeoDataFrame(
        {"equipment_id": np.arange(m)},
        geometry=gpd.points_from_xy(d["ex"], d["ey"]),
        crs="EPSG:27700",
    )


def customers_frame(d: dict[str, np.ndarray]) -> Any:
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"customer_id": d["ids"]},
        geometry=gpd.points_from_xy(d["x"], d["y"]),
        crs="EPSG:27700",
    )


# ----------------------------------------------------------------------------- methods
def numpy_grid_within(x, y, ex, ey, r):  # type: ignore[no-untyped-def]
    """Plain vectorised numpy: equipment in 3x3 cells of side r, customers looked up."""
    cell = max(r, 1.0)
    x0, y0 = ex.min() - 2 * cell, ey.min() - 2 * cell
    nx = int((ex.max() - x0) / cell) + 3
    ny = int((ey.max() - y0) / cell) + 3
    ix = ((ex - x0) // cell).astype(np.int64)
    iy = ((ey - y0) // cell).astype(np.int64)
    offs = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)])
    keys = ((iy[:, None] + offs[:, 1]) * nx + ix[:, None] + offs[:, 0]).ravel()
    owner = np.repeat(np.arange(ex.size), 9)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    cx = np.floor((x - x0) / cell)
    cy = np.floor((y - y0) / cell)
    ok = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
    ck = np.where(ok, cy * nx + cx, -1).astype(np.int64)
    lo = np.searchsorted(keys, ck, "left")
    hi = np.searchsorted(keys, ck, "right")
    cnt = hi - lo
    cand = np.flatnonzero(cnt)
    ci = np.repeat(cand, cnt[cand])
    start = np.repeat(lo[cand], cnt[cand])
    within = np.arange(ci.size) - np.repeat(np.cumsum(cnt[cand]) - cnt[cand], cnt[cand])
    ej = owner[start + within]
    dx = x[ci] - ex[ej]
    dy = y[ci] - ey[ej]
    d2 = dx * dx + dy * dy
    keep = d2 <= (r + 1e-9) ** 2
    return ci[keep], ej[keep], np.sqrt(d2[keep])


def duckdb_connect() -> Any:
    import glob

    import duckdb
    import duckdb_extension_spatial

    ext = glob.glob(
        os.path.join(
            os.path.dirname(duckdb_extension_spatial.__file__),
            "extensions",
            "*",
            "spatial.duckdb_extension",
        )
    )[0]
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    con.execute("SET threads=2")
    return con


def child(method: str, n: int, m: int, radius: float) -> dict[str, Any]:
    """Run one measurement in this (child) process; return the record."""
    d = load(n, m)
    x, y = d["x"], d["y"]
    base = rss_mb()
    setup = 0.0
    reps = 3
    pairs: int | None = None
    if method == "floor":
        seconds, _ = timed(lambda: (x.sum(), y.sum()), 5)
    elif method in OURS_ARRAYS:
        from smartstreet_geo.proximity import ProximityIndex

        eq = equipment_frame(d)
        # ids not in row order: the warm-up also loads the kernels that sort results by id
        tiny = ProximityIndex.from_coordinates([2, 1], [x[0], x[1]], [y[0], y[1]])
        tiny.within_pairs(eq.iloc[:1], radius=1.0)  # load the compiled kernels
        tiny.nearest_pairs(eq.iloc[:1])
        from smartstreet_geo.proximity._inputs import stable_argsort

        stable_argsort(np.arange(1 << 16)[::-1].copy())  # and the id sort (radix from 32,768)

        def fresh() -> Any:  # a new index each time: the query streams (no customer grid yet)
            return ProximityIndex.from_coordinates(d["ids"], x, y)

        query_times: list[float] = []

        def first_query(**kw: Any) -> Callable[[], Any]:
            def run() -> Any:
                index = fresh()
                call = index.nearest_pairs if "k" in kw else index.within_pairs
                t = time.perf_counter()
                out = call(eq, **kw)
                query_times.append(time.perf_counter() - t)
                return out

            return run

        t = time.perf_counter()
        fresh()
        setup = time.perf_counter() - t  # building the index from arrays
        fn: Callable[[], Any]
        if method == "ours_reused":  # planning: the same index asked again and again
            t = time.perf_counter()
            index = fresh()
            index.within_pairs(eq, radius=radius / 2)
            index.within_pairs(eq, radius=radius / 2)  # builds the customer grid if it pays
            setup = time.perf_counter() - t
            fn = lambda: index.within_pairs(eq, radius=radius)  # noqa: E731
        elif method == "ours":
            fn = first_query(radius=radius)
        elif method == "ours_rows":
            fn = first_query(radius=radius, sort=False)
        elif method == "ours_frame":

            def fn() -> Any:
                index = fresh()
                t = time.perf_counter()
                out = index.within(eq, radius=radius)
                query_times.append(time.perf_counter() - t)
                return out

        elif method == "ours_nearest":
            fn = first_query(k=1)
        else:
            fn = first_query(k=1, sort=False)
        seconds, out = timed(fn, reps)
        if query_times:
            seconds = min(query_times)  # the query alone, not building the index
        pairs = len(out)
    elif method == "ours_oneshot_gdf":
        from smartstreet_geo.proximity import ProximityIndex, customers_near

        t = time.perf_counter()
        cust, eq = customers_frame(d), equipment_frame(d)
        setup = time.perf_counter() - t
        ProximityIndex(cust.iloc[:1]).within_pairs(eq.iloc[:1], radius=1.0)  # compiled kernels
        seconds, out = timed(lambda: customers_near(cust, eq, radius=radius), reps)
        pairs = len(out)
    elif method == "numpy_grid":
        seconds, out = timed(lambda: numpy_grid_within(x, y, d["ex"], d["ey"], radius), reps)
        pairs = out[0].size
    elif method == "scipy_kdtree":
        from scipy.spatial import cKDTree

        t = time.perf_counter()
        tree = cKDTree(np.c_[x, y])
        setup = time.perf_counter() - t
        exy = np.c_[d["ex"], d["ey"]]

        def scipy_within() -> int:
            lists = tree.query_ball_point(exy, radius, workers=2)
            ej = np.repeat(np.arange(len(lists)), [len(v) for v in lists])
            ci = np.fromiter((i for v in lists for i in v), np.int64, ej.size)
            dd = np.hypot(x[ci] - d["ex"][ej], y[ci] - d["ey"][ej])
            return int(dd.size)

        seconds, pairs = timed(scipy_within, reps)
    elif method == "geopandas_sjoin":
        import geopandas as gpd

        t = time.perf_counter()
        cust, eq = customers_frame(d), equipment_frame(d)
        setup = time.perf_counter() - t
        seconds, out = timed(
            lambda: gpd.sjoin(cust, eq, predicate="dwithin", distance=radius), reps
        )
        pairs = len(out)
    elif method == "duckdb":
        import pandas as pd

        con = duckdb_connect()
        t = time.perf_counter()
        c = pd.DataFrame({"i": np.arange(x.size), "x": x, "y": y})
        e = pd.DataFrame({"j": np.arange(m), "x": d["ex"], "y": d["ey"]})
        con.execute("CREATE TABLE c AS SELECT i, ST_Point(x, y) AS g FROM c")
        con.execute("CREATE TABLE e AS SELECT j, ST_Point(x, y) AS g FROM e")
        del c, e
        setup = time.perf_counter() - t
        q = (
            "SELECT c.i, e.j, ST_Distance(c.g, e.g) AS d FROM c JOIN e "
            f"ON ST_DWithin(c.g, e.g, {float(radius)!r})"
        )
        seconds, out = timed(lambda: con.execute(q).fetch_arrow_table(), reps)
        pairs = out.num_rows
    elif method == "pykdtree":
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        from pykdtree.kdtree import KDTree

        xy = np.c_[x, y]
        setup_t = time.perf_counter()
        tree = KDTree(np.c_[d["ex"], d["ey"]])
        setup = time.perf_counter() - setup_t
        seconds, out = timed(lambda: tree.query(xy, k=1), reps)
        pairs = out[0].size
    elif method == "scipy_nearest":
        from scipy.spatial import cKDTree

        xy = np.c_[x, y]
        tree = cKDTree(np.c_[d["ex"], d["ey"]])
        seconds, out = timed(lambda: tree.query(xy, k=1, workers=2), reps)
        pairs = out[0].size
    elif method == "geopandas_sjoin_nearest":
        import geopandas as gpd

        t = time.perf_counter()
        cust, eq = customers_frame(d), equipment_frame(d)
        setup = time.perf_counter() - t
        seconds, out = timed(lambda: gpd.sjoin_nearest(cust, eq, distance_col="d"), reps)
        pairs = len(out)
    else:
        raise SystemExit(f"unknown method {method}")
    peak = rss_mb("VmHWM")  # ru_maxrss could carry the parent's peak across exec
    return {
        "method": method,
        "n": n,
        "m": m,
        "radius": radius,
        "seconds": seconds,
        "setup_seconds": setup,
        "pairs": pairs,
        "peak_mb": peak,
        "start_mb": base,
        "pre_query_mb": PRE_QUERY_MB[0],
    }


# ----------------------------------------------------------------------------- end to end
def end_to_end(n: int, m: int, radius: float) -> dict[str, Any]:
    """Parquet of customers (string ids, easting, northing) -> pairs.csv on disk."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import csv

    from smartstreet_geo.proximity import ProximityIndex

    d = load(n, m)
    src = DATA / f"prox_customers_{n}.parquet"
    if not src.exists():
        ids = pa.array(d["ids"]).cast(pa.string())
        pq.write_table(pa.table({"customer_id": ids, "easting": d["x"], "northing": d["y"]}), src)
    eq = equipment_frame(d)
    del d
    ProximityIndex.from_coordinates([0], [0.0], [0.0]).within_pairs(eq.iloc[:1], radius=1.0)
    out = DATA / "pairs_e2e.csv"
    t = time.perf_counter()
    table = pq.read_table(src, columns=["customer_id", "easting", "northing"])
    ids = table.column("customer_id").to_pandas()
    index = ProximityIndex.from_coordinates(
        ids, table.column("easting").to_numpy(), table.column("northing").to_numpy()
    )
    t_read = time.perf_counter() - t
    pairs = index.within_pairs(eq, radius=radius)
    t_query = time.perf_counter() - t - t_read
    result = pa.table(
        {
            "customer_id": table.column("customer_id").take(pa.array(pairs.customer)),
            "equipment_id": pa.array(eq["equipment_id"].to_numpy()[pairs.equipment]),
            "distance_m": pa.array(np.round(pairs.distance_m, 2)),
        }
    )
    tmp = out.with_suffix(".tmp")
    csv.write_csv(result, tmp)
    os.replace(tmp, out)
    total = time.perf_counter() - t
    return {
        "method": "end_to_end_parquet_to_csv",
        "n": n,
        "m": m,
        "radius": radius,
        "seconds": total,
        "read_seconds": t_read,
        "query_seconds": t_query,
        "pairs": len(pairs),
        "peak_mb": rss_mb("VmHWM"),
    }


def numba_costs() -> dict[str, Any]:
    """Import time of the kernels, and first-call compile time with an empty cache."""
    import tempfile

    code = (
        "import time; t=time.perf_counter(); "
        "from smartstreet_geo.proximity import ProximityIndex, _kernels; "
        "t1=time.perf_counter(); import geopandas as gpd, shapely; "
        "eq=gpd.GeoDataFrame({'equipment_id':[1]},geometry=[shapely.Point(0,0)],crs=27700); "
        "ix=ProximityIndex.from_coordinates([1],[1.0],[1.0]); t2=time.perf_counter(); "
        "ix.within_pairs(eq, radius=5); ix.nearest_pairs(eq); t3=time.perf_counter(); "
        "print(t1-t, t3-t2)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        cold = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    imp_c, first_c = map(float, cold.stdout.split())
    imp_w, first_w = map(float, warm.stdout.split())
    out = {
        "method": "numba_costs",
        "import_seconds": imp_w,
        "first_call_compile_seconds": first_c,
        "first_call_cached_seconds": first_w,
        "import_cold_seconds": imp_c,
    }
    return out


# ----------------------------------------------------------------------------- driver
def environment() -> dict[str, Any]:
    import importlib.metadata as md

    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("numpy", "numba", "pandas", "geopandas", "shapely", "scipy", "pykdtree", "duckdb"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "method": "environment",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def record(rec: dict[str, Any]) -> None:
    DATA.mkdir(exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


def spawn(args: list[str], timeout: float) -> dict[str, Any] | None:
    try:
        r = subprocess.run(
            [sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def run(ns: argparse.Namespace) -> None:
    record(environment())
    record(numba_costs())
    for n in ns.sizes:
        for m in ns.equipment:
            for radius in ns.radii:
                for method in ns.methods:
                    if method not in WITHIN_METHODS:
                        continue
                    if method == "floor" and (m != ns.equipment[0] or radius != ns.radii[0]):
                        continue
                    rec = spawn(["child", method, str(n), str(m), str(radius)], ns.timeout)
                    if rec and "error" in rec:
                        rec.update(method=method, n=n, m=m, radius=radius)
                    if rec:
                        record(rec)
            for method in ns.methods:
                if method in NEAREST_METHODS:
                    rec = spawn(["child", method, str(n), str(m), "0"], ns.timeout)
                    if rec and "error" in rec:
                        rec.update(method=method, n=n, m=m, radius=0)
                    if rec:
                        record(rec)
        if ns.end_to_end:
            rec = spawn(["e2e", str(n), str(ns.equipment[0]), str(ns.radii[0])], ns.timeout)
            if rec:
                record(rec)


def report() -> None:
    """Print markdown tables of the latest result for every (method, n, m, radius)."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for line in RESULTS.read_text().splitlines():
        rec = json.loads(line)
        latest[(rec["method"], rec.get("n"), rec.get("m"), rec.get("radius"))] = rec
    floor = {k[1]: v["seconds"] for k, v in latest.items() if k[0] == "floor"}

    def sec(rec: dict[str, Any] | None) -> str:
        if rec is None:
            return "-"
        if "error" in rec:
            return rec["error"].split(" after")[0]
        return f"{rec['seconds']:.3f}"

    def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
        if not a or not b or "seconds" not in a or "seconds" not in b:
            return "-"
        return f"{b['seconds'] / a['seconds']:.1f}x"

    within = WITHIN_METHODS[1:]
    combos = sorted({(k[1], k[2], k[3]) for k in latest if k[0] in within})
    print("Seconds (best of 3-5, one run when over 2 s):\n")
    print("| N | M | R | pairs | " + " | ".join(within) + " | sjoin / ours | DuckDB / ours |")
    print("|---" * (len(within) + 6) + "|")
    for n, m, r in combos:
        ours = latest.get(("ours", n, m, r))
        pairs = f"{ours['pairs']:,}" if ours and ours.get("pairs") is not None else "-"
        row = [sec(latest.get((meth, n, m, r))) for meth in within]
        gp = ratio(ours, latest.get(("geopandas_sjoin", n, m, r)))
        dd = ratio(ours, latest.get(("duckdb", n, m, r)))
        print(f"| {n:,} | {m:,} | {r:g} | {pairs} | " + " | ".join(row) + f" | {gp} | {dd} |")
    print("\nSetup seconds (not in the figures above) / peak memory (VmHWM, MB), largest N:\n")
    big = max(n for _, n, _, _ in latest if isinstance(n, int)) if latest else 0
    print("| M | R | " + " | ".join(f"{m} setup / peak" for m in within) + " |")
    print("|---" * (len(within) + 2) + "|")
    for n, m, r in combos:
        if n != big:
            continue
        cells = []
        for meth in within:
            rec = latest.get((meth, n, m, r))
            if rec is None or "error" in rec:
                cells.append("-")
            else:
                cells.append(f"{rec.get('setup_seconds', 0):.2f} / {rec['peak_mb']:,.0f}")
        print(f"| {m:,} | {r:g} | " + " | ".join(cells) + " |")
    print("\nNearest (k = 1), seconds / peak MB:\n")
    combos_n = sorted({(k[1], k[2]) for k in latest if k[0] in NEAREST_METHODS})
    print("| N | M | " + " | ".join(NEAREST_METHODS) + " | sjoin_nearest / ours | (unsorted) |")
    print("|---" * (len(NEAREST_METHODS) + 4) + "|")
    for n, m in combos_n:
        recs = [latest.get((meth, n, m, 0.0)) for meth in NEAREST_METHODS]
        row = ["-" if r is None else f"{sec(r)} / {r.get('peak_mb', 0):,.0f}" for r in recs]
        sj = latest.get(("geopandas_sjoin_nearest", n, m, 0.0))
        print(
            f"| {n:,} | {m:,} | "
            + " | ".join(row)
            + f" | {ratio(recs[0], sj)} | {ratio(recs[1], sj)} |"
        )
    print()
    for k, v in latest.items():
        if k[0] in ("environment", "numba_costs", "end_to_end_parquet_to_csv"):
            print(json.dumps(v))
    print("floor (x.sum(); y.sum()):", {f"{n:,}": f"{s * 1000:.1f} ms" for n, s in floor.items()})
    for (meth, n, m, r), v in latest.items():
        if meth in ("ours", "ours_reused") and n in floor and "seconds" in v:
            print(f"{meth} {n:,} x {m:,} x {r:g} m: {v['seconds'] / floor[n]:.1f}x the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                   default=[67_000, 1_000_000, 10_000_000])  # fmt: skip
    r.add_argument("--equipment", type=lambda s: [int(v) for v in s.split(",")],
                   default=[300, 10_000, 100_000])  # fmt: skip
    r.add_argument(
        "--radii", type=lambda s: [float(v) for v in s.split(",")], default=[50.0, 200.0]
    )
    r.add_argument("--methods", type=lambda s: s.split(","),
                   default=list(WITHIN_METHODS + NEAREST_METHODS))  # fmt: skip
    r.add_argument("--timeout", type=float, default=900.0)
    r.add_argument("--end-to-end", action="store_true", help="also Parquet -> pairs.csv")
    c = sub.add_parser("child")
    c.add_argument("method")
    c.add_argument("n", type=int)
    c.add_argument("m", type=int)
    c.add_argument("radius", type=float)
    e = sub.add_parser("e2e")
    e.add_argument("n", type=int)
    e.add_argument("m", type=int)
    e.add_argument("radius", type=float)
    sub.add_parser("report")
    ns = parser.parse_args()
    if ns.cmd == "run":
        run(ns)
    elif ns.cmd == "child":
        print(json.dumps(child(ns.method, ns.n, ns.m, ns.radius)))
    elif ns.cmd == "e2e":
        print(json.dumps(end_to_end(ns.n, ns.m, ns.radius)))
    else:
        report()


if __name__ == "__main__":
    main()
