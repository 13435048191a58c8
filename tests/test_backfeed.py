"""Outage plans: backfeeding de-energised parts through normally-open points.

Hand-drawn networks check each rule by name; a synthetic network checks every
plan against an independent networkx recomputation (who is supplied after the
switching, that the plan restores everyone any switching could, that the
network stays radial); the IEEE European LV Test Feeder checks the same against
pandapower's topology and the power-flow check against a pandapower run set
up by hand; the demo network gives the README's count of calls avoided.
"""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from hostile import HOSTILE
from smartstreet_geo.campaign._circuits import OUTAGE_PLAN_COLUMNS
from smartstreet_geo.errors import ParameterError
from smartstreet_geo.network import (
    BackfeedPlanner,
    LoadingLimit,
    Network,
    PlanWeights,
    downstream_customers,
    plan_outage,
)
from smartstreet_geo.network import _backfeed as bf


def _net(rows, subs):
    """Edges as (edge_id, from, to, circuit, open); substations as (id, node)."""
    edges = pd.DataFrame(
        rows, columns=["edge_id", "from_node", "to_node", "circuit_id", "normally_open"]
    )
    return Network(edges, pd.DataFrame(subs, columns=["substation_id", "node"]))


def _customers(nodes, psr=()):
    """One customer per node, named k_<node>; PSR for the nodes listed."""
    return pd.DataFrame(
        {
            "customer_id": [f"k_{n}" for n in nodes],
            "connection_node": list(nodes),
            "psr": [n in psr for n in nodes],
        }
    )


# Three substations. F1: S-a-b-c; F2: T-x-y; F3: U-z.
BASE = [
    ("e1", "S", "a", "F1", False),
    ("e2", "a", "b", "F1", False),
    ("e3", "b", "c", "F1", False),
    ("f1", "T", "x", "F2", False),
    ("f2", "x", "y", "F2", False),
    ("g1", "U", "z", "F3", False),
]
SUBS = [("S1", "S"), ("S2", "T"), ("S3", "U")]
NODES = ["a", "b", "c", "x", "y", "z"]


def test_one_point_to_a_live_neighbour():
    net = _net([*BASE, ("n1", "c", "y", "F1", True)], SUBS)
    plan = plan_outage(net, _customers(NODES, psr={"c"}), "e2")
    assert plan.points_to_close == ["n1"]
    assert plan.restored_ids == ["k_b", "k_c"]
    assert plan.interrupted_ids == [] and plan.psr_interrupted_ids == []
    part = plan.parts.iloc[0]
    assert (part["head_node"], part["customers"], part["psr"]) == ("b", 2, 1)
    assert part["elements"] == "edge:e2" and part["candidate_points"] == "n1"
    c = plan.closings.iloc[0]
    assert (c["donor_circuit"], c["donor_substation"]) == ("F2", "S2")
    assert (c["donor_customers_before"], c["donor_customers_after"]) == (2, 4)
    assert c["customers_restored"] == 2 and not c["over_limit"]
    cust = plan.customers.set_index("customer_id")
    assert cust.loc["k_c", "restored_through"] == "n1" and cust.loc["k_c", "donor_circuit"] == "F2"
    assert plan.generators.empty
    assert plan.summary()["customers_restored"] == 2
    for table, cols in (
        (plan.parts, bf.PART_COLUMNS),
        (plan.closings, bf.CLOSING_COLUMNS),
        (plan.customers, bf.CUSTOMER_COLUMNS),
        (plan.generators, bf.GENERATOR_COLUMNS),
    ):
        assert list(table.columns) == list(cols)
    text = plan.describe()
    assert "close n1" in text and "F2 (2 -> 4 customers)" in text and "k_" not in text


def test_two_points_picks_the_lighter_donor_and_respects_the_limit():
    rows = [*BASE, ("n1", "c", "y", "F1", True), ("n2", "b", "z", "F1", True)]
    net = _net(rows, SUBS)
    cust = _customers(NODES)
    plan = plan_outage(net, cust, "e2")
    # F3 carries 1 customer, F2 2: the plan backfeeds from F3
    assert plan.points_to_close == ["n2"]
    assert plan.parts.loc[0, "candidate_points"] == "n1;n2"
    assert plan.closings.loc[0, "donor_customers_after"] == 3
    # F3 rated for 2 customers at 2 kVA each: F2 (no rating given) is chosen instead
    limit = LoadingLimit(rating_kva={"F3": 4.0})
    plan = plan_outage(net, cust, "e2", loading=limit)
    assert plan.points_to_close == ["n1"]
    assert not plan.closings["over_limit"].any()
    # both over a 3-customer limit: flagged, not refused ...
    limit = LoadingLimit(max_customers=2)
    plan = plan_outage(net, cust, "e2", loading=limit)
    assert plan.points_to_close == ["n2"] and plan.closings.loc[0, "over_limit"]
    assert plan.closings.loc[0, "limit_detail"] == "3 customers > limit 2"
    assert plan.summary()["over_limit"] == 1
    # ... unless enforced: nothing closes and a generator is suggested
    plan = plan_outage(net, cust, "e2", loading=LoadingLimit(max_customers=2, enforce=True))
    assert plan.points_to_close == [] and plan.interrupted_ids == ["k_b", "k_c"]
    assert plan.parts.loc[0, "reason"] == "every donor would be over the loading limit"
    g = plan.generators.iloc[0]
    assert (g["node"], g["customers"], g["demand_kva"]) == ("b", 2, 4.0)


