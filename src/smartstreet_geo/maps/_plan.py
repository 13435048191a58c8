"""Outage-plan layers: isolated elements, de-energised parts, points to close, interrupted.

A campaign run with ``[outage] plan = "backfeed"`` carries one
:class:`~smartstreet_geo.network.OutagePlan` per outage day
(``result.outage_plans``). :func:`plan_features` turns those plans and the
result's network edges into plain tables (what is drawn, one row per feature,
with the day), and :func:`add_plan` draws them as layers that are off when the
map opens. Nothing here decides anything about supply: the parts, the points
to close and the customers' status are the plan's; the map only finds where
they are (node positions from the edge ends; the edges of a part from its
nodes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ..schema import CUSTOMER_ID, EDGE_ID, FROM_NODE, NORMALLY_OPEN, TO_NODE
from ._encode import quantise
from ._options import Options
from ._page import INTERNAL_CUSTOMER_COLUMNS, Page, as_text, parts_by_owner, positions
from ._style import (
    PLAN_CLOSE,
    PLAN_INTERRUPTED,
    PLAN_ISOLATED_CABLE,
    PLAN_ISOLATED_NODE,
    PLAN_PART,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["PlanFeatures", "add_plan", "plan_features"]

_SIMPLIFY_M = 0.5  # part cables: Douglas-Peucker tolerance, metres (as circuits)


@dataclass
class PlanFeatures:
    """What the plan layers draw, one row per feature (no personal data but ``interrupted``).

    Attributes
    ----------
    isolated : DataFrame
        ``day``, ``kind`` (``node`` or ``edge``), ``element`` (its id): each
        element a plan isolates.
    parts : DataFrame
        ``day``, ``part``, ``n_nodes`` (the plan's), ``n_nodes_found`` (nodes
        of the map's network reached from the part's head node without
        crossing an isolated element or an open point), ``customers``,
        ``restored``, ``point_to_close``.
    part_edges : DataFrame
        ``day``, ``part``, ``edge_id``: the closed, not isolated cables with
        an end in the part.
    closings : DataFrame
        ``day``, ``edge_id``, ``part``, ``donor_circuit``, ``customers_restored``.
    interrupted : DataFrame
        ``day``, ``customer_id``, ``part``, ``psr``: customers still
        interrupted under the plan (``psr`` is shown on internal maps only).
    notes : list of str
        What could not be placed (counts only).
    """

    isolated: pd.DataFrame
    parts: pd.DataFrame
    part_edges: pd.DataFrame
    closings: pd.DataFrame
    interrupted: pd.DataFrame
    notes: list[str] = field(default_factory=list)


class _Topology:
    """Node ids, node positions and closed-edge adjacency of the map's network (built once)."""

    def __init__(self, edges: gpd.GeoDataFrame) -> None:
        e = pd.DataFrame(edges[[EDGE_ID, FROM_NODE, TO_NODE]]).reset_index(drop=True)
        self.edge_ids = np.asarray(as_text(e[EDGE_ID]), dtype=object)
        ends = pd.concat([e[FROM_NODE], e[TO_NODE]], ignore_index=True)
        codes, names = pd.factorize(pd.Series(as_text(ends), dtype=object))
        n = len(e)
        self.u = codes[:n].astype(np.int64)
        self.v = codes[n:].astype(np.int64)
        self.node_index = pd.Index(names, dtype=object)
        first = ~pd.Index(self.edge_ids, dtype=object).duplicated()
        self._edge_first = np.flatnonzero(first)
        self._edge_index = pd.Index(self.edge_ids[first], dtype=object)
        self.geoms = np.asarray(edges.geometry.values, dtype=object)
        is_open = (
            edges[NORMALLY_OPEN].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if NORMALLY_OPEN in edges.columns
            else np.zeros(n, dtype=bool)
        )
        self.closed = ~is_open & (self.u >= 0) & (self.v >= 0)
        # node positions: the first point of an edge at its from node, the last at its to node
        usable = ~(shapely.is_missing(self.geoms) | shapely.is_empty(self.geoms))
        lines = usable & np.isin(shapely.get_type_id(self.geoms), [1, 2])
        self.node_xy = np.full((len(names), 2), np.nan)
        for end, which in ((self.v, -1), (self.u, 0)):  # from ends win
            sel = np.flatnonzero(lines & (end >= 0))
            pts = shapely.get_point(self.geoms[sel], which)
            self.node_xy[end[sel], 0] = shapely.get_x(pts)
            self.node_xy[end[sel], 1] = shapely.get_y(pts)
        # closed edges by node (CSR: neighbour node and edge row)
        ce = np.flatnonzero(self.closed)
        a = np.concatenate([self.u[ce], self.v[ce]])
        b = np.concatenate([self.v[ce], self.u[ce]])
        r = np.concatenate([ce, ce])
        order = np.argsort(a, kind="stable")
        self.ptr = np.searchsorted(a[order], np.arange(len(names) + 1))
        self.nbr = b[order]
        self.row = r[order]

    def edge_rows(self, ids: Any) -> npt.NDArray[np.int64]:
        """Row of each edge id (its first row; -1: not in the network)."""
        wanted = pd.Index(as_text(pd.Series(list(ids), dtype=object)), dtype=object)
        at = self._edge_index.get_indexer(wanted)
        return np.where(at >= 0, self._edge_first[np.maximum(at, 0)], -1).astype(np.int64)

    def component(self, head: int, blocked_nodes: set[int], blocked_edges: set[int]) -> list[int]:
        """Nodes reached from ``head`` over closed edges, avoiding the blocked ones.

        Written by hand: the part is small and the blocked elements change with
        every plan, so a breadth-first walk from its head node beats rebuilding
        a sparse matrix of the whole network for scipy's connected_components.
        """
        seen = {head}
        todo = deque([head])
        ptr, nbr, row = self.ptr, self.nbr, self.row
        while todo:
            k = todo.popleft()
            for j in range(ptr[k], ptr[k + 1]):
                w = int(nbr[j])
                if w in seen or w in blocked_nodes or int(row[j]) in blocked_edges:
                    continue
                seen.add(w)
                todo.append(w)
        return sorted(seen)


