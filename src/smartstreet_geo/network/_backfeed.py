"""Outage plans: backfeed de-energised parts through normally-open points.

When part of the network is isolated to install equipment, the parts that
lose supply may be fed from a neighbouring circuit by closing a normally-open
point (an open link or switch) for the duration of the work. This module
finds the de-energised parts, the normally-open points around them, and a
plan that closes at most one point per part (so the network stays radial:
never two feeds into one part, never a parallel between two circuits or
substations), restoring as many customers as possible, PSR and medically
dependent customers first. Parts no point can restore get a temporary
generator suggestion.

Everything is computed from the network's index (:class:`Network`) and
touches only the affected region: a plan on a network of millions of
customers costs about as much as the parts it restores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from ..errors import ParameterError
from ..schema import CUSTOMER_ID, EDGE_ID, NODE
from ._attach import AttachedCustomers, as_attached
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network, _kernels
from ._outage import EDGE, NODE_KIND, _resolve, _sorted_customers
from ._text import take, to_series

__all__ = [
    "BackfeedPlanner",
    "LoadingLimit",
    "OutagePlan",
    "PlanWeights",
    "plan_outage",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: Default after-diversity demand per customer, kVA: a common design figure for
#: gas-heated homes on an LV feeder. Set your own (heat pumps and cars raise it).
DEFAULT_ADMD_KVA = 2.0

#: ``OutagePlan.customers`` status values.
RESTORED, INTERRUPTED = "restored", "interrupted"

PART_COLUMNS = (
    "part",
    "n_nodes",
    "head_node",
    "customers",
    "psr",
    "medically_dependent",
    "weight",
    "elements",
    "candidate_points",
    "point_to_close",
    "fed_from_part",
    "donor_circuit",
    "donor_substation",
    "restored",
    "reason",
)
CLOSING_COLUMNS = (
    EDGE_ID,
    "part",
    "fed_from_part",
    "donor_circuit",
    "donor_substation",
    "customers_restored",
    "donor_customers_before",
    "donor_customers_after",
    "donor_demand_kva_after",
    "over_limit",
    "limit_detail",
)
CUSTOMER_COLUMNS = (
    CUSTOMER_ID,
    "part",
    "status",
    "restored_through",
    "donor_circuit",
    "elements",
    "psr",
    "medically_dependent",
    "method",
)
GENERATOR_COLUMNS = (
    "part",
    NODE,
    "customers",
    "psr",
    "medically_dependent",
    "demand_kva",
    "elements",
)


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class PlanWeights:
    """How much restoring one customer is worth, by priority.

    A customer counts with the highest weight that applies: ``medically_dependent``
    (PSR customers dependent on electricity for medical equipment), else
    ``psr``, else ``customer``. Weights decide which parts are restored first
    when a loading limit (``LoadingLimit(enforce=True)``) cannot take them all,
    and which part a generator is suggested for first.

    Parameters
    ----------
    customer, psr, medically_dependent : float
        Non-negative weights; defaults 1, 10, 100.
    """

    customer: float = 1.0
    psr: float = 10.0
    medically_dependent: float = 100.0

    def __post_init__(self) -> None:
        for name in ("customer", "psr", "medically_dependent"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not (math.isfinite(v) and v >= 0)
            ):
                raise ParameterError(f"PlanWeights.{name}={v!r}: give a number, 0 or more.")


@dataclass(frozen=True)
class LoadingLimit:
    """When a donor circuit is too loaded to take a backfeed.

    No network load data is assumed: a donor circuit's load is its customer
    count, and optionally an estimated demand (``admd_kva`` per customer,
    an after-diversity maximum demand) against a rating per circuit.

    Parameters
    ----------
    max_customers : int, optional
        A donor carrying more customers than this after the backfeed is over
        the limit.
    admd_kva : float, default 2
        After-diversity demand per customer, kVA (also the generator
        suggestion's demand estimate).
    rating_kva : mapping of str to float, optional
        Rating of each circuit, kVA: a donor whose customers times
        ``admd_kva`` exceed its rating is over the limit. Circuits not in the
        mapping have no rating check. A donor fed through a closed ring of
        several circuits is checked against the sum of their ratings (when
        all are given).
    enforce : bool, default False
        False: plans over the limit are made and flagged. True: a point whose
        closing would put its donor over the limit is not closed (the part
        stays interrupted and gets a generator suggestion); parts are then
        restored in order of weight (PSR and medically dependent customers
        first).
    """

    max_customers: int | None = None
    admd_kva: float = DEFAULT_ADMD_KVA
    rating_kva: Mapping[str, float] = field(default_factory=dict)
    enforce: bool = False

    def __post_init__(self) -> None:
        m = self.max_customers
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
            raise ParameterError(
                f"LoadingLimit.max_customers={m!r}: give a whole number, 0 or more."
            )
        a = self.admd_kva
        if (
            isinstance(a, bool)
            or not isinstance(a, (int, float))
            or not (math.isfinite(a) and a >= 0)
        ):
            raise ParameterError(f"LoadingLimit.admd_kva={a!r}: give kVA, 0 or more.")
        for k, v in dict(self.rating_kva).items():
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not (math.isfinite(v) and v > 0)
            ):
                raise ParameterError(
                    f"LoadingLimit.rating_kva[{str(k)!r}]={v!r}: give a rating in kVA, above 0."
                )

    def check(self, circuits: Sequence[str], customers: int) -> str:
        """Return why a donor of ``circuits`` with ``customers`` is over the limit ('' if not)."""
        out: list[str] = []
        if self.max_customers is not None and customers > self.max_customers:
            out.append(f"{customers} customers > limit {self.max_customers}")
        ratings = [self.rating_kva.get(c) for c in circuits]
        if circuits and all(r is not None for r in ratings):
            rating = float(sum(r for r in ratings if r is not None))
            demand = customers * float(self.admd_kva)
            if demand > rating:
                out.append(f"demand {demand:g} kVA > rating {rating:g} kVA")
        return "; ".join(out)


# --------------------------------------------------------------------------- result
class OutagePlan:
    """A backfeed plan for one outage (one or more points isolated together).

    Made by :func:`plan_outage` or :meth:`BackfeedPlanner.plan`. The tables are
    built on first use (a plan's counts need none of them).

    Attributes
    ----------
    isolation_points : tuple of str
        The points as given.
    elements : tuple of str
        The network elements isolated (``edge:<id>``/``node:<id>``), one per point.
    parts : DataFrame
        One row per de-energised part (a connected piece of the network that
        loses supply): ``part`` (number), ``n_nodes``, ``head_node`` (the node
        supply entered the part through), ``customers``, ``psr``,
        ``medically_dependent``, ``weight`` (their summed weights),
        ``elements`` (the isolated elements bordering it, ``;``-joined),
        ``candidate_points`` (normally-open points joining it to a part that
        stays energised, ``;``-joined), ``point_to_close`` (the point the plan
        closes, empty if none), ``fed_from_part`` (-1, or the restored part
        it is fed through when its only points lead to another de-energised
        part), ``donor_circuit`` (the circuit it is fed from; ``" + "``-joined
        for a closed ring), ``donor_substation``, ``restored`` and ``reason``
        (why not restored).
    closings : DataFrame
        One row per point to close: ``edge_id``, ``part``, ``fed_from_part``,
        ``donor_circuit``, ``donor_substation``, ``customers_restored``,
        ``donor_customers_before`` (customers the donor carries during the
        outage without the plan), ``donor_customers_after`` (with every
        closing of the plan), ``donor_demand_kva_after``, ``over_limit`` and
        ``limit_detail``.
    customers : DataFrame
        One row per customer who loses supply without the plan:
        ``customer_id``, ``part`` (-1 for a customer at an isolated node or on
        an isolated cable: never restored), ``status`` (``restored`` or
        ``interrupted``), ``restored_through`` (the point closed into the
        customer's part), ``donor_circuit``, ``elements``, ``psr``,
        ``medically_dependent``, ``method`` (``connectivity`` or
        ``inferred``: placed on its nearest cable; restored only when every
        cable it may hang off is re-energised).
    generators : DataFrame
        One row per part that stays interrupted with customers in it, most
        weight first: ``part``, ``node`` (where a temporary generator would
        restore the part: the node supply entered it through),
        ``customers``, ``psr``, ``medically_dependent``, ``demand_kva``
        (customers times the after-diversity demand) and ``elements``.
    """

    def __init__(
        self,
        isolation_points: tuple[str, ...],
        elements: tuple[str, ...],
        counts: dict[str, int],
        points_to_close: tuple[str, ...],
        build: Callable[[], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    ) -> None:
        self.isolation_points = isolation_points
        self.elements = elements
        self._counts = counts
        self._points_to_close = points_to_close
        self._build = build

    @cached_property
    def _tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return self._build()

    @property
    def parts(self) -> pd.DataFrame:
        """One row per de-energised part (see the class docstring)."""
        return self._tables[0]

    @property
    def closings(self) -> pd.DataFrame:
        """One row per normally-open point to close (see the class docstring)."""
        return self._tables[1]

    @property
    def customers(self) -> pd.DataFrame:
        """One row per customer who loses supply without the plan (see the class docstring)."""
        return self._tables[2]

    @property
    def generators(self) -> pd.DataFrame:
        """One row per part left interrupted with customers (see the class docstring)."""
        return self._tables[3]

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<OutagePlan: {len(self.isolation_points)} isolation point(s), {s['parts']} "
            f"de-energised part(s), {s['points_to_close']} point(s) to close, "
            f"{s['customers_restored']} of {s['customers_off']} customers restored>"
        )

    def to_frame(self) -> pd.DataFrame:
        """Return :attr:`customers` (one row per customer who would lose supply)."""
        return self.customers

    @property
    def points_to_close(self) -> list[str]:
        """Edge ids of the normally-open points to close, in order."""
        return list(self._points_to_close)

    @cached_property
    def restored_ids(self) -> list[str]:
        """Ids of customers whose supply the plan maintains."""
        c = self.customers
        return c.loc[c["status"] == RESTORED, CUSTOMER_ID].tolist()

    @cached_property
    def interrupted_ids(self) -> list[str]:
        """Ids of customers still interrupted under the plan."""
        c = self.customers
        return c.loc[c["status"] == INTERRUPTED, CUSTOMER_ID].tolist()

    @cached_property
    def psr_interrupted_ids(self) -> list[str]:
        """Ids of PSR customers still interrupted under the plan."""
        c = self.customers
        return c.loc[(c["status"] == INTERRUPTED) & c["psr"], CUSTOMER_ID].tolist()

    def summary(self) -> dict[str, int]:
        """Return counts (no personal data).

        ``parts``, ``parts_restored``, ``points_to_close``, ``customers_off``
        (who lose supply without the plan), ``customers_restored``,
        ``customers_interrupted``, ``psr_restored``, ``psr_interrupted``,
        ``over_limit`` (closings whose donor is over the loading limit) and
        ``generator_sites``.
        """
        return dict(self._counts)

    def describe(self) -> str:
        """Return a few lines for a console: points to close, donors, counts (no customer ids)."""
        s = self.summary()
        lines = [
            f"isolate {', '.join(self.elements)}: {s['parts']} part(s) lose supply, "
            f"{s['customers_off']} customer(s) ({s['psr_restored'] + s['psr_interrupted']} PSR)"
        ]
        for r in self.closings.itertuples(index=False):
            flag = f"  OVER LIMIT: {r.limit_detail}" if r.over_limit else ""
            lines.append(
                f"  close {r.edge_id}: restores {r.customers_restored} customer(s) from "
                f"{r.donor_circuit or r.donor_substation!s} ({r.donor_customers_before} -> "
                f"{r.donor_customers_after} customers){flag}"
            )
        for r in self.generators.itertuples(index=False):
            lines.append(
                f"  no backfeed for part {r.part}: generator at node {r.node!s} would restore "
                f"{r.customers} customer(s) ({r.psr} PSR), about {r.demand_kva:g} kVA"
            )
        lines.append(
            f"  with the plan: {s['customers_restored']} restored, {s['customers_interrupted']} "
            f"still interrupted ({s['psr_interrupted']} PSR)"
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- planner
class BackfeedPlanner:
    """Plan outages on one network for one set of customers (indexes built once).

    Parameters
    ----------
    network : Network
    customers : DataFrame, GeoDataFrame or AttachedCustomers
        As for :meth:`Network.attach`. A frame may carry ``psr`` and
        ``medically_dependent`` (bool) columns for the weights.
    psr, medically_dependent : array-like of bool, optional
        Per customer (in order), overriding the frame's columns (needed for an
        :class:`AttachedCustomers`, which keeps no flags).
    weights : PlanWeights, optional
    loading : LoadingLimit, optional
    max_distance, review_margin_m : float
        Inference options, as for :meth:`Network.attach` (ignored for attached
        customers).

    See Also
    --------
    plan_outage : one plan, building the planner.

    Notes
    -----
    **Parts.** The nodes that lose supply come from the network's cut index
    (preorder intervals of the supply tree; an exact reachability search when
    several points isolated together cut round a closed ring). Isolated nodes
    are work sites and are never restored. The rest split into parts:
    connected components (:func:`scipy.sparse.csgraph.connected_components`)
    over the closed edges that are not isolated, among the lost nodes only.

    **Points.** A normally-open edge with one end in a part is a candidate
    when its other end stays energised (and it is not itself an isolation
    point); one whose other end is in another de-energised part can feed that
    part once the other is restored (a chain, still one feed per part).

    **Choice.** Closing one point per part restores every part that can be
    reached from an energised node through normally-open points, and keeps the
    network radial; which point is closed then only changes the donor's
    loading. Parts are taken most weight first (medically dependent, PSR,
    others), directly fed parts before chained ones; each closes the candidate
    whose donor carries the fewest customers after the closing (ties: the
    lowest edge row). With ``LoadingLimit(enforce=True)`` a closing that
    would put its donor over the limit is skipped (greedy: restoring the most
    weight under per-donor limits is a knapsack problem; weight order is the
    usual practical rule).

    **Customers.** A customer with a connection node is restored with its
    node's part. A customer placed by inference on its nearest cable(s) is
    off when any such cable is isolated or has a de-energised end (as
    :func:`downstream_customers` counts it), and restored only when none of
    its cables is isolated and every end is energised under the plan.
    """

    def __init__(
        self,
        network: Network,
        customers: pd.DataFrame | AttachedCustomers,
        *,
        psr: npt.ArrayLike | None = None,
        medically_dependent: npt.ArrayLike | None = None,
        weights: PlanWeights | None = None,
        loading: LoadingLimit | None = None,
        max_distance: float = DEFAULT_MAX_DISTANCE_M,
        review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
    ) -> None:
        if not isinstance(network, Network):
            raise TypeError(
                f"network must be a smartstreet_geo.network.Network, not {type(network).__name__}"
            )
        self.network = network
        self.weights = weights if weights is not None else PlanWeights()
        self.loading = loading if loading is not None else LoadingLimit()
        if not isinstance(self.weights, PlanWeights):
            raise TypeError("weights must be a PlanWeights")
        if not isinstance(self.loading, LoadingLimit):
            raise TypeError("loading must be a LoadingLimit")
        att = as_attached(
            customers,
            network,
            infer="missing",
            max_distance=max_distance,
            review_margin_m=review_margin_m,
        )
        self.attached = att
        frame = customers if isinstance(customers, pd.DataFrame) else None
        self._psr = _flags(psr, frame, "psr", att.n)
        self._med = _flags(medically_dependent, frame, "medically_dependent", att.n)
        w = self.weights
        self._weight = np.where(
            self._med, w.medically_dependent, np.where(self._psr, w.psr, w.customer)
        ).astype(np.float64)
        k = _kernels()
        net = network
        n = net.n_nodes
        # normally-open edges by node (CSR), for the points around a part
        self._open_ptr, self._open_nbr, self._open_eid = k.build_csr(n, net._u, net._v, net._open)
        # customers by group (for donor loading) and the circuit -> groups index
        best = att.best_method
        grp = np.where(best == 0, att.conn_group, np.where(best == 1, att.inf_group, -1))
        self._cust_group = grp.astype(np.int64)
        n_g = len(net._group_size)
        self._group_count = np.bincount(grp[grp >= 0], minlength=n_g).astype(np.int64)
        owner = np.repeat(np.arange(n_g), net._group_size)
        import scipy.sparse as sp  # here, not at import: a campaign without plans never loads it

        self._circ_groups = sp.csr_matrix(
            (np.ones(len(owner), np.int8), (net._gmembers.astype(np.int64), owner)),
            shape=(len(net._circuit_ids), n_g),
        )
        self._circuit_names = np.asarray(net.circuit_ids, dtype=object)
        self._root_sub = net._root_sub

    # ------------------------------------------------------------------ public
    def plan(
        self, isolation_points: str | Sequence[str], *, equipment: pd.DataFrame | None = None
    ) -> OutagePlan:
        """Plan one outage: every point isolated at the same time.

        Parameters
        ----------
        isolation_points : str or sequence of str
            Edge ids, node ids and (with ``equipment``) equipment ids, as for
            :func:`downstream_customers`; all isolated together (several
            equipment installed the same day).
        equipment : DataFrame, optional
            Equipment frame, for equipment ids.

        Returns
        -------
        OutagePlan
        """
        net = self.network
        points = [isolation_points] if isinstance(isolation_points, str) else list(isolation_points)
        kinds, idx, labels = _resolve(net, points, equipment)
        # an open edge carries no supply: isolating it cuts nothing (and it cannot be closed)
        is_edge = kinds == EDGE
        iso_edges = np.unique(idx[is_edge]).astype(np.int64)
        iso_nodes = np.unique(idx[~is_edge]).astype(np.int64)
        cut_edge = is_edge & ~net._open[np.where(is_edge, idx, 0)]
        lost = self._lost(kinds, np.where(is_edge & ~cut_edge, -1, idx))
        return self._plan(points, labels, kinds, idx, iso_edges, iso_nodes, lost)

    # ------------------------------------------------------------------ lost nodes
    def _lost(self, kinds: I64, idx: I64) -> I64:
        """Nodes fed now that lose supply with every point isolated together (sorted)."""
        net = self.network
        k = _kernels()
        live = idx >= 0
        kinds, idx = kinds[live], idx[live]
        if len(idx) == 0:
            return np.zeros(0, np.int64)
        _qptr, start, stop, full = k.cut_intervals(
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
        if len(idx) == 1 or full.all():  # one point, or whole subtrees: intervals are exact
            start = start.astype(np.int64)
            cnt = stop.astype(np.int64) - start
            pos = np.repeat(start - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
            return np.unique(net._order[pos].astype(np.int64))
        n = net.n_nodes
        edge_off = np.zeros(len(net._u) + len(net._roots), dtype=bool)
        edge_off[idx[kinds == EDGE]] = True
        node_off = np.zeros(n + 1, dtype=bool)
        node_off[idx[kinds == NODE_KIND]] = True
        seen = k.reach(net._indptr, net._nbr, net._eid, net._src, edge_off, node_off)
        return np.flatnonzero((net._pre[:n] >= 0) & ~seen[:n]).astype(np.int64)

    # ------------------------------------------------------------------ the plan
    def _plan(
        self,
        points: list[str],
        labels: list[str],
        kinds: I64,
        idx: I64,
        iso_edges: I64,
        iso_nodes: I64,
        lost: I64,
    ) -> OutagePlan:
        net = self.network
        # ---- parts: components of the lost nodes (less isolated nodes) over closed, kept edges
        nodes = lost[~np.isin(lost, iso_nodes)]  # sorted
        owner, kk = _gather(net._indptr, nodes)
        eid = net._eid[kk].astype(np.int64)
        nbr = net._nbr[kk].astype(np.int64)
        real = eid < net.n_edges  # not the virtual source's edges
        owner, eid, nbr = owner[real], eid[real], nbr[real]
        iso_e = np.isin(eid, iso_edges)
        pos = _find(nodes, nbr)
        inside = (pos >= 0) & ~iso_e
        m = len(nodes)
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        adj = sp.csr_matrix(
            (np.ones(int(inside.sum()), np.int8), (owner[inside], pos[inside])), shape=(m, m)
        )
        n_parts, comp = connected_components(adj, directed=False)
        n_parts = int(n_parts) if m else 0
        # number parts by their head (lowest preorder number): deterministic, in supply order
        pre = net._pre[nodes].astype(np.int64)
        head_pre = np.full(n_parts, np.iinfo(np.int64).max)
        np.minimum.at(head_pre, comp, pre)
        rank = np.empty(n_parts, np.int64)
        rank[np.argsort(head_pre, kind="stable")] = np.arange(n_parts)
        part_of = rank[comp].astype(np.int64)
        head_node = net._order[np.sort(head_pre)].astype(np.int64)

        # ---- isolated elements bordering each part (few: one pass in Python is fine)
        el_of_edge = {int(e): i for i, e in enumerate(idx.tolist()) if kinds[i] == EDGE}
        el_of_node = {int(v): i for i, v in enumerate(idx.tolist()) if kinds[i] == NODE_KIND}
        borders: list[set[int]] = [set() for _ in range(n_parts)]
        for o, e in zip(owner[iso_e].tolist(), eid[iso_e].tolist(), strict=True):
            borders[part_of[o]].add(el_of_edge[e])
        site = np.isin(nbr, iso_nodes) & ~iso_e
        for o, v in zip(owner[site].tolist(), nbr[site].tolist(), strict=True):
            borders[part_of[o]].add(el_of_node[v])
        part_elements = [";".join(sorted({labels[q] for q in b})) for b in borders]

        # ---- normally-open points around the parts
        o_own, o_k = _gather(self._open_ptr, nodes)
        o_eid = self._open_eid[o_k].astype(np.int64)
        o_far = self._open_nbr[o_k].astype(np.int64)
        usable = ~np.isin(o_eid, iso_edges)
        o_own, o_eid, o_far = o_own[usable], o_eid[usable], o_far[usable]
        far_pos = _find(nodes, o_far)
        live = (_find(lost, o_far) < 0) & (net._pre[o_far] >= 0)  # stays energised
        o_part = part_of[o_own]
        far_part = np.where(far_pos >= 0, part_of[np.maximum(far_pos, 0)], -1)

        # ---- customers who lose supply
        off = self._customers_off(lost, nodes, part_of, iso_edges)
        rows = off.rows
        has_part = off.part >= 0
        cp = off.part[has_part]

        def per_part(values: npt.ArrayLike) -> F64:
            w = np.asarray(values, np.float64)[has_part]
            return np.asarray(np.bincount(cp, weights=w, minlength=n_parts), np.float64)

        part_cust = np.bincount(cp, minlength=n_parts).astype(np.int64)
        part_psr = per_part(self._psr[rows]).astype(np.int64)
        part_med = per_part(self._med[rows]).astype(np.int64)
        part_w = per_part(self._weight[rows])

        # ---- choose the points
        g = self._cust_group[rows]
        lost_by_group = np.bincount(g[g >= 0], minlength=len(self._group_count))
        ch = _Choice(self, n_parts, part_w, part_cust, lost_by_group)
        ch.run(o_part, o_eid, o_far, far_part, live)

        # ---- customers' status under the plan
        restored_part = ch.point >= 0
        status_ok = np.zeros(len(rows), dtype=bool)
        conn = ~off.inferred
        restored_or_not = np.append(restored_part, False)  # part -1 (a work site): never
        status_ok[conn] = restored_or_not[off.part[conn]]
        if off.inferred.any():
            # an inferred customer: every end of every cable it may hang off energised
            ends = off.ends
            ok = np.ones(len(ends), dtype=bool)
            ok[ends < 0] = False  # an isolated cable
            lost_end = (ends >= 0) & (_find(lost, ends) >= 0)
            p = _find(nodes, ends)
            ok[lost_end] = False
            ok[p >= 0] = restored_part[part_of[p[p >= 0]]]
            bad = np.zeros(len(rows), dtype=np.int64)
            np.add.at(bad, off.end_owner, ~ok)
            status_ok[off.inferred] = bad[off.inferred] == 0
        return self._result(
            points, labels, n_parts, head_node, part_of, part_elements,
            part_cust, part_psr, part_med, part_w, o_part, o_eid, live, far_part, ch, off,
            status_ok,
        )  # fmt: skip

    # ------------------------------------------------------------------ customers
    def _customers_off(self, lost: I64, nodes: I64, part_of: I64, iso_edges: I64) -> _Off:
        """Return who loses supply: rows, part, inferred, and inferred customers' cable ends."""
        att = self.attached
        net = self.network
        cpre, crow, apre, arow, bpre, brow, ekey, erow = _sorted_customers(att)
        lost_pre = np.sort(net._pre[lost].astype(np.int64))
        conn_rows = _matching(cpre, crow, lost_pre)
        inf_rows = np.unique(
            np.concatenate(
                [
                    _matching(apre, arow, lost_pre),
                    _matching(bpre, brow, lost_pre),
                    _matching(ekey, erow, iso_edges),
                ]
            )
        )
        rows = np.concatenate([conn_rows, inf_rows])
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        inferred = np.r_[np.zeros(len(conn_rows), bool), np.ones(len(inf_rows), bool)][order]
        part = np.full(len(rows), -1, np.int64)
        cn = att.node[rows[~inferred]]
        p = _find(nodes, cn)
        part[np.flatnonzero(~inferred)[p >= 0]] = part_of[p[p >= 0]]
        # inferred customers: (customer, cable) pairs -> both ends; an isolated cable is -1
        where_inf = np.flatnonzero(inferred)
        owner, e = att.tie_pairs(rows[where_inf])
        local = np.searchsorted(rows, owner)
        iso = np.isin(e, iso_edges)
        u = np.where(iso, -1, net._u[e]).astype(np.int64)
        v = np.where(iso, -1, net._v[e]).astype(np.int64)
        ends = np.concatenate([u, v])
        end_owner = np.concatenate([local, local])
        # the part of an inferred customer: the first de-energised end's part (for counting)
        pe = _find(nodes, ends)
        has = pe >= 0
        first = np.full(len(rows), np.iinfo(np.int64).max)
        np.minimum.at(first, end_owner[has], part_of[pe[has]])
        got = inferred & (first < np.iinfo(np.int64).max)
        part[got] = first[got]
        return _Off(rows, part, inferred, ends, end_owner)

    # ------------------------------------------------------------------ donors
    def donor(self, live_node: int) -> tuple[int, tuple[int, ...]]:
        """Donor key and circuit codes feeding a live node (a busbar: its substation's circuits)."""
        net = self.network
        g = int(net._node_group[live_node])
        if g >= 0:
            return g, tuple(int(c) for c in net._gmembers[net._gptr[g] : net._gptr[g + 1]])
        circuits = np.unique(net._head_circuit[net._head_root == live_node])
        return -2 - int(live_node), tuple(int(c) for c in circuits)

    def donor_customers(self, circuits: tuple[int, ...], lost_by_group: I64) -> int:
        """Return the customers the circuits carry during the outage (a ring's once)."""
        if not circuits:
            return 0
        groups = np.unique(self._circ_groups[list(circuits)].indices)
        return int(self._group_count[groups].sum() - lost_by_group[groups].sum())

    def donor_names(self, key: int, circuits: tuple[int, ...]) -> tuple[str, str]:
        """Donor circuit label (``" + "``-joined; empty for a busbar) and substation."""
        net = self.network
        if key >= 0:
            label = " + ".join(str(self._circuit_names[c]) for c in circuits)
            return label, str(net._circuit_substation[circuits[0]] or "")
        return "", str(self._root_sub.get(-2 - key, ""))

    # ------------------------------------------------------------------ result
    def _result(
        self,
        points: list[str],
        labels: list[str],
        n_parts: int,
        head_node: I64,
        part_of: I64,
        part_elements: list[str],
        part_cust: I64,
        part_psr: I64,
        part_med: I64,
        part_w: F64,
        o_part: I64,
        o_eid: I64,
        live: B,
        far_part: I64,
        ch: _Choice,
        off: _Off,
        status_ok: B,
    ) -> OutagePlan:
        net = self.network
        point_text = np.asarray(
            take(net._edge_ids, ch.point).to_pylist() if n_parts else [], dtype=object
        )
        point_text[ch.point < 0] = ""
        closing_ids = tuple(str(point_text[p]) for p in ch.sequence)
        psr = self._psr[off.rows]
        over = sum(bool(ch.limit_detail(int(ch.donor_key[p]))) for p in ch.sequence)
        counts = {
            "parts": n_parts,
            "parts_restored": int((ch.point >= 0).sum()),
            "points_to_close": len(ch.sequence),
            "customers_off": len(off.rows),
            "customers_restored": int(status_ok.sum()),
            "customers_interrupted": int((~status_ok).sum()),
            "psr_restored": int((status_ok & psr).sum()),
            "psr_interrupted": int((~status_ok & psr).sum()),
            "over_limit": int(over),
            "generator_sites": int(((ch.point < 0) & (part_cust > 0)).sum()),
        }

        def build() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
            return self._tables(
                n_parts, head_node, part_of, part_elements, part_cust, part_psr, part_med,
                part_w, o_part, o_eid, live, far_part, ch, off, status_ok, labels, point_text,
            )  # fmt: skip

        return OutagePlan(tuple(points), tuple(labels), counts, closing_ids, build)

    def _tables(
        self,
        n_parts: int,
        head_node: I64,
        part_of: I64,
        part_elements: list[str],
        part_cust: I64,
        part_psr: I64,
        part_med: I64,
        part_w: F64,
        o_part: I64,
        o_eid: I64,
        live: B,
        far_part: I64,
        ch: _Choice,
        off: _Off,
        status_ok: B,
        labels: list[str],
        point_text: npt.NDArray[Any],
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        net = self.network
        edge_ids = net._edge_ids
        cand_lists: list[list[int]] = [[] for _ in range(n_parts)]
        for p, e, ok in zip(
            o_part.tolist(), o_eid.tolist(), (live | (far_part >= 0)).tolist(), strict=True
        ):
            if ok:
                cand_lists[p].append(e)
        cand_text = [
            ";".join(take(edge_ids, np.unique(c)).to_pylist()) if c else "" for c in cand_lists
        ]
        parts = pd.DataFrame(
            {
                "part": np.arange(n_parts, dtype=np.int64),
                "n_nodes": np.bincount(part_of, minlength=n_parts).astype(np.int64),
                "head_node": to_series(take(net._node_ids, head_node)),
                "customers": part_cust,
                "psr": part_psr,
                "medically_dependent": part_med,
                "weight": part_w,
                "elements": pd.Series(part_elements, dtype="str"),
                "candidate_points": pd.Series(cand_text, dtype="str"),
                "point_to_close": pd.Series(point_text.tolist(), dtype="str"),
                "fed_from_part": ch.via,
                "donor_circuit": pd.Series(ch.donor_circuit, dtype="str"),
                "donor_substation": pd.Series(ch.donor_substation, dtype="str"),
                "restored": ch.point >= 0,
                "reason": pd.Series(ch.reason, dtype="str"),
            },
            copy=False,
        )
        # ---- closings, in the order chosen
        seq = np.asarray(ch.sequence, dtype=np.int64)
        keys = [int(ch.donor_key[p]) for p in ch.sequence]
        before = np.asarray([ch.before[k] for k in keys], dtype=np.int64)
        after = before + np.asarray([ch.added[k] for k in keys], dtype=np.int64)
        detail = [ch.limit_detail(k) for k in keys]
        closings = pd.DataFrame(
            {
                EDGE_ID: pd.Series([point_text[p] for p in ch.sequence], dtype="str"),
                "part": seq,
                "fed_from_part": ch.via[seq],
                "donor_circuit": pd.Series([ch.donor_circuit[p] for p in seq], dtype="str"),
                "donor_substation": pd.Series([ch.donor_substation[p] for p in seq], dtype="str"),
                "customers_restored": part_cust[seq].astype(np.int64),
                "donor_customers_before": before,
                "donor_customers_after": after,
                "donor_demand_kva_after": after * float(self.loading.admd_kva),
                "over_limit": np.asarray([bool(d) for d in detail], dtype=bool),
                "limit_detail": pd.Series(detail, dtype="str"),
            },
            copy=False,
        )
        # ---- customers
        rows = off.rows
        part = off.part
        ok_part = part >= 0
        through = np.full(len(rows), "", dtype=object)
        donor = np.full(len(rows), "", dtype=object)
        elements = np.full(len(rows), "", dtype=object)
        if n_parts:
            pt = np.asarray(point_text, dtype=object)
            dc = np.asarray(ch.donor_circuit, dtype=object)
            pe = np.asarray(part_elements, dtype=object)
            sel = ok_part & status_ok
            through[sel] = pt[part[sel]]
            donor[sel] = dc[part[sel]]
            elements[ok_part] = pe[part[ok_part]]
        # customers at an isolated node or on an isolated cable: the element(s) they touch
        if (~ok_part).any():
            elements[~ok_part] = self._site_elements(rows[~ok_part], off, labels, ~ok_part)
        methods = pa.array(["connectivity", "inferred"], pa.large_string())
        customers = pd.DataFrame(
            {
                CUSTOMER_ID: to_series(take(self.attached.customer_id, rows)),
                "part": part,
                "status": pd.Series(np.where(status_ok, RESTORED, INTERRUPTED), dtype="str"),
                "restored_through": pd.Series(through.tolist(), dtype="str"),
                "donor_circuit": pd.Series(donor.tolist(), dtype="str"),
                "elements": pd.Series(elements.tolist(), dtype="str"),
                "psr": self._psr[rows],
                "medically_dependent": self._med[rows],
                "method": to_series(take(methods, off.inferred.astype(np.int64))),
            },
            copy=False,
        )
        # ---- generator suggestions: parts left interrupted with customers, most weight first
        left = np.flatnonzero((ch.point < 0) & (part_cust > 0))
        left = left[np.lexsort((left, -part_w[left]))]
        generators = pd.DataFrame(
            {
                "part": left.astype(np.int64),
                NODE: to_series(take(net._node_ids, head_node[left])),
                "customers": part_cust[left],
                "psr": part_psr[left],
                "medically_dependent": part_med[left],
                "demand_kva": part_cust[left] * float(self.loading.admd_kva),
                "elements": pd.Series([part_elements[p] for p in left], dtype="str"),
            },
            copy=False,
        )
        return parts, closings, customers, generators

    def _site_elements(self, rows: I64, off: _Off, labels: list[str], mask: B) -> list[str]:
        """For customers outside every part: the isolated node or cable they are at."""
        net = self.network
        att = self.attached
        lab = {}
        for lbl in labels:
            kind, _, ident = lbl.partition(":")
            lab[(kind, ident)] = lbl
        out: list[str] = []
        node_ids = take(net._node_ids, np.maximum(att.node[rows], 0)).to_pylist()
        for r, nid in zip(rows.tolist(), node_ids, strict=True):
            if att.best_method[r] == 0:
                out.append(lab.get(("node", str(nid)), ""))
            else:
                _o, e = att.tie_pairs(np.array([r], np.int64))
                names = take(net._edge_ids, e).to_pylist()
                found = sorted({lab[("edge", str(x))] for x in names if ("edge", str(x)) in lab})
                out.append(";".join(found))
        return out


# --------------------------------------------------------------------------- choice
@dataclass
class _Off:
    """Customers who lose supply (rows sorted) and the cable ends of inferred ones."""

    rows: I64
    part: I64
    inferred: B
    ends: I64
    end_owner: I64


class _Choice:
    """Which point each part closes (see :class:`BackfeedPlanner`, Notes)."""

    def __init__(
        self,
        planner: BackfeedPlanner,
        n_parts: int,
        part_w: F64,
        part_cust: I64,
        lost_by_group: I64,
    ) -> None:
        self.planner = planner
        self.n = n_parts
        self.part_w = part_w
        self.part_cust = part_cust
        self.lost_by_group = lost_by_group
        self.point = np.full(n_parts, -1, np.int64)
        self.via = np.full(n_parts, -1, np.int64)
        self.donor_key = np.zeros(n_parts, np.int64)
        self.donor_circuit = [""] * n_parts
        self.donor_substation = [""] * n_parts
        self.reason = [""] * n_parts
        self.sequence: list[int] = []
        self.before: dict[int, int] = {}
        self.added: dict[int, int] = {}
        self.circuits_of: dict[int, tuple[int, ...]] = {}

    def _key(self, node: int) -> int:
        key, circuits = self.planner.donor(node)
        if key not in self.before:
            self.circuits_of[key] = circuits
            self.before[key] = self.planner.donor_customers(circuits, self.lost_by_group)
            self.added[key] = 0
        return key

    def limit_detail(self, key: int, extra: int = 0) -> str:
        names = [str(self.planner._circuit_names[c]) for c in self.circuits_of[key]]
        if key < 0:
            names = []  # a busbar: no circuit rating applies
        return self.planner.loading.check(names, self.before[key] + self.added[key] + extra)

    def _take(self, p: int, edge: int, key: int, via: int) -> None:
        self.point[p] = edge
        self.via[p] = via
        self.donor_key[p] = key
        circ, sub = self.planner.donor_names(key, self.circuits_of[key])
        self.donor_circuit[p], self.donor_substation[p] = circ, sub
        self.added[key] += int(self.part_cust[p])
        self.sequence.append(p)

    def _best(self, p: int, options: list[tuple[int, int, int]]) -> tuple[int, int, int] | None:
        """Best (edge, donor key, via) for part ``p``: fewest donor customers after, lowest edge."""
        enforce = self.planner.loading.enforce
        scored = []
        for edge, key, via in options:
            after = self.before[key] + self.added[key] + int(self.part_cust[p])
            over = bool(self.limit_detail(key, int(self.part_cust[p])))
            if enforce and over:
                continue
            scored.append((over, after, edge, key, via))
        if not scored:
            return None
        _over, _after, edge, key, via = min(scored)
        return edge, key, via

    def run(self, o_part: I64, o_eid: I64, o_far: I64, far_part: I64, live: B) -> None:
        order = sorted(range(self.n), key=lambda p: (-self.part_w[p], p))
        direct: list[list[tuple[int, int, int]]] = [[] for _ in range(self.n)]
        links: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        for p, e, w, q, ok in zip(
            o_part.tolist(),
            o_eid.tolist(),
            o_far.tolist(),
            far_part.tolist(),
            live.tolist(),
            strict=True,
        ):
            if ok:
                direct[p].append((e, self._key(w), -1))
            elif q >= 0 and q != p:
                links[p].append((e, q))
        blocked = [False] * self.n
        for p in order:
            if direct[p]:
                best = self._best(p, direct[p])
                if best is None:
                    blocked[p] = True
                else:
                    self._take(p, *best)
        changed = True
        while changed:  # chains: parts fed through a part already restored
            changed = False
            for p in order:
                if self.point[p] >= 0:
                    continue
                opts = [(e, int(self.donor_key[q]), q) for e, q in links[p] if self.point[q] >= 0]
                if not opts:
                    continue
                best = self._best(p, opts)
                if best is None:
                    blocked[p] = True
                    continue
                self._take(p, *best)
                changed = True
        for p in range(self.n):
            if self.point[p] >= 0:
                continue
            if blocked[p]:
                self.reason[p] = "every donor would be over the loading limit"
            elif links[p] and not direct[p]:
                self.reason[p] = (
                    "its normally-open points lead only to parts that stay de-energised"
                )
            else:
                self.reason[p] = "no normally-open point to a part that stays energised"


# --------------------------------------------------------------------------- helpers
def _flags(given: npt.ArrayLike | None, frame: pd.DataFrame | None, column: str, n: int) -> B:
    """Per-customer true/false from ``given`` or the frame's column; missing is false."""
    if given is not None:
        values = pd.Series(np.asarray(given, dtype=object).reshape(-1))
        if len(values) != n:
            raise ParameterError(
                f"{column}: give one true/false per customer ({n}), not {len(values)}."
            )
    elif frame is None or column not in frame:
        return np.zeros(n, dtype=bool)
    else:
        values = frame[column].astype(object)
    return np.asarray(values.where(values.notna(), False).astype(bool).to_numpy(), dtype=bool)


def _gather(indptr: Any, nodes: I64) -> tuple[I64, I64]:
    """(position in ``nodes``, CSR slot) for every neighbour entry of ``nodes``."""
    lo = np.asarray(indptr[nodes], np.int64)
    cnt = np.asarray(indptr[nodes + 1], np.int64) - lo
    total = int(cnt.sum())
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64), cnt)
    slot = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total, dtype=np.int64)
    return owner, slot


