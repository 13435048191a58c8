"""Who loses supply when part of the network is isolated."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .._unique import sorted_unique
from ..crs import require_bng
from ..errors import ParameterError, SmartStreetGeoWarning
from ..schema import CIRCUIT_ID, CUSTOMER_ID, EDGE_ID, EQUIPMENT_ID, NODE, SUBSTATION_ID
from ._attach import AttachedCustomers, as_attached
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network, _kernels
from ._text import arrow_text, lookup, shown, take, to_series

__all__ = ["downstream_customers", "equipment_isolation_points"]

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]

EDGE, NODE_KIND = 0, 1
ISOLATION_POINT = "isolation_point"
ELEMENT = "element"
_PREFIXES = ("edge:", "node:", "equipment:")


# --------------------------------------------------------------------------- equipment
def equipment_isolation_points(
    network: Network,
    equipment: pd.DataFrame,
    *,
    snap_m: float = 2.0,
    max_distance: float = 20.0,
) -> pd.DataFrame:
    """Map each equipment to the network element isolated to work on it.

    The rules, in order (the first that applies wins):

    1. ``edge_id`` column (non-blank): that edge. ``node`` column: that node.
    2. No ``circuit_id`` but a ``substation_id``: the substation's busbar node
       (work at the substation itself, e.g. an on-load tap changer: every
       circuit of the substation is off unless fed from elsewhere).
    3. Otherwise the nearest cable of the equipment's circuit (an edge whose
       ``circuit_id`` is the circuit, or that the circuit feeds), within
       ``max_distance`` metres of the equipment geometry. If the nearest
       point on that cable is within ``snap_m`` of one of its end nodes, the
       isolation point is that node (a device at a joint, pillar or link box
       is isolated with the joint: everything fed through it loses supply);
       otherwise the cable section itself.

    Parameters
    ----------
    network : Network
    equipment : DataFrame or GeoDataFrame
        ``equipment_id`` and some of ``edge_id``, ``node``, ``circuit_id``,
        ``substation_id``, geometry (EPSG:27700), as read by
        :func:`smartstreet_geo.read_equipment`.
    snap_m : float, default 2
        Metres from a node within which equipment is taken to be at the node.
    max_distance : float, default 20
        Metres; equipment further than this from every cable of its circuit
        is not mapped.

    Returns
    -------
    DataFrame
        ``equipment_id``, ``isolation_point`` (``"edge:<edge_id>"`` or
        ``"node:<node>"``; missing when not mapped), ``rule`` (``edge_id
        column``, ``node column``, ``substation busbar``, ``nearest cable``,
        ``nearest node``, or why it could not be mapped), ``distance_m``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString, Point
    >>> from smartstreet_geo.network import Network, equipment_isolation_points
    >>> edges = gpd.GeoDataFrame({
    ...     "edge_id": ["e1", "e2"], "from_node": ["S", "a"], "to_node": ["a", "b"],
    ...     "circuit_id": ["F1", "F1"]},
    ...     geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)])],
    ...     crs="EPSG:27700")
    >>> net = Network(edges, gpd.GeoDataFrame(
    ...     {"substation_id": ["S1"], "node": ["S"]}, geometry=[Point(0, 0)], crs="EPSG:27700"))
    >>> eq = gpd.GeoDataFrame({
    ...     "equipment_id": ["cap", "box", "oltc"], "circuit_id": ["F1", "F1", None],
    ...     "substation_id": ["S1", "S1", "S1"]},
    ...     geometry=[Point(150, 3), Point(101, 1), Point(0, 0)], crs="EPSG:27700")
    >>> equipment_isolation_points(net, eq)
      equipment_id isolation_point               rule  distance_m
    0          cap         edge:e2      nearest cable         3.0
    1          box          node:a       nearest node         1.0
    2         oltc          node:S  substation busbar         0.0
    """
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
    point = np.full(n, None, dtype=object)
    rule = np.full(n, "", dtype=object)
    dist = np.full(n, np.nan)

    def text(col: str) -> npt.NDArray[Any]:
        if col not in equipment:
            return np.full(n, None, dtype=object)
        return np.asarray(arrow_text(equipment[col]).to_pylist(), dtype=object).reshape(n)

    edge_col, node_col = text(EDGE_ID), text(NODE)
    circ_col, sub_col = text(CIRCUIT_ID), text(SUBSTATION_ID)
    has_geom = isinstance(equipment, gpd.GeoDataFrame) and equipment.geometry.name in equipment
    if has_geom:
        require_bng(equipment, what="equipment")
        geoms = np.asarray(equipment.geometry.array, dtype=object)
        located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    else:
        geoms = np.full(n, None, dtype=object)
        located = np.zeros(n, dtype=bool)
    todo = np.ones(n, dtype=bool)

    # 1. edge_id column, then node column
    has_edge = pd.notna(edge_col)
    if has_edge.any():
        rows = np.flatnonzero(has_edge)
        known = network._edge_pos(edge_col[rows].tolist()) >= 0
        point[rows[known]] = _prefixed("edge:", edge_col[rows[known]])
        rule[rows[known]] = "edge_id column"
        rule[rows[~known]] = [
            f"edge_id column names {v!r}, not an edge of the network"
            for v in edge_col[rows[~known]]
        ]
        todo[rows] = False
    has_node = todo & pd.notna(node_col)
    if has_node.any():
        rows = np.flatnonzero(has_node)
        known = network._node_pos(node_col[rows].tolist()) >= 0
        point[rows[known]] = _prefixed("node:", node_col[rows[known]])
        rule[rows[known]] = "node column"
        rule[rows[~known]] = [
            f"node column names {v!r}, not a node of the network" for v in node_col[rows[~known]]
        ]
        todo[rows] = False

    # 2. no circuit: the substation's busbar node
    no_circ = todo & pd.isna(circ_col)
    if no_circ.any():
        _busbars(network, np.flatnonzero(no_circ), sub_col, geoms, located, point, rule, dist)
        todo[no_circ] = False

    # 3. the nearest cable of the circuit
    unlocated = todo & ~located
    rule[unlocated] = "no location to find its cable"
    todo &= located
    if todo.any():
        _nearest_cables(
            network, np.flatnonzero(todo), circ_col, geoms, snap_m, max_distance, point, rule, dist
        )
    return pd.DataFrame(
        {
            EQUIPMENT_ID: ids,
            ISOLATION_POINT: pd.Series(point.tolist(), dtype="str"),
            "rule": pd.Series(rule.tolist(), dtype="str"),
            "distance_m": dist,
        }
    )


def _busbars(
    network: Network,
    rows: I64,
    sub_col: npt.NDArray[Any],
    geoms: npt.NDArray[Any],
    located: B,
    point: npt.NDArray[Any],
    rule: npt.NDArray[Any],
    dist: F64,
) -> None:
    """Rule 2 for ``rows`` (equipment without a circuit), written into the outputs."""
    subs = sub_col[rows]
    has_sub = pd.notna(subs)
    rule[rows[~has_sub]] = "no circuit_id, substation_id, edge_id or node to place it"
    rows, subs = rows[has_sub], subs[has_sub]
    pos = np.asarray(
        pd.Index(to_series(network._sub_ids)).get_indexer(pd.Index(subs, dtype="str")), np.int64
    )
    rule[rows[pos < 0]] = [f"substation {s!r} is not in the network" for s in subs[pos < 0]]
    rows, pos = rows[pos >= 0], pos[pos >= 0]
    node = network._sub_node[pos].astype(np.int64)
    point[rows] = _prefixed("node:", take(network._node_ids, node))
    rule[rows] = "substation busbar"
    loc = located[rows]
    if loc.any():
        xy = network._node_xy[node[loc]]
        ok = np.isfinite(xy).all(axis=1)
        there = rows[loc][ok]
        dist[there] = shapely.distance(geoms[there], shapely.points(xy[ok]))


#: Most (equipment, cable) pairs screened at once (bounds memory: ~100 bytes a pair).
_PAIR_CHUNK = 2_000_000


def _nearest_cables(
    network: Network,
    rows: I64,
    circ_col: npt.NDArray[Any],
    geoms: npt.NDArray[Any],
    snap_m: float,
    max_distance: float,
    point: npt.NDArray[Any],
    rule: npt.NDArray[Any],
    dist: F64,
) -> None:
    """Rule 3 for ``rows`` (located equipment with a circuit), written into the outputs.

    The cables of every circuit come from one index (:func:`_circuit_cables`).
    Each (equipment, cable of its circuit) pair is screened with bounds computed
    in numpy: the distance between the bounding boxes is a lower bound, the
    distance between a vertex of each an upper bound. Only pairs whose lower
    bound is within the smallest upper bound (and ``max_distance``) can hold
    the nearest cable, and only those are measured exactly with GEOS
    (:func:`shapely.distance`, the same call on the same pair as a one-by-one
    search), so the distance, the cable chosen and the tie-break (lowest edge
    row) are exactly those of measuring every cable.
    """
    geometry = network._geometry
    keys, ptr, cable, eb, ev = _circuit_cables(network)
    circuits = circ_col[rows]
    key = np.asarray(keys.get_indexer(pd.Index(circuits, dtype="str")), np.int64)
    count = np.where(key >= 0, ptr[np.maximum(key, 0) + 1] - ptr[np.maximum(key, 0)], 0)
    none = count == 0
    rule[rows[none]] = [f"circuit {c!r} has no cables in the network" for c in circuits[none]]
    rows, key, count = rows[~none], key[~none], count[~none]
    if rows.size == 0:
        return
    # bounds and one vertex of each equipment geometry, for the screen
    gb = shapely.bounds(geoms[rows])
    gv = _first_vertex(geoms[rows])
    best_e = np.full(len(rows), -1, np.int64)
    best_d = np.full(len(rows), np.inf)
    ends = np.cumsum(count)
    lo = 0
    while lo < len(rows):  # chunks of equipment of at most _PAIR_CHUNK pairs (at least one)
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - count[lo] + _PAIR_CHUNK, "right")))
        _screen(
            slice(lo, hi), key, count, ptr, eb, ev, gb, gv, max_distance, geometry, cable,
            geoms[rows], best_e, best_d,
        )  # fmt: skip
        lo = hi
    far = best_e < 0
    rule[rows[far]] = [
        f"no cable of circuit {c!r} within {max_distance:g} m" for c in circuits[~none][far]
    ]
    rows, e, d = rows[~far], best_e[~far], best_d[~far]
    if rows.size == 0:
        return
    dist[rows] = d
    line = shapely.shortest_line(geoms[rows], geometry[e])
    coords, which = shapely.get_coordinates(line, return_index=True)
    last = np.r_[np.flatnonzero(which[1:] != which[:-1]), len(which) - 1]
    near = coords[last]
    u, v = network._u[e].astype(np.int64), network._v[e].astype(np.int64)
    xy_u, xy_v = network._node_xy[u], network._node_xy[v]
    to_u = np.hypot(xy_u[:, 0] - near[:, 0], xy_u[:, 1] - near[:, 1])
    to_v = np.hypot(xy_v[:, 0] - near[:, 0], xy_v[:, 1] - near[:, 1])
    snap = np.fmin(to_u, to_v) <= snap_m  # nan-ignoring, as nanmin of the two
    end = np.where(to_v < to_u, v, u)
    point[rows[snap]] = _prefixed("node:", take(network._node_ids, end[snap]))
    rule[rows[snap]] = "nearest node"
    point[rows[~snap]] = _prefixed("edge:", take(network._edge_ids, e[~snap]))
    rule[rows[~snap]] = "nearest cable"


def _screen(
    part: slice,
    key: I64,
    count: I64,
    ptr: I64,
    eb: F64,
    ev: F64,
    gb: F64,
    gv: F64,
    max_distance: float,
    geometry: npt.NDArray[Any],
    cable: I64,
    geoms: npt.NDArray[Any],
    best_e: I64,
    best_d: F64,
) -> None:
    """Nearest cable of the circuit of equipment ``part`` (see :func:`_nearest_cables`)."""
    cnt = count[part]
    owner = np.repeat(np.arange(part.start, part.stop), cnt)  # pair -> equipment (in rows)
    first = np.repeat(ptr[key[part]] - (np.cumsum(cnt) - cnt), cnt)
    slot = first + np.arange(len(owner))  # pair -> position in ``cable``
    edge = cable[slot]
    gx0, gy0, gx1, gy1 = (gb[owner, k] for k in range(4))
    dx = np.maximum(np.maximum(eb[edge, 0] - gx1, gx0 - eb[edge, 2]), 0.0)
    dy = np.maximum(np.maximum(eb[edge, 1] - gy1, gy0 - eb[edge, 3]), 0.0)
    lower = np.hypot(dx, dy)
    upper = np.hypot(ev[edge, 0] - gv[owner, 0], ev[edge, 1] - gv[owner, 1])
    cap = np.full(len(best_e), np.inf)
    np.fmin.at(cap, owner, upper)  # nan-ignoring
    cap = np.minimum(cap, max_distance)
    # slack for rounding in the bounds (they only decide which pairs GEOS measures)
    keep = lower <= cap[owner] * (1 + 1e-9) + 1e-6
    keep |= ~(np.isfinite(lower) & np.isfinite(upper))  # odd coordinates: measure them
    owner, e = owner[keep], edge[keep]
    d = shapely.distance(geoms[owner], geometry[e])
    order = np.lexsort((e, d, owner))  # first minimum: lowest edge row on a tie
    owner, d, e = owner[order], d[order], e[order]
    head = np.r_[True, owner[1:] != owner[:-1]]
    ok = head & (d <= max_distance)
    best_e[owner[ok]] = e[ok]
    best_d[owner[ok]] = d[ok]


def _first_vertex(geoms: npt.NDArray[Any]) -> F64:
    """First coordinate of each geometry (nan for one without coordinates)."""
    out = np.full((len(geoms), 2), np.nan)
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    if len(which):
        head = np.r_[True, which[1:] != which[:-1]]
        out[which[head]] = coords[head]
    return out


def _circuit_cables(network: Network) -> tuple[pd.Index, I64, I64, F64, F64]:
    """Index the cables of every circuit: keys, and a CSR of drawn edge rows (ascending).

    A cable belongs to circuit ``c`` when its ``circuit_id`` label is ``c`` or
    when ``c`` feeds it (its circuit group contains ``c``). Keys are the
    network's circuits, then the other labels. Also the bounds and first
    vertex of every edge (for the screen). Built once per network.
    """
    cached: tuple[pd.Index, I64, I64, F64, F64] | None = network.__dict__.get(
        "_circuit_cables_cache"
    )
    if cached is not None:
        return cached
    geometry = network._geometry
    drawn = ~(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    label = network._circuit_label
    circuits = network._circuit_ids
    other = pc.unique(pc.filter(label, pc.invert(pc.is_in(label, value_set=circuits))))
    other = pc.drop_null(other)
    keys_arr = pa.concat_arrays([circuits, other.cast(pa.large_string())])
    keys = pd.Index(to_series(keys_arr))
    n_e = len(drawn)
    # by label
    lab = lookup(label, keys_arr)
    e1 = np.flatnonzero(drawn & (lab >= 0))
    k1 = lab[e1]
    # by the circuit group that feeds the edge
    g = network._edge_group.astype(np.int64)
    e_g = np.flatnonzero(drawn & (g >= 0))
    size = (network._gptr[1:] - network._gptr[:-1])[g[e_g]]
    e2 = np.repeat(e_g, size)
    start = np.repeat(network._gptr[g[e_g]] - (np.cumsum(size) - size), size)
    k2 = network._gmembers[start + np.arange(len(e2))].astype(np.int64)
    # sorted by key, then edge; sort + drop repeats (np.unique's hashing is slower here)
    pair = np.sort(np.concatenate([k1 * n_e + e1, k2 * n_e + e2]))
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
    key, cable = pair // n_e, pair % n_e
    ptr = np.zeros(len(keys) + 1, np.int64)
    np.cumsum(np.bincount(key, minlength=len(keys)), out=ptr[1:])
    cached = (keys, ptr, cable.astype(np.int64), shapely.bounds(geometry), _first_vertex(geometry))
    network.__dict__["_circuit_cables_cache"] = cached
    return cached


def _prefixed(prefix: str, values: Any) -> npt.NDArray[Any]:
    """``prefix + value`` for each id (an object array of Python strings)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.large_string())
    joined = pc.binary_join_element_wise(
        pa.scalar(prefix, pa.large_string()), arr, pa.scalar("", pa.large_string())
    )
    out = np.empty(len(arr), dtype=object)
    out[:] = joined.to_pylist()
    return out


