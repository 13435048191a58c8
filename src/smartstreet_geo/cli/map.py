"""``smartstreet-geo map``: an offline, pseudonymous HTML map of the inputs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ._common import (
    add_input_options,
    column_maps,
    echo,
    out_file,
    read_customers_arg,
    read_equipment_arg,
    read_network_arg,
    report_read,
)

__all__ = ["add_parser", "read_in_scope", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``map`` sub-command."""
    p = sub.add_parser(
        "map",
        help="draw the inputs on an interactive map (one self-contained HTML file)",
        description="Read any of customers, equipment, network and circuits and write an "
        "interactive map: equipment by kind with its radius, circuits in and not in scope, "
        "customers as points. The HTML embeds everything it needs and opens without "
        "internet (only background tiles need the network). It is pseudonymous: no names, "
        "addresses, phone numbers, PSR details or ids, unless --internal adds addresses.",
    )
    p.add_argument("--customers", type=Path, help="customer file")
    p.add_argument("--equipment", type=Path, help="new-equipment file")
    p.add_argument("--network", type=Path, help="network edges file (or a GeoPackage with both)")
    p.add_argument("--substations", type=Path, help="substations file")
    p.add_argument(
        "--circuits",
        type=Path,
        help="CSV of circuits with circuit_id and trial (or in_scope) true/false: splits "
        "circuits into in scope / not in scope",
    )
    p.add_argument(
        "--radius",
        metavar="METRES | KIND=METRES,...",
        help="equipment radius for the circles (default: per kind, as in schema.DEFAULT_RADII_M)",
    )
    p.add_argument("--out", type=Path, default=Path("map.html"), help="HTML file (map.html)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--tiles",
        default="osm",
        metavar="{osm,none,URL}",
        help="background: osm (OpenStreetMap, default), none (offline), or an https tile "
        "URL template such as https://tiles.example.org/{z}/{x}/{y}.png",
    )
    p.add_argument(
        "--tile-attribution", help="attribution text for the tiles (shown as plain text)"
    )
    p.add_argument(
        "--internal",
        action="store_true",
        help="add customer addresses to the popups (internal use only; never names, phones "
        "or PSR details)",
    )
    p.add_argument(
        "--aggregate",
        type=float,
        metavar="METRES",
        help="group customers into squares of this size; groups smaller than --min-group "
        "are left out (for maps shared more widely)",
    )
    p.add_argument("--min-group", type=int, default=5, help="smallest group shown (default 5)")
    p.add_argument("--title", help="title of the map (shown as plain text)")
    add_input_options(p)
    p.set_defaults(func=run)


def read_in_scope(path: Path, *, encoding: str | None = None) -> list[str]:
    """Return the circuit ids marked in scope in a circuits CSV.

    Parameters
    ----------
    path : Path
        CSV with ``circuit_id`` and ``trial`` or ``in_scope`` (true/false, yes/no, 1/0).
    encoding : str, optional

    Returns
    -------
    list of str
        Sorted circuit ids whose flag is true.

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> ids = read_in_scope(ssg.demo.path("circuits"))
    >>> len(ids), ids[0]
    (160, 'EGR01-F1')
    """
    import pandas as pd

    from ..errors import InputFileError, MissingColumnError
    from ..io._fields import parse_bool

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputFileError(f"{path}: cannot read the circuits CSV ({exc}).") from exc
    columns = {c.strip().lower(): c for c in table.columns}
    flag = columns.get("in_scope") or columns.get("trial")
    if "circuit_id" not in columns or flag is None:
        raise MissingColumnError(
            f"{path}: the circuits file needs columns circuit_id and trial (or in_scope); it "
            f"has {', '.join(map(repr, table.columns))}."
        )
    flags, bad = parse_bool(table[flag])
    if bad.any():
        row = int(bad.argmax())
        raise ParameterError(
            f"{path}: row {row + 1}, column {flag!r}: {table[flag].iloc[row]!r} is not true/false."
        )
    ids = table[columns["circuit_id"]].str.strip()
    return sorted(set(ids[flags.fillna(False).to_numpy(dtype=bool)]))


def run(args: argparse.Namespace) -> int:
    """Read the inputs, build the map and write it; return the exit code."""
    from ..maps import check_tiles

    tiles = check_tiles(args.tiles)  # before anything is read or written
    out: Path = args.out
    if out.is_dir():
        raise ParameterError(f"--out {out}: is a folder; give a file name such as map.html.")
    with out_file(out, force=args.force) as target:  # checked and locked before any work
        return _build(args, tiles, target)


def _build(args: argparse.Namespace, tiles: str, out: Path) -> int:
    from ..maps import inputs_map, save_map
    from .near import parse_radius

    if not (args.customers or args.equipment or args.network):
        raise ParameterError("give at least one of --customers, --equipment, --network.")
    if args.substations and not args.network:
        raise ParameterError("--substations needs --network (the edges file).")
    options: dict[str, Any] = {
        "tiles": tiles,
        "tile_attribution": args.tile_attribution,
        "internal": args.internal,
        "aggregate_m": args.aggregate,
        "min_group": args.min_group,
        "title": args.title,
    }
    inputs_map(**options)  # check the options before reading any file
    radii: Any = None
    if args.radius:
        try:
            radii = parse_radius(args.radius)
        except argparse.ArgumentTypeError as exc:
            raise ParameterError(str(exc)) from None

    maps = column_maps(args.map)
    inputs: dict[str, Any] = {}
    if args.customers:
        r = read_customers_arg(args, maps)
        report_read("customers", r)
        inputs["customers"] = r.data
    if args.equipment:
        r = read_equipment_arg(args, maps)
        report_read("equipment", r)
        inputs["equipment"] = r.data
    if args.network:
        net = read_network_arg(args, maps)
        echo(f"network: {len(net.edges):,} edges, {len(net.substations):,} substations")
        inputs["edges"], inputs["substations"] = net.edges, net.substations
    in_scope = read_in_scope(args.circuits, encoding=args.encoding) if args.circuits else None
    if in_scope is not None:
        echo(f"circuits in scope: {len(in_scope):,}")

    m = inputs_map(**inputs, in_scope=in_scope, radii=radii, **options)
    path = save_map(m, out)
    mode = "INTERNAL (with addresses)" if args.internal else "pseudonymous"
    echo(f"map written to {path} ({path.stat().st_size / 1e6:.1f} MB, {mode})")
    return 0
