"""Circuits and outages on small hand-drawn networks, and properties against brute force.

The hand-drawn network (coordinates relative to E 400000, N 300000; metres)::

                 a4 --- a2 ... (F1 runs north from the busbar S1BB)
    F1:  S1BB -e1- a1 -e2- a2 -e3- a3
                           a2 -e4- a4                (spur)
    F2:  S1BB -f1- b1 -f2- b2 -f3- b3
    ring (closed link):   a3 -ring- b3               (F1 and F2 form a closed ring)
    F3:  S1BB -g1- c1 -g2- c2 -nop1 (normally open)- d2
    G1:  S2BB -h1- d1 -h2- d2                         (second substation)
    F4:  S1BB -k1- k1                                  (a way with no customers)
    unfed:   x1 -x- x2                                 (connected to nothing)

Expected answers below are worked out by hand from this drawing.
"""

from __future__ import annotations

import warnings
from collections import deque

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

from smartstreet_geo.errors import CRSError, ParameterError, SmartStreetGeoWarning
from smartstreet_geo.network import (
    Network,
    circuit_members,
    downstream_customers,
    equipment_isolation_points,
    reconcile_circuits,
)

E0, N0 = 400_000.0, 300_000.0
NODES = {
    "S1BB": (0, 0),
    "a1": (0, 50),
    "a2": (0, 100),
    "a3": (0, 150),
    "a4": (-50, 100),
    "b1": (50, 0),
    "b2": (100, 0),
    "b3": (100, 150),
    "c1": (0, -50),
    "c2": (0, -100),
    "d2": (0, -150),
    "d1": (0, -200),
    "S2BB": (0, -250),
    "k1": (-50, 0),
    "x1": (300, 300),
    "x2": (350, 300),
}
EDGES = [
    # edge_id, from, to, circuit, substation, normally_open
    ("e1", "S1BB", "a1", "F1", "S1", False),
    ("e2", "a1", "a2", "F1", "S1", False),
    ("e3", "a2", "a3", "F1", "S1", False),
    ("e4", "a2", "a4", "F1", "S1", False),
    ("f1", "S1BB", "b1", "F2", "S1", False),
    ("f2", "b1", "b2", "F2", "S1", False),
    ("f3", "b2", "b3", "F2", "S1", False),
    ("ring", "a3", "b3", "F1", "S1", False),
    ("g1", "S1BB", "c1", "F3", "S1", False),
    ("g2", "c1", "c2", "F3", "S1", False),
    ("nop1", "c2", "d2", "F3", "S1", True),
    ("h1", "S2BB", "d1", "G1", "S2", False),
    ("h2", "d1", "d2", "G1", "S2", False),
    ("k1", "S1BB", "k1", "F4", "S1", False),
    ("x", "x1", "x2", "X9", None, False),
]
CUSTOMERS = [
    # customer_id, connection_node, declared circuit, location offset from the node (or xy)
    ("cA1", "a1", "F1", (5, 0)),
    ("cA4", "a4", "F1", (0, 5)),
    ("cB2", "b2", "F2", (0, -5)),
    ("cB3", "b3", "F1", (5, 0)),  # declared F1, connected in the F1/F2 ring: agrees
    ("cC2", "c2", "F2", (5, 0)),  # declared F2, connected to F3: disagrees
    ("cD2", "d2", "G1", (5, 0)),
    ("cX", "x2", "X9", (0, 5)),  # on the unfed part
    ("cNone", None, "F3", None),  # no connection node: placed at (10, -75), by g2
    ("cUnknown", "zz", None, None),  # node not in the network, at (5, 45): by e1
]
XY_NO_NODE = {"cNone": (10, -75), "cUnknown": (5, 45)}


def _xy(x: float, y: float) -> tuple[float, float]:
    return (E0 + x, N0 + y)


def make_network(edges=EDGES, order=None, flip=()) -> Network:
    rows = [EDGES_ROW(e) for e in edges]
    frame = pd.DataFrame(rows)
    geoms = [LineString([_xy(*NODES[r["from_node"]]), _xy(*NODES[r["to_node"]])]) for r in rows]
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:27700")
    for eid in flip:  # the same edge drawn the other way round
        i = gdf.index[gdf["edge_id"] == eid][0]
        gdf.loc[i, ["from_node", "to_node"]] = [gdf.at[i, "to_node"], gdf.at[i, "from_node"]]
        gdf.loc[i, "geometry"] = gdf.geometry[i].reverse()
    if order is not None:
        gdf = gdf.iloc[order].reset_index(drop=True)
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1", "S2"], "node": ["S1BB", "S2BB"]},
        geometry=[Point(_xy(*NODES["S1BB"])), Point(_xy(*NODES["S2BB"]))],
        crs="EPSG:27700",
    )
    return Network(gdf, subs)