# --------------------------------------------------------------------------- points
def _resolve(
    network: Network, points: Sequence[str], equipment: pd.DataFrame | None
) -> tuple[I64, I64, list[str]]:
    """Kinds (0 edge, 1 node), element numbers and element labels of isolation points."""
    pts = [str(p).strip() for p in points]
    if not pts:
        raise ParameterError("no isolation points given.")
    eq_map: dict[str, str | None] = {}
    eq_rule: dict[str, str] = {}
    if equipment is not None:
        table = equipment_isolation_points(network, equipment)
        eq_map = dict(zip(table[EQUIPMENT_ID], table[ISOLATION_POINT].astype(object), strict=True))
        eq_map = {k: (None if v is None or v != v else v) for k, v in eq_map.items()}
        eq_rule = dict(zip(table[EQUIPMENT_ID], table["rule"], strict=True))
    bare = [p.split(":", 1)[1] if p.startswith(_PREFIXES) else p for p in pts]
    e_pos = network._edge_pos(bare)
    n_pos = network._node_pos(bare)
    kinds = np.zeros(len(pts), np.int64)
    idx = np.full(len(pts), -1, np.int64)
    labels: list[str] = []
    for i, p in enumerate(pts):
        b = bare[i]
        if p.startswith("equipment:") or (not p.startswith(_PREFIXES) and b in eq_map):
            if p.startswith("equipment:") and b not in eq_map:
                raise ParameterError(
                    f"isolation point {p!r}: no equipment {b!r}"
                    + ("" if equipment is not None else " (no equipment frame was given)")
                    + "."
                )
            clash = [k for k, ok in (("edge", e_pos[i] >= 0), ("node", n_pos[i] >= 0)) if ok]
            if clash and not p.startswith("equipment:"):
                raise ParameterError(
                    f"isolation point {p!r} is both an equipment id and a {clash[0]} id; "
                    f"write equipment:{b} or {clash[0]}:{b}."
                )
            target = eq_map[b]
            if target is None:
                raise ParameterError(
                    f"equipment {b!r} cannot be placed on the network: {eq_rule[b]}. Give it an "
                    "edge_id or node column, or isolate the edge/node by id."
                )
            kind_s, _, elem = target.partition(":")
            pos = network._edge_pos([elem])[0] if kind_s == "edge" else network._node_pos([elem])[0]
            kinds[i] = EDGE if kind_s == "edge" else NODE_KIND
            idx[i] = pos
            labels.append(target)
            continue
        is_edge = e_pos[i] >= 0 and not p.startswith("node:")
        is_node = n_pos[i] >= 0 and not p.startswith("edge:")
        if is_edge and is_node:
            raise ParameterError(
                f"isolation point {p!r} is both an edge id and a node id; write edge:{b} or "
                f"node:{b}."
            )
        if not (is_edge or is_node):
            hint = " (or an equipment id, with the equipment given)" if equipment is None else ""
            raise ParameterError(
                f"isolation point {p!r} is not an edge id or node id of the network{hint}; "
                "an unknown point would silently cut off nobody."
            )
        kinds[i] = EDGE if is_edge else NODE_KIND
        idx[i] = e_pos[i] if is_edge else n_pos[i]
        labels.append(("edge:" if is_edge else "node:") + b)
    return kinds, idx, labels