def _find(sorted_values: I64, x: I64) -> I64:
    """Position of each ``x`` in the sorted array (-1 where absent)."""
    if len(sorted_values) == 0:
        return np.full(len(x), -1, np.int64)
    pos = np.searchsorted(sorted_values, x)
    pos = np.minimum(pos, len(sorted_values) - 1)
    return np.where(sorted_values[pos] == x, pos, -1).astype(np.int64)


def _matching(keys: I64, rows: I64, wanted: I64) -> I64:
    """Rows whose (sorted) key is one of ``wanted``."""
    lo = np.searchsorted(keys, wanted, side="left")
    hi = np.searchsorted(keys, wanted, side="right")
    cnt = hi - lo
    pos = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
    return np.asarray(rows[pos], np.int64)


# --------------------------------------------------------------------------- one call
def plan_outage(
    network: Network,
    customers: pd.DataFrame | AttachedCustomers,
    isolation_points: str | Sequence[str],
    *,
    equipment: pd.DataFrame | None = None,
    psr: npt.ArrayLike | None = None,
    medically_dependent: npt.ArrayLike | None = None,
    weights: PlanWeights | None = None,
    loading: LoadingLimit | None = None,
    max_distance: float = DEFAULT_MAX_DISTANCE_M,
    review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
) -> OutagePlan:
    """Plan an outage: backfeed the parts that lose supply through normally-open points.

    Parameters
    ----------
    network : Network
    customers : DataFrame, GeoDataFrame or AttachedCustomers
        As for :meth:`Network.attach`; ``psr`` and ``medically_dependent``
        columns (bool) weight the choice.
    isolation_points : str or sequence of str
        Edge ids, node ids and (with ``equipment``) equipment ids, all
        isolated at the same time (e.g. the equipment installed on one day).
    equipment : DataFrame, optional
        Equipment frame, to give equipment ids as isolation points.
    psr, medically_dependent : array-like of bool, optional
        Per customer, instead of the frame's columns.
    weights : PlanWeights, optional
        Default: 1 per customer, 10 per PSR customer, 100 per medically
        dependent customer.
    loading : LoadingLimit, optional
        Default: no limit (donor loading reported, nothing flagged).
    max_distance, review_margin_m : float
        Inference options, as for :meth:`Network.attach`.

    Returns
    -------
    OutagePlan

    Raises
    ------
    ParameterError
        An isolation point is unknown or ambiguous; bad weights or limits.

    See Also
    --------
    BackfeedPlanner : the same, with the indexes kept for many plans.
    downstream_customers : who loses supply, without a plan.

    Examples
    --------
    Two substations; F1 runs S-a-b, F2 runs T-c, and a normally-open point
    joins b and c. Isolating cable e1 (S-a) takes a and b off; closing the
    point restores them from F2:

    >>> import pandas as pd
    >>> from smartstreet_geo.network import Network, plan_outage
    >>> edges = pd.DataFrame({
    ...     "edge_id": ["e1", "e2", "f1", "nop"],
    ...     "from_node": ["S", "a", "T", "b"], "to_node": ["a", "b", "c", "c"],
    ...     "circuit_id": ["F1", "F1", "F2", "F2"],
    ...     "normally_open": [False, False, False, True]})
    >>> subs = pd.DataFrame({"substation_id": ["S1", "S2"], "node": ["S", "T"]})
    >>> customers = pd.DataFrame({"customer_id": ["k1", "k2", "k3"],
    ...                           "connection_node": ["a", "b", "c"],
    ...                           "psr": [False, True, False]})
    >>> plan = plan_outage(Network(edges, subs), customers, "e1")
    >>> plan.points_to_close, plan.restored_ids, plan.interrupted_ids
    (['nop'], ['k1', 'k2'], [])
    >>> plan.closings[["edge_id", "donor_circuit", "donor_customers_before",
    ...                "donor_customers_after"]]
      edge_id donor_circuit  donor_customers_before  donor_customers_after
    0     nop            F2                       1                      3
    """
    planner = BackfeedPlanner(
        network,
        customers,
        psr=psr,
        medically_dependent=medically_dependent,
        weights=weights,
        loading=loading,
        max_distance=max_distance,
        review_margin_m=review_margin_m,
    )
    return planner.plan(isolation_points, equipment=equipment)