def EDGES_ROW(e):
    return dict(
        zip(
            ["edge_id", "from_node", "to_node", "circuit_id", "substation_id", "normally_open"],
            e,
            strict=True,
        )
    )


def make_customers() -> gpd.GeoDataFrame:
    pts = []
    for cid, node, _c, off in CUSTOMERS:
        if node is not None and node in NODES:
            x, y = NODES[node]
            pts.append(Point(_xy(x + off[0], y + off[1])))
        else:
            pts.append(Point(_xy(*XY_NO_NODE[cid])))
    return gpd.GeoDataFrame(
        {
            "customer_id": [c[0] for c in CUSTOMERS],
            "connection_node": [c[1] for c in CUSTOMERS],
            "circuit_id": [c[2] for c in CUSTOMERS],
        },
        geometry=pts,
        crs="EPSG:27700",
    )


@pytest.fixture(scope="module")
def net() -> Network:
    return make_network()


@pytest.fixture(scope="module")
def customers() -> gpd.GeoDataFrame:
    return make_customers()


def _down(net, customers, points, **kw) -> dict[str, list[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmartStreetGeoWarning)
        out = downstream_customers(net, customers, points, **kw)
    return {p: sorted(g["customer_id"]) for p, g in out.groupby("isolation_point", sort=False)}


# --------------------------------------------------------------------------- network model
def test_circuits_table(net):
    c = net.circuits
    assert c["circuit_id"].tolist() == ["F1", "F2", "F3", "F4", "G1"]
    assert c["substation_id"].tolist() == ["S1", "S1", "S1", "S1", "S2"]
    assert c["head_edge_ids"].tolist() == ["e1", "f1", "g1", "k1", "h1"]
    # F1 and F2 feed the ring a1..a4, b1..b3 together (7 nodes)
    assert c["n_nodes"].tolist() == [7, 7, 2, 1, 2]
    assert c["shared_with"].tolist() == ["F2", "F1", "", "", ""]


def test_validate_reports_every_problem_with_ids(net, customers):
    issues = net.validate(customers)
    by = {k: sorted(g["id"]) for k, g in issues.groupby("issue")}
    assert by["closed_cycle"] == sorted(["e1", "e2", "e3", "ring", "f1", "f2", "f3"])
    assert set(issues.loc[issues["issue"] == "closed_cycle", "group"]) == {0}
    assert by["unfed_part"] == ["x"]
    assert by["unknown_connection_node"] == ["cUnknown"]
    assert by["no_connection_node"] == ["cNone"]
    assert by["customer_unfed"] == ["cX"]
    assert by["circuit_without_customers"] == ["F4"]
    assert by["unknown_declared_circuit"] == ["X9"]
    assert "edge_circuit_mismatch" not in by  # every label matches what feeds the edge
    assert list(issues.columns) == [
        "issue",
        "element",
        "id",
        "circuit_id",
        "substation_id",
        "group",
        "detail",
    ]


def test_validate_two_separate_rings_and_a_mislabelled_edge():
    edges = [
        ("p1", "S", "a", "A", "S", False),
        ("p2", "a", "b", "A", "S", False),
        ("p3", "b", "S", "B", "S", False),  # ring 1 through the busbar
        ("q1", "S", "c", "C", "S", False),
        ("q2", "c", "d", "C", "S", False),
        ("q3", "d", "e", "C", "S", False),
        ("q4", "e", "c", "Z", "S", False),  # ring 2 inside circuit C, labelled Z
    ]
    frame = pd.DataFrame([EDGES_ROW(e) for e in edges])
    net = Network(frame, pd.DataFrame({"substation_id": ["S"], "node": ["S"]}))
    issues = net.validate()
    cyc = issues[issues["issue"] == "closed_cycle"].set_index("id")["group"]
    assert cyc.to_dict() == {"p1": 0, "p2": 0, "p3": 0, "q2": 1, "q3": 1, "q4": 1}
    mis = issues[issues["issue"] == "edge_circuit_mismatch"]
    assert mis["id"].tolist() == ["q4"]
    assert "fed by C" in mis["detail"].iloc[0]


def test_interconnector_between_substations_is_a_parallel_cycle():
    edges = [
        ("a", "S1", "m", "A", "S1", False),
        ("b", "m", "S2", "B", "S2", False),
    ]
    net = Network(
        pd.DataFrame([EDGES_ROW(e) for e in edges]),
        pd.DataFrame({"substation_id": ["S1", "S2"], "node": ["S1", "S2"]}),
    )
    issues = net.validate()
    assert issues["id"].tolist() == ["a", "b"]
    assert "joins substations S1, S2" in issues["detail"].iloc[0]
    # m is fed from both: isolating either way cuts nobody, both together cut m
    cust = pd.DataFrame({"customer_id": ["c"], "connection_node": ["m"]})
    assert _down(net, cust, ["a", "b"]) == {}
    assert _down(net, cust, ["a", "b"], together=True) == {"a + b": ["c"]}
    assert _down(net, cust, ["S1"]) == {}


# --------------------------------------------------------------------------- downstream
@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("e1", ["cUnknown"]),  # head of F1; the ring feeds a1..a4 from F2, but cUnknown
        # is placed by inference *on* e1, and a customer on an isolated cable is off
        ("f1", []),
        ("ring", []),  # closing link of the ring: both sides still fed
        ("e4", ["cA4"]),  # spur
        ("a2", ["cA4"]),  # a joint in the ring: a1, a3 fed round; the spur is not
        ("a4", ["cA4"]),
        ("g2", ["cC2", "cNone"]),  # the open point does not back-feed c2; cNone is on g2
        ("nop1", []),  # an open point carries no supply
        ("h2", ["cD2"]),
        ("c2", ["cC2", "cNone"]),  # cNone's cable g2 ends at c2: counted (conservative)
        ("x", []),  # unfed already: nobody *loses* supply
        ("edge:k1", []),
        # the whole substation: cNone is placed by inference on g2 (conservative)
        ("S1BB", ["cA1", "cA4", "cB2", "cB3", "cC2", "cNone", "cUnknown"]),
        ("S2BB", ["cD2"]),
    ],
)
def test_downstream_single_points(net, customers, point, expected):
    got = _down(net, customers, [point])
    assert got.get(point, []) == expected