def test_no_point_suggests_a_generator_at_the_head_of_the_part():
    net = _net(BASE, SUBS)
    plan = plan_outage(net, _customers(NODES, psr={"c"}), "e2", loading=LoadingLimit(admd_kva=1.5))
    assert plan.points_to_close == [] and plan.restored_ids == []
    assert plan.psr_interrupted_ids == ["k_c"]
    assert plan.parts.loc[0, "reason"] == "no normally-open point to a part that stays energised"
    g = plan.generators.iloc[0]
    assert (g["node"], g["customers"], g["psr"], g["demand_kva"]) == ("b", 2, 1, 3.0)


def test_point_whose_other_side_is_also_isolated():
    rows = [*BASE, ("n1", "c", "y", "F1", True)]
    net = _net(rows, SUBS)
    cust = _customers(NODES)
    plan = plan_outage(net, cust, ["e2", "f1"])
    assert plan.points_to_close == []
    assert set(plan.interrupted_ids) == {"k_b", "k_c", "k_x", "k_y"}
    assert set(plan.parts["reason"]) == {
        "its normally-open points lead only to parts that stay de-energised"
    }
    # isolating the far node itself: the point leads to a work site
    plan = plan_outage(net, cust, ["e2", "node:y"])
    assert plan.points_to_close == [] and set(plan.interrupted_ids) == {"k_b", "k_c", "k_y"}
    site = plan.customers.set_index("customer_id").loc["k_y"]
    assert (site["part"], site["elements"]) == (-1, "node:y")
    # a second point from the far part to a live circuit: a chain, one feed per part
    net = _net([*rows, ("n2", "y", "z", "F2", True)], SUBS)
    plan = plan_outage(net, cust, ["e2", "f1"])
    assert plan.points_to_close == ["n2", "n1"]
    parts = plan.parts.set_index("head_node")
    assert parts.loc["x", "point_to_close"] == "n2" and parts.loc["x", "fed_from_part"] == -1
    assert parts.loc["b", "point_to_close"] == "n1"
    assert parts.loc["b", "fed_from_part"] == parts.loc["x", "part"]
    assert set(parts["donor_circuit"]) == {"F3"}
    assert plan.closings["donor_customers_after"].tolist() == [5, 5]
    assert plan.interrupted_ids == []


def test_two_equipment_the_same_day_plan_together():
    """Each alone backfeeds from the other's circuit through n1; together they cannot."""
    rows = [*BASE, ("n1", "b", "y", "F1", True), ("n2", "c", "z", "F1", True)]
    net = _net(rows, SUBS)
    cust = _customers([*NODES, "z", "z"])
    cust["customer_id"] = [*cust["customer_id"][:6], "k_z2", "k_z3"]  # F3 the heavier
    planner = BackfeedPlanner(net, cust)
    alone_a = planner.plan("e1")
    alone_b = planner.plan("f1")
    assert alone_a.points_to_close == ["n1"]  # F2 (2 customers) lighter than F3 (3)
    assert alone_b.points_to_close == ["n1"]
    both = planner.plan(["e1", "f1"])
    assert both.points_to_close == ["n2", "n1"]
    assert both.interrupted_ids == []
    assert set(both.parts["donor_circuit"]) == {"F3"}
    assert both.closings["donor_customers_after"].tolist() == [3 + 5, 3 + 5]
    # the same day with n2 gone: nobody can be restored
    planner = BackfeedPlanner(net := _net(rows[:-1], SUBS), cust)
    both = planner.plan(["e1", "f1"])
    assert both.points_to_close == [] and len(both.interrupted_ids) == 5


def test_closed_ring():
    """A ring closed between F1 and F2, a spur F3 with a point into the ring."""
    rows = [
        ("r1", "S", "a", "F1", False),
        ("r2", "a", "b", "F1", False),
        ("r3", "b", "c", "F2", False),
        ("r4", "c", "S", "F2", False),
        ("s1", "U", "z", "F3", False),
        ("s2", "z", "w", "F3", False),
        ("n1", "w", "b", "F3", True),
    ]
    net = _net(rows, [("S1", "S"), ("S3", "U")])
    cust = _customers(["a", "b", "c", "z", "w"])
    # a cable section of the ring: everyone still fed round it
    plan = plan_outage(net, cust, "r2")
    assert plan.summary()["customers_off"] == 0 and plan.points_to_close == []
    # the spur off: fed back from the ring, both of its circuits named, counted once
    plan = plan_outage(net, cust, "s1")
    assert plan.points_to_close == ["n1"]
    c = plan.closings.iloc[0]
    assert c["donor_circuit"] == "F1 + F2" and c["donor_substation"] == "S1"
    assert (c["donor_customers_before"], c["donor_customers_after"]) == (3, 5)
    # both sides of the ring at a: a is a work site; the rest of the ring is still fed
    plan = plan_outage(net, cust, "node:a")
    assert plan.interrupted_ids == ["k_a"] and plan.parts.empty


