"""Circuit membership (declared, connectivity, inferred) and its reconciliation."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import shapely

from .._unique import sorted_unique
from ..errors import ParameterError
from ..schema import CIRCUIT_ID, CUSTOMER_ID, SUBSTATION_ID
from ._attach import NODE_UNKNOWN, AttachedCustomers, as_attached
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network
from ._text import shown, take, to_series

__all__ = ["METHODS", "STATUSES", "circuit_members", "reconcile_circuits"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: Membership methods of :func:`circuit_members`.
METHODS = ("declared", "connectivity", "inferred", "best")
#: Reconciliation statuses, most serious first (a customer gets the first that applies).
STATUSES = (
    "unknown_connection_node",
    "unfed",
    "unplaced",
    "unknown_declared_circuit",
    "connectivity_differs",
    "inferred_differs",
    "far_from_declared_feeder",
    "inferred_ambiguous",
    "undeclared",
    "agree",
)
MEMBER_COLUMNS = (
    CUSTOMER_ID,
    CIRCUIT_ID,
    SUBSTATION_ID,
    "method",
    "confidence",
    "needs_review",
    "distance_m",
    "margin_m",
    "n_circuits",
)


# --------------------------------------------------------------------------- members
def _network_first(network: Any, customers: Any, name: str) -> tuple[Network, Any]:
    """Return ``(network, customers)``, taking the old order with a DeprecationWarning.

    The rule for every public function: the network first, then customers,
    then equipment (as :func:`downstream_customers` and
    :func:`equipment_isolation_points` always had it).
    """
    if isinstance(network, Network) or not isinstance(customers, Network):
        return network, customers
    warnings.warn(
        f"{name}(customers, network) is deprecated: write {name}(network, customers) "
        "(the network comes first in every smartstreet-geo function, as in "
        "downstream_customers); the old order will stop working in a future release",
        DeprecationWarning,
        stacklevel=3,
    )
    return customers, network


@overload
def circuit_members(
    network: Network,
    customers: pd.DataFrame | AttachedCustomers,
    *,
    circuits: Iterable[str] | None = None,
    method: Literal["declared", "connectivity", "inferred", "best"] = "connectivity",
    infer: Literal["missing", "all"] = "missing",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame: ...
@overload
def circuit_members(  # the deprecated order (customers first): a DeprecationWarning
    network: pd.DataFrame | AttachedCustomers,
    customers: Network,
    *,
    circuits: Iterable[str] | None = None,
    method: Literal["declared", "connectivity", "inferred", "best"] = "connectivity",
    infer: Literal["missing", "all"] = "missing",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame: ...
def circuit_members(
    network: Any,
    customers: Any,
    *,
    circuits: Iterable[str] | None = None,
    method: Literal["declared", "connectivity", "inferred", "best"] = "connectivity",
    infer: Literal["missing", "all"] = "missing",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame:
    """List the customers on the given circuits, by one method.

    Parameters
    ----------
    network : Network
    customers : DataFrame, GeoDataFrame or AttachedCustomers
        ``customer_id``, and optionally ``circuit_id`` (declared),
        ``connection_node`` and Point geometry (EPSG:27700); or customers
        already attached with :meth:`Network.attach`. (The old order,
        ``circuit_members(customers, network)``, still works with a
        DeprecationWarning.)
    circuits : iterable of str, optional
        Circuit ids (default: every circuit). An id that is not a circuit of
        the network (or, for ``declared``, not declared by any customer
        either) raises: a misspelt id must not give an empty list.
    method : {"connectivity", "declared", "inferred", "best"}
        ``declared``: the customer's own ``circuit_id``. ``connectivity``:
        customers whose ``connection_node`` is fed through the circuit's head
        without crossing a normally-open point (a customer in a closed ring
        fed from two circuits is a member of both). ``inferred``: the circuit
        of the nearest cable within ``max_distance`` (customers without a
        usable connection node; all customers with ``infer="all"``).
        ``best``: connectivity where the connection node is usable, else
        inferred.
    infer : {"missing", "all"}, default "missing"
        For ``inferred``: whom to infer (ignored for attached customers).
    max_distance, review_margin_m : float
        Inference options, see :meth:`Network.attach`.

    Returns
    -------
    DataFrame
        One row per (customer, circuit): ``customer_id``, ``circuit_id``,
        ``substation_id``, ``method``, ``confidence`` (1 for connectivity;
        for inferred rows ``1 - d1/d2`` with ``d1`` the distance to the
        nearest cable and ``d2`` to the nearest cable of another circuit, 0 a
        tie, 1 no other circuit within reach; missing for declared),
        ``needs_review`` (inferred: margin below ``review_margin_m``, or a
        contradicting connection node; declared: the id is not a circuit of
        the network), ``distance_m`` and ``margin_m`` (inferred rows;
        ``margin_m = d2 - d1``, infinite when no other circuit is within
        reach) and ``n_circuits`` (circuits the customer belongs to by this
        method; 2 in a closed ring). Sorted by circuit id, then customer
        order.

    Examples
    --------
    Two ways from S; F2 ends at a normally-open point to F1. One customer has
    no connection node:

    >>> import geopandas as gpd
    >>> from shapely import LineString, Point
    >>> from smartstreet_geo.network import Network, circuit_members
    >>> edges = gpd.GeoDataFrame({
    ...     "edge_id": ["e1", "e2", "e3", "nop"],
    ...     "from_node": ["S", "S", "b", "a"], "to_node": ["a", "b", "c", "c"],
    ...     "circuit_id": ["F1", "F2", "F2", "F1"],
    ...     "normally_open": [False, False, False, True]},
    ...     geometry=[LineString([(0, 0), (0, 100)]), LineString([(0, 0), (100, 0)]),
    ...               LineString([(100, 0), (100, 100)]), LineString([(0, 100), (100, 100)])],
    ...     crs="EPSG:27700")
    >>> subs = gpd.GeoDataFrame({"substation_id": ["S1"], "node": ["S"]},
    ...                         geometry=[Point(0, 0)], crs="EPSG:27700")
    >>> net = Network(edges, subs)
    >>> customers = gpd.GeoDataFrame({
    ...     "customer_id": ["c1", "c2", "c3"], "circuit_id": ["F1", "F1", "F2"],
    ...     "connection_node": ["a", "c", None]},
    ...     geometry=[Point(-5, 90), Point(105, 95), Point(40, 10)], crs="EPSG:27700")
    >>> circuit_members(net, customers, method="declared")[["customer_id", "circuit_id"]]
      customer_id circuit_id
    0          c1         F1
    1          c2         F1
    2          c3         F2
    >>> m = circuit_members(net, customers, circuits=["F2"], method="best")
    >>> m[["customer_id", "method", "distance_m", "margin_m", "needs_review"]]
      customer_id        method  distance_m  margin_m  needs_review
    0          c2  connectivity         NaN       NaN         False
    1          c3      inferred        10.0      30.0         False
    """
    network, customers = _network_first(network, customers, "circuit_members")
    if method not in METHODS:
        raise ParameterError(f"method={method!r}: choose one of {', '.join(METHODS)}.")
    if infer not in ("missing", "all"):
        raise ParameterError(f"infer={infer!r}: choose 'missing' or 'all'.")
    att = as_attached(
        customers,
        network,
        infer=infer if method in ("inferred", "best") else "none",
        max_distance=max_distance,
        review_margin_m=review_margin_m,
    )
    if method == "declared":
        return _declared_members(att, circuits)
    return _members_and_rows(network, att, circuits, method)[0]


def _members_and_rows(
    network: Network, att: AttachedCustomers, circuits: Iterable[str] | None, method: str
) -> tuple[pd.DataFrame, I64]:
    """Return :func:`circuit_members`' frame (not ``declared``) and each row's customer row.

    The rows are positions in ``att`` (the attached customers, in their own order): a
    caller that groups members per customer does so on these integers.
    """
    m = member_codes(network, att, circuits, method)
    frame = _member_frame(att, m.row, m.circuit, m.n_circuits, m.how, m.how_names)
    return frame, m.row


@dataclass(frozen=True)
class MemberCodes:
    """Circuit membership as integers: one entry per (customer, circuit) member.

    Sorted by circuit code, then customer row (the order of :func:`circuit_members`).

    Attributes
    ----------
    row : ndarray of int64
        The customer's position in the attached customers.
    circuit : ndarray of int64
        The circuit's code (a position in ``network.circuit_ids``).
    n_circuits : ndarray of int64
        Circuits in the customer's group (2 or more: a closed ring).
    how : ndarray of int8
        A position in ``how_names`` (``"connectivity"``, ``"inferred"``).
    how_names : list of str
    """

    row: I64
    circuit: I64
    n_circuits: I64
    how: npt.NDArray[np.int8]
    how_names: list[str]

    def needs_review(self, att: AttachedCustomers) -> B:
        """Whether each member was inferred with a margin too small to trust alone."""
        inferred = np.asarray([x == "inferred" for x in self.how_names], dtype=bool)[self.how]
        if not inferred.any():
            return np.zeros(len(self.row), dtype=bool)
        return inferred & att.inf_needs_review[self.row]


def member_codes(
    network: Network, att: AttachedCustomers, circuits: Iterable[str] | None, method: str
) -> MemberCodes:
    """Return :func:`circuit_members`' rows as integer codes, no text (see MemberCodes)."""
    wanted = _wanted_codes(network, circuits)
    parts: list[tuple[I64, I64, str]] = []
    if method in ("connectivity", "best"):
        rows = np.flatnonzero(att.usable)
        parts.append((rows, att.conn_group[rows].astype(np.int64), "connectivity"))
    if method in ("inferred", "best"):
        placed = (att.inf_edge >= 0) & (att.inf_group >= 0)
        if method == "best":
            placed &= att.best_method == 1
        rows = np.flatnonzero(placed)
        parts.append((rows, att.inf_group[rows].astype(np.int64), "inferred"))
    rs, cs, ns, hs = [], [], [], []
    for k, (rows, groups, _how) in enumerate(parts):
        r, c, n_c = _expand(network, rows, groups)
        keep = wanted[c]
        rs.append(r[keep])
        cs.append(c[keep])
        ns.append(n_c[keep])
        hs.append(np.full(int(keep.sum()), k, np.int8))
    r, c = np.concatenate(rs), np.concatenate(cs)
    # sort by circuit, then customer order: rows first (two sorted runs), then a stable
    # sort by circuit code (a radix sort while the codes fit in 16 bits)
    order = np.argsort(r, kind="stable") if len(parts) > 1 else np.arange(len(r))
    code = c[order]
    code = code.astype(np.uint16) if len(network._circuit_ids) < 2**16 else code
    order = order[np.argsort(code, kind="stable")]
    return MemberCodes(
        row=r[order],
        circuit=c[order],
        n_circuits=np.concatenate(ns)[order],
        how=np.concatenate(hs)[order],
        how_names=[p[2] for p in parts],
    )


