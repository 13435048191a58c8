"""``smartstreet-geo near``: customers within a radius of new equipment, to pairs.csv."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .._unique import sorted_unique
from ._common import (
    add_input_options,
    check_out_file,
    column_maps,
    data_on_stdout,
    echo,
    is_stdout,
    out_file,
    read_customers_arg,
    read_equipment_arg,
    report_read,
    write_stdout,
)

__all__ = ["OUT_FORMATS", "add_parser", "out_path", "parse_radius", "run"]

#: ``--out`` extension -> format (anything else is refused, never written as CSV).
OUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".gpkg": "gpkg"}


def out_path(text: str) -> Path:
    """Parse ``--out``: ``-`` (CSV on stdout) or a file ending .csv, .parquet or .gpkg.

    Examples
    --------
    >>> out_path("pairs.gpkg")
    PosixPath('pairs.gpkg')
    >>> out_path("pairs.shp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --out pairs.shp: write .csv, .parquet or .gpkg ...
    """
    path = Path(text)
    if text == "-" or path.suffix.lower() in OUT_FORMATS:
        return path
    raise argparse.ArgumentTypeError(
        f"--out {text}: write .csv, .parquet or .gpkg (or - for CSV on standard output); "
        "the format follows the extension"
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``near`` sub-command."""
    p = sub.add_parser(
        "near",
        help="list customers within a radius of new equipment (pairs.csv)",
        description="Read customers and equipment, find every customer within the radius of "
        "each equipment (distance to the geometry; a distance equal to the radius counts) "
        "and write the pairs with customer_id, equipment_id, kind and distance_m (metres, "
        "rounded to 0.01 m), sorted by customer_id then equipment_id. The format follows "
        "--out: .csv, .parquet (GeoParquet) or .gpkg (GeoPackage layer 'pairs'; both add "
        "radius_m and the customer's point in EPSG:27700), or - for CSV on standard output. "
        "--geo also writes map layers for QGIS beside it (pseudonymous unless --internal).",
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
    p.add_argument(
        "--out",
        type=out_path,
        required=True,
        help="file to write: pairs.csv, pairs.parquet or pairs.gpkg (the format follows the "
        "extension), or - for CSV on standard output",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--geo",
        choices=("gpkg", "parquet"),
        help="also write layers for QGIS beside --out: customers_near (points, no customer "
        "ids), equipment and equipment_radius (polygons), as STEM_layers.gpkg or "
        "STEM_LAYER.parquet",
    )
    p.add_argument(
        "--internal",
        action="store_true",
        help="keep customer ids in the --geo layers (internal use only)",
    )
    p.add_argument(
        "--pseudonymise",
        action="store_true",
        help="name customers in the --geo layers by keyed pseudonyms (customer_ref; key from "
        "the environment variable SMARTSTREET_PSEUDONYM_KEY)",
    )
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
    from ..export import atomic_write_bytes

    atomic_write_bytes(out, _csv_bytes(table))


def _csv_bytes(table: Any) -> bytes:
    """Return a pyarrow table as formula-safe CSV."""
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    from ..export import FORMULA_TRIGGERS, neutralise_formulae

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
    return buf.getvalue()


def _layer_paths(out: Path, geo: str) -> list[Path]:
    stem = out.with_suffix("")
    if geo == "gpkg":
        return [Path(f"{stem}_layers.gpkg")]
    return [Path(f"{stem}_{name}.parquet") for name in _NEAR_LAYERS]


_NEAR_LAYERS = ("customers_near", "equipment", "equipment_radius")


def run(args: argparse.Namespace) -> int:
    """Find the pairs and write them; return the exit code."""
    from contextlib import ExitStack

    from ..errors import ParameterError

    out: Path = args.out
    key: bytes | None = None
    if args.pseudonymise:
        import os

        from ..export import check_pseudonym_key

        env = "SMARTSTREET_PSEUDONYM_KEY"
        key = check_pseudonym_key(os.environ.get(env), env)
    if is_stdout(out):
        if args.geo:
            raise ParameterError("--geo writes files beside --out: give --out a file name.")
        data_on_stdout(True)
        return _run(args, None, [], key)
    check_out_file(out, force=args.force, example="pairs.csv")
    extra = _layer_paths(out, args.geo) if args.geo else []
    for path in extra:
        check_out_file(path, force=args.force, example="pairs.csv")
    with ExitStack() as held:  # every output held (locked) for the whole run
        target = held.enter_context(out_file(out, force=args.force))
        layers = [held.enter_context(out_file(p, force=args.force)) for p in extra]
        return _run(args, target, layers, key)


def _run(args: argparse.Namespace, target: Path | None, layers: list[Path], key: Any) -> int:
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
    fmt = "csv" if target is None else OUT_FORMATS[target.suffix.lower()]
    if fmt == "csv":
        table = pa.table(
            {  # only the rows in the output are converted to text
                CUSTOMER_ID: pa.array(index.customer_ids.iloc[pairs.customer].astype(str)),
                EQUIPMENT_ID: pa.array(eq[EQUIPMENT_ID].iloc[pairs.equipment].astype(str)),
                KIND: pa.array(kinds.iloc[pairs.equipment]),
                "distance_m": _centimetres(pairs.distance_m),
            }
        )
        if target is None:
            write_stdout(_csv_bytes(table))
        else:
            _write_atomic(table, target)
    if fmt != "csv" or layers:
        from ..geo_outputs import near_layers, write_layers

        geo = _pairs_frame(customers.data, eq, kinds, pairs, args.radius)
        if target is not None and fmt != "csv":
            write_layers({"pairs": geo}, target, geo=fmt)  # type: ignore[arg-type]
        if layers:
            eq_out = eq.assign(radius_m=_radius_by_row(eq, args.radius))
            named = near_layers(geo, eq_out, internal=args.internal, pseudonym_key=key)
            if args.geo == "gpkg":
                write_layers(named, layers[0], geo="gpkg")
            else:
                for path, name in zip(layers, _NEAR_LAYERS, strict=True):
                    write_layers({name: named[name]}, path, geo="parquet")

    n_cust = int(sorted_unique(pairs.customer).size)
    n_eq = int(sorted_unique(pairs.equipment).size)
    echo(
        f"pairs: {len(pairs):,} ({n_cust:,} customers near {n_eq:,} of "
        f"{equipment.n_valid:,} equipment)"
    )
    if KIND in eq.columns and len(pairs):
        per_kind = kinds.iloc[pairs.equipment].value_counts().sort_index()
        for kind, count in per_kind.items():
            echo(f"  {kind:<20} {count:>12,} pairs")
    if target is not None:
        echo(f"written to {out}")
    for path in layers:
        echo(f"layers written to {path}")
    return 0


def _radius_by_row(eq: Any, radius: float | dict[str, float]) -> Any:
    """Metres per equipment row (the query has already checked every kind has one)."""
    import numpy as np

    if isinstance(radius, dict):
        return eq[KIND_COLUMN].astype(str).map(radius).to_numpy(dtype=np.float64)
    return np.full(len(eq), float(radius))


KIND_COLUMN = "kind"


def _pairs_frame(customers: Any, eq: Any, kinds: Any, pairs: Any, radius: Any) -> Any:
    """Return the pairs as a GeoDataFrame: the CSV's columns, radius_m and the customer's point."""
    import geopandas as gpd
    import numpy as np

    from ..schema import BNG_CRS, CUSTOMER_ID, EQUIPMENT_ID

    cm = np.rint(np.asarray(pairs.distance_m, dtype=np.float64) * 100.0) / 100.0
    data = {
        CUSTOMER_ID: customers[CUSTOMER_ID]
        .reset_index(drop=True)
        .iloc[pairs.customer]
        .astype(str)
        .to_numpy(),
        EQUIPMENT_ID: eq[EQUIPMENT_ID].iloc[pairs.equipment].astype(str).to_numpy(),
        KIND_COLUMN: kinds.iloc[pairs.equipment].to_numpy(),
        "distance_m": cm,
        "radius_m": _radius_by_row(eq, radius)[pairs.equipment],
    }
    points = customers.geometry.reset_index(drop=True).array.take(pairs.customer)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(points, crs=BNG_CRS), crs=BNG_CRS)