def test_agrees_with_downstream_customers_and_open_points_change_nothing():
    rows = [*BASE, ("n1", "c", "y", "F1", True)]
    net = _net(rows, SUBS)
    cust = _customers(NODES)
    for pts in (["e1"], ["e2", "f2"], ["node:b"], ["e3", "node:x"]):
        plan = plan_outage(net, cust, pts)
        want = downstream_customers(net, cust, pts, together=True)["customer_id"]
        assert sorted(plan.customers["customer_id"]) == sorted(want)
    # isolating the normally-open point itself: nobody off, and it is never closed
    plan = plan_outage(net, cust, "n1")
    assert plan.summary()["customers_off"] == 0
    plan = plan_outage(net, cust, ["e2", "n1"])
    assert plan.points_to_close == [] and plan.parts.loc[0, "candidate_points"] == ""


def test_psr_and_medically_dependent_are_restored_first_under_a_limit():
    """Two parts, one donor with room for one of them: the weights decide which."""
    rows = [
        ("e1", "S", "a", "F1", False),
        ("e2", "S", "b", "F2", False),
        ("g1", "U", "z", "F3", False),
        ("n1", "a", "z", "F1", True),
        ("n2", "b", "z", "F2", True),
    ]
    net = _net(rows, [("S1", "S"), ("S3", "U")])
    cust = pd.DataFrame(
        {
            "customer_id": ["a1", "a2", "a3", "b1", "z1"],
            "connection_node": ["a", "a", "a", "b", "z"],
            "psr": [False, False, False, True, False],
            "medically_dependent": [False, False, False, False, False],
        }
    )
    limit = LoadingLimit(max_customers=4, enforce=True)
    # F3 carries 1 and may carry 4: part b (1 PSR customer, weight 10) before part a (3 x 1)
    plan = plan_outage(net, cust, ["e1", "e2"], loading=limit)
    assert plan.points_to_close == ["n2"] and plan.restored_ids == ["b1"]
    assert plan.generators["node"].tolist() == ["a"]
    # PSR weighted as any customer: the larger part wins
    flat = PlanWeights(psr=1.0)
    plan = plan_outage(net, cust, ["e1", "e2"], loading=limit, weights=flat)
    assert plan.points_to_close == ["n1"] and plan.psr_interrupted_ids == ["b1"]
    # medically dependent outweighs them again (flags given per customer)
    plan = plan_outage(
        net, cust, ["e1", "e2"], loading=limit, weights=flat,
        medically_dependent=[False, False, False, True, False],
    )  # fmt: skip
    assert plan.points_to_close == ["n2"]
    assert plan.customers.set_index("customer_id").loc["b1", "medically_dependent"]
    # without a limit both are restored, whatever the weights
    plan = plan_outage(net, cust, ["e1", "e2"])
    assert plan.points_to_close == ["n1", "n2"] or plan.points_to_close == ["n2", "n1"]
    assert plan.interrupted_ids == []


@pytest.mark.parametrize(
    "bad",
    [
        lambda: PlanWeights(psr=-1.0),
        lambda: PlanWeights(customer=float("nan")),
        lambda: LoadingLimit(max_customers=-3),
        lambda: LoadingLimit(admd_kva=float("inf")),
        lambda: LoadingLimit(rating_kva={"F1": 0.0}),
    ],
)
def test_bad_options_are_refused(bad):
    with pytest.raises(ParameterError):
        bad()


def test_unknown_point_is_refused():
    net = _net(BASE, SUBS)
    with pytest.raises(ParameterError, match="not an edge id or node id"):
        plan_outage(net, _customers(NODES), "nope")


#: pandas' str columns cannot hold a lone surrogate at all: the readers never pass one
_HOLDABLE = [
    (i, v) for i, v in HOSTILE if v.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == v
]


@pytest.mark.parametrize(("name", "value"), _HOLDABLE, ids=[i for i, _ in _HOLDABLE])
def test_hostile_ids_are_data(name, value):
    """Ids of points, circuits and customers come back as the same text, never interpreted."""
    rows = [
        ("e1", "S", "a", "F1", False),
        (value, "a", "b", "F1", False),
        ("f1", "T", "x", value, False),
        ("n1", "b", "x", "F1", True),
    ]
    net = _net(rows, [("S1", "S"), ("S2", "T")])
    cust = pd.DataFrame({"customer_id": [value, "k2"], "connection_node": ["b", "x"]})
    plan = plan_outage(net, cust, f"edge:{value.strip()}")  # ids are read trimmed
    assert plan.points_to_close == ["n1"]
    assert plan.restored_ids == [value.strip()]
    assert plan.elements == (f"edge:{value.strip()}",)
    assert plan.closings.loc[0, "donor_circuit"] == value.strip()