def test_downstream_together(net, customers):
    # both heads of the ring: everything in it
    got = _down(net, customers, ["e1", "f1"], together=True)
    assert got == {"e1 + f1": ["cA1", "cA4", "cB2", "cB3", "cUnknown"]}
    # the ring broken twice: a2, a3, a4 and b3 lose supply
    got = _down(net, customers, ["e2", "f3"], together=True)
    assert got == {"e2 + f3": ["cA4", "cB3"]}
    # bridges only: the union of the single answers
    got = _down(net, customers, ["e4", "g2", "h2"], together=True)
    assert got == {"e4 + g2 + h2": ["cA4", "cC2", "cD2", "cNone"]}


def test_downstream_columns_order_and_methods(net, customers):
    with pytest.warns(SmartStreetGeoWarning, match="1 of 9 customers cannot be placed"):
        out = downstream_customers(net, customers, ["S1BB", "e4"])
    assert list(out.columns) == [
        "isolation_point",
        "element",
        "customer_id",
        "method",
        "needs_review",
    ]
    assert out["isolation_point"].tolist() == ["S1BB"] * 7 + ["e4"]
    assert out["customer_id"].tolist() == [
        "cA1",
        "cA4",
        "cB2",
        "cB3",
        "cC2",
        "cNone",
        "cUnknown",
        "cA4",
    ]  # customer order within each point
    m = out.set_index(["isolation_point", "customer_id"])
    assert m.loc[("S1BB", "cNone"), "method"] == "inferred"
    assert not m.loc[("S1BB", "cNone"), "needs_review"]
    # cUnknown gave a node the network does not have: its inferred place needs review
    assert m.loc[("S1BB", "cUnknown"), "method"] == "inferred"
    assert m.loc[("S1BB", "cUnknown"), "needs_review"]
    assert m.loc[("S1BB", "cA1"), "method"] == "connectivity"
    assert out["element"].tolist()[0] == "node:S1BB"


def test_unplaced_customers_warn_raise_or_ignore(net):
    cust = pd.DataFrame({"customer_id": ["c1", "c2"], "connection_node": ["a4", None]})
    with pytest.warns(SmartStreetGeoWarning, match="1 of 2 customers"):
        downstream_customers(net, cust, ["e4"])
    with pytest.raises(ParameterError, match="1 of 2 customers"):
        downstream_customers(net, cust, ["e4"], unplaced="raise")
    out = downstream_customers(net, cust, ["e4"], unplaced="ignore")
    assert out["customer_id"].tolist() == ["c1"]


def test_isolation_points_unknown_or_ambiguous(net, customers):
    with pytest.raises(ParameterError, match="'nope' is not an edge id or node id"):
        downstream_customers(net, customers, ["nope"], unplaced="ignore")
    # "k1" is both an edge and a node
    with pytest.raises(ParameterError, match="both an edge id and a node id"):
        downstream_customers(net, customers, ["k1"], unplaced="ignore")
    out = downstream_customers(net, customers, ["edge:k1", "node:k1"], unplaced="ignore")
    assert out.empty
    with pytest.raises(ParameterError, match="no isolation points"):
        downstream_customers(net, customers, [], unplaced="ignore")