def _wanted_codes(network: Network, circuits: Iterable[str] | None) -> B:
    n_c = len(network._circuit_ids)
    if circuits is None:
        return np.ones(n_c, dtype=bool)
    if isinstance(circuits, str):
        circuits = [circuits]
    codes = network.circuit_codes(list(circuits), what="circuits")
    wanted = np.zeros(n_c, dtype=bool)
    wanted[codes] = True
    return wanted


def _expand(network: Network, rows: I64, groups: I64) -> tuple[I64, I64, I64]:
    """(row, group) -> one (row, circuit, circuits in group) per circuit of the group."""
    ok = groups >= 0
    rows, groups = rows[ok], groups[ok]
    size = np.diff(network._gptr)[groups]
    if (size == 1).all():  # no closed rings among these customers
        return rows, network._gmembers[network._gptr[groups]].astype(np.int64), size
    r = np.repeat(rows, size)
    first = np.repeat(network._gptr[groups] - np.cumsum(size) + size, size)
    c = network._gmembers[first + np.arange(len(r))].astype(np.int64)
    return r, c, np.repeat(size, size)


def _member_frame(
    att: AttachedCustomers, r: I64, c: I64, n_c: I64, how: npt.NDArray[np.int8], names: list[str]
) -> pd.DataFrame:
    net = att.network
    inferred = np.asarray([x == "inferred" for x in names], dtype=bool)[how]
    sub = pa.array(net._circuit_substation, pa.large_string())
    if inferred.any():
        with np.errstate(invalid="ignore"):
            conf = np.where(inferred, att.inf_confidence[r], 1.0)
            dist = np.where(inferred, att.inf_dist[r], np.nan)
            margin = np.where(inferred, att.inf_margin[r], np.nan)
        review = inferred & att.inf_needs_review[r]
    else:
        conf, dist, margin = np.ones(len(r)), np.full(len(r), np.nan), np.full(len(r), np.nan)
        review = np.zeros(len(r), dtype=bool)
    # every column is a new array: no need for pandas to copy (or consolidate) them again
    return pd.DataFrame(
        {
            CUSTOMER_ID: to_series(take(att.customer_id, r)),
            CIRCUIT_ID: to_series(take(net._circuit_ids, c)),
            SUBSTATION_ID: to_series(take(sub, c)),
            "method": to_series(take(pa.array(names, pa.large_string()), how)),
            "confidence": conf,
            "needs_review": review,
            "distance_m": dist,
            "margin_m": margin,
            "n_circuits": n_c.astype(np.int64),
        },
        copy=False,
    )