# --------------------------------------------------------------------------- synthetic oracle
def _synthetic(n_customers: int, ring_fraction: float):
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import _synth_network as synth

    s = synth.make(n_customers, seed=3, ring_fraction=ring_fraction)
    edges = pd.DataFrame(
        {
            "edge_id": [f"E{i}" for i in range(s.n_edges)],
            "from_node": [f"N{i}" for i in s.edge_from],
            "to_node": [f"N{i}" for i in s.edge_to],
            "circuit_id": [f"C{i}" for i in s.edge_circuit],
            "normally_open": s.edge_open,
        }
    )
    subs = pd.DataFrame(
        {
            "substation_id": [f"S{i}" for i in range(len(s.sub_node))],
            "node": [f"N{i}" for i in s.sub_node],
        }
    )
    rng = np.random.default_rng(0)
    customers = pd.DataFrame(
        {
            "customer_id": [f"K{i}" for i in range(len(s.cust_node))],
            "connection_node": [f"N{i}" for i in s.cust_node],
            "psr": rng.random(len(s.cust_node)) < 0.1,
        }
    )
    return edges, subs, customers


def _graph(edges, subs, iso_edges, iso_nodes, closed_points):
    """Closed edges (and the points closed), less isolated ones, and a source on every busbar."""
    g = nx.MultiGraph()
    keep = (~edges["normally_open"] | edges["edge_id"].isin(closed_points)) & ~edges[
        "edge_id"
    ].isin(iso_edges)
    e = edges[keep & ~edges["from_node"].isin(iso_nodes) & ~edges["to_node"].isin(iso_nodes)]
    g.add_nodes_from(set(edges["from_node"]) | set(edges["to_node"]))
    g.remove_nodes_from(iso_nodes)
    g.add_edges_from(zip(e["from_node"], e["to_node"], strict=True))
    g.add_edges_from(("SOURCE", b) for b in subs["node"] if b not in iso_nodes)
    return g


def _cycle_rank(g) -> int:
    return g.number_of_edges() - g.number_of_nodes() + nx.number_connected_components(g)


@pytest.mark.parametrize("ring_fraction", [0.005, 0.2])
def test_plans_match_an_independent_recomputation(ring_fraction):
    """Every plan: supplied after switching, the most any switching can restore, radial."""
    edges, subs, customers = _synthetic(1500, ring_fraction)
    net = Network(edges, subs)
    planner = BackfeedPlanner(net, customers)
    rng = np.random.default_rng(ring_fraction > 0.1)
    closed = edges.loc[~edges["normally_open"], "edge_id"].to_numpy()
    nodes = np.unique(edges[["from_node", "to_node"]].to_numpy())
    node_of = dict(zip(customers["customer_id"], customers["connection_node"], strict=True))
    cases = [[e] for e in rng.choice(closed, 20, replace=False)]
    cases += [list(rng.choice(closed, 3, replace=False)) for _ in range(6)]
    cases += [
        [f"node:{n}", e] for n, e in zip(rng.choice(nodes, 6), rng.choice(closed, 6), strict=True)
    ]
    n_restored = n_kept_off = 0
    for pts in cases:
        plan = planner.plan(pts)
        iso_e = {p for p in pts if not p.startswith("node:")}
        iso_n = {p[5:] for p in pts if p.startswith("node:")}
        off = set(plan.customers["customer_id"])
        assert off == set(downstream_customers(net, customers, pts, together=True)["customer_id"])
        before = _graph(edges, subs, iso_e, iso_n, set())
        after = _graph(edges, subs, iso_e, iso_n, set(plan.points_to_close))
        supplied = nx.node_connected_component(after, "SOURCE")
        restored = {c for c in off if node_of[c] in supplied}
        assert set(plan.restored_ids) == restored, pts
        # no switching of every normally-open point restores anyone more
        every = set(edges.loc[edges["normally_open"], "edge_id"]) - iso_e
        best = nx.node_connected_component(_graph(edges, subs, iso_e, iso_n, every), "SOURCE")
        assert restored == {c for c in off if node_of[c] in best}, pts
        # radial: no new cycle, so no parallel between circuits or substations
        assert _cycle_rank(after) == _cycle_rank(before), pts
        assert set(plan.psr_interrupted_ids) == set(
            customers.loc[
                customers["psr"] & customers["customer_id"].isin(off - restored), "customer_id"
            ]
        )
        n_restored += len(restored)
        n_kept_off += len(off - restored)
    assert n_restored > 100 and n_kept_off > 0  # the check is not vacuous


# --------------------------------------------------------------------------- IEEE LV feeder
def _pandapower():
    with warnings.catch_warnings():  # pandapower's imports warn under pandas 3
        warnings.simplefilter("ignore")
        pp = pytest.importorskip("pandapower")
        pn = pytest.importorskip("pandapower.networks")
        top = pytest.importorskip("pandapower.topology")
    return pp, pn, top