def test_downstream_independent_of_edge_order_and_direction(net, customers):
    points = ["e1", "e4", "a2", "g2", "h2", "S1BB", "S2BB", "c2", "ring"]
    want = _down(net, customers, points)
    rng = np.random.default_rng(3)
    for _ in range(4):
        order = rng.permutation(len(EDGES))
        flip = [e[0] for e in EDGES if rng.random() < 0.5]
        other = make_network(order=order, flip=flip)
        assert _down(other, customers, points) == want
        assert other.circuits.equals(net.circuits)


def test_attach_once_query_many(net, customers):
    att = net.attach(customers)
    assert att.counts() == {
        "customers": 9,
        "connected": 6,
        "unknown_node": 1,
        "no_node": 1,
        "unfed": 1,
        "inferred": 2,
        "unplaced": 1,
    }
    a = downstream_customers(net, att, ["e4", "g2"], unplaced="ignore")
    b = downstream_customers(net, customers, ["e4", "g2"], unplaced="ignore")
    pd.testing.assert_frame_equal(a, b)
    other = make_network()
    with pytest.raises(ParameterError, match="different Network"):
        downstream_customers(other, att, ["e4"])


# --------------------------------------------------------------------------- equipment
def test_equipment_isolation_points(net, customers):
    eq = gpd.GeoDataFrame(
        {
            "equipment_id": ["mid", "joint", "oltc", "col", "far", "nocirc", "nodecol"],
            "circuit_id": ["F1", "F1", None, "F1", "F3", "F8", None],
            "substation_id": ["S1", "S1", "S2", "S1", "S1", "S1", None],
            "edge_id": [None, None, None, "e4", None, None, None],
            "node": [None, None, None, None, None, None, "c2"],
        },
        geometry=[
            Point(_xy(3, 75)),  # beside e2, mid-span
            Point(_xy(1.5, 100)),  # 1.5 m from joint a2
            Point(_xy(0, -250)),
            Point(_xy(0, 0)),
            Point(_xy(200, -75)),  # 200 m from F3's cables
            Point(_xy(0, 0)),
            Point(_xy(0, 0)),
        ],
        crs="EPSG:27700",
    )
    m = equipment_isolation_points(net, eq)
    assert m["isolation_point"].tolist()[:4] == ["edge:e2", "node:a2", "node:S2BB", "edge:e4"]
    assert m["rule"].tolist()[:4] == [
        "nearest cable",
        "nearest node",
        "substation busbar",
        "edge_id column",
    ]
    assert m["distance_m"].tolist()[:2] == [3.0, 1.5]
    assert pd.isna(m["isolation_point"][4]) and "within 20 m" in m["rule"][4]
    assert pd.isna(m["isolation_point"][5]) and "no cables" in m["rule"][5]
    assert m["isolation_point"][6] == "node:c2"
    got = _down(net, customers, ["mid", "joint", "oltc"], equipment=eq)
    # mid-span on e2 is in the ring: nobody; the joint a2 cuts the spur; S2 cuts d2
    assert got == {"joint": ["cA4"], "oltc": ["cD2"]}
    with pytest.raises(ParameterError, match="equipment 'far' cannot be placed"):
        downstream_customers(net, customers, ["far"], equipment=eq, unplaced="ignore")


# --------------------------------------------------------------------------- membership
def test_members_by_connectivity(net, customers):
    m = circuit_members(net, customers, method="connectivity")
    got = {c: g["customer_id"].tolist() for c, g in m.groupby("circuit_id")}
    assert got == {
        "F1": ["cA1", "cA4", "cB2", "cB3"],
        "F2": ["cA1", "cA4", "cB2", "cB3"],
        "F3": ["cC2"],
        "G1": ["cD2"],
    }
    assert set(m.loc[m["circuit_id"].isin(["F1", "F2"]), "n_circuits"]) == {2}
    assert m["method"].unique().tolist() == ["connectivity"]
    assert (m["confidence"] == 1.0).all() and not m["needs_review"].any()


def test_members_declared_inferred_best(net, customers):
    d = circuit_members(net, customers, method="declared", circuits=["F1", "X9"])
    assert d["customer_id"].tolist() == ["cA1", "cA4", "cB3", "cX"]
    assert d["needs_review"].tolist() == [False, False, False, True]  # X9 is not a circuit
    inf = circuit_members(net, customers, method="inferred")
    assert inf["customer_id"].tolist() == ["cUnknown", "cUnknown", "cNone"]
    assert inf["circuit_id"].tolist() == ["F1", "F2", "F3"]
    row = inf.iloc[2]
    assert row["distance_m"] == 10.0
    assert np.isinf(row["margin_m"]) and row["confidence"] == 1.0 and not row["needs_review"]
    best = circuit_members(net, customers, circuits=["F3"], method="best")
    assert best[["customer_id", "method"]].values.tolist() == [
        ["cC2", "connectivity"],
        ["cNone", "inferred"],
    ]


