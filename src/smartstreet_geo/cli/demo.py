"""``smartstreet-geo demo``: the main job on the bundled demo data."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import demo
from ._common import echo


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``demo`` sub-command."""
    p = sub.add_parser(
        "demo",
        help="run the bundled demo (fictional customers in the Smart Street areas)",
        description="Read the bundled demo inputs (Manchester, Wigan, Wigton, Egremont; "
        "fictional customers on real postcodes) and write every output into --out.",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--force", action="store_true", help="allow writing into a non-empty --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; return the exit code."""
    from .validate import run as validate

    echo("smartstreet-geo demo: bundled data for Manchester, Wigan, Wigton and Egremont")
    ns = argparse.Namespace(
        customers=demo.path("customers"),
        equipment=demo.path("equipment"),
        network=demo.path("network_edges"),
        substations=demo.path("substations"),
        out=args.out,
        force=args.force,
        strict=False,
        no_postcode_check=False,
        map=[],
        crs=None,
        encoding=None,
    )
    return validate(ns)
