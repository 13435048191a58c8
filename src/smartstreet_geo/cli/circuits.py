"""``smartstreet-geo circuits``: circuit members and the customers an outage cuts off.

Reads a network (edges + substations) and customers, reports what the network
check finds, lists the members of the circuits asked for, and for each
isolation point (edge, node or equipment id) the customers who lose supply.
The console shows counts only; the lists go to CSV files in ``--out``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SmartStreetGeoError
from ..io import ReadResult
from ..schema import CUSTOMER_ID, EQUIPMENT_ID, OUTAGE_REQUIRED, PSR
from ._common import (
    add_input_options,
    column_maps,
    echo,
    read_customers_arg,
    read_equipment_arg,
    read_network_arg,
    staged_out_dir,
)

METHOD_CHOICES = ("best", "connectivity", "declared", "inferred")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``circuits`` sub-command."""
    p = sub.add_parser(
        "circuits",
        help="list the customers on circuits and those an outage would cut off",
        description="Build the LV network from its edges and substations, check it (closed "
        "rings, parts fed from nowhere, unknown connection nodes, circuits without customers), "
        "list the customers on the given circuits (by connection node, declared circuit or "
        "nearest cable) and the customers who lose supply when the given switches, cable "
        "sections, nodes or equipment are isolated. Prints counts only; with --out writes "
        "members.csv, outage.csv, network_issues.csv (and reconciliation.csv with "
        "--reconcile). Exit 0 on success, 1 when the inputs or ids are not usable.",
    )
    p.add_argument(
        "--network",
        type=Path,
        required=True,
        help="network edges file (or a GeoPackage with edges and substations)",
    )
    p.add_argument("--substations", type=Path, help="substations file")
    p.add_argument("--customers", type=Path, required=True, help="customer file")
    p.add_argument(
        "--circuit",
        action="append",
        default=[],
        metavar="ID",
        help="circuit id to list (repeat, or comma-separate); 'all' for every circuit",
    )
    p.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        default="best",
        help="membership method (default best: connection node where known and "
        "fed, else nearest cable)",
    )
    p.add_argument(
        "--isolate",
        action="append",
        default=[],
        metavar="ID",
        help="edge, node or equipment id to isolate (repeat, or comma-separate); "
        "prefix edge:, node: or equipment: if an id is ambiguous",
    )
    p.add_argument(
        "--together",
        action="store_true",
        help="isolate all the points at once (one outage) instead of one at a time",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="plan backfeeds through normally-open points for each outage (with --together: "
        "one plan for all the points): points to close, donor circuits, who is still off "
        "(outage_plan.csv with --out)",
    )
    p.add_argument("--equipment", type=Path, help="equipment file: its ids may be isolation points")
    p.add_argument(
        "--outage-equipment",
        action="store_true",
        help="isolate each piece of equipment whose outage_required is true",
    )
    p.add_argument(
        "--max-distance",
        type=float,
        default=None,
        metavar="M",
        help="furthest a customer may be from a cable to be placed on it by inference "
        "(metres, default 50)",
    )
    p.add_argument(
        "--review-margin",
        type=float,
        default=None,
        metavar="M",
        help="flag an inferred circuit for review when another circuit's cable is "
        "less than this much further away (metres, default 8)",
    )
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="compare declared, connectivity and inferred circuits of every customer "
        "(reconciliation.csv)",
    )
    p.add_argument("--out", type=Path, help="folder for the CSV files")
    p.add_argument("--force", action="store_true", help="allow writing into a non-empty --out")
    p.add_argument(
        "--geo",
        choices=("gpkg", "parquet"),
        help="also write layers for QGIS into --out (layers.gpkg, or LAYER.parquet): network, "
        "substations, and members, outage, outage_plan, reconciliation at the customers' "
        "points (no customer ids unless --internal)",
    )
    p.add_argument(
        "--internal",
        action="store_true",
        help="keep customer ids in the --geo layers (internal use only)",
    )
    add_input_options(p)
    p.set_defaults(func=run)


