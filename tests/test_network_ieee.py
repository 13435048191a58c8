"""The IEEE European LV Test Feeder (shipped in pandapower) against pandapower.topology.

A real UK LV network: 906 cable sections, 55 customers, one 11/0.416 kV
transformer; bus coordinates are British National Grid metres. For every cable
section and every LV bus, the customers who lose supply when it is isolated
must equal the buses pandapower.topology finds unsupplied (an independent
implementation on networkx). The same check runs on a variant with closed
rings and normally-open switches added, so meshed parts are covered too.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from smartstreet_geo.network import Network, circuit_members, downstream_customers

with warnings.catch_warnings():  # pandapower's imports warn under pandas 3
    warnings.simplefilter("ignore")
    pp = pytest.importorskip("pandapower")
    pn = pytest.importorskip("pandapower.networks")
    top = pytest.importorskip("pandapower.topology")


def _load_ieee():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pn.ieee_european_lv_asymmetric("on_peak_566")


def _frames(net):
    """Network edges, substations and customers in the library's canonical columns."""
    line = net.line  # a line out of service is a normally-open point (an open link)
    edges = gpd.GeoDataFrame(
        {
            "edge_id": [f"L{i}" for i in line.index],
            "from_node": line["from_bus"].astype(str).to_numpy(),
            "to_node": line["to_bus"].astype(str).to_numpy(),
            "circuit_id": "FEEDER",
            "normally_open": ~line["in_service"].astype(bool).to_numpy(),
        },
        geometry=shapely.from_geojson(line["geo"].to_numpy()),
        crs="EPSG:27700",
    )
    trafo = net.trafo.iloc[0]
    bus_geo = shapely.from_geojson(net.bus["geo"].to_numpy())
    bus_pt = pd.Series(bus_geo, index=net.bus.index)
    subs = gpd.GeoDataFrame(
        {"substation_id": ["T1"], "node": [str(trafo["lv_bus"])]},
        geometry=[bus_pt[trafo["lv_bus"]]],
        crs="EPSG:27700",
    )
    loads = net.asymmetric_load
    customers = gpd.GeoDataFrame(
        {
            "customer_id": loads["name"].to_numpy(),
            "connection_node": loads["bus"].astype(str).to_numpy(),
        },
        geometry=bus_pt[loads["bus"]].to_numpy(),
        crs="EPSG:27700",
    )
    return edges, subs, customers


