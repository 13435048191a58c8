"""``smartstreet-geo partition campaign.toml --out DIR``: customers in parts by substation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import echo


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``partition`` sub-command."""
    p = sub.add_parser(
        "partition",
        help="split a campaign's customer file into Parquet parts by substation group",
        description="Write the campaign's customer file as Parquet parts, one or more "
        "substation groups each (customers of one premise, and rows with one customer id, "
        "together), with partitions.json. Point [inputs] customers at the folder, then "
        "`smartstreet-geo run` runs the parts in this process, or on Dask with --workers N or "
        "--scheduler ADDRESS; the outputs are those of the customer file itself.",
    )
    p.add_argument("campaign", type=Path, help="campaign file (TOML)")
    p.add_argument("--out", type=Path, required=True, help="the folder of parts (created)")
    p.add_argument(
        "--partitions",
        type=int,
        default=8,
        metavar="N",
        help="number of parts (default 8; a few per Dask worker)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing folder of parts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Partition the campaign's customers; print one line per part."""
    from ..distributed import partition_customers

    parts = partition_customers(
        args.campaign, args.out, partitions=args.partitions, overwrite=args.force
    )
    echo(f"{parts.source}: {parts.rows:,} rows in {len(parts.parts)} parts in {parts.path}")
    for p in parts.parts:
        groups = p["substations"]
        shown = ", ".join(groups[:4]) + (f" and {len(groups) - 4} more" if len(groups) > 4 else "")
        echo(f"  {p['file']}: {p['rows']:>10,} rows  substation groups {shown or '(none)'}")
    echo(f'then in the campaign file: [inputs] customers = "{parts.path}"')
    return 0