@pytest.fixture(scope="module")
def ieee_nop():
    """The IEEE European LV feeder with normally-open links between far-apart branches.

    Eight links between the closest pairs of leaf buses more than 20 sections apart
    along the feeder (pandapower: lines out of service, the 4c_70 cable's data, zero
    sequence included for the three-phase run).
    """
    pp, pn, _top = _pandapower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.ieee_european_lv_asymmetric("on_peak_566")
    line = net.line
    g = nx.Graph()
    g.add_edges_from(zip(line["from_bus"], line["to_bus"], strict=True))
    leaves = sorted(b for b, d in g.degree() if d == 1 and b != net.trafo["lv_bus"].iloc[0])
    xy = shapely.get_coordinates(shapely.from_geojson(net.bus.loc[leaves, "geo"].to_numpy()))
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    d[np.tril_indices(len(leaves))] = np.inf
    used: set[int] = set()
    added = []
    for flat in np.argsort(d, axis=None):
        i, j = np.unravel_index(flat, d.shape)
        a, b = leaves[i], leaves[j]
        if a in used or b in used or nx.shortest_path_length(g, a, b) <= 20:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = pp.create_line_from_parameters(
                net, a, b, length_km=max(float(d[i, j]), 1.0) / 1000, r_ohm_per_km=0.446,
                x_ohm_per_km=0.071, c_nf_per_km=0.0, max_i_ka=0.421, in_service=False,
                r0_ohm_per_km=1.505, x0_ohm_per_km=0.083, c0_nf_per_km=0.0,
            )  # fmt: skip
        net.line.at[k, "geo"] = shapely.to_geojson(shapely.LineString([xy[i], xy[j]]))
        used |= {a, b}
        added.append(k)
        if len(added) == 8:
            break
    return net, added


def _ieee_frames(net):
    line = net.line
    edges = pd.DataFrame(
        {
            "edge_id": [f"L{i}" for i in line.index],
            "from_node": line["from_bus"].astype(str).to_numpy(),
            "to_node": line["to_bus"].astype(str).to_numpy(),
            "circuit_id": "FEEDER",
            "normally_open": ~line["in_service"].astype(bool).to_numpy(),
        }
    )
    subs = pd.DataFrame({"substation_id": ["T1"], "node": [str(net.trafo["lv_bus"].iloc[0])]})
    loads = net.asymmetric_load
    customers = pd.DataFrame(
        {
            "customer_id": loads["name"].to_numpy(),
            "connection_node": loads["bus"].astype(str).to_numpy(),
        }
    )
    return edges, subs, customers


def _unsupplied(top, net, off_lines=(), on_lines=()) -> set[int]:
    was = net.line["in_service"].copy()
    net.line.loc[list(off_lines), "in_service"] = False
    net.line.loc[list(on_lines), "in_service"] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mg = top.create_nxgraph(net)
            return set(top.unsupplied_buses(net, mg=mg)), _cycle_rank(nx.Graph(mg))
    finally:
        net.line["in_service"] = was


def _ieee_cases(net, every: int):
    return [int(i) for i in net.line.index[net.line["in_service"]][::every]]


def _check_ieee(net, added, lines):
    _pp, _pn, top = _pandapower()
    edges, subs, customers = _ieee_frames(net)
    planner = BackfeedPlanner(Network(edges, subs), customers)
    bus_of = dict(zip(customers["customer_id"], net.asymmetric_load["bus"], strict=True))
    n_closing = n_restored = n_left = 0
    for i in lines:
        plan = planner.plan(f"L{i}")
        closing = [int(p[1:]) for p in plan.points_to_close]
        off_only, _ = _unsupplied(top, net, off_lines=[i])
        after, rank = _unsupplied(top, net, off_lines=[i], on_lines=closing)
        every, _ = _unsupplied(top, net, off_lines=[i], on_lines=added)
        assert set(plan.customers["customer_id"]) == {c for c, b in bus_of.items() if b in off_only}
        assert set(plan.interrupted_ids) == {c for c, b in bus_of.items() if b in after}, i
        assert after == every, i  # restores all that any switching could
        assert rank == 0, i  # still radial
        n_closing += bool(closing)
        n_restored += len(plan.restored_ids)
        n_left += len(plan.interrupted_ids)
    assert n_closing > 0 and n_restored > 0 and n_left > 0  # not vacuous
    return n_closing


def test_ieee_feeder_plans_match_pandapower_topology(ieee_nop):
    net, added = ieee_nop
    assert _check_ieee(net, added, _ieee_cases(net, 24)) >= 3


@pytest.mark.slow
def test_ieee_feeder_every_section_matches_pandapower_topology(ieee_nop):
    net, added = ieee_nop
    _check_ieee(net, added, _ieee_cases(net, 1))


