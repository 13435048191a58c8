"""Customers placed on a network: by connection node, else by the nearest cable."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import shapely

from .._customer_table import CustomerTable
from ..crs import require_bng
from ..errors import ParameterError
from ..schema import CIRCUIT_ID, CONNECTION_NODE, CUSTOMER_ID
from ._graph import Network
from ._text import arrow_text, lookup, shown

__all__ = ["AttachedCustomers", "as_attached"]

I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: Cables no further than this beyond the nearest one count as equally near (metres).
TIE_TOLERANCE_M = 0.001
#: ``node_state`` values
NODE_OK, NODE_BLANK, NODE_UNKNOWN = 0, 1, 2


@dataclass(frozen=True, eq=False, repr=False)
class AttachedCustomers:
    """Customers placed on a :class:`Network`, made by :meth:`Network.attach`.

    Each customer is placed by connectivity when its ``connection_node`` is a
    node of the network that is fed from a substation; otherwise (no node,
    a node the network does not have, or a node on an unfed part) by
    inference: the nearest cable within ``max_distance``. Inferred placements
    carry the distance to that cable and to the nearest cable of any other
    circuit (or set of circuits); the difference is the margin.

    The derived per-customer arrays (``usable``, ``best_method`` ...) are
    computed once and kept; treat all arrays as read-only.

    Attributes
    ----------
    network : Network
    n : int
        Number of customers (rows of the frame, in order).
    """

    network: Network
    customer_id: pa.Array
    declared: pa.Array
    declared_code: I64
    node: I64
    node_state: I8
    x: F64
    y: F64
    inferred: B
    inf_edge: I64
    inf_dist: F64
    inf_other: F64
    tie_ptr: I64
    tie_edge: I64
    max_distance: float
    review_margin_m: float
    #: Metres the customer's true point may lie from its placed one (``location_uncertainty_m``
    #: of :func:`smartstreet_geo.locate.locate_customers`; 0 when not given).
    uncertainty: F64

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        net: Network,
        customers: pd.DataFrame | CustomerTable,
        *,
        infer: Literal["missing", "all", "none"],
        max_distance: float,
        review_margin_m: float,
    ) -> AttachedCustomers:
        """Attach ``customers`` to ``net`` (see :meth:`Network.attach`)."""
        if infer not in ("missing", "all", "none"):
            raise ParameterError(f"infer={infer!r}: choose 'missing', 'all' or 'none'.")
        if not (np.isfinite(max_distance) and max_distance >= 0):
            raise ParameterError(f"max_distance={max_distance!r}: give metres, 0 or more.")
        if not (np.isfinite(review_margin_m) and review_margin_m >= 0):
            raise ParameterError(f"review_margin_m={review_margin_m!r}: give metres, 0 or more.")
        table = customers if isinstance(customers, CustomerTable) else None
        if table is not None:  # columns and coordinates (the campaign's run)
            customers = table.frame
        if not isinstance(customers, pd.DataFrame):
            raise TypeError(
                f"customers must be a pandas or geopandas DataFrame, not {type(customers).__name__}"
            )
        if CUSTOMER_ID not in customers:
            raise ParameterError(
                f"customers have no 'customer_id' column (columns: {shown(customers.columns)})."
            )
        n = len(customers)
        ids = arrow_text(customers[CUSTOMER_ID])
        if ids.null_count:
            raise ParameterError(f"customers: {ids.null_count} rows have a blank customer_id.")
        declared = arrow_text(customers.get(CIRCUIT_ID), n)
        declared_code = lookup(declared, net._circuit_ids)
        nodes = arrow_text(customers.get(CONNECTION_NODE), n)
        node = lookup(nodes, net._node_ids)
        blank = np.asarray(nodes.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        state = np.where(blank, NODE_BLANK, np.where(node < 0, NODE_UNKNOWN, NODE_OK)).astype(
            np.int8
        )
        x, y = _points(customers if table is None else table)
        unc = _uncertainty(customers)
        usable = (node >= 0) & (net._pre[np.maximum(node, 0)] >= 0)
        if infer == "all":
            want = np.isfinite(x)
        elif infer == "missing":
            want = np.isfinite(x) & ~usable
        else:
            want = np.zeros(n, dtype=bool)
        inf_edge = np.full(n, -1, np.int64)
        inf_dist = np.full(n, np.inf)
        inf_other = np.full(n, np.inf)
        tie_count = np.zeros(n, np.int64)
        tie_edge = np.zeros(0, np.int64)
        idx = np.flatnonzero(want)
        if idx.size:
            seg = net._segments
            px, py = np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])
            s1, d1, d2, t_n, t_e = _nearest_two(
                seg, px, py, unc[idx], max_d=max_distance, margin=review_margin_m
            )
            hit = s1 >= 0
            inf_edge[idx[hit]] = seg.edge[s1[hit]]
            inf_dist[idx] = d1
            inf_other[idx] = d2
            # every cable as near as the nearest (a customer at a joint touches them all)
            spill = np.flatnonzero(t_n > t_e.shape[1])
            counts = np.minimum(t_n, t_e.shape[1]).astype(np.int64)
            if spill.size:  # more equally near cables than the kernel keeps: find them all
                ptr, extra_e = seg.within(px[spill], py[spill], d1[spill] + TIE_TOLERANCE_M)
                counts[spill] = 0
            keep = np.arange(t_e.shape[1])[None, :] < counts[:, None]
            tie_edge = t_e[keep].astype(np.int64)
            tie_count[idx] = counts
            if spill.size:
                tie_count[idx[spill]] = np.diff(ptr)
                owner = np.r_[np.repeat(idx, counts), np.repeat(idx[spill], np.diff(ptr))]
                edge_all = np.r_[tie_edge, extra_e]
                tie_edge = edge_all[np.argsort(owner, kind="stable")]
        tie_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(tie_count, out=tie_ptr[1:])
        return cls(
            network=net,
            customer_id=ids,
            declared=declared,
            declared_code=declared_code,
            node=node,
            node_state=state,
            x=x,
            y=y,
            inferred=want,
            inf_edge=inf_edge,
            inf_dist=inf_dist,
            inf_other=inf_other,
            tie_ptr=tie_ptr,
            tie_edge=tie_edge,
            max_distance=float(max_distance),
            review_margin_m=float(review_margin_m),
            uncertainty=unc,
        )

    # ------------------------------------------------------------------ derived
    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"<AttachedCustomers: {c['customers']} customers, {c['connected']} by connection "
            f"node, {c['inferred']} inferred, {c['unfed']} on unfed parts, "
            f"{c['unplaced']} unplaced>"
        )

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.customer_id)

    @cached_property
    def usable(self) -> B:
        """Connection node known and fed from a substation."""
        node = self.node
        return np.asarray((node >= 0) & (self.network._pre[np.maximum(node, 0)] >= 0))

    @cached_property
    def unfed(self) -> B:
        """Connection node known but not fed from any substation."""
        return np.asarray((self.node >= 0) & ~self.usable)

    @cached_property
    def conn_group(self) -> I32:
        """Circuit group of the connection node (-1: none, unknown or unfed)."""
        g = self.network._node_group[np.maximum(self.node, 0)]
        return np.where(self.node >= 0, g, -1).astype(np.int32)

    @cached_property
    def inf_group(self) -> I32:
        """Circuit group of the inferred cable (-1: not inferred or unfed cable)."""
        g = self.network._edge_group[np.maximum(self.inf_edge, 0)]
        return np.where(self.inf_edge >= 0, g, -1).astype(np.int32)

    @cached_property
    def inf_margin(self) -> F64:
        """Metres from the nearest cable to the nearest cable of another circuit."""
        with np.errstate(invalid="ignore"):
            return np.where(self.inf_edge >= 0, self.inf_other - self.inf_dist, np.nan)

    @cached_property
    def inf_confidence(self) -> F64:
        """``1 - d_nearest / d_other`` in [0, 1]: 0 a tie, 1 no other circuit within reach."""
        d1, d2 = self.inf_dist, self.inf_other
        with np.errstate(invalid="ignore", divide="ignore"):
            conf = np.where(np.isinf(d2), 1.0, np.where(d2 > 0, 1.0 - d1 / d2, 0.0))
        return np.where(self.inf_edge >= 0, np.clip(conf, 0.0, 1.0), np.nan)

    @cached_property
    def inf_needs_review(self) -> B:
        """Inferred placement is ambiguous or contradicts the data.

        True when the margin is below ``review_margin_m`` (plus twice the
        customer's location uncertainty: a point that may be ``u`` metres off
        may be ``u`` nearer one cable and ``u`` further from the other), the
        nearest cable is not fed from a substation, or the customer gave a
        connection node that the network lacks or does not feed.
        """
        placed = self.inf_edge >= 0
        with np.errstate(invalid="ignore"):
            close = self.inf_margin < self.review_margin_m + 2.0 * self.uncertainty
        contradicts = (self.node_state == NODE_UNKNOWN) | self.unfed
        return np.asarray(placed & (close | (self.inf_group < 0) | contradicts))

    @cached_property
    def best_method(self) -> npt.NDArray[np.int8]:
        """0 connectivity, 1 inferred (to a fed cable), -1 unplaced."""
        usable = self.usable
        inf_ok = (self.inf_edge >= 0) & (self.inf_group >= 0)
        return np.where(usable, 0, np.where(inf_ok, 1, -1)).astype(np.int8)

    def tie_pairs(self, rows: I64) -> tuple[I64, I64]:
        """Return (customer row, cable) for every cable as near as the nearest, for ``rows``."""
        count = self.tie_ptr[rows + 1] - self.tie_ptr[rows]
        owner = np.repeat(rows, count)
        first = np.repeat(self.tie_ptr[rows] - np.cumsum(count) + count, count)
        return owner.astype(np.int64), self.tie_edge[first + np.arange(len(owner))]

    def counts(self) -> dict[str, int]:
        """Count customers by how they are placed (no personal data).

        ``connected`` + ``inferred`` + ``unplaced`` = ``customers``;
        ``unknown_node``, ``no_node`` and ``unfed`` say why the others have no
        usable connection node.
        """
        best = self.best_method
        return {
            "customers": self.n,
            "connected": int((best == 0).sum()),
            "unknown_node": int((self.node_state == NODE_UNKNOWN).sum()),
            "no_node": int((self.node_state == NODE_BLANK).sum()),
            "unfed": int(self.unfed.sum()),
            "inferred": int((best == 1).sum()),
            "unplaced": int((best == -1).sum()),
        }


def as_attached(
    customers: pd.DataFrame | AttachedCustomers,
    network: Network,
    *,
    infer: Literal["missing", "all", "none"],
    max_distance: float,
    review_margin_m: float,
) -> AttachedCustomers:
    """Attach a customers frame, or check an attachment belongs to ``network``."""
    if isinstance(customers, AttachedCustomers):
        if customers.network is not network:
            raise ParameterError(
                "these customers were attached to a different Network; attach them to this "
                "one with network.attach(customers)."
            )
        return customers
    if not isinstance(network, Network):
        raise TypeError(
            f"network must be a smartstreet_geo.network.Network, not {type(network).__name__}"
        )
    return network.attach(
        customers, infer=infer, max_distance=max_distance, review_margin_m=review_margin_m
    )


def _uncertainty(customers: pd.DataFrame) -> F64:
    """``location_uncertainty_m`` per customer (0 where absent or not a finite number >= 0)."""
    n = len(customers)
    if "location_uncertainty_m" not in customers:
        return np.zeros(n)
    u = pd.to_numeric(customers["location_uncertainty_m"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return np.where(np.isfinite(u) & (u > 0), u, 0.0)


def _nearest_two(
    seg: Any, px: F64, py: F64, unc: F64, *, max_d: float, margin: float
) -> tuple[Any, F64, F64, Any, Any]:
    """Run the kernel's ``nearest_two``, searching another circuit far enough for each point.

    A point placed with uncertainty ``u`` needs the nearest other circuit up to
    ``margin + 2u`` beyond its nearest cable; points without uncertainty (nearly all)
    are searched as before, the others in a second call.
    """
    sure = unc == 0
    if sure.all():
        return seg.nearest_two(px, py, max_d=max_d, extra=margin, tol=TIE_TOLERANCE_M)
    parts = []
    order = []
    for mask in (sure, ~sure):
        at = np.flatnonzero(mask)
        if not at.size:
            continue
        extra = margin + 2.0 * float(unc[at].max())
        parts.append(seg.nearest_two(px[at], py[at], max_d=max_d, extra=extra, tol=TIE_TOLERANCE_M))
        order.append(at)
    inv = np.argsort(np.concatenate(order), kind="stable")
    return tuple(np.concatenate([p[k] for p in parts])[inv] for k in range(5))  # type: ignore[return-value]


def _points(customers: pd.DataFrame | CustomerTable) -> tuple[F64, F64]:
    if isinstance(customers, CustomerTable):
        require_bng(customers, what="customers")
        return customers.x, customers.y  # (NaN: no point, as below)
    n = len(customers)
    if not isinstance(customers, gpd.GeoDataFrame) or customers.geometry.name not in customers:
        return np.full(n, np.nan), np.full(n, np.nan)
    require_bng(customers, what="customers")
    geoms = np.asarray(customers.geometry.array, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms)
    bad = present & (kinds != 0)
    if bad.any():
        ids = customers[CUSTOMER_ID].to_numpy()[bad]
        raise ParameterError(
            f"customers {shown(ids.tolist())} are not points; a customer is placed by one point "
            "(read the file with smartstreet_geo.read_customers)."
        )
    x = np.where(present, shapely.get_x(geoms), np.nan).astype(np.float64)
    y = np.where(present, shapely.get_y(geoms), np.nan).astype(np.float64)
    return x, y