# --------------------------------------------------------------------------- query
def downstream_customers(
    network: Network,
    customers: pd.DataFrame | AttachedCustomers,
    isolation_points: str | Sequence[str],
    *,
    equipment: pd.DataFrame | None = None,
    together: bool = False,
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
    unplaced: Literal["warn", "raise", "ignore"] = "warn",
) -> pd.DataFrame:
    """List the customers who lose supply when switches, cables, nodes or equipment are isolated.

    Parameters
    ----------
    network : Network
    customers : DataFrame, GeoDataFrame or AttachedCustomers
        As for :meth:`Network.attach`; customers without a usable connection
        node are placed on their nearest cable (when they have a location).
    isolation_points : str or sequence of str
        Edge ids (cable sections, links, switches), node ids and, with
        ``equipment``, equipment ids. Prefix ``edge:``, ``node:`` or
        ``equipment:`` when an id could be more than one of these.
    equipment : DataFrame, optional
        Equipment frame; its ids become isolation points through
        :func:`equipment_isolation_points`.
    together : bool, default False
        False: each point is a separate outage (one answer per point). True:
        all points are isolated at the same time (one answer); a customer fed
        round a ring is cut off only if every route is.
    max_distance, review_margin_m : float
        Inference options, as for :meth:`Network.attach` (ignored for
        already attached customers).
    unplaced : {"warn", "raise", "ignore"}, default "warn"
        What to do when some customers cannot be placed on the network at
        all (no usable connection node, no cable within ``max_distance``):
        they cannot be assessed and are *not* in the answer.

    Returns
    -------
    DataFrame
        One row per (isolation point, customer who loses supply):
        ``isolation_point`` (as given; with ``together=True`` all points
        joined by ``" + "``), ``element`` (the edge or node isolated,
        ``edge:<id>``/``node:<id>``; ``;``-joined when together),
        ``customer_id``, ``method`` (``connectivity``, or ``inferred`` for a
        customer placed on its nearest cable) and ``needs_review``. Rows are
        in the order of the points, then of the customers.

    Raises
    ------
    ParameterError
        An isolation point is unknown or ambiguous, or equipment cannot be
        placed on the network; with ``unplaced="raise"``, unplaced customers.

    Warns
    -----
    SmartStreetGeoWarning
        With ``unplaced="warn"``, when customers could not be assessed.

    Notes
    -----
    A customer loses supply when its node is no longer connected to any
    substation through closed edges once the points are removed (a
    normally-open point never carries supply, so the far side of one is not
    fed round it). Isolating a node takes the node itself off. A customer
    placed by inference on its nearest cable ``e`` is counted, conservatively,
    when ``e`` is isolated or either end of ``e`` loses supply; when several
    cables are equally near (within 1 mm, e.g. a customer located at a joint)
    each of them counts. Such rows are ``method="inferred"``. See
    :class:`Network` for the index used.

    Examples
    --------
    A ring S-a-b-c-S with a spur b-d, and a normally-open point d-x to a
    second substation's spur:

    >>> import pandas as pd
    >>> from smartstreet_geo.network import Network, downstream_customers
    >>> edges = pd.DataFrame({
    ...     "edge_id": ["e1", "e2", "e3", "e4", "spur", "nop", "t1"],
    ...     "from_node": ["S", "a", "b", "c", "b", "d", "T"],
    ...     "to_node": ["a", "b", "c", "S", "d", "x", "x"],
    ...     "normally_open": [False, False, False, False, False, True, False],
    ... })
    >>> subs = pd.DataFrame({"substation_id": ["S1", "S2"], "node": ["S", "T"]})
    >>> net = Network(edges, subs)
    >>> customers = pd.DataFrame({"customer_id": ["on_a", "on_b", "on_d", "on_x"],
    ...                           "connection_node": ["a", "b", "d", "x"]})
    >>> out = downstream_customers(net, customers, ["e1", "spur", "b", "nop"])
    >>> out[["isolation_point", "customer_id"]]
      isolation_point customer_id
    0            spur        on_d
    1               b        on_b
    2               b        on_d
    >>> downstream_customers(net, customers, ["e1", "e4"], together=True)["customer_id"].tolist()
    ['on_a', 'on_b', 'on_d']
    """
    if unplaced not in ("warn", "raise", "ignore"):
        raise ParameterError(f"unplaced={unplaced!r}: choose 'warn', 'raise' or 'ignore'.")
    att = as_attached(
        customers,
        network,
        infer="missing",
        max_distance=max_distance,
        review_margin_m=review_margin_m,
    )
    points = [isolation_points] if isinstance(isolation_points, str) else list(isolation_points)
    kinds, idx, labels = _resolve(network, points, equipment)
    best = att.best_method
    n_unplaced = int((best == -1).sum())
    if n_unplaced and unplaced != "ignore":
        msg = (
            f"{n_unplaced} of {att.n} customers cannot be placed on a part of the network fed "
            "from a substation (no usable connection node, and no fed cable within "
            "max_distance) and are not assessed; see reconcile_circuits for who they are."
        )
        if unplaced == "raise":
            raise ParameterError(msg)
        warnings.warn(msg, SmartStreetGeoWarning, stacklevel=2)
    # an open edge carries no supply: isolating it changes nothing
    is_edge = (kinds == EDGE) & (idx >= 0)
    edge_open = np.zeros(len(kinds), dtype=bool)
    edge_open[is_edge] = network._open[idx[is_edge]]
    q_idx = np.where(edge_open, -1, idx)
    if together:
        lost = _lost_nodes_together(network, kinds, q_idx)
        off_edges = np.unique(q_idx[(kinds == EDGE) & (q_idx >= 0)])
        q, rows = _customers_from_mask(att, lost, off_edges)
        point_labels = [" + ".join(points)]
        element_labels = [";".join(labels)]
    else:
        q, rows = _customers_by_query(att, kinds, q_idx)
        point_labels, element_labels = points, labels
    inferred = best[rows] == 1
    methods = pa.array(["connectivity", "inferred"], pa.large_string())
    return pd.DataFrame(
        {
            ISOLATION_POINT: to_series(take(pa.array(point_labels, pa.large_string()), q)),
            ELEMENT: to_series(take(pa.array(element_labels, pa.large_string()), q)),
            CUSTOMER_ID: to_series(take(att.customer_id, rows)),
            "method": to_series(take(methods, inferred.astype(np.int64))),
            "needs_review": inferred & att.inf_needs_review[rows],
        },
        copy=False,
    )