def test_unknown_circuit_ids_raise(net, customers):
    with pytest.raises(ParameterError, match="'F7' is not a circuit of the network"):
        circuit_members(net, customers, circuits=["F1", "F7"])
    with pytest.raises(ParameterError, match="neither a circuit of the network nor declared"):
        circuit_members(net, customers, circuits=["F7"], method="declared")
    with pytest.raises(ParameterError, match="method='nearest'"):
        circuit_members(net, customers, method="nearest")


def test_inference_margin_and_ties():
    # two parallel cables of different circuits 10 m apart, one customer between them
    edges = gpd.GeoDataFrame(
        pd.DataFrame(
            [
                EDGES_ROW(("a", "S", "p", "A", "S", False)),
                EDGES_ROW(("b", "S", "q", "B", "S", False)),
            ]
        ),
        geometry=[LineString([(0, 0), (0, 100)]), LineString([(0, 0), (10, 0)])],
        crs="EPSG:27700",
    )
    edges.loc[1, "geometry"] = LineString([(0, 0), (10, 0), (10, 100)])
    net = Network(edges, pd.DataFrame({"substation_id": ["S"], "node": ["S"]}))
    pts = [Point(5, 50), Point(3, 50), Point(8, 50), Point(-30, 50), Point(70, 50)]
    cust = gpd.GeoDataFrame(
        {"customer_id": ["tie", "near_a", "near_b", "west", "far"]}, geometry=pts, crs="EPSG:27700"
    )
    m = circuit_members(net, cust, method="inferred", review_margin_m=3.0)
    got = {
        r.customer_id: (r.circuit_id, r.distance_m, r.margin_m, r.needs_review)
        for r in m.itertuples()
    }
    assert got["tie"][1:] == (5.0, 0.0, True)  # exactly between: margin 0, flagged
    assert got["near_a"] == ("A", 3.0, 4.0, False)
    assert got["near_b"] == ("B", 2.0, 6.0, False)
    assert got["west"] == ("A", 30.0, 10.0, False)  # B at 40 m, within the 50 m reach
    assert "far" not in got  # 60 m from the nearest cable, beyond max_distance
    tight = circuit_members(net, cust, method="inferred", review_margin_m=4.5)
    assert tight.set_index("customer_id").loc["near_a", "needs_review"]
    far = circuit_members(net, cust, method="inferred", max_distance=65.0)
    assert far.set_index("customer_id").loc["far", "distance_m"] == 60.0


# --------------------------------------------------------------------------- reconcile
def test_reconcile_statuses(net, customers):
    rec = reconcile_circuits(net, customers)
    assert rec["customer_id"].tolist() == [c[0] for c in CUSTOMERS]
    status = dict(zip(rec["customer_id"], rec["status"], strict=True))
    assert status == {
        "cA1": "agree",
        "cA4": "agree",
        "cB2": "agree",
        "cB3": "agree",  # declared F1, fed by F1 and F2 (ring)
        "cC2": "connectivity_differs",
        "cD2": "agree",
        "cX": "unfed",
        "cNone": "agree",  # inferred F3 = declared F3
        "cUnknown": "unknown_connection_node",
    }
    r = rec.set_index("customer_id")
    assert r.loc["cB3", "connectivity_circuit_ids"] == "F1;F2"
    assert r.loc["cC2", "reason"] == "declared F2 but connected to F3"
    assert r.loc["cC2", "circuit_ids"] == "F3" and r.loc["cC2", "method"] == "connectivity"
    assert r.loc["cNone", "method"] == "inferred" and r.loc["cNone", "circuit_ids"] == "F3"
    assert r.loc["cUnknown", "circuit_ids"] == "F1;F2"
    assert "X9 is not a circuit" in r.loc["cX", "reason"]
    assert r["needs_review"].to_dict() == {
        k: v not in ("agree", "undeclared") for k, v in status.items()
    }
    # cC2 (5 m east of c2) is exactly 100 m from F2's cable S1BB-b1 along y=0: a distance
    # equal to far_from_feeder_m is not "far"
    assert r.loc["cC2", "declared_distance_m"] == 100.0


def test_reconcile_far_and_inferred_differs(net):
    cust = gpd.GeoDataFrame(
        {
            "customer_id": ["moved", "far", "undecl"],
            "connection_node": ["a1", "c1", "c1"],
            "circuit_id": ["F1", "F3", None],
        },
        # "moved" is connected at a1 (F1/F2) but sits 5 m from F3's cable g1
        geometry=[Point(_xy(5, -30)), Point(_xy(500, 500)), Point(_xy(3, -50))],
        crs="EPSG:27700",
    )
    rec = reconcile_circuits(net, cust, far_from_feeder_m=100).set_index("customer_id")
    assert rec.loc["moved", "status"] == "inferred_differs"
    assert rec.loc["moved", "inferred_circuit_ids"] == "F3"
    assert rec.loc["far", "status"] == "far_from_declared_feeder"
    # exact distance to F3's cables (the nearest point is the busbar end of g1)
    assert rec.loc["far", "declared_distance_m"] == pytest.approx(np.hypot(500, 500))
    assert rec.loc["undecl", "status"] == "undeclared" and not rec.loc["undecl", "needs_review"]


