#!/usr/bin/env python
"""Benchmark the network subpackage on a synthetic network, against networkx and GeoPandas.

    python benchmarks/bench_network.py                       # 2,000,000 customers, everything
    python benchmarks/bench_network.py --customers 200000 --no-networkx --no-sjoin

Measures, in one process (see benchmarks/README.md, section Circuits, for results):

* build: ``Network(edges, substations)`` from string ids (factorising, orientation = the
  supply tree from the substations, low-links, circuit components), and the topology index
  alone from integer arrays; wall time and peak memory above the baseline;
* labelling: the circuit(s) of every customer by connectivity;
* downstream: 1,000 isolation queries (random cable sections and joints) in one call, and
  one call per query; checked against an exact breadth-first recomputation;
* networkx: building the same graph, and a few downstream queries (extrapolated);
* inference: nearest cable (with the margin to the nearest cable of another circuit) for
  every customer, against ``geopandas.sjoin_nearest(max_distance=...)``; its agreement with
  the true feeder, and how ``needs_review`` catches the wrong ones at several margins.

``--outage-tiles K`` runs only the outage-impact case instead: ``equipment_isolation_points``
for the demo equipment on the demo network, both tiled K times (ids suffixed, tiles side by
side), checked equal to K copies of the demo answer; ``--outage-old`` also times the
implementation before issue 14 (the oracle in tests/test_outage_scale.py).

Times are the best of 3 (build, attach, labelling) or 5 (queries) runs; everything else runs
once. Run it alone on a quiet machine: at 2 M customers it peaks at about 6 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import re
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).parent))
import _synth_network as synth

from smartstreet_geo.network import (
    DEFAULT_MAX_DISTANCE_M,
    DEFAULT_REVIEW_MARGIN_M,
    Network,
    circuit_members,
    downstream_customers,
    reconcile_circuits,
)
from smartstreet_geo.network import _kernels as kern
from smartstreet_geo.network._members import _group_contains


# --------------------------------------------------------------------------- measuring
def _status() -> dict[str, int]:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def measure(fn, *args, repeat: int = 1, **kw):
    """Run ``fn`` ``repeat`` times; return (result, best seconds, peak bytes of the first run).

    The peak is the resident-set high-water mark above the resident set before the call
    (the kernel's VmHWM, reset just before).
    """
    best = np.inf
    peak = 0
    out = None
    for k in range(repeat):
        out = None
        gc.collect()
        with contextlib.suppress(OSError):  # not Linux: the peak is not reset
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak (Linux)
        before = _status()["VmRSS"]
        t = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t)
        if k == 0:
            peak = _status()["VmHWM"] - before
    return out, best, peak


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def ids(prefix: str, values: np.ndarray) -> pd.Series:
    return pd.Series(np.char.add(prefix, values.astype(str)), dtype="str")


# --------------------------------------------------------------------------- frames
def frames(s: synth.SynthNetwork):
    xy = np.stack([np.c_[s.x0, s.y0], np.c_[s.x1, s.y1]], axis=1)
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ids("E", np.arange(s.n_edges)),
            "from_node": ids("N", s.edge_from),
            "to_node": ids("N", s.edge_to),
            "circuit_id": ids("C", s.edge_circuit),
            "normally_open": s.edge_open,
        },
        geometry=shapely.linestrings(xy),
        crs="EPSG:27700",
    )
    subs = pd.DataFrame(
        {"substation_id": ids("S", np.arange(len(s.sub_node))), "node": ids("N", s.sub_node)}
    )
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ids("K", np.arange(len(s.cust_x))),
            "connection_node": ids("N", s.cust_node),
        },
        geometry=shapely.points(s.cust_x, s.cust_y),
        crs="EPSG:27700",
    )
    return edges, subs, customers


def index_only(net: Network) -> None:
    """The topology index from integer arrays (what Network() does after factorising ids)."""
    n = net.n_nodes
    roots = net._roots
    uu = np.concatenate([net._u, np.full(len(roots), n, np.int32)])
    vv = np.concatenate([net._v, roots])
    keep = np.concatenate([~net._open, np.ones(len(roots), bool)])
    indptr, nbr, eid = kern.build_csr(n + 1, uu, vv, keep)
    kern.dfs_lowlink(indptr, nbr, eid, n)
    blocked = net._is_root.copy()
    blocked[n] = True
    kern.components(indptr, nbr, blocked)


# --------------------------------------------------------------------------- networkx
def nx_build(net: Network):
    import networkx as nx

    g = nx.MultiGraph()
    closed = np.flatnonzero(~net._open)
    g.add_edges_from(
        zip(net._u[closed].tolist(), net._v[closed].tolist(), closed.tolist(), strict=True)
    )
    src = net.n_nodes
    g.add_edges_from((src, int(r), -1) for r in net._roots)
    return g


def nx_lost(g, src: int, fed: set, u: int, v: int, key: int) -> set:
    import networkx as nx

    data = g.get_edge_data(u, v, key)
    g.remove_edge(u, v, key)
    try:
        reached = nx.node_connected_component(g, src)
    finally:
        g.add_edge(u, v, key, **(data or {}))
    return fed - reached


# --------------------------------------------------------------------------- outage impact
def _tile(frame: pd.DataFrame, k: int, id_cols: list[str], dx: float, dy: float, cols: int):
    """``frame`` repeated ``k`` times: ids suffixed ``~t``, geometry shifted tile by tile."""
    parts = []
    for t in range(k):
        part = frame.copy()
        for c in id_cols:
            if c in part:
                part[c] = part[c].where(part[c].isna(), part[c].astype("str") + f"~{t}")
        if isinstance(part, gpd.GeoDataFrame):
            part = part.set_geometry(
                shapely.transform(
                    np.asarray(part.geometry.array),
                    lambda xy, t=t: xy + np.array([(t % cols) * dx, (t // cols) * dy]),
                ),
                crs=part.crs,
            )
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def outage_case(k: int, old: bool) -> dict:
    """Time equipment_isolation_points on the demo tiled ``k`` times (see the docstring)."""
    from smartstreet_geo import demo, read_equipment, read_network
    from smartstreet_geo.network import equipment_isolation_points

    nr = read_network(demo.path("network_edges"), demo.path("substations"))
    eq = read_equipment(demo.path("equipment")).data
    # tiles in a 5-wide grid 10 km apart (overlapping is fine: ids differ; whole metres)
    dx, dy, cols = 10_000.0, 10_000.0, 5
    ids = ["edge_id", "from_node", "to_node", "circuit_id", "substation_id", "node"]
    edges = _tile(nr.edges, k, ids, dx, dy, cols)
    subs = _tile(nr.substations, k, ids, dx, dy, cols)
    equipment = _tile(eq, k, ["equipment_id", "circuit_id", "substation_id"], dx, dy, cols)
    net = Network(edges, subs)
    print(f"demo x{k}: {len(edges):,} edges, {len(equipment):,} equipment, {net!r}", flush=True)
    res: dict = {"tiles": k, "n_edges": len(edges), "n_equipment": len(equipment)}
    out, dt, peak = measure(equipment_isolation_points, net, equipment)
    _, dt2, _ = measure(equipment_isolation_points, net, equipment, repeat=3)
    one = equipment_isolation_points(Network(nr.edges, nr.substations), eq)
    untiled = out["rule"].str.replace(r"~\d+'", "'", regex=True)
    assert untiled.tolist() == one["rule"].tolist() * k
    assert np.allclose(out["distance_m"], np.tile(one["distance_m"], k), atol=1e-6, equal_nan=True)
    print(
        f"equipment_isolation_points: {dt:.3f} s first call (builds the circuit->cables "
        f"index), {dt2:.3f} s warm, peak +{mb(peak)}; {int(out['isolation_point'].notna().sum()):,}"
        f" mapped; equal to {k} copies of the demo answer",
        flush=True,
    )
    res.update(new_s=dt, new_warm_s=dt2, new_peak_mb=peak / 2**20)
    if old:
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
        from test_outage_scale import old_equipment_isolation_points

        ref, dt_old, _ = measure(old_equipment_isolation_points, net, equipment)
        pd.testing.assert_frame_equal(out, ref, check_exact=True)
        print(f"  before issue 14 (one-by-one loop): {dt_old:.1f} s; answers identical", flush=True)
        res.update(old_s=dt_old)
    return res


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--no-sjoin", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--outage-tiles", type=int, help="run only the outage-impact case")
    ap.add_argument("--outage-old", action="store_true", help="and time the old loop")
    args = ap.parse_args(argv)
    if args.outage_tiles:
        out = outage_case(args.outage_tiles, args.outage_old)
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
        return out
    res: dict = {"customers_requested": args.customers, "seed": args.seed}

    def say(text: str) -> None:
        print(text, flush=True)

    # warm the compiled kernels on a toy network (compile time is not the benchmark)
    toy = synth.make(3000, seed=1)
    te, ts, tc = frames(toy)
    tnet = Network(te, ts)
    tatt = tnet.attach(tc, infer="all")
    downstream_customers(tnet, tatt, te["edge_id"].tolist()[:50])
    downstream_customers(tnet, tatt, te["edge_id"].tolist()[:3], together=True)
    circuit_members(tnet, tatt)

    t = time.perf_counter()
    s = synth.make(args.customers, seed=args.seed)
    edges, subs, customers = frames(s)
    say(
        f"synthetic network: {len(customers):,} customers, {s.n_edges:,} cable segments "
        f"({int(s.edge_open.sum()):,} normally open), {s.n_nodes:,} nodes, "
        f"{len(s.sub_node):,} substations, {len(s.circuit_sub):,} circuits "
        f"(made in {time.perf_counter() - t:.1f} s)"
    )
    res.update(
        n_customers=len(customers),
        n_edges=s.n_edges,
        n_nodes=s.n_nodes,
        n_substations=len(s.sub_node),
        n_circuits_true=len(s.circuit_sub),
    )

    # ---- build
    net, dt, peak = measure(Network, edges, subs, repeat=3)
    say(
        f"build Network (ids factorised + orientation + index + circuits): {dt:.3f} s, "
        f"peak +{mb(peak)}  {net!r}"
    )
    _, dt2, peak2 = measure(index_only, net, repeat=3)
    say(
        f"  topology index alone (CSR + DFS/low-link + circuit components): {dt2:.3f} s, "
        f"peak +{mb(peak2)}"
    )
    res.update(build_s=dt, build_peak_mb=peak / 2**20, index_s=dt2, index_peak_mb=peak2 / 2**20)

    # ---- attach (connectivity) and labelling
    att, dt, peak = measure(net.attach, customers, infer="none", repeat=3)
    say(f"attach customers by connection node (2 string lookups): {dt:.3f} s, peak +{mb(peak)}")
    res.update(attach_s=dt)

    def label_raw():  # node -> circuit group of every customer (what conn_group caches)
        node = np.asarray(att.node)
        return np.where(node >= 0, net._node_group[np.maximum(node, 0)], -1)

    _labels, dt_raw, _ = measure(label_raw, repeat=3)
    members, dt, peak = measure(circuit_members, att, net, method="connectivity", repeat=3)
    say(
        f"feeder labelling of every customer: {dt_raw * 1000:.1f} ms as circuit numbers; "
        f"{dt:.3f} s as the circuit_members frame ({len(members):,} rows), peak +{mb(peak)}"
    )
    res.update(label_raw_s=dt_raw, label_frame_s=dt, label_rows=len(members))
    del members

    # ---- downstream queries
    rng = np.random.default_rng(args.seed + 7)
    closed = np.flatnonzero(~s.edge_open)
    n_node_q = args.queries // 5
    q_edges = rng.choice(closed, args.queries - n_node_q, replace=False)
    q_nodes = rng.choice(np.unique(s.cust_node), n_node_q, replace=False)
    points = [f"edge:E{e}" for e in q_edges] + [f"node:N{v}" for v in q_nodes]
    downstream_customers(net, att, points[:5])  # builds the id hash tables once
    out, dt, peak = measure(downstream_customers, net, att, points, repeat=5)
    per_q = out.groupby("isolation_point").size()
    say(
        f"{len(points):,} downstream queries in one call: {dt * 1000:.1f} ms "
        f"({len(out):,} customer rows; median {int(per_q.median()) if len(per_q) else 0} "
        f"per non-empty query, {int((per_q > 0).sum())} non-empty), peak +{mb(peak)}"
    )
    res.update(downstream_1000_s=dt, downstream_rows=len(out))

    def one_by_one():
        for p in points:
            downstream_customers(net, att, [p])

    _, dt_loop, _ = measure(one_by_one)
    say(
        f"  the same, one call per query: {dt_loop:.3f} s ({dt_loop / len(points) * 1e3:.2f} "
        "ms per call, mostly building the answer frame)"
    )
    res.update(downstream_loop_s=dt_loop)

    # exact check: 30 queries against a plain breadth-first search with the point removed
    fed = net._fed()
    node_of = np.asarray(att.node)
    n_all = net.n_edges + len(net._roots)
    for p in points[:15] + points[-15:]:
        edge_off = np.zeros(n_all, bool)
        node_off = np.zeros(net.n_nodes + 1, bool)
        kind, _, name = p.partition(":")
        if kind == "edge":
            edge_off[int(name[1:])] = True
        else:
            node_off[net._node_pos([name])[0]] = True
        seen = kern.reach(net._indptr, net._nbr, net._eid, net.n_nodes, edge_off, node_off)
        lost = fed & ~seen[: net.n_nodes]
        want = set(np.flatnonzero(lost[np.maximum(node_of, 0)] & (node_of >= 0)).tolist())
        got = set(out.loc[out["isolation_point"] == p, "customer_id"].str.slice(1).astype(int))
        assert want == got, (p, sorted(want - got)[:5], sorted(got - want)[:5])
    say("  30 of the answers checked against a breadth-first search: equal")

    # ---- inference
    att_all, dt, peak = measure(net.attach, customers, infer="all")
    say(
        f"inference for all {len(customers):,} customers (nearest cable, margin to another "
        f"circuit, equally-near cables): {dt:.2f} s, peak +{mb(peak)}"
    )
    res.update(infer_s=dt, infer_peak_mb=peak / 2**20)
    if not args.no_sjoin:
        cand = edges.loc[~edges["normally_open"], ["geometry"]]
        pts = customers[["geometry"]]
        sj, dt, peak = measure(
            gpd.sjoin_nearest,
            pts,
            cand,
            max_distance=DEFAULT_MAX_DISTANCE_M,
            distance_col="distance_m",
        )
        say(
            f"geopandas.sjoin_nearest(max_distance={DEFAULT_MAX_DISTANCE_M:g}): {dt:.2f} s, "
            f"peak +{mb(peak)} (nearest only: no margin, no other circuit)"
        )
        res.update(sjoin_s=dt, sjoin_peak_mb=peak / 2**20)
        first = sj[~sj.index.duplicated()]
        d_ours = att_all.inf_dist[first.index.to_numpy()]
        assert np.allclose(d_ours, first["distance_m"].to_numpy(), atol=1e-6)
        say("  nearest distances equal to sjoin_nearest's")
        del sj, first
    # ---- networkx
    if not args.no_networkx:
        fed_nodes = set(np.flatnonzero(net._fed()).tolist()) | {net.n_nodes}
        g, dt, peak = measure(nx_build, net)
        say(f"networkx: building the graph: {dt:.1f} s, peak +{mb(peak)}")
        res.update(nx_build_s=dt, nx_build_peak_mb=peak / 2**20)
        times = []
        for e in q_edges[:3]:
            t = time.perf_counter()
            lost = nx_lost(g, net.n_nodes, fed_nodes, int(net._u[e]), int(net._v[e]), int(e))
            times.append(time.perf_counter() - t)
            want = set(np.flatnonzero(np.isin(node_of, list(lost))).tolist())
            got = set(
                out.loc[out["isolation_point"] == f"edge:E{e}", "customer_id"]
                .str.slice(1)
                .astype(int)
                .tolist()
            )
            assert want == got, e
        per = float(np.mean(times))
        say(
            f"networkx: {per:.2f} s per downstream query (3 run, answers equal) -> "
            f"~{per * len(points):,.0f} s for {len(points):,}"
        )
        res.update(nx_query_s=per)
        del g
        gc.collect()

    rec, dt, peak = measure(reconcile_circuits, att_all, net)
    say(
        f"reconcile_circuits for every customer: {dt:.2f} s, peak +{mb(peak)} "
        f"({int(rec['needs_review'].sum()):,} rows need review)"
    )
    res.update(reconcile_s=dt)
    del rec
    issues, dt, peak = measure(net.validate, att_all)
    say(
        f"Network.validate with customers: {dt:.2f} s ({len(issues):,} findings: "
        + ", ".join(f"{k} {v:,}" for k, v in issues["issue"].value_counts().items())
        + ")"
    )
    res.update(validate_s=dt)
    true_code = np.asarray(
        pd.Index(net.circuit_ids).get_indexer(pd.Index(ids("C", s.cust_circuit)))
    )
    placed = att_all.inf_edge >= 0
    ok = _group_contains(net, att_all.inf_group, true_code) & placed
    wrong = placed & ~ok
    review = att_all.inf_needs_review
    say(
        f"inferred feeder agrees with the true feeder for {ok.sum() / placed.sum():.2%} of "
        f"{int(placed.sum()):,} placed customers ({int((~placed).sum())} not placed)"
    )
    recall = (review & wrong).sum() / max(1, wrong.sum())
    flagged = (review & placed).sum() / placed.sum()
    say(
        f"needs_review at the default margin ({DEFAULT_REVIEW_MARGIN_M:g} m): "
        f"{recall:.1%} of the wrong ones flagged, {flagged:.1%} of all inferred rows flagged"
    )
    res.update(
        agreement=float(ok.sum() / placed.sum()),
        review_recall=float(recall),
        review_flagged=float(flagged),
    )
    margin = att_all.inf_margin
    say("  margin  wrong flagged  all flagged")
    table = []
    for m in (1, 2, 3, 4, 5, 6, 7, 8, 10, 12):
        f = placed & (margin < m)
        r, a = (f & wrong).sum() / max(1, wrong.sum()), f.sum() / placed.sum()
        table.append((m, float(r), float(a)))
        say(f"  {m:>4} m  {r:>12.1%}  {a:>11.1%}")
    res["review_table"] = table
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