def _records(table: pd.DataFrame) -> list[Any]:
    """Rows as namespaces (columns taken whole: the plan's tables are read a row at a time)."""
    from types import SimpleNamespace

    cols = {c: table[c].tolist() for c in table.columns}
    return [SimpleNamespace(**{c: v[i] for c, v in cols.items()}) for i in range(len(table))]


def _table(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Make a frame whose text columns stay ``object`` (ids may hold what Arrow strings cannot)."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame(
        {
            c: pd.Series(list(v), dtype=object)
            if any(isinstance(x, str) for x in v) or not v
            else pd.Series(list(v))
            for c, v in zip(columns, cols, strict=True)
        }
    )


def _split(element: str) -> tuple[str, str]:
    """Return (kind, id) of ``node:<id>``/``edge:<id>``; the id as the map shows ids (trimmed)."""
    kind, _, ident = str(element).partition(":")
    return kind, ident.strip()


def plan_features(plans: Any, edges: gpd.GeoDataFrame | None) -> PlanFeatures | None:
    """Collect what the plan layers draw from ``result.outage_plans`` (None: no plan).

    Parameters
    ----------
    plans : mapping of day to OutagePlan, or None
    edges : GeoDataFrame, optional
        The network edges (``edge_id``, ``from_node``, ``to_node``,
        ``normally_open``); without them only the interrupted customers can
        be drawn.

    Returns
    -------
    PlanFeatures or None
    """
    if not plans or not hasattr(plans, "items"):
        return None
    return _collect(plans, _topology(edges))


def _topology(edges: gpd.GeoDataFrame | None) -> _Topology | None:
    if edges is None or not {EDGE_ID, FROM_NODE, TO_NODE} <= set(edges.columns):
        return None
    return _Topology(edges)