def _declared_members(att: AttachedCustomers, circuits: Iterable[str] | None) -> pd.DataFrame:
    net = att.network
    text = to_series(att.declared)
    has = np.array(text.notna().to_numpy(), dtype=bool)
    if circuits is not None:
        wanted = [circuits] if isinstance(circuits, str) else list(circuits)
        known = set(net.circuit_ids) | set(text[has].unique().tolist())
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ParameterError(
                f"circuits: {shown(map(repr, unknown))} is neither a circuit of the network nor "
                f"declared by any customer. Known circuits: {shown(net.circuit_ids, 10)}."
            )
        has &= text.isin(wanted).to_numpy()
    rows = np.flatnonzero(has)
    codes, _uniq = pd.factorize(text.iloc[rows], sort=True)
    order = np.lexsort((rows, codes))
    rows = rows[order]
    n = len(rows)
    dcode = att.declared_code[rows]
    sub = np.asarray([*net._circuit_substation, None], dtype=object)[
        np.where(dcode >= 0, dcode, -1)
    ]
    return pd.DataFrame(
        {
            CUSTOMER_ID: to_series(take(att.customer_id, rows)),
            CIRCUIT_ID: to_series(take(att.declared, rows)),
            SUBSTATION_ID: pd.Series(sub, dtype="str"),
            "method": pd.Series(["declared"] * n, dtype="str"),
            "confidence": np.full(n, np.nan),
            "needs_review": dcode < 0,
            "distance_m": np.full(n, np.nan),
            "margin_m": np.full(n, np.nan),
            "n_circuits": np.ones(n, np.int64),
        }
    )


