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
import shapely

from ..crs import require_bng
from ..errors import ParameterError, SmartStreetGeoWarning
from ..schema import CIRCUIT_ID, CUSTOMER_ID, EDGE_ID, EQUIPMENT_ID, NODE, SUBSTATION_ID
from ._attach import AttachedCustomers, as_attached
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network, _kernels
from ._text import arrow_text, shown, take, to_series

__all__ = ["downstream_customers", "equipment_isolation_points"]

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

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
    key = np.unique(key)
    return key // n, key % n