def _collect(plans: Any, topo: _Topology | None) -> PlanFeatures:
    iso_rows: list[tuple[str, str, str]] = []
    part_rows: list[tuple[Any, ...]] = []
    pe_rows: list[tuple[str, int, str]] = []
    close_rows: list[tuple[Any, ...]] = []
    cust: list[pd.DataFrame] = []
    notes: list[str] = []
    mismatched = 0
    for day, plan in sorted(plans.items(), key=lambda kv: str(kv[0])):
        day = str(day)
        for element in plan.elements:
            kind, ident = _split(element)
            iso_rows.append((day, kind, ident))
        blocked_nodes: set[int] = set()
        blocked_edges: set[int] = set()
        if topo is not None:
            for _day, kind, ident in iso_rows[len(iso_rows) - len(plan.elements) :]:
                if kind == "node" and ident in topo.node_index:
                    blocked_nodes.add(int(topo.node_index.get_loc(ident)))
                elif kind == "edge":
                    blocked_edges.update(np.flatnonzero(topo.edge_ids == ident).tolist())
        for p in _records(plan.parts):
            found = 0
            head = str(p.head_node).strip()
            if topo is not None and head in topo.node_index:
                nodes = topo.component(
                    int(topo.node_index.get_loc(head)), blocked_nodes, blocked_edges
                )
                found = len(nodes)
                inside = np.zeros(len(topo.node_index), dtype=bool)
                inside[nodes] = True
                rows = np.flatnonzero(topo.closed & (inside[topo.u] | inside[topo.v]))
                rows = rows[~np.isin(rows, list(blocked_edges))]
                pe_rows.extend((day, int(p.part), str(topo.edge_ids[r])) for r in rows.tolist())
            mismatched += int(found != int(p.n_nodes))
            part_rows.append(
                (
                    day,
                    int(p.part),
                    int(p.n_nodes),
                    found,
                    int(p.customers),
                    bool(p.restored),
                    str(p.point_to_close or ""),
                )
            )
        for c in _records(plan.closings):
            close_rows.append(
                (day, str(c.edge_id), int(c.part), str(c.donor_circuit), int(c.customers_restored))
            )
        off = plan.customers
        off = off.loc[off["status"] == "interrupted", [CUSTOMER_ID, "part", "psr"]]
        cust.append(off.assign(day=day))
    if mismatched:
        notes.append(
            f"{mismatched:,} de-energised part(s) drawn from a network that differs from the "
            "one planned on (node counts differ)."
        )
    interrupted = (
        pd.concat(cust, ignore_index=True)[["day", CUSTOMER_ID, "part", "psr"]]
        if cust
        else pd.DataFrame(columns=["day", CUSTOMER_ID, "part", "psr"])
    )
    return PlanFeatures(
        isolated=_table(iso_rows, ["day", "kind", "element"]),
        parts=_table(
            part_rows,
            [
                "day",
                "part",
                "n_nodes",
                "n_nodes_found",
                "customers",
                "restored",
                "point_to_close",
            ],
        ),
        part_edges=_table(pe_rows, ["day", "part", EDGE_ID]),
        closings=_table(
            close_rows, ["day", EDGE_ID, "part", "donor_circuit", "customers_restored"]
        ),
        interrupted=interrupted,
        notes=notes,
    )


# --------------------------------------------------------------------------- layers
def _line_layer(
    page: Page,
    rows: list[dict[str, Any]],
    spec: dict[str, Any],
    row: dict[str, Any],
    geoms: npt.NDArray[np.object_],
    owners: npt.NDArray[np.intp],
    labels: list[str],
    *,
    ring: bool,
) -> None:
    """Add one plan line (or ring) layer, hidden when the map opens; owner k gets labels[k]."""
    if ring:
        parts = parts_by_owner(geoms, owners, tolerance=0, min_vertices=1)
    else:
        by = np.argsort(owners, kind="stable")
        merged = shapely.line_merge(
            shapely.multilinestrings(geoms[by], indices=owners[by].astype(np.intp))
        )
        ids = np.unique(owners)
        parts = parts_by_owner(merged[ids], ids, tolerance=_SIMPLIFY_M)
    items = [{"label": labels[k], "_parts": parts[k]} for k in sorted(parts)]
    if not items:
        return
    for k in sorted(parts):
        for lo, la in parts[k]:
            page.extent(lo, la)
    spec["items"] = items
    row["count"] = len(items)
    row["key"] = spec["key"]
    page.layers.append(("lines", spec, row, False))
    rows.append(row)