# --------------------------------------------------------------------------- reconcile
@overload
def reconcile_circuits(
    network: Network,
    customers: pd.DataFrame | AttachedCustomers,
    *,
    far_from_feeder_m: float = 100.0,
    infer: Literal["missing", "all"] = "all",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame: ...
@overload
def reconcile_circuits(  # the deprecated order (customers first): a DeprecationWarning
    network: pd.DataFrame | AttachedCustomers,
    customers: Network,
    *,
    far_from_feeder_m: float = 100.0,
    infer: Literal["missing", "all"] = "all",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame: ...
def reconcile_circuits(
    network: Any,
    customers: Any,
    *,
    far_from_feeder_m: float = 100.0,
    infer: Literal["missing", "all"] = "all",
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> pd.DataFrame:
    """One row per customer: declared vs connectivity vs inferred circuit, with a status.

    Parameters
    ----------
    network : Network
    customers : DataFrame, GeoDataFrame or AttachedCustomers
        As for :func:`circuit_members` (the old order, customers first, still
        works with a DeprecationWarning).
    far_from_feeder_m : float, default 100
        A customer whose location is further than this from every cable of
        its declared circuit is ``far_from_declared_feeder``.
    infer : {"all", "missing"}, default "all"
        Infer the circuit of every customer with a location (so that a
        location that contradicts the connection node is flagged), or only of
        those without a usable connection node. Ignored for attached
        customers.
    max_distance, review_margin_m : float
        Inference options, see :meth:`Network.attach`.

    Returns
    -------
    DataFrame
        In customer order: ``customer_id``, ``declared_circuit_id``,
        ``connectivity_circuit_ids`` and ``inferred_circuit_ids`` (``;``-joined
        when fed from two circuits), ``inferred_distance_m``,
        ``inferred_margin_m``, ``declared_distance_m`` (to the nearest cable of
        the declared circuit), ``circuit_ids`` (the answer to use:
        connectivity, else inferred, else a declared id that is a circuit of
        the network), ``method`` (which of those), ``status`` (the first of
        :data:`STATUSES` that applies), ``needs_review`` (any status other
        than ``agree`` and ``undeclared``) and ``reason`` (every finding, in
        words; no personal data).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString, Point
    >>> from smartstreet_geo.network import Network, reconcile_circuits
    >>> edges = gpd.GeoDataFrame({
    ...     "edge_id": ["e1", "e2"], "from_node": ["S", "S"], "to_node": ["a", "b"],
    ...     "circuit_id": ["F1", "F2"]},
    ...     geometry=[LineString([(0, 0), (0, 100)]), LineString([(0, 0), (100, 0)])],
    ...     crs="EPSG:27700")
    >>> subs = gpd.GeoDataFrame({"substation_id": ["S1"], "node": ["S"]},
    ...                         geometry=[Point(0, 0)], crs="EPSG:27700")
    >>> customers = gpd.GeoDataFrame({
    ...     "customer_id": ["c1", "c2", "c3", "c4"],
    ...     "circuit_id": ["F1", "F1", "F7", None],
    ...     "connection_node": ["a", "b", "a", None]},
    ...     geometry=[Point(-5, 95), Point(95, 5), Point(-5, 95), Point(400, 400)],
    ...     crs="EPSG:27700")
    >>> rec = reconcile_circuits(Network(edges, subs), customers)
    >>> rec[["customer_id", "circuit_ids", "status"]]
      customer_id circuit_ids                    status
    0          c1          F1                     agree
    1          c2          F2      connectivity_differs
    2          c3          F1  unknown_declared_circuit
    3          c4         NaN                  unplaced
    """
    network, customers = _network_first(network, customers, "reconcile_circuits")
    if not (np.isfinite(far_from_feeder_m) and far_from_feeder_m >= 0):
        raise ParameterError(f"far_from_feeder_m={far_from_feeder_m!r}: give metres, 0 or more.")
    att = as_attached(
        customers, network, infer=infer, max_distance=max_distance, review_margin_m=review_margin_m
    )
    net = network
    n = att.n
    usable = att.usable
    best = att.best_method
    cg = att.conn_group
    ig = att.inf_group
    inf_placed = (att.inf_edge >= 0) & (ig >= 0)
    labels = net._group_label
    conn_ids = take(labels, np.where(usable & (cg >= 0), cg, -1))
    inf_ids = take(labels, np.where(inf_placed, ig, -1))
    declared = att.declared
    has_decl = np.asarray(declared.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    dcode = att.declared_code
    decl_known = dcode >= 0
    in_conn = _group_contains(net, cg, dcode) & usable
    in_inf = _group_contains(net, ig, dcode) & inf_placed
    # connectivity and inference agree when their circuit sets overlap
    overlap = _groups_overlap(net, cg, ig) & usable & inf_placed

    # distance to the declared circuit's cables
    decl_dist = np.full(n, np.nan)
    geo_ok = np.isfinite(att.x) & decl_known
    if geo_ok.any() and _has_geometry(net):
        idx = np.flatnonzero(geo_ok)
        seg = net._segments
        d = seg.nearest_in(
            np.ascontiguousarray(att.x[idx]),
            np.ascontiguousarray(att.y[idx]),
            dcode[idx].astype(np.int32),
            net._gptr,
            net._gmembers,
            far_from_feeder_m,
        )
        far = ~np.isfinite(d)
        if far.any():  # exact distance for the few beyond the search cap
            d[far] = _exact_circuit_distance(net, att, idx[far], dcode[idx[far]])
        decl_dist[idx] = d
    with np.errstate(invalid="ignore"):
        far_flag = decl_dist > far_from_feeder_m

    flags = {
        "unknown_connection_node": att.node_state == NODE_UNKNOWN,
        "unfed": att.unfed,
        "unplaced": best == -1,
        "unknown_declared_circuit": has_decl & ~decl_known,
        "connectivity_differs": usable & decl_known & ~in_conn & (cg >= 0),
        "inferred_differs": np.where(
            usable, inf_placed & (cg >= 0) & ~overlap, inf_placed & decl_known & ~in_inf
        ),
        "far_from_declared_feeder": far_flag,
        "inferred_ambiguous": (best == 1) & att.inf_needs_review,
        "undeclared": ~has_decl,
    }
    status = np.full(n, "agree", dtype=object)
    for name in reversed(STATUSES[:-1]):
        status[flags[name]] = name
    # the circuits to use
    circuit_ids = pa.array(
        np.where(
            best == 0,
            conn_ids.to_numpy(zero_copy_only=False),
            np.where(
                best == 1,
                inf_ids.to_numpy(zero_copy_only=False),
                np.where(decl_known, declared.to_numpy(zero_copy_only=False), None),
            ),
        ),
        pa.large_string(),
    )
    method = np.where(best == 0, "connectivity", np.where(best == 1, "inferred", "none"))
    method = np.where((best == -1) & decl_known, "declared", method)
    reason = _reasons(att, flags, status, conn_ids, inf_ids, decl_dist, far_from_feeder_m)
    with np.errstate(invalid="ignore"):
        inf_dist = np.where(inf_placed | (att.inf_edge >= 0), att.inf_dist, np.nan)
    return pd.DataFrame(
        {
            CUSTOMER_ID: to_series(att.customer_id),
            "declared_circuit_id": to_series(declared),
            "connectivity_circuit_ids": to_series(conn_ids),
            "inferred_circuit_ids": to_series(inf_ids),
            "inferred_distance_m": inf_dist,
            "inferred_margin_m": att.inf_margin,
            "declared_distance_m": decl_dist,
            "circuit_ids": to_series(circuit_ids),
            "method": pd.Series(method, dtype="str"),
            "status": pd.Series(status, dtype="str"),
            "needs_review": ~np.isin(status, ["agree", "undeclared"]),
            "reason": pd.Series(reason, dtype="str"),
        }
    )


def _has_geometry(net: Network) -> bool:
    try:
        net._geometry  # noqa: B018 - raises when absent
    except ParameterError:
        return False
    return True


def _group_contains(net: Network, groups: npt.NDArray[np.int32], codes: I64) -> B:
    """Whether circuit ``codes[i]`` is in group ``groups[i]`` (False for -1 either side)."""
    out = np.zeros(len(groups), dtype=bool)
    ok = (groups >= 0) & (codes >= 0)
    g = groups[ok].astype(np.int64)
    c = codes[ok]
    size = np.diff(net._gptr)[g]
    hit = np.zeros(len(g), dtype=bool)
    for j in range(int(size.max()) if len(size) else 0):
        has = size > j
        hit[has] |= net._gmembers[net._gptr[g[has]] + j] == c[has]
    out[ok] = hit
    return out


def _groups_overlap(net: Network, a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]) -> B:
    """Whether groups ``a[i]`` and ``b[i]`` share a circuit."""
    out = np.zeros(len(a), dtype=bool)
    ok = (a >= 0) & (b >= 0)
    same = ok & (a == b)
    out[same] = True
    rest = np.flatnonzero(ok & ~same)
    if rest.size:
        size = np.diff(net._gptr)[a[rest]]
        for j in range(int(size.max())):
            has = size > j
            c = net._gmembers[net._gptr[a[rest[has]]] + j].astype(np.int64)
            out[rest[has]] |= _group_contains(net, b[rest[has]], c)
    return out


def _exact_circuit_distance(net: Network, att: AttachedCustomers, rows: I64, codes: I64) -> F64:
    """Distance from customers to every cable of a circuit (GEOS), for far customers."""
    out = np.full(len(rows), np.inf)
    geoms = net._geometry
    seg_edges = sorted_unique(net._segments.edge)
    for code in np.unique(codes):
        member = _group_contains(
            net, net._edge_group[seg_edges], np.full(len(seg_edges), code, np.int64)
        )
        lines = geoms[seg_edges[member]]
        if not len(lines):
            continue
        target = shapely.multilinestrings(list(shapely.get_parts(lines)))
        sel = codes == code
        pts = shapely.points(att.x[rows[sel]], att.y[rows[sel]])
        out[sel] = shapely.distance(pts, target)
    return out


def _reasons(
    att: AttachedCustomers,
    flags: dict[str, B],
    status: npt.NDArray[np.object_],
    conn_ids: pa.Array,
    inf_ids: pa.Array,
    decl_dist: F64,
    far_m: float,
) -> npt.NDArray[np.object_]:
    """Human-readable findings per customer (ids and distances only, no personal data)."""
    n = att.n
    out = np.full(n, "", dtype=object)
    out[status == "agree"] = "circuits agree"
    out[status == "undeclared"] = "no declared circuit"
    todo = np.flatnonzero(~np.isin(status, ["agree", "undeclared"]))
    if not todo.size:
        return out
    decl = att.declared.to_numpy(zero_copy_only=False)
    conn = conn_ids.to_numpy(zero_copy_only=False)
    inf = inf_ids.to_numpy(zero_copy_only=False)
    nodes_given = att.node_state
    margin = att.inf_margin
    for i in todo.tolist():
        parts = []
        if flags["unknown_connection_node"][i]:
            parts.append("connection node is not a node of the network")
        if flags["unfed"][i]:
            parts.append("connection node is on a part not fed from any substation")
        if flags["unplaced"][i]:
            why = "no usable connection node" if nodes_given[i] != 1 else "no connection node"
            parts.append(f"{why} and no cable within {att.max_distance:g} m")
        if flags["unknown_declared_circuit"][i]:
            parts.append(f"declared circuit {decl[i]} is not a circuit of the network")
        if flags["connectivity_differs"][i]:
            parts.append(f"declared {decl[i]} but connected to {conn[i]}")
        if flags["inferred_differs"][i]:
            ref = f"connected to {conn[i]}" if conn[i] is not None else f"declared {decl[i]}"
            parts.append(f"nearest cable ({att.inf_dist[i]:.1f} m) is on {inf[i]}, but {ref}")
        if flags["far_from_declared_feeder"][i]:
            parts.append(
                f"{decl_dist[i]:.0f} m from the nearest cable of declared circuit {decl[i]} "
                f"(more than {far_m:g} m)"
            )
        if flags["inferred_ambiguous"][i]:
            parts.append(
                f"inferred {inf[i]} is ambiguous: another circuit's cable is only "
                f"{margin[i]:.1f} m further away"
            )
        if flags["undeclared"][i] and not parts:
            parts.append("no declared circuit")
        out[i] = "; ".join(parts)
    return out