def test_ieee_power_flow_check_matches_a_pandapower_run(ieee_nop):
    pp, _pn, _top = _pandapower()
    from smartstreet_geo.network import power_flow_check

    net, _added = ieee_nop
    edges, subs, customers = _ieee_frames(net)
    planner = BackfeedPlanner(Network(edges, subs), customers)
    # the section whose plan restores the most customers through a closing
    best = max(_ieee_cases(net, 12), key=lambda i: len(planner.plan(f"L{i}").restored_ids))
    plan = planner.plan(f"L{best}")
    assert plan.points_to_close
    line_of = {f"L{i}": int(i) for i in net.line.index}
    bus_of = {str(b): int(b) for b in net.bus.index}
    before = net.line["in_service"].copy()
    fast = {"numba": False}  # pandapower's compilation takes longer than this network's run
    check = power_flow_check(plan, net, line_of_edge=line_of, bus_of_node=bus_of, options=fast)
    assert net.line["in_service"].equals(before)  # the model is not changed
    # the same switching set up by hand
    ref = copy.deepcopy(net)
    ref.line.at[best, "in_service"] = False
    for p in plan.points_to_close:
        ref.line.at[int(p[1:]), "in_service"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, numba=False)
    assert check.converged
    vm = ref.res_bus["vm_pu"].reindex(check.buses["bus"]).to_numpy()
    np.testing.assert_allclose(check.buses["vm_pu"].to_numpy(), vm, rtol=0, atol=1e-9)
    load = ref.res_line["loading_percent"].reindex(check.lines["line"]).to_numpy()
    np.testing.assert_allclose(check.lines["loading_percent"].to_numpy(), load, atol=1e-9)
    # restored customers' buses are supplied, interrupted ones are not
    supplied = dict(zip(check.buses["node"], check.buses["supplied"], strict=True))
    node_of = dict(zip(customers["customer_id"], customers["connection_node"], strict=True))
    assert all(supplied[node_of[c]] for c in plan.restored_ids)
    assert not any(supplied[node_of[c]] for c in plan.interrupted_ids)
    s = check.summary
    assert s["vm_min_pu"] == pytest.approx(np.nanmin(vm))
    assert s["max_line_loading_percent"] == pytest.approx(np.nanmax(load))
    assert s["ok"] == (s["voltage_violations"] == 0 and s["overloaded_lines"] == 0)
    # an element without a line in the model is refused, not skipped
    with pytest.raises(ParameterError, match="line_of_edge"):
        power_flow_check(plan, net, line_of_edge={}, bus_of_node=bus_of, options=fast)


def test_inferred_customers_are_restored_only_when_every_cable_they_touch_is():
    import geopandas as gpd
    from shapely import LineString, Point

    xy = {"S": (0, 0), "a": (100, 0), "b": (200, 0), "c": (300, 0), "T": (300, 100)}
    rows = [
        ("e1", "S", "a", "F1", False),
        ("e2", "a", "b", "F1", False),
        ("e3", "b", "c", "F1", False),
        ("f1", "T", "c", "F2", True),  # the normally-open point feeds c from T
    ]
    edges = gpd.GeoDataFrame(
        pd.DataFrame(
            rows, columns=["edge_id", "from_node", "to_node", "circuit_id", "normally_open"]
        ),
        geometry=[LineString([xy[r[1]], xy[r[2]]]) for r in rows],
        crs="EPSG:27700",
    )
    subs = pd.DataFrame({"substation_id": ["S1", "S2"], "node": ["S", "T"]})
    net = Network(edges, subs)
    customers = gpd.GeoDataFrame(
        {"customer_id": ["on_e3", "on_e2", "at_b"], "connection_node": [None, None, None]},
        geometry=[Point(250, 5), Point(150, 5), Point(200, 3)],  # at_b touches e2 and e3
        crs="EPSG:27700",
    )
    plan = plan_outage(net, customers, "e2")
    got = plan.customers.set_index("customer_id")
    assert set(got["method"]) == {"inferred"}
    assert got.loc["on_e3", "status"] == "restored" and got.loc["on_e3", "restored_through"] == "f1"
    assert got.loc["on_e2", "status"] == "interrupted" and got.loc["on_e2", "part"] == -1
    assert got.loc["on_e2", "elements"] == "edge:e2"
    assert got.loc["at_b", "status"] == "interrupted"  # it may hang off the isolated cable
    # fed straight from a busbar: the substation is the donor, with every customer it feeds
    c = plan.closings.iloc[0]
    assert (c["donor_circuit"], c["donor_substation"], c["donor_customers_before"]) == ("", "S2", 0)
    want = downstream_customers(net, customers, "e2")["customer_id"]
    assert sorted(got.index) == sorted(want)


# --------------------------------------------------------------------------- campaign
def _campaign_inputs(rows, subs, customers, equipment):
    from smartstreet_geo.campaign import _circuits

    net = _net(rows, subs)
    placed = _circuits.Placed(net, net.attach(customers))
    return placed, equipment


def _plan_campaign(placed, customers, equipment, settings=None, medically_dependent=None):
    from smartstreet_geo.campaign import _circuits
    from smartstreet_geo.campaign.config import BackfeedSettings

    w: list[str] = []
    impact = _circuits.downstream(customers, placed, equipment, w)
    res = _circuits.plan_outages(
        customers,
        placed,
        equipment,
        impact,
        settings or BackfeedSettings(),
        w,
        medically_dependent=medically_dependent,
    )
    return impact, res, w


RING = [
    ("r1", "S", "a", "F1", False),
    ("r2", "a", "b", "F1", False),
    ("r3", "b", "c", "F2", False),
    ("r4", "c", "S", "F2", False),
    ("sp", "b", "d", "F1", False),
    ("g1", "U", "z", "F3", False),
    ("n1", "d", "z", "F1", True),
]


