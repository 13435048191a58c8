"""``smartstreet-geo demo``: the main job on the bundled demo data."""

from __future__ import annotations

import argparse

from .. import demo
from ._common import echo
from .run import add_run_options, run_and_write


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``demo`` sub-command."""
    p = sub.add_parser(
        "demo",
        help="run the bundled demo campaign (fictional customers in the Smart Street areas)",
        description="Run the bundled demo campaign (Manchester, Wigan, Wigton, Egremont; "
        "fictional customers on real postcodes) and write every output into --out.",
    )
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; return the exit code."""
    echo("smartstreet-geo demo: bundled data for Manchester, Wigan, Wigton and Egremont")
    return run_and_write(demo.path("campaign"), args)