def _unsupplied(net, **kw) -> set[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return set(top.unsupplied_buses(net, mg=top.create_nxgraph(net, **kw)))


def _oracle(net, before: set[int], *, line=None, bus=None) -> set[int]:
    """Buses pandapower finds unsupplied after isolating a line or bus, less those before."""
    if line is not None:
        was = bool(net.line.at[line, "in_service"])
        net.line.at[line, "in_service"] = False
        try:
            after = _unsupplied(net)
        finally:
            net.line.at[line, "in_service"] = was
    else:
        after = _unsupplied(net, nogobuses={bus}) | {bus}
    return after - before


def _check_every_line_and_bus(net):
    edges, subs, customers = _frames(net)
    network = Network(edges, subs)
    att = network.attach(customers, infer="none")  # connectivity only: the oracle's question
    counts = att.counts()
    assert counts["connected"] + counts["unfed"] == len(customers)
    load_bus = dict(zip(customers["customer_id"], net.asymmetric_load["bus"], strict=True))
    lines = net.line.index.tolist()
    lv_buses = [b for b in net.bus.index.tolist() if b != net.trafo["hv_bus"].iloc[0]]
    points = [f"L{i}" for i in lines] + [f"node:{b}" for b in lv_buses]
    got = downstream_customers(network, att, points, unplaced="ignore")
    by_point = got.groupby("isolation_point")["customer_id"].apply(set).to_dict()
    n_nonempty = 0
    before = _unsupplied(net)
    for i in lines:
        lost = _oracle(net, before, line=i)
        want = {c for c, b in load_bus.items() if b in lost}
        assert by_point.get(f"L{i}", set()) == want, f"line {i}"
        n_nonempty += bool(want)
    for b in lv_buses:
        lost = _oracle(net, before, bus=b)
        want = {c for c, bb in load_bus.items() if bb in lost}
        assert by_point.get(f"node:{b}", set()) == want, f"bus {b}"
    assert n_nonempty > 50  # the check is not vacuous
    return network, att


@pytest.fixture(scope="module")
def ieee():
    return _load_ieee()


def test_every_cable_section_and_bus_matches_pandapower(ieee):
    network, att = _check_every_line_and_bus(ieee)
    assert network.validate(att)["issue"].unique().tolist() == []  # radial, all fed


def test_membership_matches_pandapower(ieee):
    edges, subs, customers = _frames(ieee)
    network = Network(edges, subs)
    lv = int(ieee.trafo["lv_bus"].iloc[0])
    heads = edges[(edges["from_node"] == str(lv)) | (edges["to_node"] == str(lv))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mg = top.create_nxgraph(ieee)
    want: set[str] = set()
    for _, h in heads.iterrows():
        first = int(h["to_node"] if h["from_node"] == str(lv) else h["from_node"])
        reached = top.connected_component(mg, first, notravbuses={lv})
        want |= {str(b) for b in reached} - {str(lv)}
    m = circuit_members(network, customers)
    assert set(m["customer_id"]) == set(
        customers.loc[customers["connection_node"].isin(want), "customer_id"]
    )
    assert len(m) == len(customers)


def test_rings_and_open_points_match_pandapower(ieee):
    """Close three rings between nearby far-apart buses and open two switches."""
    net = _load_ieee()
    lines = net.line
    ends = lines["to_bus"].to_numpy()
    deg = pd.concat([lines["from_bus"], lines["to_bus"]]).value_counts()
    leaves = [b for b in ends if deg[b] == 1]
    geo = shapely.from_geojson(net.bus.loc[leaves, "geo"].to_numpy())
    xy = shapely.get_coordinates(geo)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    added = []
    for _ in range(3):  # the three closest pairs of leaves (deterministic)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        a, b = int(leaves[i]), int(leaves[j])
        d[i, :] = d[:, i] = d[j, :] = d[:, j] = np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = pp.create_line_from_parameters(
                net,
                a,
                b,
                length_km=0.01,
                r_ohm_per_km=0.1,
                x_ohm_per_km=0.1,
                c_nf_per_km=0.0,
                max_i_ka=0.2,
            )
        net.line.at[k, "geo"] = shapely.to_geojson(shapely.LineString([xy[i], xy[j]]))
        added.append(k)
    # open the first added link and one mid-feeder section: normally-open points (pandapower:
    # out of service)
    net.line.loc[[added[0], 500], "in_service"] = False
    network, _att = _check_every_line_and_bus(net)
    issues = network.validate()
    assert issues["issue"].unique().tolist() in (["closed_cycle"], ["closed_cycle", "unfed_part"])
    # two closed links: two cycles
    assert issues.loc[issues["issue"] == "closed_cycle", "group"].nunique() == 2


def test_inferred_placement_never_misses_a_cut_customer(ieee):
    """Customers located at their bus but without a connection node: conservative answers."""
    edges, subs, customers = _frames(ieee)
    network = Network(edges, subs)
    exact = downstream_customers(network, customers, edges["edge_id"].tolist())
    blind = customers.drop(columns="connection_node")
    inferred = downstream_customers(network, blind, edges["edge_id"].tolist())
    assert set(inferred["method"]) == {"inferred"}
    e = exact.groupby("isolation_point")["customer_id"].apply(set).to_dict()
    i = inferred.groupby("isolation_point")["customer_id"].apply(set).to_dict()
    for point, want in e.items():
        assert want <= i.get(point, set()), point
    extra = sum(len(i[p] - e.get(p, set())) for p in i)
    # only the cables touching a customer's own bus can add it: at most one per customer per
    # service cable, so the extras are few
    assert extra <= len(customers)