def _lost_nodes_together(network: Network, kinds: I64, idx: I64) -> B:
    """Nodes (fed now) that lose supply with every point isolated at once."""
    k = _kernels()
    n = network.n_nodes
    _qptr, start, stop, full = k.cut_intervals(
        kinds.astype(np.int8),
        idx.astype(np.int64),
        network._u,
        network._v,
        network._pre,
        network._order,
        network._pedge,
        network._size,
        network._low,
    )
    fed = network._pre[:n] >= 0
    if full.all():  # every point cuts whole subtrees: the union is exact
        in_cut = np.zeros(network._n_reached + 1, np.int64)
        np.add.at(in_cut, start, 1)
        np.add.at(in_cut, stop, -1)
        cut_pos = np.cumsum(in_cut[:-1]) > 0
        lost = np.zeros(n, dtype=bool)
        lost[fed] = cut_pos[network._pre[:n][fed]]
        return lost
    n_all = len(network._u) + len(network._roots)
    edge_off = np.zeros(n_all, dtype=bool)
    edge_off[idx[(kinds == EDGE) & (idx >= 0)]] = True
    node_off = np.zeros(n + 1, dtype=bool)
    node_off[idx[(kinds == NODE_KIND) & (idx >= 0)]] = True
    seen = k.reach(network._indptr, network._nbr, network._eid, network._src, edge_off, node_off)
    return np.asarray(fed & ~seen[:n])


