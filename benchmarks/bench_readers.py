"""Benchmark: read 1,000,000 customers from CSV and from Parquet (time and peak memory).

Run by hand:  python benchmarks/bench_readers.py [--n 1000000]

Each read runs in a fresh subprocess so that peak memory (ru_maxrss of the
child) is the reader's own. The synthetic file has the canonical customer
columns, realistic text, and 0.5% defects so the rejection path is exercised.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def _postcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Postcode units of district WN5 (all 4,000 inward codes), ~250 customers each."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    u = rng.integers(0, 4000, n)
    return np.char.add(
        np.char.add("WN5 ", (u % 10).astype(str)),
        np.char.add(letters[(u // 10) % 20], letters[(u // 200) % 20]),
    )


def synthesise(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    e = rng.uniform(352_000, 358_000, n).round(1)
    nn = rng.uniform(402_000, 408_000, n).round(1)
    ids = (1_600_000_000_000 + np.arange(n)).astype(str)
    streets = np.array(["Oak Street", "Elm Road", "Church Lane", "Station Road", "Mill Lane"])
    df = pd.DataFrame(
        {
            "customer_id": ids,
            "premise_id": (100_000_000_000 + rng.permutation(n)).astype(str),
            "name": np.char.add("Person ", (np.arange(n) % 9973).astype(str)),
            "address_line_1": np.char.add(
                np.char.add((np.arange(n) % 200 + 1).astype(str), " "), streets[np.arange(n) % 5]
            ),
            "address_line_2": "",
            "address_line_3": "",
            "post_town": "WIGAN",
            "postcode": _postcodes(n, rng),
            "easting": e,
            "northing": nn,
            "psr": rng.random(n) < 0.2,
            "psr_needs": "",
            "phone": "0161 496 0123",
            "circuit_id": "WIG-S001-F1",
            "substation_id": "WIG-S001",
            "connection_node": "n1",
        }
    )
    bad = rng.choice(n, n // 200, replace=False)
    df.loc[bad[: len(bad) // 2], ["easting", "northing"]] = np.nan
    df.loc[bad[len(bad) // 2 :], "postcode"] = "WN12"
    return df


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec from a big parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str) -> None:
    import smartstreet_geo as ssg

    t = time.perf_counter()
    r = ssg.read_customers(path)
    dt = time.perf_counter() - t
    peak_mb = _peak_mb()
    print(
        json.dumps(
            {"seconds": dt, "peak_mb": peak_mb, "valid": r.n_valid, "rejected": r.n_rejected}
        )
    )


def baseline_child(path: str) -> None:
    import smartstreet_geo  # noqa: F401  (same imports as the reader's process)

    peak_mb = _peak_mb()
    print(json.dumps({"seconds": 0.0, "peak_mb": peak_mb, "valid": 0, "rejected": 0}))


def measure(path: Path, mode: str = "child") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--baseline")
    a = ap.parse_args()
    if a.child:
        child(a.child)
        return
    if a.baseline:
        baseline_child(a.baseline)
        return
    DATA.mkdir(exist_ok=True)
    csv = DATA / f"customers_{a.n}.csv"
    pq = DATA / f"customers_{a.n}.parquet"
    if not csv.exists() or not pq.exists():
        df = synthesise(a.n)
        df.to_csv(csv, index=False)
        df.to_parquet(pq, index=False)
    base = measure(csv, "baseline")
    print(f"N = {a.n:,}; import-only process peak {base['peak_mb']:.0f} MB")
    print(f"{'format':<8} {'size MB':>8} {'best s':>8} {'peak MB':>8} {'valid':>9} {'rejected':>9}")
    res = {}
    for label, path in (("csv", csv), ("parquet", pq)):
        runs = [measure(path) for _ in range(a.repeat)]
        best = min(r["seconds"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        res[label] = best
        print(
            f"{label:<8} {path.stat().st_size / 1e6:>8.1f} {best:>8.2f} {peak:>8.0f} "
            f"{runs[0]['valid']:>9,} {runs[0]['rejected']:>9,}"
        )
    print(f"parquet speed-up over csv: {res['csv'] / res['parquet']:.1f}x")


if __name__ == "__main__":
    main()
