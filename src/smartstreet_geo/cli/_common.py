"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import ColumnMappingError

_KINDS = ("customers", "equipment", "edges", "substations")


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--map``, ``--crs``, ``--encoding`` to a parser that reads input files."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="KIND:COLUMN=CANONICAL",
        help="map a column name, e.g. --map customers:MPAN=customer_id "
        f"(KIND is one of {', '.join(_KINDS)}); repeat as needed",
    )
    parser.add_argument(
        "--crs", help="CRS of a geometry column that has none of its own, e.g. EPSG:27700"
    )
    parser.add_argument(
        "--encoding", help="text encoding of CSV inputs (default UTF-8, BOM or not), e.g. cp1252"
    )


def column_maps(specs: Sequence[str]) -> dict[str, dict[str, str]]:
    """Parse ``--map`` values into ``{kind: {file column: canonical}}``."""
    maps: dict[str, dict[str, str]] = {k: {} for k in _KINDS}
    for spec in specs:
        kind, sep, rest = spec.partition(":")
        src, eq, dst = rest.partition("=")
        if not sep or not eq or kind not in maps or not src or not dst:
            raise ColumnMappingError(
                f"--map {spec!r}: write KIND:COLUMN=CANONICAL, e.g. customers:MPAN=customer_id, "
                f"with KIND one of {', '.join(_KINDS)}."
            )
        maps[kind][src] = dst
    return maps


def prepare_out_dir(out: Path, *, force: bool) -> Path:
    """Create ``out``; refuse a non-empty existing folder unless ``force``."""
    from ..errors import SmartStreetGeoError

    if out.exists() and not out.is_dir():
        raise SmartStreetGeoError(f"--out {out}: exists and is not a folder.")
    if out.exists() and any(out.iterdir()) and not force:
        raise SmartStreetGeoError(
            f"--out {out}: the folder exists and is not empty; choose a new folder or "
            "add --force to replace the files in it."
        )
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    return out


def echo(text: str = "") -> None:
    """Print a line of console output (counts only; never personal data)."""
    print(text, file=sys.stdout)