def _customers_from_mask(att: AttachedCustomers, lost: B, off_edges: I64) -> tuple[I64, I64]:
    net = att.network
    best = att.best_method
    node = np.maximum(att.node, 0)
    conn = (best == 0) & lost[node]
    owner, e = att.tie_pairs(np.flatnonzero(best == 1).astype(np.int64))
    hit = lost[net._u[e]] | lost[net._v[e]] | np.isin(e, off_edges)
    inf = np.zeros(att.n, dtype=bool)
    inf[owner[hit]] = True
    rows = np.flatnonzero(conn | inf).astype(np.int64)
    return np.zeros(len(rows), np.int64), rows


def _sorted_customers(att: AttachedCustomers) -> tuple[I64, ...]:
    """Return customer rows sorted by the preorder number of their node(s) and by cable.

    Computed once per attachment and kept on it (repeated queries are then cheap).
    """
    cached: tuple[I64, ...] | None = att.__dict__.get("_sorted_cache")
    if cached is None:
        cached = _sort_customers(att)
        object.__setattr__(att, "_sorted_cache", cached)
    return cached


def _sort_customers(att: AttachedCustomers) -> tuple[I64, ...]:
    net = att.network
    best = att.best_method
    conn = np.flatnonzero(best == 0)
    cpre = net._pre[att.node[conn]].astype(np.int64)
    o = np.argsort(cpre, kind="stable")
    inf, e = att.tie_pairs(np.flatnonzero(best == 1).astype(np.int64))
    apre = net._pre[net._u[e]].astype(np.int64)
    bpre = net._pre[net._v[e]].astype(np.int64)
    oa = np.argsort(apre, kind="stable")
    ob = np.argsort(bpre, kind="stable")
    oe = np.argsort(e, kind="stable")
    return (cpre[o], conn[o], apre[oa], inf[oa], bpre[ob], inf[ob], e[oe].astype(np.int64), inf[oe])