def test_campaign_ring_cut_on_both_sides_the_same_day():
    """Alone neither equipment cuts anyone off; the same day both do, and n1 feeds them back."""
    from datetime import date

    import geopandas as gpd

    customers = gpd.GeoDataFrame(
        _customers(["a", "b", "c", "d", "z"], psr={"b"}),
        geometry=gpd.points_from_xy([400000] * 5, [300000] * 5),
        crs="EPSG:27700",
    )
    eq = gpd.GeoDataFrame(
        {
            "equipment_id": ["E1", "E2", "E3"],
            "edge_id": ["r1", "r4", None],
            "node": [None, None, "nowhere"],
            "outage_date": [date(2027, 5, 3), date(2027, 5, 3), date(2027, 6, 1)],
        },
        geometry=gpd.points_from_xy([400000] * 3, [300000] * 3),
        crs="EPSG:27700",
    )
    placed, eq = _campaign_inputs(RING, [("S1", "S"), ("S3", "U")], customers, eq)
    impact, res, _w = _plan_campaign(placed, customers, eq)
    assert impact.affected.empty  # each alone: everyone fed round the ring
    assert res.impact.affected.empty  # together: all kept on supply through n1
    assert set(res.backfed["customer_id"]) == {"k_a", "k_b", "k_c", "k_d"}
    assert set(res.backfed["point"]) == {"n1"} and set(res.backfed["donor_circuit"]) == {"F3"}
    t = res.table.set_index("equipment_id")
    assert t.loc["E1", "planned_with"] == "E2" and t.loc["E1", "points_to_close"] == "n1"
    assert (t.loc["E1", "customers_off"], t.loc["E1", "customers_restored"]) == (4, 4)
    assert (t.loc["E1", "psr_off"], t.loc["E1", "psr_interrupted"]) == (1, 0)
    assert t.loc["E1", "donor_customers_after"] == "5"
    assert t.loc["E3", "detail"].startswith("not placed on the network (node column names")
    assert list(res.table.columns) == list(OUTAGE_PLAN_COLUMNS)
    assert list(res.plans) == ["2027-05-03"]
    # without the point: the four are attributed to both equipment and stay on the call list
    placed, eq = _campaign_inputs(RING[:-1], [("S1", "S"), ("S3", "U")], customers, eq)
    _impact, res, _w = _plan_campaign(placed, customers, eq)
    got = res.impact.affected.groupby("equipment_id")["customer_id"].apply(set).to_dict()
    assert got == {"E1": {"k_a", "k_b", "k_c", "k_d"}, "E2": {"k_a", "k_b", "k_c", "k_d"}}
    assert res.backfed.empty
    t = res.table.set_index("equipment_id")
    assert t.loc["E1", "generator_node"] in ("a", "c") and t.loc["E1", "generator_customers"] == 4


def test_campaign_loading_limit_and_medically_dependent():
    from datetime import date

    from smartstreet_geo.campaign.config import BackfeedSettings

    rows = [
        ("e1", "S", "a", "F1", False),
        ("e2", "S", "b", "F2", False),
        ("g1", "U", "z", "F3", False),
        ("n1", "a", "z", "F1", True),
        ("n2", "b", "z", "F2", True),
    ]
    customers = pd.DataFrame(
        {
            "customer_id": ["a1", "a2", "b1", "z1"],
            "connection_node": ["a", "a", "b", "z"],
            "psr": [True, False, True, False],
        }
    )
    eq = pd.DataFrame(
        {
            "equipment_id": ["EA", "EB"],
            "edge_id": ["e1", "e2"],
            "outage_date": [date(2027, 5, 3)] * 2,
        }
    )
    placed, eq = _campaign_inputs(rows, [("S1", "S"), ("S3", "U")], customers, eq)
    settings = BackfeedSettings(max_customers_per_circuit=3, enforce_limit=True)
    # a (one PSR + one other, weight 11) before b (one PSR, weight 10)
    _i, res, _w = _plan_campaign(placed, customers, eq, settings)
    assert set(res.backfed["customer_id"]) == {"a1", "a2"}
    assert res.impact.affected["customer_id"].tolist() == ["b1"]
    # b1 medically dependent: b first, then a does not fit
    _i, res, _w = _plan_campaign(
        placed, customers, eq, settings, medically_dependent=[None, False, True, None]
    )
    assert set(res.backfed["customer_id"]) == {"b1"}
    t = res.table.set_index("equipment_id")
    assert t.loc["EA", "generator_node"] == "a" and t.loc["EA", "generator_demand_kva"] == 4.0
    assert t.loc["EB", "points_to_close"] == "n2" and not t.loc["EB", "over_limit"]
    # flagged, not enforced: both closed, both flagged
    settings = BackfeedSettings(max_customers_per_circuit=3)
    _i, res, _w = _plan_campaign(placed, customers, eq, settings)
    assert res.impact.affected.empty and res.table["over_limit"].all()
    assert set(res.table["limit_detail"]) == {"4 customers > limit 3"}