def add_plan(
    page: Page,
    plans: Any,
    edges: gpd.GeoDataFrame | None,
    customers: gpd.GeoDataFrame | None,
    opts: Options,
    customer_xy: tuple[npt.NDArray[np.float64], ...] | None = None,
) -> PlanFeatures | None:
    """Add the outage-plan layers (all off when the map opens) and their legend section.

    Returns the features drawn (None when there is no plan: nothing is added,
    so a map without a plan is the same as before).
    """
    if not plans or not hasattr(plans, "items"):
        return None
    topo = _topology(edges)
    feats = _collect(plans, topo)
    rows: list[dict[str, Any]] = []
    notes = list(feats.notes)
    missing = 0
    if topo is not None:
        topo_geoms = topo.geoms
        # isolated nodes: rings at the node (positions from the edge ends)
        iso = feats.isolated
        nodes = iso[iso["kind"] == "node"].reset_index(drop=True)
        if len(nodes):
            loc = topo.node_index.get_indexer(nodes["element"])
            ok = loc >= 0
            xy = topo.node_xy[np.where(ok, loc, 0)]
            ok &= np.isfinite(xy[:, 0])
            missing += int((~ok).sum())
            pts = shapely.points(xy[ok])
            labels = [
                f"{d}: isolated node {n}"
                for d, n in zip(nodes["day"], nodes["element"], strict=True)
            ]
            _line_layer(
                page,
                rows,
                _ring_spec(PLAN_ISOLATED_NODE, "isolated: work site", 15.0, 3.0),
                {
                    "ring": True,
                    "color": PLAN_ISOLATED_NODE.color,
                    "label": PLAN_ISOLATED_NODE.label,
                },
                np.asarray(pts, dtype=object),
                np.flatnonzero(ok),
                labels,
                ring=True,
            )
        cables = iso[iso["kind"] == "edge"].reset_index(drop=True)
        if len(cables):
            loc = topo.edge_rows(cables["element"])
            ok = loc >= 0
            missing += int((~ok).sum())
            labels = [
                f"{d}: isolated cable {n}"
                for d, n in zip(cables["day"], cables["element"], strict=True)
            ]
            _line_layer(
                page,
                rows,
                _line_spec(PLAN_ISOLATED_CABLE, "isolated", 5.0),
                {
                    "line": True,
                    "color": PLAN_ISOLATED_CABLE.color,
                    "label": PLAN_ISOLATED_CABLE.label,
                },
                topo_geoms[loc[ok]],
                np.flatnonzero(ok),
                labels,
                ring=False,
            )
        missing += int((~iso["kind"].isin(["node", "edge"])).sum())
        # de-energised parts: their cables, one item per part and day
        pe = feats.part_edges
        if len(pe):
            keys = pd.MultiIndex.from_frame(feats.parts[["day", "part"]])
            owner = keys.get_indexer(pd.MultiIndex.from_frame(pe[["day", "part"]]))
            loc = topo.edge_rows(pe[EDGE_ID])
            ok = (loc >= 0) & (owner >= 0)
            labels = [_part_label(r) for r in feats.parts.itertuples(index=False)]
            _line_layer(
                page,
                rows,
                _line_spec(PLAN_PART, "de-energised without the plan", 4.0),
                {"line": True, "color": PLAN_PART.color, "label": PLAN_PART.label},
                topo_geoms[loc[ok]],
                owner[ok],
                labels,
                ring=False,
            )
        # points to close: larger, thicker rings than the normally-open points
        cl = feats.closings
        if len(cl):
            loc = topo.edge_rows(cl[EDGE_ID])
            ok = loc >= 0
            missing += int((~ok).sum())
            mid = shapely.line_interpolate_point(topo_geoms[loc[ok]], 0.5, normalized=True)
            labels = [
                f"{r.day}: close {r.edge_id} (feeds part {r.part} from {r.donor_circuit}, "
                f"restores {r.customers_restored:,} customers)"
                for r in cl.itertuples(index=False)
            ]
            _line_layer(
                page,
                rows,
                _ring_spec(PLAN_CLOSE, "normally-open point the plan closes", 21.0, 4.0),
                {"ring": True, "color": PLAN_CLOSE.color, "label": PLAN_CLOSE.label},
                np.asarray(mid, dtype=object),
                np.flatnonzero(ok),
                labels,
                ring=True,
            )
    elif len(feats.isolated) or len(feats.closings):
        notes.append("The outage plan's network elements are not shown: no network edges.")
    if missing:
        notes.append(f"{missing:,} plan element(s) not on the map's network, not shown.")
    _interrupted(page, rows, feats, customers, opts, notes, customer_xy)
    days = len(plans)
    page.sections.append(
        {
            "title": f"Outage plan (backfeed), {days:,} outage day{'s' if days != 1 else ''}",
            "rows": rows,
        }
    )
    page.notes.extend(notes)
    return feats


def _part_label(r: Any) -> str:
    how = (
        f"restored through {r.point_to_close}"
        if r.restored and r.point_to_close
        else "restored"
        if r.restored
        else "not restored"
    )
    return f"{r.day}: de-energised part {r.part} ({r.customers:,} customers, {how})"


def _line_spec(style: Any, note: str, weight: float) -> dict[str, Any]:
    return {"key": style.key, "color": style.color, "weight": weight, "opacity": 0.85, "note": note}


def _ring_spec(style: Any, note: str, ring: float, weight: float) -> dict[str, Any]:
    spec = _line_spec(style, note, weight)
    # few: drawn at every zoom; hollow and wider than an equipment icon, which they circle
    spec.update(ring=ring, opacity=1, always=True, hollow=True)
    return spec


