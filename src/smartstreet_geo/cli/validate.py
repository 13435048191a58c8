"""``smartstreet-geo validate``: read inputs, report what is usable, write rejects.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..export import StagedFolder
from ..io import ReadResult
from ..io._result import empty_rejects
from ._common import (
    add_input_options,
    column_maps,
    data_on_stdout,
    echo,
    is_stdout,
    read_customers_arg,
    read_equipment_arg,
    read_network_arg,
    staged_out_dir,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``validate`` sub-command."""
    p = sub.add_parser(
        "validate",
        help="check input files and list every rejected row with its reason",
        description="Read customer (and equipment / network) files, print counts of valid and "
        "rejected rows by reason, and write rejects.csv. Exit 0 when the inputs are usable, "
        "1 when they are not (unreadable file, missing column, unknown CRS, no valid rows); "
        "with --strict any rejected row also exits 1.",
    )
    p.add_argument("--customers", type=Path, required=True, help="customer file")
    p.add_argument("--equipment", type=Path, help="new-equipment file")
    p.add_argument("--network", type=Path, help="network edges file (or a GeoPackage with both)")
    p.add_argument("--substations", type=Path, help="substations file")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for rejects.csv, or - for rejects.csv on standard output (the counts "
        "then go to stderr)",
    )
    p.add_argument("--force", action="store_true", help="allow writing into a non-empty --out")
    p.add_argument("--strict", action="store_true", help="exit 1 if any row is rejected")
    add_input_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the inputs named in ``args``; return the exit code."""
    if not args.out:
        return _validate(args, None)
    if is_stdout(args.out):
        data_on_stdout(True)
        return _validate(args, None, to_stdout=True)
    # --out is checked and locked before any file is read; rejects.csv appears all or nothing
    with staged_out_dir(args.out, force=args.force, names=("rejects.csv",)) as stage:
        code = _validate(args, stage)
        stage.commit()
    return code


def _validate(
    args: argparse.Namespace, stage: StagedFolder | None, *, to_stdout: bool = False
) -> int:
    maps = column_maps(args.map)
    results: list[tuple[str, str, ReadResult]] = [
        ("customers", "customers", read_customers_arg(args, maps))
    ]
    if args.equipment:
        results.append(("equipment", "equipment", read_equipment_arg(args, maps)))
    if args.network:
        net = read_network_arg(args, maps)
        results += [
            ("network edges", "edges", net.edges_result),
            ("substations", "substations", net.substations_result),
        ]
    usable = True
    for label, kind, r in results:
        echo(f"{label}: {r.source}")
        echo(f"  read {r.n_input:>9,}   valid {r.n_valid:>9,}   rejected {r.n_rejected:>9,}")
        for reason, count in r.counts_by_reason().items():
            echo(f"    {reason:<28} {count:>9,}")
        for note in r.notes:
            echo(f"  note: {note}")
        if "location_source" in r.data:  # placed with --locate-*: how, and how many were not
            by = r.data["location_source"].value_counts()
            not_placed = int((r.rejects["reason_code"] == "missing_coordinates").sum())
            echo(
                "  located by: "
                + ", ".join(f"{str(k).replace('_', ' ')} {int(v):,}" for k, v in by.items())
                + f"; not located {not_placed:,}"
            )
        _echo_columns(kind, r)
        if r.n_input and r.n_valid == 0:
            echo(f"  NOT USABLE: no valid {label} rows")
            usable = False
    rejects = [r.rejects for _, _, r in results if len(r.rejects)]
    table = pd.concat(rejects, ignore_index=True) if rejects else empty_rejects()
    if stage is not None:
        from ..export import write_csv

        write_csv(table, stage.file("rejects.csv"))
        echo(f"rejects written to {args.out / 'rejects.csv'} ({len(table):,} rows)")
    elif to_stdout:
        import tempfile
        from pathlib import Path as _Path

        from ..export import write_csv
        from ._common import write_stdout

        # the one CSV writer (formula-safe, encodable): through a private file, then stdout
        with tempfile.TemporaryDirectory() as tmp:
            path = write_csv(table, _Path(tmp) / "rejects.csv")
            write_stdout(path.read_bytes())
        echo(f"rejects written to standard output ({len(table):,} rows)")
    total = sum(r.n_rejected for _, _, r in results)
    if not usable:
        return 1
    if args.strict and total:
        echo(f"--strict: {total:,} rejected rows")
        return 1
    echo("inputs usable" + (f"; {total:,} rows rejected (see rejects.csv)" if total else ""))
    return 0


def _echo_columns(kind: str, r: ReadResult) -> None:
    """Print which columns were read and list those that were not (names only, never values)."""
    if r.columns_used:
        used = ", ".join(f"{c}" for c in dict.fromkeys(r.columns_used.values()))
        echo(f"  columns read: {used}")
    if not r.columns_unused:
        return
    echo(f"  columns not used: {r.unused_columns_text()}")
    named = [
        c
        for c, lab in zip(r.columns_unused, r.columns_unused_labels, strict=True)
        if not lab.startswith("column ")
    ]
    example = f"{named[0]}=CANONICAL" if named else "COLUMN=CANONICAL"
    echo(
        f"    if one holds data smartstreet-geo reads (an address line, a phone number...), "
        f"map it: --map '{kind}:{example}'"
    )