# --------------------------------------------------------------------------- input errors
def test_bad_inputs_raise():
    subs = pd.DataFrame({"substation_id": ["S"], "node": ["S"]})

    def frame(rows):
        return pd.DataFrame([EDGES_ROW(r) for r in rows])

    with pytest.raises(ParameterError, match="appear more than once"):
        Network(frame([("e", "S", "a", "A", "S", False), ("e", "a", "b", "A", "S", False)]), subs)
    with pytest.raises(ParameterError, match="join a node to itself"):
        Network(frame([("e", "a", "a", "A", "S", False)]), subs)
    with pytest.raises(ParameterError, match="blank 'to_node'"):
        Network(frame([("e", "S", " ", "A", "S", False)]), subs)
    bad = frame([("e", "S", "a", "A", "S", False)])
    bad["normally_open"] = pd.array([pd.NA], dtype="boolean")
    with pytest.raises(ParameterError, match="blank 'normally_open'"):
        Network(bad, subs)
    with pytest.raises(ParameterError, match="no 'node' column"):
        Network(frame([("e", "S", "a", "A", "S", False)]), pd.DataFrame({"substation_id": ["S"]}))
    with pytest.raises(ParameterError, match="no busbar"):
        Network(
            frame([("e", "S", "a", "A", "S", False)]),
            pd.DataFrame({"substation_id": ["S"], "node": [None]}),
        )
    geo = gpd.GeoDataFrame(
        frame([("e", "S", "a", "A", "S", False)]),
        geometry=[LineString([(-2.2, 53.4), (-2.21, 53.4)])],
        crs="EPSG:4326",
    )
    with pytest.raises(CRSError):
        Network(geo, subs)
    topo_only = Network(frame([("e", "S", "a", "A", "S", False)]), subs)
    cust = gpd.GeoDataFrame({"customer_id": ["c"]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    with pytest.raises(ParameterError, match="no geometry"):
        circuit_members(topo_only, cust, method="inferred")


def test_no_personal_data_in_outputs(net, customers):
    cust = customers.assign(name="Mrs Jane Example", phone="07700 900123")
    outs = [
        downstream_customers(net, cust, ["S1BB"], unplaced="ignore"),
        circuit_members(net, cust, method="best"),
        reconcile_circuits(net, cust),
        net.validate(cust),
    ]
    for out in outs:
        text = out.astype(str).to_csv()
        assert "Jane" not in text and "07700" not in text


def test_deterministic(net, customers):
    a = reconcile_circuits(net, customers)
    b = reconcile_circuits(make_network(), customers)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- properties
def _oracle_lost(n_nodes, edges, roots, removed_edges, removed_nodes):
    """Nodes fed before and not after (plain breadth-first search, no library code)."""

    def fed(skip_e, skip_n):
        adj = {i: [] for i in range(n_nodes)}
        for k, (a, b, is_open) in enumerate(edges):
            if is_open or k in skip_e:
                continue
            adj[a].append(b)
            adj[b].append(a)
        seen = set()
        q = deque(r for r in roots if r not in skip_n)
        seen.update(q)
        while q:
            x = q.popleft()
            for y in adj[x]:
                if y not in seen and y not in skip_n:
                    seen.add(y)
                    q.append(y)
        return seen

    return fed(set(), set()) - fed(set(removed_edges), set(removed_nodes))


def _oracle_members(n_nodes, edges, roots, heads):
    """Circuit of each head -> nodes reachable from its first node without passing a root."""
    adj = {i: [] for i in range(n_nodes)}
    for a, b, is_open in edges:
        if not is_open:
            adj[a].append(b)
            adj[b].append(a)
    out = {}
    for label, first in heads:
        seen = {first}
        q = deque([first])
        while q:
            x = q.popleft()
            for y in adj[x]:
                if y not in seen and y not in roots:
                    seen.add(y)
                    q.append(y)
        out.setdefault(label, set()).update(seen)
    return out


@st.composite
def graphs(draw):
    n = draw(st.integers(3, 14))
    m = draw(st.integers(1, 24))
    edges = []
    for _ in range(m):
        a = draw(st.integers(0, n - 1))
        b = draw(st.integers(0, n - 1).filter(lambda x, a=a: x != a))
        edges.append((a, b, draw(st.booleans()) and draw(st.booleans())))  # 25% open
    n_roots = draw(st.integers(1, 2))
    roots = sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=n_roots, max_size=n_roots))))
    k = draw(st.integers(1, 3))
    pts = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("edge"), st.integers(0, m - 1)),
                st.tuples(st.just("node"), st.integers(0, n - 1)),
            ),
            min_size=k,
            max_size=k,
            unique=True,
        )
    )
    return n, edges, roots, pts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_downstream_equals_brute_force(g):
    n, edges, roots, pts = g
    frame = pd.DataFrame(
        {
            "edge_id": [f"E{k}" for k in range(len(edges))],
            "from_node": [f"N{a}" for a, _, _ in edges],
            "to_node": [f"N{b}" for _, b, _ in edges],
            "circuit_id": [f"C{k}" for k in range(len(edges))],
            "normally_open": [o for _, _, o in edges],
        }
    )
    subs = pd.DataFrame(
        {"substation_id": [f"S{r}" for r in roots], "node": [f"N{r}" for r in roots]}
    )
    net = Network(frame, subs)
    # one customer on every node
    cust = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)], "connection_node": [f"N{i}" for i in range(n)]}
    )
    att = net.attach(cust)
    present = {a for a, _, _ in edges} | {b for _, b, _ in edges} | set(roots)
    pts = [(kind, i) for kind, i in pts if kind == "edge" or i in present]
    assume(pts)
    points = [("edge:E" if kind == "edge" else "node:N") + str(i) for kind, i in pts]
    # one point at a time
    out = downstream_customers(net, att, points, unplaced="ignore")
    for p, (kind, i) in zip(points, pts, strict=True):
        want = _oracle_lost(
            n, edges, roots, [i] if kind == "edge" else [], [i] if kind == "node" else []
        )
        got = set(out.loc[out["isolation_point"] == p, "customer_id"])
        assert got == {f"c{x}" for x in want}, (p, got, want)
    # all together
    together = downstream_customers(net, att, points, together=True, unplaced="ignore")
    want = _oracle_lost(
        n, edges, roots, [i for kd, i in pts if kd == "edge"], [i for kd, i in pts if kd == "node"]
    )
    assert set(together["customer_id"]) == {f"c{x}" for x in want}
    # membership by connectivity
    root_set = set(roots)
    heads = [
        (f"C{k}", b if a in root_set else a)
        for k, (a, b, o) in enumerate(edges)
        if not o and ((a in root_set) != (b in root_set))
    ]
    members = _oracle_members(n, edges, root_set, heads)
    m = circuit_members(net, att, method="connectivity")
    got = {c: set(grp["customer_id"]) for c, grp in m.groupby("circuit_id")}
    want_m = {c: {f"c{x}" for x in nodes} for c, nodes in members.items()}
    assert got == {c: v for c, v in want_m.items() if v}


