"""The proximity index: customers prepared once, queried with equipment many times."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import ParameterError
from ..schema import CUSTOMER_ID, EQUIPMENT_ID
from ._inputs import (
    Equipment,
    FloatArray,
    IntArray,
    Radius,
    check_finite,
    customer_arrays,
    prepare_equipment,
    require_frame,
    resolve_radius,
    stable_argsort,
)

__all__ = ["DISTANCE_TOLERANCE_M", "Pairs", "ProximityIndex"]

#: Distances within this many metres of the radius count as equal to it (1 nm).
#:
#: Coordinates typed as decimals (``412345.67``) are not exact in binary floating
#: point; two points exactly 50 m apart on paper can come out 50.000000000007 m
#: apart in float64. A nanometre absorbs that representation error (at most a
#: few 1e-10 m anywhere in Great Britain) while staying far below any real
#: difference: with coordinates given to the millimetre and radii under 500 m,
#: the decision equals the one made with exact decimal arithmetic.
DISTANCE_TOLERANCE_M: Final = 1e-9

_CHUNK: Final = 1 << 16  # customers per parallel work item
_BATCH: Final = 1 << 21  # customers per progress update
_MAX_CELLS: Final = 1 << 22
_PARALLEL_MIN: Final = 1 << 18  # fewer customers than this: one thread
_GRID_MIN_CUSTOMERS: Final = 1 << 16  # below this streaming is always cheap
# use the customer grid when it visits under a quarter of the customers (a visit costs
# about as much as streaming past one customer, and the grid skips the count pass)
_GRID_MAX_SHARE: Final = 0.25
_CELL_FACTOR: Final = 4.0  # grid cell side in radii (measured: see benchmarks/README.md)
_PAD_M: Final = 1e-3  # cell coverage beyond radius + tolerance; only ever widens the search
# nearest: grid cells ~ max(customers / 64, 16 x equipment) (measured: fewer customers per
# cell cost candidate-list building, fewer cells per equipment cost longer lists)
_CUSTOMERS_PER_CELL: Final = 64
_CELLS_PER_EQUIPMENT: Final = 16

Progress = Callable[[int], None]


def _kernels() -> Any:
    # numba is imported on first use only: ``import smartstreet_geo`` stays light.
    from . import _kernels

    return _kernels


@contextmanager
def _threads_for(n: int) -> Iterator[None]:
    """Run small queries on one thread: starting threads costs more than it saves.

    (Measured on the shared 2-core machine: at 67,000 customers one thread was
    both faster and steadier.)
    """
    if n >= _PARALLEL_MIN:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@dataclass(frozen=True)
class Pairs:
    """Query results as positions, in output order.

    Attributes
    ----------
    customer : numpy.ndarray of int64
        Row positions in the customers the index was built from.
    equipment : numpy.ndarray of int64
        Row positions in the equipment frame of the query.
    distance_m : numpy.ndarray of float64
        Euclidean distance in metres, ``sqrt(dx**2 + dy**2)`` for points.
    rank : numpy.ndarray of int64 or None
        For nearest queries, 1 + the number of equipment strictly nearer to the
        customer (ties share a rank); ``None`` for within queries.
    """

    customer: IntArray
    equipment: IntArray
    distance_m: FloatArray
    rank: IntArray | None = None

    def __len__(self) -> int:
        return int(self.customer.size)


class ProximityIndex:
    """Customer locations prepared once for many proximity queries.

    Building the index checks the customers once (CRS, missing, empty and
    non-point geometries, non-finite coordinates) and keeps their coordinates
    as two float64 arrays; no shapely object is made per customer on the query
    path. Each query then streams those arrays through a compiled kernel
    against a small index built over the equipment of that query: a cell grid
    of equipment dilated by their radii (within), or a k-d tree that gives
    every grid cell of customers its short list of candidate equipment
    (nearest). Building that index takes milliseconds for 100,000 assets, so
    radii, equipment subsets and customer subsets (``mask=``) can change freely
    between queries. Indexing the equipment rather than the customers was
    chosen by measurement (``benchmarks/README.md``): one streaming pass over
    the customers' coordinates costs little more than reading them.

    Parameters
    ----------
    customers : geopandas.GeoDataFrame
        Point geometries in EPSG:27700 with a ``customer_id`` column, as returned
        by :func:`smartstreet_geo.io.read_customers`.

    See Also
    --------
    customers_near : one-off within-radius query.
    nearest_equipment : one-off nearest query.

    Notes
    -----
    A customer at distance ``d`` from an equipment is within radius ``R`` when
    ``d <= R`` (equality counts), decided on ``dx*dx + dy*dy <= (R + tol)**2``
    in float64 with ``tol =`` :data:`DISTANCE_TOLERANCE_M` (1 nm). For lines
    and polygons the distance is GEOS's distance to the geometry. Cells and
    tree boxes only skip work; they never decide.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> customers = gpd.GeoDataFrame(
    ...     {"customer_id": ["c1", "c2", "c3"]},
    ...     geometry=[Point(0, 0), Point(30, 40), Point(100, 0)],
    ...     crs="EPSG:27700",
    ... )
    >>> equipment = gpd.GeoDataFrame(
    ...     {"equipment_id": ["t1"], "kind": ["oltc_transformer"]},
    ...     geometry=[Point(0, 0)],
    ...     crs="EPSG:27700",
    ... )
    >>> index = ProximityIndex(customers)
    >>> index.within(equipment, radius=50)
      customer_id equipment_id  distance_m
    0          c1           t1         0.0
    1          c2           t1        50.0
    >>> index.within(equipment, radius=49.99)["customer_id"].tolist()
    ['c1']
    """

    def __init__(self, customers: gpd.GeoDataFrame) -> None:
        require_frame(customers, what="customers", id_column=CUSTOMER_ID)
        self._x, self._y = customer_arrays(customers)
        self._ids = customers[CUSTOMER_ID].reset_index(drop=True)
        self._monotonic: bool | None = None
        self._id_sort: IntArray | None = None
        self._grid: Any = None
        self._n_queries = 0

    @classmethod
    def from_coordinates(
        cls, customer_id: Any, easting: npt.ArrayLike, northing: npt.ArrayLike
    ) -> ProximityIndex:
        """Build an index straight from id and coordinate arrays (EPSG:27700 metres).

        The fast path for very large files: read the ``easting``/``northing``
        columns (e.g. with pyarrow) and skip shapely points altogether.

        Parameters
        ----------
        customer_id : array_like
            One id per customer.
        easting, northing : array_like
            British National Grid metres; NaN or infinite values raise.

        Returns
        -------
        ProximityIndex

        Examples
        --------
        >>> index = ProximityIndex.from_coordinates(["a", "b"], [0.0, 3.0], [0.0, 4.0])
        >>> len(index)
        2
        """
        x = _kernel_array(easting)
        y = _kernel_array(northing)
        ids = pd.Series(customer_id).reset_index(drop=True)
        if not (x.size == y.size == ids.size):
            raise ParameterError(
                f"customer_id, easting and northing differ in length "
                f"({ids.size}, {x.size}, {y.size})"
            )
        check_finite(x, y, ids, what="customers", idc=CUSTOMER_ID)
        self = cls.__new__(cls)
        self._x, self._y, self._ids = x, y, ids
        self._monotonic, self._id_sort = None, None
        self._grid, self._n_queries = None, 0
        return self

    def __len__(self) -> int:
        return int(self._x.size)

    def __repr__(self) -> str:
        return f"ProximityIndex({len(self)} customers)"

    @property
    def customer_ids(self) -> pd.Series:
        """The customer ids, in the order the index was built from."""
        return self._ids

    # ------------------------------------------------------------------ queries
    def within(
        self,
        equipment: gpd.GeoDataFrame,
        *,
        radius: Radius,
        mask: npt.ArrayLike | None = None,
        sort: bool = True,
        progress: Progress | None = None,
    ) -> pd.DataFrame:
        """Return every (customer, equipment) pair within the radius, with the distance.

        Parameters
        ----------
        equipment : geopandas.GeoDataFrame
            ``equipment_id`` column and Point, line or polygon geometries in
            EPSG:27700 (as from :func:`smartstreet_geo.io.read_equipment`).
        radius : float, mapping or str
            Metres for every equipment; a mapping ``{kind: metres}`` covering
            every ``kind`` present (a kind without a radius is an error, never a
            default); or the name of an equipment column of metres per row.
        mask : array_like of bool, optional
            Query only the customers where ``mask`` is true.
        sort : bool, default True
            Order rows by ``customer_id``. ``False`` keeps the customers' row
            order (still deterministic), which saves a sort of the output when
            ids are not in row order - worth it for millions of rows.
        progress : callable, optional
            Called with the number of customers just processed.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``equipment_id``, ``distance_m``; sorted by
            ``customer_id`` then ``equipment_id`` (stable: equal ids keep row
            order).

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely import LineString, Point
        >>> customers = gpd.GeoDataFrame(
        ...     {"customer_id": [1, 2]}, geometry=[Point(5, 10), Point(5, 40)], crs="EPSG:27700"
        ... )
        >>> cable = gpd.GeoDataFrame(
        ...     {"equipment_id": ["route-7"]},
        ...     geometry=[LineString([(0, 0), (100, 0)])],
        ...     crs="EPSG:27700",
        ... )
        >>> ProximityIndex(customers).within(cable, radius=20)
           customer_id equipment_id  distance_m
        0            1      route-7        10.0
        """
        eq = self._prepare(equipment)
        pairs = self.within_pairs(eq, radius=radius, mask=mask, sort=sort, progress=progress)
        return self._frame(pairs, eq)

    def nearest(
        self,
        equipment: gpd.GeoDataFrame,
        *,
        k: int = 1,
        max_distance: float | None = None,
        mask: npt.ArrayLike | None = None,
        sort: bool = True,
        progress: Progress | None = None,
    ) -> pd.DataFrame:
        """Return the k nearest equipment of every customer, keeping all ties.

        Parameters
        ----------
        equipment : geopandas.GeoDataFrame
            As for :meth:`within`.
        k : int, default 1
            How many nearest; every equipment tied with the k-th is kept too.
        max_distance : float, optional
            Ignore equipment farther than this (metres, equality counts). A
            customer with no equipment that close has no row.
        mask : array_like of bool, optional
            Query only the customers where ``mask`` is true.
        sort : bool, default True
            Order rows by ``customer_id``. ``False`` keeps the customers' row
            order (still deterministic), which saves a sort of the output when
            ids are not in row order - worth it for millions of rows.
        progress : callable, optional
            Called with the number of customers just processed.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``equipment_id``, ``distance_m``, ``rank`` (1 + the
            number of equipment strictly nearer, so ties share a rank and every
            row has ``rank <= k``); sorted by ``customer_id``, ``distance_m``,
            ``equipment_id``.

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely import Point
        >>> customers = gpd.GeoDataFrame(
        ...     {"customer_id": ["c1"]}, geometry=[Point(0, 0)], crs="EPSG:27700"
        ... )
        >>> equipment = gpd.GeoDataFrame(
        ...     {"equipment_id": ["a", "b", "c"]},
        ...     geometry=[Point(3, 4), Point(-4, 3), Point(10, 0)],
        ...     crs="EPSG:27700",
        ... )
        >>> ProximityIndex(customers).nearest(equipment, k=1)
          customer_id equipment_id  distance_m  rank
        0          c1            a         5.0     1
        1          c1            b         5.0     1
        """
        eq = self._prepare(equipment)
        pairs = self.nearest_pairs(
            eq, k=k, max_distance=max_distance, mask=mask, sort=sort, progress=progress
        )
        return self._frame(pairs, eq)

    # ------------------------------------------------------------------ position level
    def within_pairs(
        self,
        equipment: gpd.GeoDataFrame | Equipment,
        *,
        radius: Radius,
        mask: npt.ArrayLike | None = None,
        sort: bool = True,
        progress: Progress | None = None,
    ) -> Pairs:
        """Like :meth:`within`, returning row positions instead of a frame.

        Parameters
        ----------
        equipment : geopandas.GeoDataFrame
            As for :meth:`within`.
        radius : float, mapping or str
            As for :meth:`within`.
        mask : array_like of bool, optional
            Query only the customers where ``mask`` is true.
        sort : bool, default True
            Order rows by ``customer_id``. ``False`` keeps the customers' row
            order (still deterministic), which saves a sort of the output when
            ids are not in row order - worth it for millions of rows.
        progress : callable, optional
            Called with the number of customers just processed.

        Returns
        -------
        Pairs
            In the same order as the rows of :meth:`within`.
        """
        eq = equipment if isinstance(equipment, Equipment) else self._prepare(equipment)
        r = resolve_radius(radius, eq)
        with _threads_for(len(self) if mask is None else int(np.count_nonzero(mask))):
            return self._within_pairs(eq, r, mask, sort, progress)

    def _within_pairs(
        self,
        eq: Equipment,
        r: FloatArray,
        mask: npt.ArrayLike | None,
        sort: bool,
        progress: Progress | None,
    ) -> Pairs:
        rows, x, y = self._subset(mask)
        self._n_queries += 1
        if eq.other_rank.size == 0 and eq.point_rank.size and x.size:
            pr = r[eq.point_rank]
            pad = pr + (DISTANCE_TOLERANCE_M + _PAD_M)
            grid = self._customer_grid(pad)
            if grid is not None:
                c, j, d = grid.query(eq.px, eq.py, pad, (pr + DISTANCE_TOLERANCE_M) ** 2)
                if progress is not None:
                    progress(x.size)
                return self._order_pairs(c, eq.rank_to_row[eq.point_rank[j]], j, d, rows, sort)
        parts_c: list[IntArray] = []
        parts_e: list[IntArray] = []
        parts_d: list[FloatArray] = []
        only_points = eq.other_rank.size == 0
        if eq.point_rank.size:
            pr = r[eq.point_rank]
            # label pairs with equipment rows directly when no merge (by rank) follows
            labels = eq.rank_to_row[eq.point_rank] if only_points else eq.point_rank
            direct = only_points and sort
            c, j, d = _within_boxes(
                x, y, eq.px, eq.py, eq.px, eq.py, pr, (pr + DISTANCE_TOLERANCE_M) ** 2, progress,
                labels, self._hit_order(rows) if direct else None,
            )  # fmt: skip
            sort = sort and not direct  # already in customer-id order
            parts_c.append(c)
            parts_e.append(j)
            parts_d.append(d)
            progress = None  # reported once
        if eq.other_rank.size:
            c, e, d = self._within_other(x, y, eq, r, progress)
            parts_c.append(c)
            parts_e.append(e)
            parts_d.append(d)
        elif progress is not None:
            progress(x.size)
        if only_points and parts_c:
            cust, erow, dist = parts_c[0], parts_e[0], parts_d[0]
        elif parts_c:
            cust, erank = np.concatenate(parts_c), np.concatenate(parts_e)
            dist = np.concatenate(parts_d)
            order = np.lexsort((erank, cust))
            cust, erow, dist = cust[order], eq.rank_to_row[erank[order]], dist[order]
        else:
            cust, erow, dist = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        if rows is not None:
            cust = rows[cust]
        return self._finish(cust, erow, dist, None, sort=sort)

    def nearest_pairs(
        self,
        equipment: gpd.GeoDataFrame | Equipment,
        *,
        k: int = 1,
        max_distance: float | None = None,
        mask: npt.ArrayLike | None = None,
        sort: bool = True,
        progress: Progress | None = None,
    ) -> Pairs:
        """Like :meth:`nearest`, returning row positions instead of a frame.

        Parameters
        ----------
        equipment : geopandas.GeoDataFrame
            As for :meth:`nearest`.
        k : int, default 1
            As for :meth:`nearest`.
        max_distance : float, optional
            As for :meth:`nearest`.
        mask : array_like of bool, optional
            Query only the customers where ``mask`` is true.
        sort : bool, default True
            Order rows by ``customer_id``. ``False`` keeps the customers' row
            order (still deterministic), which saves a sort of the output when
            ids are not in row order - worth it for millions of rows.
        progress : callable, optional
            Called with the number of customers just processed.

        Returns
        -------
        Pairs
            In the same order as the rows of :meth:`nearest`, with ``rank``.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ParameterError(f"k must be a whole number >= 1, not {k!r}")
        k = int(k)
        if max_distance is not None and (
            isinstance(max_distance, bool) or not np.isfinite(max_distance) or max_distance < 0
        ):
            raise ParameterError(f"max_distance must be metres >= 0 or None, not {max_distance!r}")
        eq = equipment if isinstance(equipment, Equipment) else self._prepare(equipment)
        with _threads_for(len(self) if mask is None else int(np.count_nonzero(mask))):
            return self._nearest_pairs(eq, k, max_distance, mask, sort, progress)

    def _nearest_pairs(
        self,
        eq: Equipment,
        k: int,
        max_distance: float | None,
        mask: npt.ArrayLike | None,
        sort: bool,
        progress: Progress | None,
    ) -> Pairs:
        rows, x, y = self._subset(mask)
        if sort and mask is None and x.size and not self._ids_monotonic():
            self._all_id_order()  # now, while its scratch memory is not on top of the results
        found: list[tuple[IntArray, IntArray, FloatArray, IntArray]] = []
        if eq.point_rank.size and x.size:
            only_points = eq.other_rank.size == 0
            labels = eq.rank_to_row[eq.point_rank] if only_points else eq.point_rank
            found.append(_nearest_points(x, y, eq.px, eq.py, labels, k, max_distance, progress))
            progress = None
        if eq.other_rank.size and x.size:
            from ._nonpoint import nearest_other

            c, j, d = nearest_other(
                x, y, eq.other_geoms, k, max_distance, DISTANCE_TOLERANCE_M, progress
            )
            found.append((c, eq.other_rank[j], d, np.zeros(c.size, np.int64)))
            del c, j, d
        elif progress is not None:
            progress(x.size)
        if len(found) == 1 and eq.other_rank.size == 0:
            cust, erow, dist, rank = found.pop()
        elif found:
            cust, erank, dist, rank = _merge_nearest(found, k)
            erow = eq.rank_to_row[erank]
        else:
            cust = erow = rank = np.empty(0, np.int64)
            dist = np.empty(0)
        found.clear()
        if rows is not None:
            cust = rows[cust]
        if k > 1:
            return self._finish(cust, erow, dist, rank, sort=sort)
        # k = 1: every rank is 1 (ties included); at 10 million rows, not carrying
        # them through the sort saves a tenth of a second and 80 MB at the peak
        pairs = self._finish(cust, erow, dist, None, sort=sort)
        del cust, erow, dist, rank
        ones = np.ones(pairs.customer.size, np.int64)
        return Pairs(pairs.customer, pairs.equipment, pairs.distance_m, ones)

    # ------------------------------------------------------------------ helpers
    def _prepare(self, equipment: gpd.GeoDataFrame) -> Equipment:
        require_frame(equipment, what="equipment", id_column=EQUIPMENT_ID, against_customers=True)
        return prepare_equipment(equipment)

    def _subset(self, mask: npt.ArrayLike | None) -> tuple[IntArray | None, FloatArray, FloatArray]:
        if mask is None:
            return None, self._x, self._y
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != self._x.shape:
            raise ParameterError(
                f"mask must be {len(self)} booleans, one per customer, not {m.dtype} of "
                f"shape {m.shape}"
            )
        rows = np.flatnonzero(m).astype(np.int64)
        return rows, self._x[rows], self._y[rows]

    def _finish(
        self,
        cust: IntArray,
        erow: IntArray,
        dist: FloatArray,
        rank: IntArray | None,
        *,
        sort: bool,
    ) -> Pairs:
        """Order results by customer id, keeping each customer's block intact.

        ``cust`` is non-decreasing (results come out in customer row order).
        Up to half the customers: their ids are sorted directly. More (nearest
        queries), or once the order of all ids is known: that order, computed
        once per index, drives a one-pass reorder.
        """
        if not sort or cust.size == 0:
            return Pairs(cust, erow, dist, rank)
        starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
        if self._id_sort is not None or starts.size * 2 >= len(self):
            if self._ids_monotonic():  # checked only when it can save a full sort
                return Pairs(cust, erow, dist, rank)
            rk = np.empty(0, np.int64) if rank is None else rank
            oc, oj = np.empty(cust.size, np.int64), np.empty(cust.size, np.int64)
            od, orank = np.empty(cust.size), np.empty(rk.size, np.int64)
            order = self._all_id_order()
            _kernels().reorder_rows(cust, erow, dist, rk, order, len(self), oc, oj, od, orank)
            return Pairs(oc, oj, od, None if rank is None else orank)
        order = stable_argsort(self._ids.iloc[cust[starts]])
        if np.array_equal(order, np.arange(order.size)):
            return Pairs(cust, erow, dist, rank)
        lens = np.diff(np.r_[starts, cust.size])
        perm = _kernels().block_permutation(starts, lens, order, cust.size)
        return Pairs(cust[perm], erow[perm], dist[perm], None if rank is None else rank[perm])

    def _customer_grid(self, pad: FloatArray) -> Any:
        """Return the customer grid when it makes this query cheaper than streaming.

        Built on the second query of an index (a sign it is being reused) when
        the cells around the equipment hold far fewer customers than all of
        them; about 0.3 s and 24 bytes per customer, once. ``None``: stream.
        """
        n = len(self)
        if self._grid is None:
            if self._n_queries < 2 or n < _GRID_MIN_CUSTOMERS:
                return None
            # rough guess before building: customers fill about half of the cells
            cell = np.sqrt(np.ptp(self._x) * np.ptp(self._y) / max(1, n // 8)) + 1.0
            side = 2.0 * pad / cell + 2.0
            if float(np.sum(side * side)) * 16.0 > n * _GRID_MAX_SHARE:
                return None
            from ._customer_grid import CustomerGrid

            self._grid = CustomerGrid(self._x, self._y, max_cells=_MAX_CELLS)
        return self._grid if self._grid.visit_cost(pad) <= n * _GRID_MAX_SHARE else None

    def _order_pairs(
        self,
        cust: IntArray,
        erow: IntArray,
        erank: IntArray,
        dist: FloatArray,
        rows: IntArray | None,
        sort: bool,
    ) -> Pairs:
        """Sort pairs from the customer grid as the streaming path would give them."""
        if rows is not None:
            chosen = np.zeros(len(self), bool)
            chosen[rows] = True
            keep = chosen[cust]
            cust, erow, erank, dist = cust[keep], erow[keep], erank[keep], dist[keep]
        key = cust
        if sort and cust.size:
            uniq, inv = np.unique(cust, return_inverse=True)
            rank = np.empty(uniq.size, np.int64)
            rank[stable_argsort(self._ids.iloc[uniq])] = np.arange(uniq.size)
            key = rank[inv]
        order = np.lexsort((erank, key))
        return Pairs(cust[order], erow[order], dist[order], None)

    def _hit_order(self, rows: IntArray | None) -> Callable[[IntArray], IntArray]:
        """Return a function ordering customer positions (of the subset ``rows``) by id."""

        def order(hit: IntArray) -> IntArray:
            glob = hit if rows is None else rows[hit]
            if self._id_sort is None and glob.size * 2 < len(self):
                return stable_argsort(self._ids.iloc[glob])
            if self._ids_monotonic():
                return np.arange(glob.size)
            slot = np.full(len(self), -1, np.int64)
            slot[glob] = np.arange(glob.size)
            ordered = slot[self._all_id_order()]
            return ordered[ordered >= 0]

        return order

    def _ids_monotonic(self) -> bool:
        if self._monotonic is None:
            self._monotonic = bool(self._ids.is_monotonic_increasing)
        return self._monotonic

    def _all_id_order(self) -> IntArray:
        if self._id_sort is None:
            self._id_sort = stable_argsort(self._ids)
        return self._id_sort

    def _frame(self, pairs: Pairs, eq: Equipment) -> pd.DataFrame:
        cols: dict[str, Any] = {
            CUSTOMER_ID: self._ids.array.take(pairs.customer),
            EQUIPMENT_ID: eq.ids.array.take(pairs.equipment),
            "distance_m": pairs.distance_m,
        }
        if pairs.rank is not None:
            cols["rank"] = pairs.rank
        return pd.DataFrame(cols)

    def _within_other(
        self, x: FloatArray, y: FloatArray, eq: Equipment, r: FloatArray, progress: Progress | None
    ) -> tuple[IntArray, IntArray, FloatArray]:
        from ._nonpoint import exact_distances, part_boxes

        xmin, ymin, xmax, ymax, owner = part_boxes(eq.other_geoms)
        rr = r[eq.other_rank][owner]
        # a loose box test (1 mm) first; GEOS distances decide
        c, b, _ = _within_boxes(x, y, xmin, ymin, xmax, ymax, rr, (rr + _PAD_M) ** 2, progress)
        own = owner[b]
        keep = np.ones(c.size, bool)  # one candidate per (customer, geometry)
        keep[1:] = (c[1:] != c[:-1]) | (own[1:] != own[:-1])
        c, own = c[keep], own[keep]
        d = exact_distances(x, y, c, eq.other_geoms, own)
        ok = d <= r[eq.other_rank][own] + DISTANCE_TOLERANCE_M
        return c[ok], eq.other_rank[own[ok]], d[ok]


def _kernel_array(values: npt.ArrayLike) -> FloatArray:
    """Contiguous, writeable float64 (read-only views, e.g. from pyarrow, are copied).

    One array type for the kernels means one compiled specialisation, so the
    on-disk cache always hits.
    """
    a = np.ascontiguousarray(values, dtype=np.float64).ravel()
    return a if a.flags.writeable else a.copy()


def _grid(
    xmin: FloatArray, ymin: FloatArray, xmax: FloatArray, ymax: FloatArray, pad: FloatArray
) -> tuple[float, float, float, int, int]:
    """Cell grid over the padded boxes: origin, 1/cell side, columns, rows."""
    gx0 = float((xmin - pad).min()) - 1.0
    gy0 = float((ymin - pad).min()) - 1.0
    gx1 = float((xmax + pad).max()) + 1.0
    gy1 = float((ymax + pad).max()) + 1.0
    w, h = gx1 - gx0, gy1 - gy0
    typical = float(np.median(pad)) if pad.size else 1.0
    if xmax is not xmin:  # boxes: a cell should hold a typical box
        typical = max(typical, float(np.median(np.maximum(xmax - xmin, ymax - ymin))))
    cell = max(_CELL_FACTOR * typical, float(np.sqrt(w * h / _MAX_CELLS)), 1.0)
    nx = int(w / cell) + 1
    ny = int(h / cell) + 1
    return gx0, gy0, 1.0 / cell, nx, ny


def _within_boxes(
    x: FloatArray,
    y: FloatArray,
    xmin: FloatArray,
    ymin: FloatArray,
    xmax: FloatArray,
    ymax: FloatArray,
    r: FloatArray,
    t2: FloatArray,
    progress: Progress | None,
    labels: IntArray | None = None,
    order_hits: Callable[[IntArray], IntArray] | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs (customer, label, distance) with squared box distance <= t2.

    The label of box ``b`` is ``labels[b]`` (``b`` itself by default). Pairs
    are grouped by customer, customers in row order - or, with
    ``order_hits``, in the order it gives for the (sorted) positions of the
    customers that have pairs: each customer's block is then written straight
    to its final place, so no reordering pass over the output is needed.
    Within a customer, pairs follow box order.
    """
    kern = _kernels()
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    n = x.size
    if n == 0 or xmin.size == 0:
        if progress is not None:
            progress(n)
        return empty
    pad = r + (DISTANCE_TOLERANCE_M + _PAD_M)
    gx0, gy0, inv, nx, ny = _grid(xmin, ymin, xmax, ymax, pad)
    cell_start, entry = kern.build_box_grid(xmin, ymin, xmax, ymax, pad, gx0, gy0, inv, nx, ny)
    exmin, eymin = xmin[entry], ymin[entry]
    exmax, eymax = (exmin, eymin) if xmax is xmin else (xmax[entry], ymax[entry])
    et2 = t2[entry]
    eid = entry.astype(np.int64) if labels is None else labels[entry]
    occupied = np.packbits(np.diff(cell_start) > 0, bitorder="little")
    step = n if progress is None else _BATCH
    step = max(_CHUNK, step // _CHUNK * _CHUNK)  # whole chunks per batch
    batches = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
    per = np.empty(n if order_hits is not None else 0, np.int32)
    none32 = np.empty(0, np.int32)

    def grid_args(lo: int, hi: int) -> tuple[Any, ...]:
        head = (x[lo:hi], y[lo:hi], gx0, gy0, inv, nx, ny, occupied, cell_start)
        return (*head, exmin, eymin, exmax, eymax, et2)

    chunk_counts = [
        kern.within_count(*grid_args(lo, hi), _CHUNK, per[lo:hi] if per.size else none32)
        for lo, hi in batches
    ]
    chunk_lo = np.concatenate([np.arange(lo, hi, _CHUNK) for lo, hi in batches])
    if order_hits is None:
        dest = np.empty(0, np.int64)
        starts = np.zeros(chunk_lo.size + 1, np.int64)
        np.cumsum(np.concatenate(chunk_counts), out=starts[1:])
        total = int(starts[-1])
    else:
        hit = np.flatnonzero(per)
        order = order_hits(hit)
        sizes = per[hit[order]].astype(np.int64)
        first = np.zeros(hit.size + 1, np.int64)
        np.cumsum(sizes, out=first[1:])
        dest = np.empty(hit.size, np.int64)
        dest[order] = first[:-1]
        total = int(first[-1])
        starts = np.searchsorted(hit, chunk_lo).astype(np.int64)  # hits before each chunk
    ci = np.empty(total, np.int64)
    cj = np.empty(total, np.int64)
    cd = np.empty(total, np.float64)
    c0 = 0
    for lo, hi in batches:
        nch = (hi - lo + _CHUNK - 1) // _CHUNK
        kern.within_fill(
            *grid_args(lo, hi), eid, _CHUNK, starts[c0 : c0 + nch],
            per[lo:hi] if per.size else none32, dest, lo, ci, cj, cd,
        )  # fmt: skip
        c0 += nch
        if progress is not None:
            progress(hi - lo)
    return ci, cj, cd


def _nearest_points(
    x: FloatArray,
    y: FloatArray,
    px: FloatArray,
    py: FloatArray,
    labels: IntArray,
    k: int,
    max_distance: float | None,
    progress: Progress | None,
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Find the k nearest point equipment with ties: (customer, label, distance, rank).

    A k-d tree over the equipment gives, for every grid cell holding customers,
    the short list of equipment that can be nearest to any point of the cell;
    each customer then scans only its cell's list.
    """
    kern = _kernels()
    tree = kern.kd_build(px, py, 8)[:9]
    max_d = np.inf if max_distance is None else float(max_distance)
    t2_max = (max_d + DISTANCE_TOLERANCE_M) ** 2
    gx0, gy0 = float(x.min()) - 1.0, float(y.min()) - 1.0
    w, h = float(x.max()) + 1.0 - gx0, float(y.max()) + 1.0 - gy0
    n_cells = min(max(1, x.size // _CUSTOMERS_PER_CELL, _CELLS_PER_EQUIPMENT * px.size), _MAX_CELLS)
    cell = max(float(np.sqrt(w * h / n_cells)), 1.0)
    inv = 1.0 / cell
    nx, ny = int(w / cell) + 1, int(h / cell) + 1
    cells = np.flatnonzero(kern.mark_cells(x, y, gx0, gy0, inv, nx, ny, _CHUNK))
    list_start, list_j = kern.cell_candidates(
        cells, nx, gx0, gy0, cell, px, py, *tree, k, max_d, DISTANCE_TOLERANCE_M, 256
    )
    cell_slot = np.zeros(nx * ny, np.int32)
    cell_slot[cells] = np.arange(cells.size, dtype=np.int32)
    step = x.size if progress is None else _BATCH
    if k == 1 and max_distance is None:
        grid = (gx0, gy0, inv, nx, ny, cell_slot, list_start, list_j, px, py)
        return _nearest_one_each(kern, x, y, grid, labels, step, progress)
    outs = []
    for lo in range(0, x.size, step):
        xs, ys = x[lo : lo + step], y[lo : lo + step]
        grid = (gx0, gy0, inv, nx, ny, cell_slot, list_start, list_j, px, py)
        c, j, d, rk = _knn_rows(kern, (xs, ys, *grid, k, t2_max), labels, k)
        if lo:
            c += lo
        outs.append((c, j, d, rk))
        if progress is not None:
            progress(xs.size)
    if len(outs) == 1:
        return outs[0]
    c, j, d, rk = (np.concatenate(p) for p in zip(*outs, strict=True))
    return c, j, d, rk


def _knn_rows(
    kern: Any, search: tuple[Any, ...], labels: IntArray, k: int
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Run :func:`grid_knn` twice: count, then write into exactly sized arrays.

    ``search`` is its arguments up to ``t2_max``; ranks only for k > 1 (for
    k = 1 every rank is 1).
    """
    args = (*search, DISTANCE_TOLERANCE_M, _CHUNK, labels)
    none_i, none_f = np.empty(0, np.int64), np.empty(0)
    counts = kern.grid_knn(*args, none_i, none_i, none_i, none_f, none_i)
    offsets = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    out = (
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty(total, np.float64),
        np.empty(total if k > 1 else 0, np.int64),
    )
    kern.grid_knn(*args, offsets, *out)
    return out


def _nearest_one_each(
    kern: Any,
    x: FloatArray,
    y: FloatArray,
    grid: tuple[Any, ...],
    labels: IntArray,
    step: int,
    progress: Progress | None,
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Find the nearest equipment (k = 1, no distance limit) in one pass, then add ties.

    Every customer has a nearest equipment, so the results need no counting
    pass: one row per customer, except where several equipment are equally
    near, which a second, small query over those customers supplies.
    """
    n = x.size
    j = np.empty(n, np.int64)
    d = np.empty(n)
    ties = np.empty(n, np.int32)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        kern.grid_nearest1(x[lo:hi], y[lo:hi], *grid, DISTANCE_TOLERANCE_M, _CHUNK, labels,
                           j[lo:hi], d[lo:hi], ties[lo:hi])  # fmt: skip
        if progress is not None:
            progress(hi - lo)
    tied = np.flatnonzero(ties > 1)
    if tied.size == 0:
        return np.arange(n, dtype=np.int64), j, d, np.empty(0, np.int64)
    # the tied customers again, with every equipment at the nearest distance
    tc, tj, td, _ = _knn_rows(kern, (x[tied], y[tied], *grid, 1, np.inf), labels, 1)
    sizes = np.ones(n, np.int64)
    sizes[tied] = np.bincount(tc, minlength=tied.size)
    start = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=start[1:])
    single = np.flatnonzero(sizes == 1)
    cust = np.repeat(np.arange(n, dtype=np.int64), sizes)
    out_j, out_d = np.empty(cust.size, np.int64), np.empty(cust.size)
    out_j[start[single]], out_d[start[single]] = j[single], d[single]
    at = start[tied][tc] + (np.arange(tc.size) - _group_starts(tc))
    out_j[at], out_d[at] = tj, td
    return cust, out_j, out_d, np.empty(0, np.int64)


def _group_starts(groups: IntArray) -> IntArray:
    """Return, for sorted group labels, each row's first row of its group."""
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return np.repeat(first, np.diff(np.r_[first, groups.size]))


def _merge_nearest(
    found: list[tuple[IntArray, IntArray, FloatArray, IntArray]], k: int
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Merge per-family nearest candidates and re-rank them together."""
    cust, erank, dist = (np.concatenate([f[i] for f in found]) for i in range(3))
    order = np.lexsort((erank, dist, cust))
    cust, erank, dist = cust[order], erank[order], dist[order]
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]]) if cust.size else cust
    lens = np.diff(np.r_[starts, cust.size]).astype(np.int64)
    rank = np.empty(cust.size, np.int64)
    _kernels().rank_within_blocks(starts.astype(np.int64), lens, dist, DISTANCE_TOLERANCE_M, rank)
    keep = rank <= k
    return cust[keep], erank[keep], dist[keep], rank[keep]
