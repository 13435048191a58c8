#!/usr/bin/env python
"""Benchmark outage plans (backfeed through normally-open points), issue 15.

    python benchmarks/bench_backfeed.py                          # demo + 2,000,000 customers
    python benchmarks/bench_backfeed.py --customers 200000 --demo-tiles 3

Measures, in one process (see benchmarks/README.md, section Outage plans):

* demo: a plan for every outage equipment of the demo (each alone, then the
  equipment of each install date together), with the planner built once; the
  same on the demo tiled K times (``--demo-tiles``, the tiler of bench_network);
  counts of customers and PSR customers kept on supply (outage calls avoided);
* synthetic: ``Network`` build, ``BackfeedPlanner`` build (the per-network and
  per-customer indexes), then one plan per random cable section (``--queries``)
  on a network of ``--customers`` customers: median, 95th percentile and worst
  time of a plan, and of a plan with its tables built. Every plan's customers
  are checked equal to ``downstream_customers(together=True)``.

Times are wall clock (best of 3 for the demo) and the CPU time of the thread (the
kernels run in one thread: on a shared machine this is the time a quiet one would take);
the kernels are compiled before timing. At 2 M customers it peaks at a few GB.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import _synth_network as synth
from bench_network import _tile, frames, mb, measure

from smartstreet_geo.network import (
    BackfeedPlanner,
    Network,
    downstream_customers,
    equipment_isolation_points,
)


def say(text: str) -> None:
    print(text, flush=True)


def cpu(fn) -> float:
    """CPU time of this thread running ``fn`` (robust to other load on a shared machine)."""
    c = time.thread_time()
    fn()
    return time.thread_time() - c


# --------------------------------------------------------------------------- demo
def demo_case(k: int) -> dict:
    """Plan every outage equipment of the demo (tiled ``k`` times)."""
    from smartstreet_geo import demo, read_customers, read_equipment, read_network

    nr = read_network(demo.path("network_edges"), demo.path("substations"))
    eq = read_equipment(demo.path("equipment")).data
    cust = read_customers(demo.path("customers")).data
    dx, dy, cols = 10_000.0, 10_000.0, 5
    ids = ["edge_id", "from_node", "to_node", "circuit_id", "substation_id", "node"]
    edges = _tile(nr.edges, k, ids, dx, dy, cols) if k > 1 else nr.edges
    subs = _tile(nr.substations, k, ids, dx, dy, cols) if k > 1 else nr.substations
    eq = (
        _tile(eq, k, ["equipment_id", "circuit_id", "substation_id"], dx, dy, cols) if k > 1 else eq
    )
    cust = (
        _tile(
            cust, k, ["customer_id", "connection_node", "circuit_id", "substation_id"], dx, dy, cols
        )
        if k > 1
        else cust
    )
    net = Network(edges, subs)
    att = net.attach(cust, max_distance=60.0)
    planner, t_planner, _ = measure(BackfeedPlanner, net, att, psr=cust["psr"].to_numpy())
    outage = eq[eq["outage_required"]]
    mapped = equipment_isolation_points(net, outage)
    mapped = mapped[mapped["isolation_point"].notna()].merge(
        outage[["equipment_id", "install_date"]], on="equipment_id"
    )
    points = mapped["isolation_point"].tolist()
    days = [g["isolation_point"].tolist() for _, g in mapped.groupby("install_date", sort=True)]
    planner.plan(points[0])  # compile
    plans, t_each, _ = measure(lambda: [planner.plan(p) for p in points], repeat=3)
    c_each = cpu(lambda: [planner.plan(p) for p in points])
    _, t_tables, _ = measure(lambda: [planner.plan(p).customers for p in points], repeat=3)
    day_plans, t_days, _ = measure(lambda: [planner.plan(d) for d in days], repeat=3)
    total = pd.DataFrame([p.summary() for p in plans]).sum()
    by_day = pd.DataFrame([p.summary() for p in day_plans]).sum()
    say(f"demo x{k}: {len(cust):,} customers, {net!r}; planner built in {t_planner * 1e3:.0f} ms")
    say(
        f"  {len(points)} outage equipment, each alone: {t_each:.3f} s "
        f"({t_each / len(points) * 1e3:.2f} ms a plan; {t_tables:.3f} s with the tables); "
        f"{len(days)} install dates together: {t_days:.3f} s; CPU time of the thread, each "
        f"alone: {c_each:.3f} s"
    )
    for label, s in (("each alone", total), ("by install date", by_day)):
        say(
            f"  {label}: {s['customers_off']:,} customer outages, {s['customers_restored']:,} "
            f"kept on supply by {s['points_to_close']} closings; PSR {s['psr_restored']:,} of "
            f"{s['psr_restored'] + s['psr_interrupted']:,} calls avoided; "
            f"{s['generator_sites']} generator sites"
        )
    return {
        "tiles": k,
        "customers": len(cust),
        "equipment": len(points),
        "days": len(days),
        "planner_s": t_planner,
        "each_s": t_each,
        "each_cpu_s": c_each,
        "each_with_tables_s": t_tables,
        "days_s": t_days,
        "each": {k2: int(v) for k2, v in total.items()},
        "by_day": {k2: int(v) for k2, v in by_day.items()},
    }


# --------------------------------------------------------------------------- synthetic
def synthetic_case(n_customers: int, n_queries: int, seed: int, check: int) -> dict:
    t = time.perf_counter()
    s = synth.make(n_customers, seed=seed)
    edges, subs, customers = frames(s)
    say(f"synthetic: {len(customers):,} customers made in {time.perf_counter() - t:.1f} s")
    net, t_build, p_build = measure(Network, edges, subs)
    att, t_att, _ = measure(net.attach, customers, infer="none")
    planner, t_plan, p_plan = measure(BackfeedPlanner, net, att)
    say(
        f"  {net!r}: Network {t_build:.2f} s (+{mb(p_build)}), attach {t_att:.2f} s, "
        f"BackfeedPlanner {t_plan:.2f} s (+{mb(p_plan)})"
    )
    rng = np.random.default_rng(seed)
    closed = np.flatnonzero(~edges["normally_open"].to_numpy())
    pts = edges["edge_id"].to_numpy()[rng.choice(closed, n_queries, replace=False)].tolist()
    planner.plan(pts[0])  # compile
    times, with_tables, cpus, cpus_tables = [], [], [], []
    restored = off = closings = 0
    for i, p in enumerate(pts):
        t, c = time.perf_counter(), time.thread_time()
        plan = planner.plan(p)
        times.append(time.perf_counter() - t)
        cpus.append(time.thread_time() - c)
        t, c = time.perf_counter(), time.thread_time()
        again = planner.plan(p)
        got = again.customers
        _ = (again.parts, again.closings, again.generators)
        with_tables.append(time.perf_counter() - t)
        cpus_tables.append(time.thread_time() - c)
        s_ = plan.summary()
        off += s_["customers_off"]
        restored += s_["customers_restored"]
        closings += s_["points_to_close"]
        if i < check:
            want = downstream_customers(net, att, p, together=True)["customer_id"]
            assert sorted(got["customer_id"]) == sorted(want), p
    ms = np.asarray(times) * 1e3
    mt = np.asarray(with_tables) * 1e3
    mc = np.asarray(cpus) * 1e3
    mct = np.asarray(cpus_tables) * 1e3
    say(
        f"  one isolation ({n_queries} random cable sections): median {np.median(ms):.2f} ms, "
        f"95% {np.percentile(ms, 95):.2f} ms, worst {ms.max():.2f} ms; with tables median "
        f"{np.median(mt):.2f} ms, worst {mt.max():.2f} ms; CPU time of the thread: median "
        f"{np.median(mc):.2f} ms, 95% {np.percentile(mc, 95):.2f} ms; with tables median "
        f"{np.median(mct):.2f} ms, 95% {np.percentile(mct, 95):.2f} ms"
    )
    say(
        f"  {off:,} customer outages, {restored:,} kept on supply by {closings} closings "
        f"(first {min(check, n_queries)} checked against downstream_customers)"
    )
    return {
        "customers": len(customers),
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "network_s": t_build,
        "attach_s": t_att,
        "planner_s": t_plan,
        "planner_peak_mb": p_plan / 2**20,
        "plan_ms_median": float(np.median(ms)),
        "plan_ms_p95": float(np.percentile(ms, 95)),
        "plan_ms_max": float(ms.max()),
        "plan_tables_ms_median": float(np.median(mt)),
        "plan_tables_ms_max": float(mt.max()),
        "plan_cpu_ms_median": float(np.median(mc)),
        "plan_cpu_ms_p95": float(np.percentile(mc, 95)),
        "plan_tables_cpu_ms_median": float(np.median(mct)),
        "plan_tables_cpu_ms_p95": float(np.percentile(mct, 95)),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=2_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--check", type=int, default=20, help="plans checked against the oracle")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--demo-tiles", type=int, default=1)
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    out: dict = {}
    if not args.no_demo:
        out["demo"] = demo_case(1)
        if args.demo_tiles > 1:
            out["demo_tiled"] = demo_case(args.demo_tiles)
    if not args.no_synthetic:
        out["synthetic"] = synthetic_case(args.customers, args.queries, args.seed, args.check)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