def _interrupted(
    page: Page,
    rows: list[dict[str, Any]],
    feats: PlanFeatures,
    customers: gpd.GeoDataFrame | None,
    opts: Options,
    notes: list[str],
    customer_xy: tuple[npt.NDArray[np.float64], ...] | None = None,
) -> None:
    """Add the customers still interrupted: one point each (positions only on a shared map).

    ``customer_xy``: each customer's BNG x, y when known (else from the geometry).
    """
    off = feats.interrupted.dropna(subset=[CUSTOMER_ID])
    if not len(off):
        return
    if customers is None or CUSTOMER_ID not in customers.columns:
        notes.append(f"{off[CUSTOMER_ID].nunique():,} customers still interrupted not shown.")
        return
    ids = pd.Series(as_text(customers[CUSTOMER_ID].reset_index(drop=True)), dtype=object)
    wanted = pd.Series(as_text(off[CUSTOMER_ID].reset_index(drop=True)), dtype=object)
    # each interrupted customer's days and PSR flag (a few thousand rows: a dict is enough)
    days: dict[str, set[str]] = {}
    psr: dict[str, bool] = {}
    for cid, day, flag in zip(wanted, off["day"], off["psr"].fillna(False), strict=True):
        if cid is not None:
            days.setdefault(cid, set()).add(str(day))
            psr[cid] = psr.get(cid, False) or bool(flag)
    rows_at = np.flatnonzero(ids.isin(list(days)).to_numpy() & ids.notna().to_numpy())
    # one point per customer row whose id is interrupted (the first row of a repeated id)
    first = ~ids.iloc[rows_at].duplicated().to_numpy()
    rows_at = rows_at[first]
    unplaced = len(days) - len(rows_at)
    x, y = positions(customers, "customers") if customer_xy is None else customer_xy
    x, y = x[rows_at], y[rows_at]
    located = np.isfinite(x) & np.isfinite(y)
    qlon, qlat, ok = quantise(np.where(located, x, 0.0), np.where(located, y, 0.0))
    ok &= located
    unplaced += int((~ok).sum())
    if unplaced:
        notes.append(f"{unplaced:,} customers still interrupted without a location, not shown.")
    sel = rows_at[ok]
    spec: dict[str, Any] = {
        "key": PLAN_INTERRUPTED.key,
        "label": PLAN_INTERRUPTED.label,
        "color": PLAN_INTERRUPTED.color,
        "z": PLAN_INTERRUPTED.z,
        "edge": "#000000",
        "size": 1.3,
        "_q": (qlon[ok], qlat[ok]),
    }
    if opts.internal:
        # internal map only: the address, and the day(s) and PSR in the popup
        from ._customers import _address_labels

        cols = [c for c in INTERNAL_CUSTOMER_COLUMNS if c in customers.columns]
        view = pd.DataFrame(customers[cols].reset_index(drop=True)).iloc[sel]
        spec["_labels"] = _address_labels(view.reset_index(drop=True))
        spec["_reasons"] = np.asarray(
            [
                f"Still interrupted under the plan on {', '.join(sorted(days[c]))}"
                + (" (PSR)" if psr[c] else "")
                for c in ids.iloc[sel].tolist()
            ],
            dtype=object,
        )
    count = int(ok.sum())
    if opts.aggregate_m is not None:
        # grouped like the contact layers: squares of aggregate_m, small groups left out
        cell = float(opts.aggregate_m)
        cx = np.floor(x[ok] / cell).astype(np.int64)
        cy = np.floor(y[ok] / cell).astype(np.int64)
        groups = pd.DataFrame({"cx": cx, "cy": cy}).groupby(["cx", "cy"], sort=True).size()
        size = groups.to_numpy()
        keep = size >= opts.min_group
        gx = (groups.index.get_level_values("cx").to_numpy()[keep] + 0.5) * cell
        gy = (groups.index.get_level_values("cy").to_numpy()[keep] + 0.5) * cell
        glon, glat, gok = quantise(gx, gy)
        spec["_q"] = (glon[gok], glat[gok])
        spec["_n"] = size[keep][gok]
        spec["cell"] = f"{opts.aggregate_m:g}"
        spec.pop("_labels", None)  # a square is no one's address
        spec.pop("_reasons", None)
        count = int(spec["_n"].sum())
        if (hidden := int(size[~keep].sum())) > 0:
            notes.append(
                f"{hidden:,} customers still interrupted in groups of fewer than "
                f"{opts.min_group} not shown."
            )
    page.extent(*spec["_q"])
    row: dict[str, Any] = {"color": PLAN_INTERRUPTED.color, "label": PLAN_INTERRUPTED.label}
    row["count"] = count
    row["key"] = PLAN_INTERRUPTED.key
    page.layers.append(("points", spec, row, False))
    rows.append(row)
