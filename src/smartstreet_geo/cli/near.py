"""``smartstreet-geo near``: customers within a radius of new equipment, to pairs.csv."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ._common import (
    add_input_options,
    check_out_file,
    column_maps,
    echo,
    out_file,
    read_customers_arg,
    read_equipment_arg,
    report_read,
)

__all__ = ["add_parser", "parse_radius", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``near`` sub-command."""
    p = sub.add_parser(
        "near",
        help="list customers within a radius of new equipment (pairs.csv)",
        description="Read customers and equipment, find every customer within the radius of "
        "each equipment (distance to the geometry; a distance equal to the radius counts) "
        "and write pairs.csv with customer_id, equipment_id, kind and distance_m (metres, "
        "rounded to 0.01 m), sorted by customer_id then equipment_id.",
    )
    p.add_argument("--customers", type=Path, required=True, help="customer file")
    p.add_argument("--equipment", type=Path, required=True, help="new-equipment file")
    p.add_argument(
        "--radius",
        required=True,
        type=parse_radius,
        metavar="METRES | KIND=METRES,...",
        help="one radius for all equipment (e.g. 50) or one per kind "
        "(e.g. oltc_transformer=50,lv_capacitor=30; every kind present needs one)",
    )
    p.add_argument("--out", type=Path, required=True, help="CSV file to write (e.g. pairs.csv)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_input_options(p)
    p.set_defaults(func=run)


def parse_radius(text: str) -> float | dict[str, float]:
    """Parse ``--radius``: metres, or ``kind=metres`` pairs separated by commas.

    Parameters
    ----------
    text : str
        E.g. ``"50"`` or ``"oltc_transformer=50,lv_capacitor=30"``.

    Returns
    -------
    float or dict
        Metres, or metres per kind.

    Examples
    --------
    >>> parse_radius("50")
    50.0
    >>> parse_radius("oltc_transformer=50, lv_capacitor=30.5")
    {'oltc_transformer': 50.0, 'lv_capacitor': 30.5}
    """
    usage = (
        f"--radius {text!r}: give metres (e.g. 50) or kind=metres pairs separated by commas "
        "(e.g. oltc_transformer=50,lv_capacitor=30)"
    )

    def metres(value: str) -> float:
        try:
            r = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(usage) from None
        if not math.isfinite(r) or r < 0:
            raise argparse.ArgumentTypeError(f"{usage}; radii are metres >= 0")
        return r

    if "=" not in text:
        return metres(text.strip())
    table: dict[str, float] = {}
    for item in text.split(","):
        kind, sep, value = item.partition("=")
        kind = kind.strip()
        if not sep or not kind or kind in table:
            raise argparse.ArgumentTypeError(usage)
        table[kind] = metres(value.strip())
    return table


def _progress(total: int, *, quiet: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=" customers",
        unit_scale=True,
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        leave=False,
    )


def _centimetres(metres: Any) -> Any:
    """Metres rounded to 0.01 as an exact two-decimal pyarrow array (vectorised)."""
    from decimal import Decimal

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    cm = np.rint(np.asarray(metres, dtype=np.float64) * 100.0).astype(np.int64)
    hundredth = pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))
    return pc.multiply(pa.array(cm).cast(pa.decimal128(20, 0)), hundredth)


def _write_atomic(table: Any, out: Path) -> None:
    """Write a pyarrow table as formula-safe CSV, atomically and owner-only."""
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    from ..export import FORMULA_TRIGGERS, atomic_write_bytes, neutralise_formulae

    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            continue
        risky = pc.any(pc.starts_with(col, FORMULA_TRIGGERS[0]))
        for trigger in FORMULA_TRIGGERS[1:]:
            risky = pc.or_(risky, pc.any(pc.starts_with(col, trigger)))
        if risky.as_py():  # rare: only then pay for the pandas round trip
            safe = neutralise_formulae(pd.Series(col.to_pylist(), dtype=object))
            table = table.set_column(i, name, pa.array(safe.tolist(), type=pa.string()))
    buf = io.BytesIO()
    csv.write_csv(table, buf)
    atomic_write_bytes(out, buf.getvalue())


def run(args: argparse.Namespace) -> int:
    """Find the pairs and write them; return the exit code."""
    out: Path = args.out
    check_out_file(out, force=args.force, example="pairs.csv")
    with out_file(out, force=args.force) as target:  # held (locked) for the whole run
        return _run(args, target)


def _run(args: argparse.Namespace, target: Path) -> int:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from ..proximity import ProximityIndex
    from ..schema import CUSTOMER_ID, EQUIPMENT_ID, KIND

    out: Path = args.out
    maps = column_maps(args.map)
    customers = read_customers_arg(args, maps)
    equipment = read_equipment_arg(args, maps)
    report_read("customers", customers)
    report_read("equipment", equipment)
    if customers.n_valid == 0 or equipment.n_valid == 0:
        echo("NOT USABLE: no valid customers or no valid equipment (run validate for reasons)")
        return 1

    index = ProximityIndex(customers.data)
    with _progress(len(index), quiet=args.quiet, desc="near") as bar:
        pairs = index.within_pairs(equipment.data, radius=args.radius, progress=bar.update)

    eq = equipment.data.reset_index(drop=True)
    kinds = eq[KIND].astype(str) if KIND in eq.columns else pd.Series([""] * len(eq))
    table = pa.table(
        {  # only the rows in the output are converted to text
            CUSTOMER_ID: pa.array(index.customer_ids.iloc[pairs.customer].astype(str)),
            EQUIPMENT_ID: pa.array(eq[EQUIPMENT_ID].iloc[pairs.equipment].astype(str)),
            KIND: pa.array(kinds.iloc[pairs.equipment]),
            "distance_m": _centimetres(pairs.distance_m),
        }
    )
    _write_atomic(table, target)

    n_cust = int(np.unique(pairs.customer).size)
    n_eq = int(np.unique(pairs.equipment).size)
    echo(
        f"pairs: {len(pairs):,} ({n_cust:,} customers near {n_eq:,} of "
        f"{equipment.n_valid:,} equipment)"
    )
    if KIND in eq.columns and len(pairs):
        per_kind = kinds.iloc[pairs.equipment].value_counts().sort_index()
        for kind, count in per_kind.items():
            echo(f"  {kind:<20} {count:>12,} pairs")
    echo(f"written to {out}")
    return 0