@st.composite
def drawings(draw):
    n = draw(st.integers(3, 12))
    coord = st.floats(0, 300, allow_nan=False, width=32)
    xy = [(draw(coord), draw(coord)) for _ in range(n)]
    m = draw(st.integers(1, 16))
    edges = []
    for _ in range(m):
        a = draw(st.integers(0, n - 1))
        b = draw(st.integers(0, n - 1).filter(lambda x, a=a: x != a))
        bend = draw(st.one_of(st.none(), st.tuples(coord, coord)))
        edges.append((a, b, draw(st.booleans()) and draw(st.booleans()), bend))
    root = draw(st.integers(0, n - 1))
    pts = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=30))
    # a second town 300 km away makes the cable grid sparse (cells looked up by key)
    if draw(st.booleans()):
        xy = [(x + 3e5, y + 3e5) if i % 2 else (x, y) for i, (x, y) in enumerate(xy)]
        pts = [(x + 3e5, y + 3e5) if i % 2 else (x, y) for i, (x, y) in enumerate(pts)]
    max_d = draw(st.sampled_from([5.0, 30.0, 80.0, 400.0]))
    margin = draw(st.sampled_from([0.0, 3.0, 25.0]))
    return xy, edges, root, pts, max_d, margin


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawings())
def test_inference_equals_brute_force(d):
    import shapely

    xy, edges, root, pts, max_d, margin = d
    lines = []
    for a, b, _o, bend in edges:
        coords = [xy[a], *([bend] if bend else []), xy[b]]
        lines.append(LineString(coords))
    frame = gpd.GeoDataFrame(
        {
            "edge_id": [f"E{k}" for k in range(len(edges))],
            "from_node": [f"N{a}" for a, _, _, _ in edges],
            "to_node": [f"N{b}" for _, b, _, _ in edges],
            "circuit_id": [f"C{k}" for k in range(len(edges))],
            "normally_open": [o for _, _, o, _ in edges],
        },
        geometry=lines,
        crs="EPSG:27700",
    )
    net = Network(frame, pd.DataFrame({"substation_id": ["S"], "node": [f"N{root}"]}))
    cust = gpd.GeoDataFrame(
        {"customer_id": [f"c{i}" for i in range(len(pts))]},
        geometry=[Point(p) for p in pts],
        crs="EPSG:27700",
    )
    att = net.attach(cust, max_distance=max_d, review_margin_m=margin, infer="all")
    # brute force: every closed cable (not busbar-to-busbar), exact GEOS distances
    cand = [k for k, (a, b, o, _) in enumerate(edges) if not o]
    group = net._edge_group  # which circuits feed each cable (tested by the membership property)
    for i, p in enumerate(pts):
        if not cand:
            assert att.inf_edge[i] == -1
            continue
        dist = shapely.distance(Point(p), np.asarray([lines[k] for k in cand], dtype=object))
        d1 = float(dist.min())
        if d1 > max_d:
            assert att.inf_edge[i] == -1
            continue
        assert att.inf_dist[i] == pytest.approx(d1, abs=1e-6)
        g1 = group[att.inf_edge[i]]
        assert att.inf_edge[i] in cand and dist[cand.index(att.inf_edge[i])] == pytest.approx(
            d1, abs=1e-6
        )
        others = [dist[j] for j, k in enumerate(cand) if group[k] != g1]
        d2 = min(others) if others else np.inf
        reach = max(max_d, d1 + margin)
        if d2 <= reach - 1e-6:
            assert att.inf_other[i] == pytest.approx(d2, abs=1e-6)
        elif d2 > reach + 1e-6:
            assert np.isinf(att.inf_other[i])


