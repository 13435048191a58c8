"""equipment_isolation_points at scale: exactly the answers of the one-by-one search.

The oracle is the implementation before issue 14 (a Python loop over the
equipment that found each circuit's cables over every edge and measured every
cable of the circuit), copied here verbatim.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import shapely
from shapely import LineString, MultiLineString, Point

from hostile import HOSTILE
from smartstreet_geo import demo, read_equipment, read_network
from smartstreet_geo.crs import require_bng
from smartstreet_geo.errors import ParameterError
from smartstreet_geo.network import Network, equipment_isolation_points
from smartstreet_geo.network._text import arrow_text, shown, take, to_series
from smartstreet_geo.schema import CIRCUIT_ID, EDGE_ID, EQUIPMENT_ID, NODE, SUBSTATION_ID

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
ISOLATION_POINT = "isolation_point"


def old_equipment_isolation_points(
    network: Network,
    equipment: pd.DataFrame,
    *,
    snap_m: float = 2.0,
    max_distance: float = 20.0,
) -> pd.DataFrame:
    """Return the answers of the implementation before issue 14 (verbatim)."""
    if EQUIPMENT_ID not in equipment:
        raise ParameterError(
            f"equipment have no 'equipment_id' column (columns: {shown(equipment.columns)})."
        )
    if not (
        np.isfinite(snap_m) and snap_m >= 0 and np.isfinite(max_distance) and max_distance >= 0
    ):
        raise ParameterError(
            f"snap_m={snap_m!r}, max_distance={max_distance!r}: give metres, 0 or more."
        )
    n = len(equipment)
    ids = to_series(arrow_text(equipment[EQUIPMENT_ID]))
    point: list[str | None] = [None] * n
    rule: list[str] = [""] * n
    dist = np.full(n, np.nan)

    def text(col: str) -> list[str | None]:
        if col not in equipment:
            return [None] * n
        return list(arrow_text(equipment[col]).to_pylist())

    edge_col, node_col = text(EDGE_ID), text(NODE)
    circ_col, sub_col = text(CIRCUIT_ID), text(SUBSTATION_ID)
    has_geom = isinstance(equipment, gpd.GeoDataFrame) and equipment.geometry.name in equipment
    if has_geom:
        require_bng(equipment, what="equipment")
        geoms = np.asarray(equipment.geometry.array, dtype=object)
    sub_node = dict(
        zip(
            to_series(network._sub_ids).tolist(),
            take(network._node_ids, network._sub_node).to_pylist(),
            strict=True,
        )
    )
    label = np.asarray(network._circuit_label.to_pylist(), dtype=object)
    circ_codes = {c: i for i, c in enumerate(network.circuit_ids)}
    cables: dict[str, I64] = {}
    for i in range(n):
        if edge_col[i] is not None:
            if network._edge_pos([edge_col[i]])[0] < 0:
                rule[i] = f"edge_id column names {edge_col[i]!r}, not an edge of the network"
                continue
            point[i], rule[i] = f"edge:{edge_col[i]}", "edge_id column"
            continue
        if node_col[i] is not None:
            if network._node_pos([node_col[i]])[0] < 0:
                rule[i] = f"node column names {node_col[i]!r}, not a node of the network"
                continue
            point[i], rule[i] = f"node:{node_col[i]}", "node column"
            continue
        circuit, sub = circ_col[i], sub_col[i]
        if circuit is None:
            if sub is not None and sub in sub_node:
                point[i], rule[i] = f"node:{sub_node[sub]}", "substation busbar"
                if has_geom and not _empty(geoms[i]):
                    xy = network._node_xy[network._node_pos([sub_node[sub]])[0]]
                    if np.isfinite(xy).all():
                        dist[i] = float(shapely.distance(geoms[i], shapely.Point(xy)))
            elif sub is not None:
                rule[i] = f"substation {sub!r} is not in the network"
            else:
                rule[i] = "no circuit_id, substation_id, edge_id or node to place it"
            continue
        if not has_geom or _empty(geoms[i]):
            rule[i] = "no location to find its cable"
            continue
        if circuit not in cables:  # the circuit's cables, found once per circuit
            code = circ_codes.get(circuit, -1)
            cand = label == circuit
            if code >= 0:
                cand |= _group_has(network, code)[network._edge_group]
            geometry = network._geometry
            drawn = ~(shapely.is_missing(geometry) | shapely.is_empty(geometry))
            cables[circuit] = np.flatnonzero(cand & drawn)
        which = cables[circuit]
        if which.size == 0:
            rule[i] = f"circuit {circuit!r} has no cables in the network"
            continue
        d = shapely.distance(geoms[i], network._geometry[which])
        j = int(np.argmin(d))  # first minimum: lowest edge row on a tie
        e = int(which[j])
        if d[j] > max_distance:
            rule[i] = f"no cable of circuit {circuit!r} within {max_distance:g} m"
            continue
        dist[i] = float(d[j])
        near = shapely.get_coordinates(shapely.shortest_line(geoms[i], network._geometry[e]))[-1]
        ends = network._node_xy[[network._u[e], network._v[e]]]
        to_end = np.hypot(ends[:, 0] - near[0], ends[:, 1] - near[1])
        if np.nanmin(to_end) <= snap_m:
            end = network._u[e] if not (to_end[1] < to_end[0]) else network._v[e]
            point[i] = "node:" + str(network._node_ids[int(end)].as_py())
            rule[i] = "nearest node"
        else:
            point[i] = "edge:" + str(network._edge_ids[e].as_py())
            rule[i] = "nearest cable"
    return pd.DataFrame(
        {
            EQUIPMENT_ID: ids,
            ISOLATION_POINT: pd.Series(point, dtype="str"),
            "rule": pd.Series(rule, dtype="str"),
            "distance_m": dist,
        }
    )


def _empty(geom: Any) -> bool:
    return bool(shapely.is_missing(geom) or shapely.is_empty(geom))


def _group_has(network: Network, code: int) -> B:
    """Which circuit groups contain circuit ``code`` (index -1 maps to False)."""
    n_g = len(network._gptr) - 1
    out = np.zeros(n_g + 1, dtype=bool)  # last slot: group -1
    for g in range(n_g):
        if code in network._gmembers[network._gptr[g] : network._gptr[g + 1]]:
            out[g] = True
    return out


# --------------------------------------------------------------------------- helpers
def _same(net: Network, eq: pd.DataFrame, **kw: float) -> pd.DataFrame:
    new = equipment_isolation_points(net, eq, **kw)
    old = old_equipment_isolation_points(net, eq, **kw)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    return new


@pytest.fixture(scope="module")
def demo_net() -> tuple[gpd.GeoDataFrame, pd.DataFrame, Network]:
    nr = read_network(demo.path("network_edges"), demo.path("substations"))
    return nr.edges, nr.substations, Network(nr.edges, nr.substations)


def test_demo_equipment_identical(demo_net: tuple[Any, Any, Network]) -> None:
    _, _, net = demo_net
    eq = read_equipment(demo.path("equipment")).data
    out = _same(net, eq)
    assert len(out) == len(eq) and out["isolation_point"].notna().sum() > 100
    for kw in ({"snap_m": 0.0, "max_distance": 0.0}, {"snap_m": 25.0, "max_distance": 500.0}):
        _same(net, eq, **kw)


# --------------------------------------------------------------------------- synthetic
def _synthetic(
    edges: gpd.GeoDataFrame, subs: pd.DataFrame, net: Network, n: int, seed: int
) -> gpd.GeoDataFrame:
    """Equipment of every kind the rules distinguish, near the demo cables."""
    rng = np.random.default_rng(seed)
    geom = np.asarray(edges.geometry.array, dtype=object)
    labels = edges["circuit_id"].astype(object).to_numpy()
    circuits = np.asarray(net.circuit_ids, dtype=object)
    # near a random cable, up to 40 m off it, on its own circuit or another one
    drawn = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    e = rng.choice(np.flatnonzero(drawn), n)
    along = shapely.line_interpolate_point(geom[e], rng.random(n), normalized=True)
    ang = rng.random(n) * 2 * np.pi
    r = rng.choice([0.0, 0.5, 1.9, 2.0, 3.0, 15.0, 20.0, 40.0], n) * rng.random(n) ** 0.3
    xy = shapely.get_coordinates(along) + np.c_[np.cos(ang), np.sin(ang)] * r[:, None]
    pts = shapely.points(xy)
    circ = np.where(rng.random(n) < 0.8, labels[e], circuits[rng.integers(0, len(circuits), n)])
    # exact joints (distance 0 to every cable there: ties, snapping) and vertices
    joint = rng.random(n) < 0.15
    ends = shapely.get_point(geom[e], np.where(rng.random(n) < 0.5, 0, -1))
    pts = np.where(joint, ends, pts)
    sub = subs["substation_id"].to_numpy(dtype=object)[rng.integers(0, len(subs), n)]
    kind = rng.random(n)
    circ = circ.astype(object)
    circ[kind < 0.05] = None  # substation busbar (or nothing)
    sub[(kind < 0.05) & (rng.random(n) < 0.2)] = None
    sub = np.where((kind < 0.05) & (rng.random(n) < 0.1), "S-UNKNOWN", sub)
    circ = np.where((kind > 0.05) & (kind < 0.07), "NOT-A-CIRCUIT", circ)
    circ = np.where((kind > 0.07) & (kind < 0.08), "LABEL-ONLY", circ)
    circ = np.where((kind > 0.08) & (kind < 0.085), "UNDRAWN", circ)
    edge_id = np.full(n, None, dtype=object)
    node = np.full(n, None, dtype=object)
    pick = (kind > 0.085) & (kind < 0.10)
    edge_id[pick] = edges["edge_id"].to_numpy(dtype=object)[e[pick]]
    edge_id[pick & (rng.random(n) < 0.3)] = "E-UNKNOWN"
    pick = (kind > 0.10) & (kind < 0.115)
    node[pick] = edges["from_node"].to_numpy(dtype=object)[e[pick]]
    node[pick & (rng.random(n) < 0.3)] = "N-UNKNOWN"
    both = (kind > 0.115) & (kind < 0.12)  # both columns: edge_id wins
    edge_id[both] = edges["edge_id"].to_numpy(dtype=object)[e[both]]
    node[both] = edges["to_node"].to_numpy(dtype=object)[e[both]]
    # other shapes and no location
    shape = rng.random(n)
    pts = np.where(shape < 0.03, shapely.buffer(pts, 3.0), pts)
    pts = np.where(
        (shape > 0.03) & (shape < 0.06), shapely.get_exterior_ring(shapely.buffer(pts, 25.0)), pts
    )
    pts = np.where((shape > 0.06) & (shape < 0.07), shapely.Point(), pts)
    pts = np.where((shape > 0.07) & (shape < 0.08), None, pts)
    hostile = [v for _, v in HOSTILE if _encodable(v)]  # a reader rejects the rest
    for col, frac in ((circ, 0.01), (sub, 0.005), (edge_id, 0.005), (node, 0.005)):
        hit = np.flatnonzero(rng.random(n) < frac)
        col[hit] = np.asarray(hostile, dtype=object)[rng.integers(0, len(hostile), len(hit))]
    return gpd.GeoDataFrame(
        {
            "equipment_id": [f"Q{i}" for i in range(n)],
            "circuit_id": circ,
            "substation_id": sub,
            "edge_id": edge_id,
            "node": node,
        },
        geometry=list(pts),
        crs="EPSG:27700",
    )


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def odd_net(demo_net: tuple[Any, Any, Network]) -> tuple[gpd.GeoDataFrame, pd.DataFrame, Network]:
    """The demo network with undrawn, empty, multi-part and label-only cables added."""
    edges, subs, _ = demo_net
    e = edges.copy()
    geom = np.asarray(e.geometry.array, dtype=object).copy()
    rows = np.arange(0, len(e), 97)
    geom[rows[::3]] = None
    geom[rows[1::3]] = shapely.LineString()
    geom[rows[2::3]] = [
        MultiLineString([g, shapely.affinity.translate(g, 4, 4)]) for g in geom[rows[2::3]]
    ]
    e = e.set_geometry(list(geom), crs=e.crs)
    # a cable fed from nowhere labelled LABEL-ONLY; UNDRAWN labels only an undrawn cable
    extra = gpd.GeoDataFrame(
        {
            "edge_id": ["x-lab-1", "x-lab-2", "x-undrawn"],
            "from_node": ["xa", "xb", "xc"],
            "to_node": ["xb", "xd", "xe"],
            "circuit_id": ["LABEL-ONLY", "LABEL-ONLY", "UNDRAWN"],
            "normally_open": [False, True, False],
        },
        geometry=[
            LineString([(300500, 511000), (300600, 511000)]),
            LineString([(300600, 511000), (300600, 511100)]),
            None,
        ],
        crs="EPSG:27700",
    )
    e = pd.concat([e, extra], ignore_index=True)
    return e, subs, Network(e, subs)


@pytest.mark.parametrize(
    ("snap_m", "max_distance"), [(2.0, 20.0), (0.0, 0.0), (5.0, 3.0), (10.0, 1e6)]
)
def test_synthetic_equipment_identical(
    odd_net: tuple[gpd.GeoDataFrame, pd.DataFrame, Network], snap_m: float, max_distance: float
) -> None:
    edges, subs, net = odd_net
    eq = _synthetic(edges, subs, net, 3000, seed=int(max_distance) % 7)
    out = _same(net, eq, snap_m=snap_m, max_distance=max_distance)
    # every rule is exercised (so the comparison means something)
    rules = out["rule"].str.replace(r"'.*'|[\d.]+ m", "", regex=True).value_counts()
    if max_distance == 20.0:
        assert len(rules) >= 10, rules
        for want in (
            "nearest cable",
            "nearest node",
            "substation busbar",
            "edge_id column",
            "node column",
            "no location to find its cable",
        ):
            assert rules.get(want, 0) > 0, want


def test_ties_lowest_edge_row_and_snapping() -> None:
    # two parallel cables of one circuit 10 m apart: a point half way is a tie
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["hi", "lo", "stub", "lab"],
            "from_node": ["c", "S", "a", "p"],
            "to_node": ["b", "a", "c", "q"],
            "circuit_id": ["F1", "F1", "F1", "F2"],
        },
        geometry=[
            LineString([(400100, 400010), (400000, 400010)]),
            LineString([(400000, 400000), (400100, 400000)]),
            LineString([(400100, 400000), (400100, 400010)]),
            LineString([(400000, 400005), (400100, 400005)]),  # F2 only by label
        ],
        crs="EPSG:27700",
    )
    subs = pd.DataFrame({"substation_id": ["S1"], "node": ["S"]})
    net = Network(edges, subs)
    eq = gpd.GeoDataFrame(
        {
            "equipment_id": ["tie", "joint", "near_end", "f2"],
            "circuit_id": ["F1", "F1", "F1", "F2"],
        },
        geometry=[
            Point(400050, 400005),
            Point(400100, 400010),
            Point(400098.5, 400001),
            Point(400050, 400007),
        ],
        crs="EPSG:27700",
    )
    out = _same(net, eq)
    # "lo" (row 1) and "hi" (row 0) are 5 m away: the lowest edge row wins
    # the joint c touches "hi" and "stub": "hi", and snapped to its end c
    assert out["isolation_point"].tolist() == ["edge:hi", "node:c", "node:a", "edge:lab"]
    assert out["rule"].tolist() == [
        "nearest cable",
        "nearest node",
        "nearest node",
        "nearest cable",
    ]
    assert out["distance_m"].tolist() == [5.0, 0.0, 1.0, 2.0]


def test_index_built_once(odd_net: tuple[Any, Any, Network]) -> None:
    edges, subs, net = odd_net
    eq = _synthetic(edges, subs, net, 200, seed=3)
    a = equipment_isolation_points(net, eq)
    cache = net.__dict__["_circuit_cables_cache"]
    b = equipment_isolation_points(net, eq)
    assert net.__dict__["_circuit_cables_cache"] is cache
    pd.testing.assert_frame_equal(a, b)


def test_no_equipment_and_errors(demo_net: tuple[Any, Any, Network]) -> None:
    _, _, net = demo_net
    empty = gpd.GeoDataFrame({"equipment_id": [], "circuit_id": []}, geometry=[], crs="EPSG:27700")
    _same(net, empty)
    with pytest.raises(ParameterError, match="max_distance"):
        equipment_isolation_points(net, empty, max_distance=-1.0)
    plain = pd.DataFrame({"equipment_id": ["a", "b"], "circuit_id": ["X", None]})
    _same(net, plain)  # no geometry: no location, or nothing to place it