def _ranges(keys: I64, rows: I64, start: I64, stop: I64, owner: I64) -> tuple[I64, I64]:
    """Rows whose key is in ``[start, stop)``, with the owning query of each range."""
    lo = np.searchsorted(keys, start, side="left")
    hi = np.searchsorted(keys, stop, side="left")
    count = hi - lo
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    q = np.repeat(owner, count)
    first = np.repeat(lo - np.cumsum(count) + count, count)
    pos = first + np.arange(total)
    return q.astype(np.int64), rows[pos]


def _customers_by_query(att: AttachedCustomers, kinds: I64, idx: I64) -> tuple[I64, I64]:
    net = att.network
    k = _kernels()
    qptr, start, stop, _full = k.cut_intervals(
        kinds.astype(np.int8),
        idx.astype(np.int64),
        net._u,
        net._v,
        net._pre,
        net._order,
        net._pedge,
        net._size,
        net._low,
    )
    owner = np.repeat(np.arange(len(kinds), dtype=np.int64), np.diff(qptr))
    start = start.astype(np.int64)
    stop = stop.astype(np.int64)
    cpre, crow, apre, arow, bpre, brow, ekey, erow = _sorted_customers(att)
    q1, r1 = _ranges(cpre, crow, start, stop, owner)
    if len(arow) == 0:
        order = np.lexsort((r1, q1))
        return q1[order], r1[order]
    q2, r2 = _ranges(apre, arow, start, stop, owner)
    q3, r3 = _ranges(bpre, brow, start, stop, owner)
    eq = np.flatnonzero((kinds == EDGE) & (idx >= 0)).astype(np.int64)
    q4, r4 = _ranges(ekey, erow, idx[eq], idx[eq] + 1, eq)
    n = att.n
    key = np.concatenate([q1 * n + r1, q2 * n + r2, q3 * n + r3, q4 * n + r4])
    key = sorted_unique(key)
    return key // n, key % n
