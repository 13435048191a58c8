"""The LV network as an indexed graph: circuits, supply tree and cut index.

Node ids are factorised to integers (Arrow dictionary encoding) and the
topology is kept as numpy arrays; no Python object is made per node or edge.
See :class:`Network` for the model and the algorithms.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ..crs import require_bng
from ..errors import ParameterError
from ..schema import (
    CIRCUIT_ID,
    EDGE_ID,
    FROM_NODE,
    NODE,
    NORMALLY_OPEN,
    SUBSTATION_ID,
    TO_NODE,
)
from ._text import arrow_text, lookup, shown, take, to_series

if TYPE_CHECKING:
    from .._customer_table import CustomerTable
    from ._attach import AttachedCustomers

__all__ = ["DEFAULT_MAX_DISTANCE_M", "DEFAULT_REVIEW_MARGIN_M", "Network"]

log = logging.getLogger(__name__)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: Default furthest a customer may be from a cable to be placed on it by inference, metres.
DEFAULT_MAX_DISTANCE_M = 50.0
#: Default margin below which an inferred circuit is flagged ``needs_review``, metres:
#: the nearest cable of another circuit is less than this much further away than the
#: nearest cable. Tuned on a synthetic interleaved network (see benchmarks/README.md).
DEFAULT_REVIEW_MARGIN_M = 8.0
#: Prefix of the circuit id given to a circuit whose head cable has no circuit_id.
UNNAMED_PREFIX = "unnamed:"


def _kernels() -> Any:
    # numba is imported on first use only: ``import smartstreet_geo`` stays light.
    from . import _kernels as k

    return k


class Network:
    """An LV network: cables, links and switches between nodes, fed from substations.

    Parameters
    ----------
    edges : DataFrame or GeoDataFrame
        One row per cable section, link or switch: ``edge_id`` (unique),
        ``from_node``, ``to_node``, and optionally ``circuit_id``,
        ``substation_id``, ``normally_open`` (bool; absent means closed) and
        LineString geometry in EPSG:27700 (needed only for inference and for
        mapping equipment to the network). As read by
        :func:`smartstreet_geo.read_network`.
    substations : DataFrame or GeoDataFrame
        ``substation_id`` and ``node``: the LV busbar node the circuits leave
        from. Every substation is a source of supply (a root).

    Raises
    ------
    ParameterError
        A required column is missing, an edge id is blank or repeated, an edge
        has a blank end or joins a node to itself, ``normally_open`` is blank,
        a substation id is repeated or a substation has no busbar node.
    CRSError
        ``edges`` is a GeoDataFrame not in British National Grid.

    See Also
    --------
    circuit_members, downstream_customers, reconcile_circuits

    Notes
    -----
    **Model.** Normally-open edges carry no supply; every other edge conducts
    both ways (``from_node``/``to_node`` order does not matter; the network is
    oriented from the substations). A *circuit* is one outgoing way from a
    substation busbar: a closed edge with one end on a busbar node (its
    *head*) names it by the head's ``circuit_id``. A node belongs to every
    circuit it can be reached from through that circuit's head without
    passing a busbar or a normally-open point. In a radial network that is one
    circuit; a closed ring between two ways makes the nodes fed from both
    members of both.

    **Index.** All substation busbars hang off one virtual source. One
    depth-first search from it (iterative, compiled, O(nodes + edges)) gives
    each node a preorder number, its subtree size and its Tarjan low-link.
    A subtree is a contiguous run of preorder numbers, so the nodes that lose
    supply when an edge or node is isolated are a few preorder intervals:

    * an edge that is a tree edge into node ``c`` with ``low[c] >= pre[c]``
      (a bridge) cuts off the subtree of ``c``; any other edge (on a closed
      ring or meshed section, or normally open) cuts off nothing;
    * a node cuts off itself and each child subtree ``c`` with
      ``low[c] >= pre[v]``: a child with a back edge above the node is still
      fed round a ring.

    This is exact on radial and meshed parts alike (it is the
    biconnectivity argument, not a radial approximation). Several points
    isolated *together* are combined by union when each cuts exactly a whole
    subtree (bridges, and nodes with no way round them); otherwise the
    reachability from the substations is recomputed exactly with the points
    removed (O(nodes + edges)).

    **Inference.** Customers without a usable connection node are placed on
    the nearest closed cable (edge geometries cut into segments, bucketed in a
    square grid; a compiled ring search). The same search finds the nearest
    cable of any *other* circuit (or set of circuits, for ringed parts); the
    difference of the two distances is the margin, and a margin below
    ``review_margin_m`` sets ``needs_review``. Cables within 1 mm of the
    nearest count as equally near (a customer located at a joint touches
    every cable there). See :meth:`attach`.

    **Other conventions.** An edge joining two busbar nodes is a coupler, not
    a circuit. A customer connected at a busbar node is fed by the
    substation but belongs to no circuit. Equipment becomes an isolation
    point by the rules of :func:`equipment_isolation_points`.

    Examples
    --------
    A substation S with two ways; F2 ends at a normally-open point to F1:

    >>> import pandas as pd
    >>> from smartstreet_geo.network import Network
    >>> edges = pd.DataFrame({
    ...     "edge_id": ["e1", "e2", "e3", "e4", "nop"],
    ...     "from_node": ["S", "a", "S", "c", "b"],
    ...     "to_node": ["a", "b", "c", "d", "d"],
    ...     "circuit_id": ["F1", "F1", "F2", "F2", "F1"],
    ...     "normally_open": [False, False, False, False, True],
    ... })
    >>> net = Network(edges, pd.DataFrame({"substation_id": ["S1"], "node": ["S"]}))
    >>> net
    <Network: 5 nodes, 5 edges (1 normally open), 1 substations, 2 circuits>
    >>> net.circuits[["circuit_id", "substation_id", "n_nodes"]]
      circuit_id substation_id  n_nodes
    0         F1            S1        2
    1         F2            S1        2
    """

    def __init__(self, edges: pd.DataFrame, substations: pd.DataFrame) -> None:
        k = _kernels()
        _require_columns(edges, (EDGE_ID, FROM_NODE, TO_NODE), what="edges")
        _require_columns(substations, (SUBSTATION_ID, NODE), what="substations")
        if isinstance(edges, gpd.GeoDataFrame) and edges.geometry.name in edges:
            require_bng(edges, what="network edges")
        if len(edges) == 0 or len(substations) == 0:
            what = "edges" if len(edges) == 0 else "substations"
            raise ParameterError(
                f"the network has no {what}: a network needs at least one edge and one "
                "substation (without a network, circuits come from the declared circuit_id)."
            )
        self._edges = edges
        self._substations = substations
        n_e = len(edges)
        self._edge_ids = arrow_text(edges[EDGE_ID])
        if self._edge_ids.null_count:
            _require_unique(self._edge_ids, what="edges", column=EDGE_ID)
        if _n_distinct(self._edge_ids) != n_e:
            _require_unique(self._edge_ids, what="edges", column=EDGE_ID)
        self._read_topology(edges, substations, n_e)
        self._finish_index(k)
        log.info("%r", self)

    def _read_topology(self, edges: pd.DataFrame, substations: pd.DataFrame, n_e: int) -> None:
        fr = arrow_text(edges[FROM_NODE])
        to = arrow_text(edges[TO_NODE])
        for name, arr in ((FROM_NODE, fr), (TO_NODE, to)):
            if arr.null_count:
                bad = take(self._edge_ids, np.flatnonzero(_isnull(arr)))
                raise ParameterError(
                    f"edges {shown(bad.to_pylist())} have a blank {name!r}; every edge "
                    "needs both end nodes (read the file with smartstreet_geo.read_network, "
                    "which rejects such rows)."
                )
        loops = np.asarray(pc.equal(fr, to).to_numpy(zero_copy_only=False), dtype=bool)
        if loops.any():
            bad = take(self._edge_ids, np.flatnonzero(loops))
            raise ParameterError(
                f"edges {shown(bad.to_pylist())} join a node to itself (from_node equals "
                "to_node); fix or drop them."
            )
        self._open = _bool_column(edges, NORMALLY_OPEN, self._edge_ids)
        self._circuit_label = arrow_text(edges.get(CIRCUIT_ID), n_e)
        self._edge_substation = arrow_text(edges.get(SUBSTATION_ID), n_e)
        self._sub_ids = arrow_text(substations[SUBSTATION_ID])
        _require_unique(self._sub_ids, what="substations", column=SUBSTATION_ID)
        sub_nodes = arrow_text(substations[NODE])
        if sub_nodes.null_count:
            bad = take(self._sub_ids, np.flatnonzero(_isnull(sub_nodes)))
            raise ParameterError(
                f"substations {shown(bad.to_pylist())} have no busbar 'node'; give the LV "
                "busbar node the circuits leave from."
            )

        # ---- nodes: one dictionary for edge ends and busbars
        enc = pa.chunked_array([fr, to, sub_nodes], type=pa.large_string()).dictionary_encode()
        dictionary = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], pa.large_string())
        codes = np.concatenate(
            [np.asarray(c.indices.to_numpy(zero_copy_only=False)) for c in enc.chunks]
        ).astype(np.int32)
        self._node_ids: pa.Array = dictionary
        n = len(dictionary)
        self._u = codes[:n_e]
        self._v = codes[n_e : 2 * n_e]
        self._sub_node = codes[2 * n_e :]
        roots = np.unique(self._sub_node)
        self._roots = roots.astype(np.int32)
        is_root = np.zeros(n + 1, dtype=bool)
        is_root[roots] = True
        self._is_root = is_root

    def _finish_index(self, k: Any) -> None:
        n = self.n_nodes
        roots, is_root = self._roots, self._is_root
        # ---- supply tree from a virtual source joined to every busbar
        src = n
        uu = np.concatenate([self._u, np.full(len(roots), src, np.int32)])
        vv = np.concatenate([self._v, roots.astype(np.int32)])
        keep = np.concatenate([~self._open, np.ones(len(roots), bool)])
        self._indptr, self._nbr, self._eid = k.build_csr(n + 1, uu, vv, keep)
        (self._pre, self._order, self._parent, self._pedge, self._size, self._low, n_reached) = (
            k.dfs_lowlink(self._indptr, self._nbr, self._eid, src)
        )
        self._n_reached = int(n_reached)
        self._src = src

        # ---- circuits: components of the closed network with the busbars taken out
        self._comp, n_comp = k.components(self._indptr, self._nbr, is_root | _onehot(n + 1, src))
        self._build_circuits(int(n_comp))

    # ------------------------------------------------------------------ circuits
    def _build_circuits(self, n_comp: int) -> None:
        u, v, is_root = self._u, self._v, self._is_root
        closed = ~self._open
        ru, rv = is_root[u], is_root[v]
        heads = np.flatnonzero(closed & (ru ^ rv))
        self._heads = heads
        first = np.where(ru[heads], v[heads], u[heads])
        head_root = np.where(ru[heads], u[heads], v[heads])
        label = take(self._circuit_label, heads)
        unnamed = _isnull(label)
        if unnamed.any():
            names = pc.binary_join_element_wise(
                pa.scalar(UNNAMED_PREFIX, pa.large_string()),
                take(self._edge_ids, heads),
                pa.scalar("", pa.large_string()),
            )
            label = pc.if_else(pa.array(unnamed), names, label)
        head_label = label.to_numpy(zero_copy_only=False).astype(object)
        circuit_names = sorted(set(head_label.tolist()))
        self._circuit_ids = pa.array(circuit_names, pa.large_string())
        code_of = {c: i for i, c in enumerate(circuit_names)}
        self._head_circuit = np.array([code_of[c] for c in head_label], dtype=np.int32)
        self._head_first = first.astype(np.int32)
        self._head_root = head_root.astype(np.int32)

        # substation of each busbar node (the first by id when several share a node)
        sub_frame = pd.DataFrame(
            {"node": self._sub_node, "sid": to_series(self._sub_ids)}
        ).sort_values(["node", "sid"], kind="stable")
        first_sub = sub_frame.drop_duplicates("node")
        self._root_sub = dict(
            zip(first_sub["node"].tolist(), first_sub["sid"].tolist(), strict=True)
        )
        n_c = len(circuit_names)
        circ_sub: list[str | None] = [None] * n_c
        for c, r in zip(self._head_circuit.tolist(), head_root.tolist(), strict=True):
            if circ_sub[c] is None:
                circ_sub[c] = self._root_sub.get(r)
        self._circuit_substation = circ_sub

        # circuit sets of components -> groups (distinct sets, sorted)
        comp_of_head = self._comp[first]
        pairs = np.unique(np.stack([comp_of_head.astype(np.int64), self._head_circuit]), axis=1)
        sets: dict[int, tuple[int, ...]] = {}
        if pairs.size:
            cut = np.flatnonzero(np.diff(pairs[0])) + 1
            for block in np.split(np.arange(pairs.shape[1]), cut):
                sets[int(pairs[0, block[0]])] = tuple(int(c) for c in pairs[1, block])
        distinct = sorted(set(sets.values()))
        gid = {s: i for i, s in enumerate(distinct)}
        comp_group = np.full(max(n_comp, 1), -1, np.int32)
        for comp, s in sets.items():
            comp_group[comp] = gid[s]
        self._gptr = np.zeros(len(distinct) + 1, np.int64)
        self._gptr[1:] = np.cumsum([len(s) for s in distinct])
        self._gmembers = np.array([c for s in distinct for c in s], dtype=np.int32)
        self._group_label = pa.array(
            [";".join(circuit_names[c] for c in s) for s in distinct], pa.large_string()
        )
        self._group_size = np.diff(self._gptr).astype(np.int32)
        node_group = np.full(len(self._comp), -1, np.int32)
        has = self._comp >= 0
        node_group[has] = comp_group[self._comp[has]]
        self._node_group = node_group
        edge_group = np.where(ru, node_group[v], node_group[u]).astype(np.int32)
        edge_group[self._open | (ru & rv)] = -1
        self._edge_group = edge_group

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return (
            f"<Network: {self.n_nodes} nodes, {self.n_edges} edges "
            f"({int(self._open.sum())} normally open), {len(self._sub_ids)} substations, "
            f"{len(self._circuit_ids)} circuits>"
        )

    @property
    def n_nodes(self) -> int:
        """Number of distinct nodes (edge ends and busbars)."""
        return len(self._node_ids)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self._edge_ids)

    @property
    def edges(self) -> pd.DataFrame:
        """The edges frame the network was built from (not copied)."""
        return self._edges

    @property
    def substations(self) -> pd.DataFrame:
        """The substations frame the network was built from (not copied)."""
        return self._substations

    @property
    def circuit_ids(self) -> list[str]:
        """Circuit ids, sorted."""
        return list(self._circuit_ids.to_pylist())

    @cached_property
    def circuits(self) -> pd.DataFrame:
        """One row per circuit (sorted by id).

        Columns: ``circuit_id``, ``substation_id``, ``head_edge_ids`` (the
        cables leaving the busbar, ``;``-joined), ``n_nodes`` (nodes fed
        through it), ``shared_with`` (other circuits feeding the same nodes
        through a closed ring or interconnector, ``;``-joined, empty if none).
        """
        n_c = len(self._circuit_ids)
        heads = pd.DataFrame(
            {"c": self._head_circuit, "e": take(self._edge_ids, self._heads).to_pylist()}
        )
        head_ids = heads.groupby("c", sort=True)["e"].agg(lambda s: ";".join(sorted(s)))
        group_nodes = np.bincount(
            self._node_group[self._node_group >= 0], minlength=len(self._group_size)
        )
        n_nodes = np.zeros(n_c, np.int64)
        shared: list[set[int]] = [set() for _ in range(n_c)]
        for g in range(len(self._group_size)):
            members = self._gmembers[self._gptr[g] : self._gptr[g + 1]].tolist()
            for c in members:
                n_nodes[c] += group_nodes[g]
                shared[c].update(m for m in members if m != c)
        names = self.circuit_ids
        return pd.DataFrame(
            {
                CIRCUIT_ID: pd.Series(names, dtype="str"),
                SUBSTATION_ID: pd.Series(self._circuit_substation, dtype="str"),
                "head_edge_ids": pd.Series([head_ids.get(c, "") for c in range(n_c)], dtype="str"),
                "n_nodes": n_nodes,
                "shared_with": pd.Series(
                    [";".join(names[m] for m in sorted(s)) for s in shared], dtype="str"
                ),
            }
        )

    def circuit_codes(self, circuits: Any, *, what: str = "circuits") -> I64:
        """Integer codes of circuit ids; raise for ids that are not circuits of the network."""
        wanted = arrow_text(pd.Series(list(circuits), dtype=object))
        codes = lookup(wanted, self._circuit_ids)
        if (codes < 0).any():
            bad = np.asarray(wanted.to_pylist(), dtype=object)[codes < 0].tolist()
            verb = "is not a circuit" if len(bad) == 1 else "are not circuits"
            raise ParameterError(
                f"{what}: {shown(map(repr, bad))} {verb} of the network (no cable leaving a "
                f"substation busbar has that circuit_id). Known circuits: "
                f"{shown(self.circuit_ids, 10)}."
            )
        return codes

    # ------------------------------------------------------------------ customers
    def attach(
        self,
        customers: pd.DataFrame | CustomerTable,
        *,
        infer: Literal["missing", "all", "none"] = "missing",
        max_distance: float = DEFAULT_MAX_DISTANCE_M,
        review_margin_m: float = DEFAULT_REVIEW_MARGIN_M,
    ) -> AttachedCustomers:
        """Place customers on the network once, for repeated queries.

        Parameters
        ----------
        customers : DataFrame or GeoDataFrame
            ``customer_id``, and optionally ``connection_node``, ``circuit_id``
            (the declared circuit), Point geometry in EPSG:27700 and
            ``location_uncertainty_m`` (from
            :func:`smartstreet_geo.locate.locate_customers`: how far the true
            point may be from the given one; absent or missing means 0). Or a
            :class:`~smartstreet_geo._customer_table.CustomerTable`: those columns
            and each customer's easting and northing, no points (the campaign's run).
        infer : {"missing", "all", "none"}, default "missing"
            Whose circuit to infer from the nearest cable: customers without a
            usable connection node, every customer with a location, or none.
        max_distance : float, default 50
            Metres; a customer further than this from every cable is not
            placed by inference.
        review_margin_m : float, default 8
            An inferred circuit is flagged ``needs_review`` when a cable of
            another circuit is less than this much further away than the
            nearest cable - plus twice the customer's location uncertainty
            (a point ``u`` metres off may be ``u`` nearer the other cable and
            ``u`` further from the nearest), so that a customer placed at a
            postcode centroid is not silently given a circuit.

        Returns
        -------
        AttachedCustomers
            Accepted by :func:`circuit_members`, :func:`downstream_customers`
            and :func:`reconcile_circuits` in place of the customers frame.

        Examples
        --------
        >>> import pandas as pd
        >>> from smartstreet_geo.network import Network
        >>> net = Network(
        ...     pd.DataFrame({"edge_id": ["e1"], "from_node": ["S"], "to_node": ["a"],
        ...                   "circuit_id": ["F1"]}),
        ...     pd.DataFrame({"substation_id": ["S1"], "node": ["S"]}))
        >>> att = net.attach(pd.DataFrame({"customer_id": ["c1", "c2"],
        ...                                "connection_node": ["a", "zz"]}))
        >>> att.counts()  # doctest: +NORMALIZE_WHITESPACE
        {'customers': 2, 'connected': 1, 'unknown_node': 1, 'no_node': 0, 'unfed': 0,
         'inferred': 0, 'unplaced': 1}
        """
        from ._attach import AttachedCustomers

        return AttachedCustomers.build(
            self, customers, infer=infer, max_distance=max_distance, review_margin_m=review_margin_m
        )

    def validate(self, customers: pd.DataFrame | AttachedCustomers | None = None) -> pd.DataFrame:
        """List the problems of the network (and of customers on it), with ids.

        Parameters
        ----------
        customers : DataFrame or AttachedCustomers, optional
            With customers, also: connection nodes that are not in the
            network, customers on parts not fed from any substation, circuits
            with no customers, declared circuit ids that are not circuits.

        Returns
        -------
        DataFrame
            One row per finding: ``issue`` (code), ``element`` (``edge``,
            ``node``, ``circuit``, ``substation`` or ``customer``), ``id``,
            ``circuit_id``, ``substation_id``, ``group`` (the cycle or unfed part
            number, else -1) and ``detail``. Codes: ``closed_cycle`` (an edge on
            a ring or meshed section of closed edges; the group is the cycle),
            ``unfed_part`` (an edge not connected to any substation),
            ``substation_without_edges``, ``shared_busbar_node``,
            ``unnamed_circuit``, ``circuit_on_several_substations``,
            ``edge_circuit_mismatch`` (an edge labelled with a circuit that does
            not feed it), ``unknown_connection_node``, ``no_connection_node``,
            ``customer_unfed``, ``circuit_without_customers``,
            ``unknown_declared_circuit`` (one row per id, count in detail).

        Examples
        --------
        A ring closed between two ways, and a cable fed from nowhere:

        >>> import pandas as pd
        >>> from smartstreet_geo.network import Network
        >>> edges = pd.DataFrame({
        ...     "edge_id": ["e1", "e2", "e3", "e4", "x1"],
        ...     "from_node": ["S", "a", "S", "c", "p"],
        ...     "to_node": ["a", "b", "c", "b", "q"],
        ...     "circuit_id": ["F1", "F1", "F2", "F2", "F9"],
        ... })
        >>> net = Network(edges, pd.DataFrame({"substation_id": ["S1"], "node": ["S"]}))
        >>> issues = net.validate()
        >>> issues[["issue", "id", "group"]]
                  issue  id  group
        0  closed_cycle  e1      0
        1  closed_cycle  e2      0
        2  closed_cycle  e3      0
        3  closed_cycle  e4      0
        4    unfed_part  x1      0
        >>> print(issues["detail"][0])  # doctest: +NORMALIZE_WHITESPACE
        closed cycle 0: 4 edges, circuits F1, F2; ring through the busbar of S1: fed from
        two directions; check the ring is meant to run closed
        """
        from ._validate import validate

        return validate(self, customers)

    # ------------------------------------------------------------------ lookups
    @cached_property
    def _edge_index(self) -> pd.Index:
        return pd.Index(to_series(self._edge_ids))

    @cached_property
    def _node_index(self) -> pd.Index:
        return pd.Index(to_series(self._node_ids))

    def _edge_pos(self, ids: Any) -> I64:
        return np.asarray(self._edge_index.get_indexer(pd.Index(ids, dtype="str")), np.int64)

    def _node_pos(self, ids: Any) -> I64:
        return np.asarray(self._node_index.get_indexer(pd.Index(ids, dtype="str")), np.int64)

    def _fed(self) -> B:
        return np.asarray(self._pre[: self.n_nodes] >= 0)

    # ------------------------------------------------------------------ geometry
    @cached_property
    def _geometry(self) -> npt.NDArray[Any]:
        if (
            not isinstance(self._edges, gpd.GeoDataFrame)
            or self._edges.geometry.name not in self._edges
        ):
            raise ParameterError(
                "the network edges have no geometry: inference and equipment mapping need "
                "cable routes (read the edges with smartstreet_geo.read_network)."
            )
        return np.asarray(self._edges.geometry.array, dtype=object)

    @cached_property
    def _segments(self) -> _SegmentIndex:
        return _SegmentIndex.build(self)

    @cached_property
    def _node_xy(self) -> F64:
        """Node positions from the ends of the edge geometries (nan where unknown)."""
        geoms = self._geometry
        xy = np.full((self.n_nodes, 2), np.nan)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        idx = np.flatnonzero(ok)
        if idx.size:
            coords, which = shapely.get_coordinates(geoms[idx], return_index=True)
            first = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
            last = np.r_[first[1:] - 1, len(which) - 1]
            xy[self._v[idx[which[last]]]] = coords[last]
            xy[self._u[idx[which[first]]]] = coords[first]
        return xy


class _SegmentIndex:
    """Cable segments of the closed edges, cut to at most one cell long, in a sparse grid."""

    def __init__(
        self,
        x0: F64,
        y0: F64,
        x1: F64,
        y1: F64,
        edge: I32,
        group: I32,
        grid: tuple[I64, I64, I32, float, float, float, int, int],
    ) -> None:
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.edge = edge
        self.group = group
        self.ukeys, self.kstart, self.segs, self.gx0, self.gy0, self.cell, self.nx, self.ny = grid

    @classmethod
    def build(cls, net: Network) -> _SegmentIndex:
        k = _kernels()
        geoms = net._geometry
        cand = ~net._open & ~(net._is_root[net._u] & net._is_root[net._v])
        cand &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        which = np.flatnonzero(cand)
        if (shapely.get_type_id(geoms[which]) == 1).all():  # LineStrings: no parts to split
            parts, part_of = geoms[which], np.arange(len(which))
        else:
            parts, part_of = shapely.get_parts(geoms[which], return_index=True)
        coords, idx = shapely.get_coordinates(parts, return_index=True)
        same = idx[1:] == idx[:-1]
        a = coords[:-1][same]
        b = coords[1:][same]
        edge = which[part_of[idx[:-1][same]]].astype(np.int32)
        seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
        cell = float(np.clip(2.0 * np.median(seg_len), 5.0, 100.0)) if len(seg_len) else 10.0
        # cut long segments into pieces of at most one cell (same distances, compact grid)
        pieces = np.maximum(1, np.ceil(seg_len / cell).astype(np.int64))
        if (pieces > 1).any():
            rep = np.repeat(np.arange(len(seg_len)), pieces)
            first = np.cumsum(pieces) - pieces
            t0 = (np.arange(len(rep)) - first[rep]) / pieces[rep]
            t1 = t0 + 1.0 / pieces[rep]
            d = b - a
            a, b = a[rep] + d[rep] * t0[:, None], a[rep] + d[rep] * t1[:, None]
            edge = edge[rep]
        x0, y0, x1, y1 = (np.ascontiguousarray(c) for c in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
        if len(x0):
            gx0 = float(min(x0.min(), x1.min())) - cell
            gy0 = float(min(y0.min(), y1.min())) - cell
            nx = int(np.floor((max(x0.max(), x1.max()) - gx0) / cell)) + 2
            ny = int(np.floor((max(y0.max(), y1.max()) - gy0) / cell)) + 2
        else:
            gx0 = gy0 = 0.0
            nx = ny = 1
        keys, segs = k.grid_entries(x0, y0, x1, y1, gx0, gy0, cell, nx)
        order = np.argsort(keys, kind="stable")
        keys, segs = keys[order], segs[order]
        if nx * ny <= 4 * len(keys) + 1_000_000:  # dense grid: a cell's key is its row
            ukeys = np.zeros(0, np.int64)
            kstart = np.zeros(nx * ny + 1, np.int64)
            np.cumsum(np.bincount(keys, minlength=nx * ny), out=kstart[1:])
        else:  # sparse: look cells up by binary search
            ukeys, kfirst = np.unique(keys, return_index=True)
            kstart = np.append(kfirst, len(keys)).astype(np.int64)
        group = net._edge_group[edge].astype(np.int32)
        return cls(x0, y0, x1, y1, edge, group, (ukeys, kstart, segs, gx0, gy0, cell, nx, ny))

    def nearest_two(
        self, px: F64, py: F64, *, max_d: float, extra: float, tol: float
    ) -> tuple[I32, F64, F64, npt.NDArray[np.int8], I32]:
        """Nearest segment, its distance, distance to another group, equally near edges."""
        k = _kernels()
        return k.nearest_two_groups(
            px,
            py,
            self.x0,
            self.y0,
            self.x1,
            self.y1,
            self.group,
            self.edge,
            self.ukeys,
            self.kstart,
            self.segs,
            self.gx0,
            self.gy0,
            self.cell,
            self.nx,
            self.ny,
            float(max_d),
            float(extra),
            float(tol),
        )

    def within(self, px: F64, py: F64, radius: F64) -> tuple[I64, I64]:
        """Distinct edges within ``radius[i]`` of each point: ``ptr`` and edge numbers."""
        k = _kernels()
        return k.edges_within(
            px,
            py,
            radius,
            self.x0,
            self.y0,
            self.x1,
            self.y1,
            self.edge,
            self.ukeys,
            self.kstart,
            self.segs,
            self.gx0,
            self.gy0,
            self.cell,
            self.nx,
            self.ny,
        )

    def nearest_in(
        self, px: F64, py: F64, target: I32, gptr: I64, gmembers: I32, cap: float
    ) -> F64:
        """Distance to the nearest segment of circuit ``target[i]`` (inf beyond ``cap``)."""
        k = _kernels()
        return k.nearest_in_set(
            px,
            py,
            target,
            self.x0,
            self.y0,
            self.x1,
            self.y1,
            self.group,
            gptr,
            gmembers,
            self.ukeys,
            self.kstart,
            self.segs,
            self.gx0,
            self.gy0,
            self.cell,
            self.nx,
            self.ny,
            float(cap),
        )


# --------------------------------------------------------------------------- helpers
def _require_columns(frame: Any, columns: tuple[str, ...], *, what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{what} must be a pandas or geopandas DataFrame, not {type(frame).__name__}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{what} have no {', '.join(map(repr, missing))} column (columns: "
            f"{shown(frame.columns)}); read them with smartstreet_geo.read_network or rename."
        )


def _isnull(arr: pa.Array) -> B:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _n_distinct(ids: pa.Array) -> int:
    return len(ids.dictionary_encode().dictionary)


def _require_unique(ids: pa.Array, *, what: str, column: str) -> None:
    if ids.null_count:
        raise ParameterError(f"{what}: {ids.null_count} rows have a blank {column!r}.")
    series = to_series(ids)
    dup = series[series.duplicated()].unique()
    if len(dup):
        raise ParameterError(
            f"{what}: {column} {shown(sorted(dup.tolist()))} appear more than once; ids "
            "must be unique (read the file with smartstreet_geo.read_* to see the duplicates)."
        )


def _bool_column(frame: pd.DataFrame, column: str, ids: pa.Array) -> B:
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    col = frame[column]
    if col.isna().any():
        bad = take(ids, np.flatnonzero(col.isna().to_numpy()))
        raise ParameterError(
            f"edges {shown(bad.to_pylist())} have a blank {column!r}; say whether each edge is "
            "a normally-open point (true/false)."
        )
    if not (pd.api.types.is_bool_dtype(col.dtype)):
        raise ParameterError(
            f"edges: {column!r} must be true/false (bool), not {col.dtype}; read the file with "
            "smartstreet_geo.read_network, which parses Y/N, yes/no, 1/0."
        )
    return np.asarray(col.to_numpy(dtype=bool), dtype=bool)


def _onehot(n: int, i: int) -> B:
    out = np.zeros(n, dtype=bool)
    out[i] = True
    return out