def _ids(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _report_read(label: str, r: ReadResult) -> None:
    echo(f"{label}: {r.n_valid:,} valid, {r.n_rejected:,} rejected ({r.source})")
    if r.n_input and not r.n_valid:
        raise SmartStreetGeoError(
            f"{r.source}: no valid {label} rows; run `smartstreet-geo validate` to see why."
        )


def _summary(rows: pd.DataFrame, key: str, names: list[str], psr_ids: list[str]) -> pd.DataFrame:
    """Count rows per ``key`` value (``names`` order, zeros kept): n, psr, inferred, review."""
    flags = pd.DataFrame(
        {
            key: rows[key].to_numpy(),
            "n": 1,
            "psr": rows[CUSTOMER_ID].isin(psr_ids).to_numpy(dtype=int),
            "inferred": (rows["method"] == "inferred").to_numpy(dtype=int),
            "review": rows["needs_review"].to_numpy(dtype=int),
        }
    )
    sums = flags.groupby(key, sort=False)[["n", "psr", "inferred", "review"]].sum()
    return sums.reindex(names, fill_value=0).astype(int)


#: Files ``--out`` may hold (what an earlier run wrote; ``--force`` replaces only these).
_OUTPUTS = (
    "network_issues.csv",
    "members.csv",
    "outage.csv",
    "outage_plan.csv",
    "reconciliation.csv",
    "layers.gpkg",
    *(f"{name}.parquet" for name in ("network", "substations", "members", "outage")),
    *(f"{name}.parquet" for name in ("outage_plan", "reconciliation")),
)
#: Tables placed at their customers in the --geo layers (output file -> layer).
_CUSTOMER_LAYERS = {
    "members.csv": "members",
    "outage.csv": "outage",
    "outage_plan.csv": "outage_plan",
    "reconciliation.csv": "reconciliation",
}


def _plans(
    network: Any,
    att: Any,
    points: list[str],
    equipment: pd.DataFrame | None,
    psr: np.ndarray,
    args: argparse.Namespace,
) -> pd.DataFrame:
    """Plan each outage (or all points together); print each plan; return the customers' table."""
    from ..network import BackfeedPlanner

    planner = BackfeedPlanner(network, att, psr=psr)
    groups = [points] if args.together else [[p] for p in points]
    tables = []
    for group in groups:
        plan = planner.plan(group, equipment=equipment)
        echo(f"outage plan for {' + '.join(group)}:")
        for line in plan.describe().splitlines():
            echo(f"  {line}")
        tables.append(plan.customers.assign(isolation_point=" + ".join(group)))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def run(args: argparse.Namespace) -> int:
    """Run the ``circuits`` command; return the exit code.

    ``--out`` is checked and locked before the work, and its files appear
    together when all are written (see :func:`smartstreet_geo.export.staged_output`).
    """
    from ..export import write_csv

    if not args.out:
        if args.geo:
            raise SmartStreetGeoError("--geo writes into --out: give --out a folder.")
        _compute(args)
        return 0
    inputs: dict[str, Any] = {}
    with staged_out_dir(args.out, force=args.force, names=_OUTPUTS) as stage:
        outputs = _compute(args, inputs)
        for name, frame in outputs.items():
            write_csv(frame, stage.file(name))
        layers = _write_layers(args, stage, outputs, inputs) if args.geo else []
    for name, frame in outputs.items():
        echo(f"wrote {args.out / name} ({len(frame):,} rows)")
    for name in layers:
        echo(f"wrote {args.out / name} (layers for QGIS)")
    return 0


def _write_layers(
    args: argparse.Namespace, stage: Any, outputs: dict[str, pd.DataFrame], inputs: dict[str, Any]
) -> list[str]:
    """Write the --geo layers into the staging folder; return the file names."""
    import geopandas as gpd

    from ..geo_outputs import table_layers, write_layers

    edges, subs = inputs["edges"], inputs["substations"]
    keep = [c for c in ("edge_id", "from_node", "to_node", "circuit_id", "substation_id",
                        "normally_open") if c in edges.columns]  # fmt: skip
    layers: dict[str, gpd.GeoDataFrame] = {
        "network": gpd.GeoDataFrame(edges[[*keep, edges.geometry.name]]),
        "substations": gpd.GeoDataFrame(
            subs[[c for c in ("substation_id", "node", "name", subs.geometry.name) if c in subs]]
        ),
    }
    tables = {
        layer: outputs[name]
        for name, layer in _CUSTOMER_LAYERS.items()
        if name in outputs and "customer_id" in outputs[name].columns
    }
    layers.update(table_layers(tables, inputs["customers"], internal=args.internal))
    if args.geo == "gpkg":
        write_layers(layers, stage.file("layers.gpkg"), geo="gpkg")
        return ["layers.gpkg"]
    names = []
    for name, layer in layers.items():
        path = stage.file(f"{name}.parquet")
        write_layers({name: layer}, path, geo="parquet")
        names.append(path.name)
    return names


def _compute(
    args: argparse.Namespace, inputs: dict[str, Any] | None = None
) -> dict[str, pd.DataFrame]:
    """Read, check and compute what ``args`` ask for; print counts; return the output tables."""
    from ..network import (
        DEFAULT_MAX_DISTANCE_M,
        DEFAULT_REVIEW_MARGIN_M,
        Network,
        circuit_members,
        downstream_customers,
        reconcile_circuits,
    )
    from ..network._outage import _resolve  # the element each point isolates, for the table

    if args.plan and not (args.isolate or args.outage_equipment):
        raise SmartStreetGeoError(
            "--plan needs points to isolate (--isolate or --outage-equipment)."
        )
    maps = column_maps(args.map)
    net_read = read_network_arg(args, maps)
    _report_read("network edges", net_read.edges_result)
    _report_read("substations", net_read.substations_result)
    cust_read = read_customers_arg(args, maps)
    _report_read("customers", cust_read)
    customers = cust_read.data
    if inputs is not None:  # for the --geo layers
        inputs.update(customers=customers, edges=net_read.edges, substations=net_read.substations)
    equipment = None
    if args.equipment:
        eq_read = read_equipment_arg(args, maps)
        _report_read("equipment", eq_read)
        equipment = eq_read.data
    elif args.outage_equipment:
        raise SmartStreetGeoError("--outage-equipment needs --equipment FILE.")

    max_d = DEFAULT_MAX_DISTANCE_M if args.max_distance is None else args.max_distance
    margin = DEFAULT_REVIEW_MARGIN_M if args.review_margin is None else args.review_margin
    network = Network(net_read.edges, net_read.substations)
    n_open = int(np.asarray(net_read.edges["normally_open"], dtype=bool).sum())
    echo(
        f"network: {network.n_nodes:,} nodes, {network.n_edges:,} edges ({n_open:,} normally "
        f"open), {len(net_read.substations):,} substations, {len(network.circuit_ids):,} "
        "circuits"
    )
    att = network.attach(
        customers,
        infer="all" if args.reconcile else "missing",
        max_distance=max_d,
        review_margin_m=margin,
    )
    c = att.counts()
    echo(
        f"customers placed: {c['connected']:,} by connection node, {c['inferred']:,} by "
        f"nearest cable, {c['unplaced']:,} not placed (of which {c['unfed']:,} on unfed "
        f"parts, {c['unknown_node']:,} with unknown nodes, {c['no_node']:,} without a node)"
    )

    issues = network.validate(att)
    if len(issues):
        echo("network check (findings: rows in network_issues.csv, and the groups they form):")
        groups = issues.groupby("issue", sort=False)["group"].nunique()
        for code, count in issues["issue"].value_counts(sort=False).items():
            n_groups = int(groups.get(code, 0))
            extra = f"  in {n_groups:,} group(s)" if n_groups and n_groups != count else ""
            echo(f"  {code:<32} {count:>9,}{extra}")
    else:
        echo("network check: no findings")
    psr = (
        np.asarray(customers[PSR], dtype=bool)
        if PSR in customers
        else np.zeros(len(customers), dtype=bool)
    )
    psr_ids = customers.loc[psr, CUSTOMER_ID].tolist()

    outputs: dict[str, pd.DataFrame] = {"network_issues.csv": issues}
    circuits = _ids(args.circuit)
    if circuits:
        wanted = None if circuits == ["all"] else circuits
        members = circuit_members(network, att, circuits=wanted, method=args.method)
        names = (
            wanted
            if wanted is not None
            else sorted(set(network.circuit_ids) | set(members["circuit_id"].dropna().tolist()))
        )
        table = _summary(members, "circuit_id", names, psr_ids)
        echo(f"circuit members ({args.method}):")
        echo(f"  {'circuit':<20} {'customers':>9} {'PSR':>6} {'inferred':>9} {'review':>7}")
        for cid, r in table.iterrows():
            echo(f"  {cid:<20} {r['n']:>9,} {r['psr']:>6,} {r['inferred']:>9,} {r['review']:>7,}")
        distinct = members.drop_duplicates(CUSTOMER_ID)
        n_psr = int(distinct[CUSTOMER_ID].isin(psr_ids).sum())
        echo(f"  {'all (distinct)':<20} {len(distinct):>9,} {n_psr:>6,}")
        outputs["members.csv"] = members

    points = _ids(args.isolate)
    if args.outage_equipment and equipment is not None:
        flagged = equipment.loc[np.asarray(equipment[OUTAGE_REQUIRED], dtype=bool), EQUIPMENT_ID]
        points += [f"equipment:{e}" for e in flagged.tolist()]
        echo(f"equipment needing an outage: {len(flagged):,}")
    if points:
        out = downstream_customers(
            network, att, points, equipment=equipment, together=args.together, unplaced="ignore"
        )
        _kinds, _idx, elements = _resolve(network, points, equipment)
        if args.together:
            labels, elements = [" + ".join(points)], [";".join(elements)]
        else:
            labels = points
        table = _summary(out, "isolation_point", list(dict.fromkeys(labels)), psr_ids)
        element_of = dict(zip(labels, elements, strict=True))
        echo("outage impact" + (" (all points together)" if args.together else "") + ":")
        echo(f"  {'isolation point':<28} {'element':<24} {'off':>7} {'PSR':>6} {'inferred':>9}")
        for point, r in table.iterrows():
            echo(
                f"  {point!s:<28} {element_of[str(point)]:<24} {r['n']:>7,} {r['psr']:>6,} "
                f"{r['inferred']:>9,}"
            )
        echo(f"  customers off at least once: {out[CUSTOMER_ID].nunique():,}")
        if c["unplaced"]:
            echo(
                f"  note: {c['unplaced']:,} customers could not be placed on the network and "
                "were not assessed (see reconciliation.csv with --reconcile)"
            )
        outputs["outage.csv"] = out
        if args.plan:
            outputs["outage_plan.csv"] = _plans(network, att, points, equipment, psr, args)
    elif args.plan:
        raise SmartStreetGeoError(
            "--plan needs points to isolate (--isolate or --outage-equipment)."
        )

    if args.reconcile:
        rec = reconcile_circuits(network, att)
        echo("reconciliation:")
        for status, count in rec["status"].value_counts(sort=False).items():
            echo(f"  {status:<32} {count:>9,}")
        outputs["reconciliation.csv"] = rec
    return outputs