def test_campaign_without_a_network_plans_nothing():
    from smartstreet_geo.campaign import _circuits
    from smartstreet_geo.campaign.config import BackfeedSettings

    customers = _customers(["a", "b"])
    customers["circuit_id"] = ["F1", "F1"]
    eq = pd.DataFrame(
        {
            "equipment_id": ["E1"],
            "circuit_id": ["F1"],
            "substation_id": [None],
            "outage_date": [None],
        }
    )
    w: list[str] = []
    impact = _circuits.downstream(customers, None, eq, w)
    res = _circuits.plan_outages(customers, None, eq, impact, BackfeedSettings(), w)
    assert res.impact is impact and res.backfed.empty
    assert any("needs the network" in x for x in w)
    assert res.table.loc[0, "customers_off"] == 2 and res.table.loc[0, "customers_interrupted"] == 2


@pytest.fixture(scope="module")
def demo_campaign():
    from smartstreet_geo import demo, read_customers, read_equipment, read_network
    from smartstreet_geo.campaign import _circuits
    from smartstreet_geo.campaign.config import load_config

    cfg = load_config(demo.path("campaign"))
    net_r = read_network(demo.path("network_edges"), demo.path("substations"))
    eq = read_equipment(demo.path("equipment")).data
    customers = read_customers(demo.path("customers")).data
    placed = _circuits.place(customers, net_r, cfg)
    outage = eq[eq["outage_required"]].copy()
    outage["outage_date"] = [pd.Timestamp(d).date() for d in outage["install_date"]]
    impact, res, w = _plan_campaign(placed, customers, outage)
    return customers, placed, outage, impact, res, w


def test_demo_campaign_plans(demo_campaign):
    """The demo: the outage calls a plan avoids, checked against plan_outage day by day."""
    customers, placed, outage, impact, res, _w = demo_campaign
    psr = set(customers.loc[customers["psr"], "customer_id"])
    before = set(impact.affected["customer_id"])
    after = set(res.impact.affected["customer_id"])
    # the plan keeps customers on supply (the demo has normally-open points to close), and
    # nobody is interrupted by the plan who was not before
    assert after < before and len(after & psr) < len(before & psr)
    # pairs: kept + backfed = before, nothing in both
    both = res.impact.affected.merge(res.backfed, on=["customer_id", "equipment_id"])
    assert both.empty
    assert len(res.impact.affected) + len(res.backfed) == len(impact.affected)
    # the table adds up, one row per outage equipment, and names no customer
    t = res.table
    assert sorted(t["equipment_id"]) == sorted(outage["equipment_id"])
    assert (t["customers_off"] == t["customers_restored"] + t["customers_interrupted"]).all()
    assert t["customers_restored"].sum() == len(res.backfed)
    assert not set(t.astype(str).to_numpy().ravel()) & set(customers["customer_id"])
    # the reconciliation's words for customers no longer called
    from smartstreet_geo.campaign._circuits import backfeed_reasons

    reasons = backfeed_reasons(res.backfed)
    assert set(reasons.index) == set(res.backfed["customer_id"])
    for r in res.backfed.head(50).itertuples(index=False):
        assert f"supply maintained by backfeed through {r.point} " in reasons[r.customer_id]
        assert f"while {r.equipment_id} is installed" in reasons[r.customer_id]
    # every day's plan, recomputed with plan_outage from the equipment ids
    for day, g in outage.groupby("outage_date"):
        if day.isoformat() not in res.plans:
            continue
        plan = plan_outage(
            placed.network,
            placed.customers,
            [f"equipment:{e}" for e in g["equipment_id"]],
            equipment=g,
            psr=customers["psr"].to_numpy(),
        )
        assert plan.restored_ids == res.plans[day.isoformat()].restored_ids
        day_saved = set(
            res.backfed.loc[res.backfed["equipment_id"].isin(g["equipment_id"]), "customer_id"]
        )
        assert day_saved <= set(plan.restored_ids)


@pytest.mark.slow
def test_ieee_three_phase_power_flow_check_matches_a_pandapower_run(ieee_nop):
    """The unbalanced run (the feeder's loads are per phase) against runpp_3ph set up by hand."""
    pp, _pn, _top = _pandapower()
    from smartstreet_geo.network import power_flow_check

    net, _added = ieee_nop
    edges, subs, customers = _ieee_frames(net)
    planner = BackfeedPlanner(Network(edges, subs), customers)
    best = max(_ieee_cases(net, 24), key=lambda i: len(planner.plan(f"L{i}").restored_ids))
    plan = planner.plan(f"L{best}")
    line_of = {f"L{i}": int(i) for i in net.line.index}
    bus_of = {str(b): int(b) for b in net.bus.index}
    check = power_flow_check(plan, net, line_of_edge=line_of, bus_of_node=bus_of, three_phase=True)
    ref = copy.deepcopy(net)
    ref.line.at[best, "in_service"] = False
    for p in plan.points_to_close:
        ref.line.at[int(p[1:]), "in_service"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp_3ph(ref)
    assert check.converged
    vm = ref.res_bus_3ph[["vm_a_pu", "vm_b_pu", "vm_c_pu"]].min(axis=1, skipna=False)
    np.testing.assert_allclose(
        check.buses["vm_pu"].to_numpy(), vm.reindex(check.buses["bus"]).to_numpy(), atol=1e-9
    )
    load = ref.res_line_3ph["loading_percent"].reindex(check.lines["line"]).to_numpy()
    np.testing.assert_allclose(check.lines["loading_percent"].to_numpy(), load, atol=1e-9)