def test_far_apart_towns_use_a_sparse_grid_with_the_same_answers():
    far = 300_000.0
    rows = [("a", "S", "p", "A", "S", False), ("b", "T", "q", "B", "T", False)]
    edges = gpd.GeoDataFrame(
        pd.DataFrame([EDGES_ROW(r) for r in rows]),
        geometry=[LineString([(0, 0), (0, 100)]), LineString([(far, far), (far, far + 100)])],
        crs="EPSG:27700",
    )
    subs = pd.DataFrame({"substation_id": ["S", "T"], "node": ["S", "T"]})
    net = Network(edges, subs)
    cust = gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2", "c3"]},
        geometry=[Point(4, 50), Point(far - 7, far + 20), Point(far / 2, far / 2)],
        crs="EPSG:27700",
    )
    m = circuit_members(net, cust, method="inferred")
    assert net._segments.ukeys.size > 0  # the sparse (binary search) lookup was used
    assert m[["customer_id", "circuit_id", "distance_m"]].values.tolist() == [
        ["c1", "A", 4.0],
        ["c2", "B", 7.0],
    ]


@pytest.mark.parametrize("spokes", [3, 12])  # 12 + the feed cable: more than the kernel keeps
def test_customer_at_a_joint_touches_every_cable_there(spokes):
    rows = [("feed", "S", "hub", "A", "S", False)]
    geoms = [LineString([(0, -50), (0, 0)])]
    for k in range(spokes):
        a = 2 * np.pi * (k + 0.5) / spokes
        rows.append((f"s{k}", "hub", f"end{k}", "A", "S", False))
        geoms.append(LineString([(0, 0), (40 * np.cos(a), 40 * np.sin(a))]))
    edges = gpd.GeoDataFrame(
        pd.DataFrame([EDGES_ROW(r) for r in rows]), geometry=geoms, crs="EPSG:27700"
    )
    net = Network(edges, pd.DataFrame({"substation_id": ["S"], "node": ["S"]}))
    cust = gpd.GeoDataFrame({"customer_id": ["at_hub"]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    att = net.attach(cust)
    _, tied = att.tie_pairs(np.array([0]))
    assert sorted(tied.tolist()) == list(range(spokes + 1))
    # conservative: isolating any spoke, or the feed, lists the customer (as inferred)
    out = downstream_customers(net, att, edges["edge_id"].tolist())
    assert sorted(out["isolation_point"]) == sorted(edges["edge_id"])
    assert set(out["method"]) == {"inferred"}


def test_old_argument_order_still_works_with_a_deprecation_warning():
    """Network first in every function; customers first is deprecated, with the same result."""
    net = make_network()
    customers = make_customers()
    want_members = circuit_members(net, customers, method="best")
    want_rec = reconcile_circuits(net, customers)
    with pytest.warns(DeprecationWarning, match=r"circuit_members\(network, customers\)"):
        old = circuit_members(customers, net, method="best")
    pd.testing.assert_frame_equal(old, want_members)
    with pytest.warns(DeprecationWarning, match=r"reconcile_circuits\(network, customers\)"):
        old_rec = reconcile_circuits(customers, net)
    pd.testing.assert_frame_equal(old_rec, want_rec)
    # keywords work in any order, without a warning
    pd.testing.assert_frame_equal(
        circuit_members(customers=customers, network=net, method="best"), want_members
    )
