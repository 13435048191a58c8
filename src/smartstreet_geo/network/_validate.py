"""Findings about a network (and customers on it), with the ids to look at."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..schema import CIRCUIT_ID, SUBSTATION_ID
from ._attach import NODE_BLANK, NODE_UNKNOWN, AttachedCustomers, as_attached
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network, _kernels
from ._text import lookup, take, to_series

__all__ = ["ISSUES", "validate"]

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: Issue codes of :meth:`Network.validate`, in the order they are listed.
ISSUES = (
    "closed_cycle",
    "unfed_part",
    "substation_without_edges",
    "shared_busbar_node",
    "unnamed_circuit",
    "circuit_on_several_substations",
    "edge_circuit_mismatch",
    "unknown_connection_node",
    "no_connection_node",
    "customer_unfed",
    "circuit_without_customers",
    "unknown_declared_circuit",
)
COLUMNS = ("issue", "element", "id", CIRCUIT_ID, SUBSTATION_ID, "group", "detail")


def _frame(
    issue: str,
    element: str,
    ids: list[str | None],
    circuits: list[str | None] | None = None,
    subs: list[str | None] | None = None,
    group: list[int] | npt.NDArray[np.int64] | None = None,
    detail: list[str] | None = None,
) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "issue": pd.Series([issue] * n, dtype="str"),
            "element": pd.Series([element] * n, dtype="str"),
            "id": pd.Series(ids, dtype="str"),
            CIRCUIT_ID: pd.Series(circuits if circuits is not None else [None] * n, dtype="str"),
            SUBSTATION_ID: pd.Series(subs if subs is not None else [None] * n, dtype="str"),
            "group": np.asarray(group if group is not None else np.full(n, -1), dtype=np.int64),
            "detail": pd.Series(detail if detail is not None else [""] * n, dtype="str"),
        }
    )


def _bridges(net: Network) -> B:
    """Flag the closed, fed edges whose removal disconnects something."""
    u, v = net._u, net._v
    k = np.arange(len(u))
    cu = net._pedge[u] == k
    cv = net._pedge[v] == k
    child = np.where(cu, u, np.where(cv, v, -1))
    is_tree = child >= 0
    c = np.maximum(child, 0)
    return np.asarray(is_tree & (net._low[c] >= net._pre[c]))


def validate(net: Network, customers: pd.DataFrame | AttachedCustomers | None) -> pd.DataFrame:
    """See :meth:`Network.validate`."""
    k = _kernels()
    frames: list[pd.DataFrame] = []
    n = net.n_nodes
    u, v = net._u, net._v
    closed = ~net._open
    fed_node = net._pre[:n] >= 0
    edge_ids = to_series(net._edge_ids)
    label = to_series(net._circuit_label)
    is_root = net._is_root

    # ---- closed cycles: closed, fed edges that are not bridges
    cyc = closed & fed_node[u] & ~_bridges(net)
    if cyc.any():
        idx = np.flatnonzero(cyc)
        keep = np.zeros(len(u), dtype=bool)
        keep[idx] = True
        indptr, nbr, _ = k.build_csr(n, u, v, keep)
        comp, _n = k.components(indptr, nbr, is_root[:n])
        gcomp = np.where(is_root[u[idx]], comp[v[idx]], comp[u[idx]]).astype(np.int64)
        lone = gcomp < 0  # an edge between two busbars
        gcomp[lone] = np.max(gcomp, initial=-1) + 1 + np.arange(int(lone.sum()))
        _, first, group = np.unique(gcomp, return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))  # number cycles by their first edge
        group = rank[group]
        touched_roots = np.where(is_root[u[idx]], u[idx], np.where(is_root[v[idx]], v[idx], -1))
        eg = net._edge_group[idx]
        table = pd.DataFrame({"g": group, "root": touched_roots, "eg": eg})
        detail = []
        for g, sub in table.groupby("g", sort=True):
            circuits = sorted(
                {
                    c
                    for x in sub["eg"].unique().tolist()
                    if x >= 0
                    for c in str(net._group_label[int(x)].as_py()).split(";")
                }
            )
            roots = sorted(
                {net._root_sub.get(int(r), "") for r in sub["root"].unique().tolist() if r >= 0}
            )
            text = f"closed cycle {g}: {len(sub)} edges"
            if circuits:
                text += f", circuits {', '.join(circuits)}"
            if len(roots) > 1:
                text += f"; joins substations {', '.join(roots)} (run in parallel)"
            elif roots:
                text += f"; ring through the busbar of {roots[0]}"
            text += ": fed from two directions; check the ring is meant to run closed"
            detail.append(text)
        frames.append(
            _frame(
                "closed_cycle",
                "edge",
                edge_ids.iloc[idx].tolist(),
                label.iloc[idx].tolist(),
                to_series(net._edge_substation).iloc[idx].tolist(),
                group,
                [detail[g] for g in group.tolist()],
            )
        )

    # ---- unfed parts
    unfed = ~fed_node[u] & ~fed_node[v]
    if unfed.any():
        idx = np.flatnonzero(unfed)
        comp = net._comp[u[idx]].astype(np.int64)
        _, first, group = np.unique(comp, return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))
        group = rank[group]
        sizes = np.bincount(group)
        node_sets = (
            pd.Series(np.concatenate([u[idx], v[idx]]))
            .groupby(np.concatenate([group, group]))
            .nunique()
        )
        detail = [
            f"unfed part {g}: {sizes[g]} edges, {int(node_sets[g])} nodes not connected to any "
            "substation (a missing cable, a wrong normally-open flag, or a missing substation)"
            for g in group.tolist()
        ]
        frames.append(
            _frame(
                "unfed_part",
                "edge",
                edge_ids.iloc[idx].tolist(),
                label.iloc[idx].tolist(),
                to_series(net._edge_substation).iloc[idx].tolist(),
                group,
                detail,
            )
        )

    # ---- substations
    sub_ids = to_series(net._sub_ids)
    degree = np.bincount(np.concatenate([u, v]), minlength=n)
    lonely = degree[net._sub_node] == 0
    if lonely.any():
        frames.append(
            _frame(
                "substation_without_edges",
                "substation",
                sub_ids[lonely].tolist(),
                subs=sub_ids[lonely].tolist(),
                detail=["no edge touches the busbar node: nothing is fed from it"]
                * int(lonely.sum()),
            )
        )
    shared = pd.Series(net._sub_node).duplicated(keep=False).to_numpy()
    if shared.any():
        nodes = take(net._node_ids, net._sub_node[shared]).to_pylist()
        frames.append(
            _frame(
                "shared_busbar_node",
                "substation",
                sub_ids[shared].tolist(),
                subs=sub_ids[shared].tolist(),
                detail=[f"busbar node {x} is also another substation's" for x in nodes],
            )
        )

    # ---- heads and circuits
    heads = net._heads
    head_label = label.iloc[heads]
    unnamed = head_label.isna().to_numpy()
    if unnamed.any():
        hid = edge_ids.iloc[heads[unnamed]].tolist()
        frames.append(
            _frame(
                "unnamed_circuit",
                "edge",
                hid,
                [net.circuit_ids[c] for c in net._head_circuit[unnamed].tolist()],
                [_sub_of(net, int(r)) for r in net._head_root[unnamed].tolist()],
                detail=["cable leaving a busbar has no circuit_id; named after the edge"]
                * len(hid),
            )
        )
    hs = pd.DataFrame({"c": net._head_circuit, "r": net._head_root})
    multi = hs.groupby("c")["r"].nunique()
    multi = multi[multi > 1]
    if len(multi):
        rows = []
        for c in multi.index.tolist():
            subs = sorted({_sub_of(net, int(r)) or "" for r in hs.loc[hs["c"] == c, "r"]})
            rows.append((net.circuit_ids[c], ", ".join(subs)))
        frames.append(
            _frame(
                "circuit_on_several_substations",
                "circuit",
                [r[0] for r in rows],
                [r[0] for r in rows],
                detail=[
                    f"heads at substations {r[1]}: one circuit id for several ways" for r in rows
                ],
            )
        )
    # edges labelled with a circuit that does not feed them
    lab_code = lookup(net._circuit_label, net._circuit_ids)
    has_lab = label.notna().to_numpy()
    fed_edge = closed & (net._edge_group >= 0)
    from ._members import _group_contains

    ok = _group_contains(net, net._edge_group, lab_code)
    bad = fed_edge & has_lab & ~ok
    if bad.any():
        idx = np.flatnonzero(bad)
        fed_by = take(net._group_label, net._edge_group[idx]).to_pylist()
        frames.append(
            _frame(
                "edge_circuit_mismatch",
                "edge",
                edge_ids.iloc[idx].tolist(),
                label.iloc[idx].tolist(),
                to_series(net._edge_substation).iloc[idx].tolist(),
                detail=[
                    f"labelled {lab} but fed by {f}"
                    for lab, f in zip(label.iloc[idx], fed_by, strict=True)
                ],
            )
        )

    # ---- customers
    if customers is not None:
        att = as_attached(
            customers,
            net,
            infer="none",
            max_distance=DEFAULT_MAX_DISTANCE_M,
            review_margin_m=DEFAULT_REVIEW_MARGIN_M,
        )
        cid = to_series(att.customer_id)
        decl = to_series(att.declared)
        for code, state, text in (
            (
                "unknown_connection_node",
                NODE_UNKNOWN,
                "connection node is not a node of the network",
            ),
            ("no_connection_node", NODE_BLANK, "no connection node: circuit only by inference"),
        ):
            sel = att.node_state == state
            if sel.any():
                frames.append(
                    _frame(
                        code,
                        "customer",
                        cid[sel].tolist(),
                        decl[sel].tolist(),
                        detail=[text] * int(sel.sum()),
                    )
                )
        sel = att.unfed
        if sel.any():
            frames.append(
                _frame(
                    "customer_unfed",
                    "customer",
                    cid[sel].tolist(),
                    decl[sel].tolist(),
                    detail=["connection node is on a part not fed from any substation"]
                    * int(sel.sum()),
                )
            )
        n_c = len(net._circuit_ids)
        members = np.zeros(n_c, np.int64)
        cg = att.conn_group[att.usable]
        gcount = np.bincount(cg[cg >= 0], minlength=len(net._gptr) - 1)
        for gi in np.flatnonzero(gcount):
            members[net._gmembers[net._gptr[gi] : net._gptr[gi + 1]]] += gcount[gi]
        declared_n = np.bincount(att.declared_code[att.declared_code >= 0], minlength=n_c)
        empty = np.flatnonzero((members == 0) & (declared_n == 0))
        if empty.size:
            frames.append(
                _frame(
                    "circuit_without_customers",
                    "circuit",
                    [net.circuit_ids[c] for c in empty.tolist()],
                    [net.circuit_ids[c] for c in empty.tolist()],
                    [net._circuit_substation[c] for c in empty.tolist()],
                    detail=["no customer is connected to or declared on this circuit"] * len(empty),
                )
            )
        unknown = decl[(att.declared_code < 0) & decl.notna().to_numpy()]
        if len(unknown):
            counts = unknown.value_counts().sort_index()
            frames.append(
                _frame(
                    "unknown_declared_circuit",
                    "circuit",
                    counts.index.tolist(),
                    counts.index.tolist(),
                    detail=[
                        f"declared by {c} customers but not a circuit of the network"
                        for c in counts.tolist()
                    ],
                )
            )
    if not frames:
        return _frame("", "", []).iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def _sub_of(net: Network, root: int) -> str | None:
    if root < 0:
        return None
    return net._root_sub.get(root)
