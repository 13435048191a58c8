"""One-off proximity queries: :func:`customers_near` and :func:`nearest_equipment`."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..schema import BNG_CRS, CUSTOMER_ID, EQUIPMENT_ID, KIND
from ._dask import is_dask_collection  # dask itself is imported only for dask input
from ._index import Pairs, Progress, ProximityIndex
from ._inputs import Radius, as_canonical_ids, check_output_names, resolve_radius

__all__ = ["customers_near", "nearest_equipment"]

#: The radius column of a geometry result (metres, per equipment).
RADIUS_M = "radius_m"


def customers_near(
    customers: gpd.GeoDataFrame,
    equipment: gpd.GeoDataFrame,
    *,
    radius: Radius,
    sort: bool = True,
    progress: Progress | None = None,
    geometry: bool = False,
    customer_id: str = CUSTOMER_ID,
    equipment_id: str = EQUIPMENT_ID,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Return every (customer, equipment) pair within the radius, with the distance.

    Parameters
    ----------
    customers : geopandas.GeoDataFrame or dask_geopandas.GeoDataFrame
        Point geometries in EPSG:27700 with a ``customer_id`` column. A
        dask-geopandas frame (any partitioning; spatially partitioned, e.g.
        after ``spatial_shuffle``, sends each worker less equipment) gives a
        lazy Dask result; see Notes.
    equipment : geopandas.GeoDataFrame
        ``equipment_id`` (and ``kind`` for a per-kind radius) with Point, line
        or polygon geometries in EPSG:27700. The distance is to the geometry
        (a cable route, a works area), never to its centroid.
    radius : float, mapping or str
        Metres for every equipment; ``{kind: metres}`` covering every kind
        present (a kind without a radius raises, there is no default); or the
        name of an equipment column of metres per row.
    sort : bool, default True
        Order rows by ``customer_id``; ``False`` keeps the customers' row order
        (still deterministic) and skips sorting a very large output. With Dask
        customers this orders the rows within each partition.
    progress : callable, optional
        Called with the number of customers just processed (for progress bars).
        Not with Dask customers (use the Dask dashboard).
    geometry : bool, default False
        Return a GeoDataFrame: the pairs plus the equipment's ``kind`` (when the
        equipment have one) and ``radius_m`` (the radius applied), with the
        customer's Point as geometry in EPSG:27700 - ready for ``.explore()``,
        ``.to_file()`` or a merge that keeps the CRS.
    customer_id, equipment_id : str, default "customer_id", "equipment_id"
        The id columns of ``customers`` and ``equipment`` (e.g. ``"MPAN"``); the
        result names its id columns the same.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame or dask.dataframe.DataFrame
        ``customer_id``, ``equipment_id``, ``distance_m`` (metres), one row per
        pair with distance <= radius, sorted by ``customer_id`` then
        ``equipment_id``. Ties are all kept. With ``geometry=True`` also
        ``kind``, ``radius_m`` and the customer's geometry. For Dask customers
        a ``dask.dataframe.DataFrame`` (a ``dask_geopandas.GeoDataFrame`` with
        ``geometry=True``) with one partition per customer partition.

    Raises
    ------
    CRSError
        A frame is not in EPSG:27700 (e.g. a geographic CRS in degrees).
    EmptyGeometryError
        A geometry is missing or empty, or a coordinate is NaN/infinite.
    ParameterError
        A kind without a radius, a negative radius, customers that are not
        points, or a missing id column; ``progress`` or Dask equipment with
        Dask customers.

    See Also
    --------
    ProximityIndex : prepare customers once for many queries.
    nearest_equipment : the nearest equipment of every customer.

    Notes
    -----
    A distance exactly equal to the radius counts as within. The test is
    ``dx*dx + dy*dy <= (R + 1e-9)**2`` in float64, so decimal coordinates that
    are exactly R apart on paper are within although their binary values may
    be 1e-11 m farther; see :data:`DISTANCE_TOLERANCE_M`. ``distance_m`` is
    ``sqrt(dx*dx + dy*dy)`` (GEOS's distance for lines and polygons), not
    rounded.

    With Dask customers each partition is one task running this same
    function on its rows against the equipment within its radius of the
    partition's bounds (the equipment travel once to each worker), so every
    pair comes from the one partition holding its customer: the computed rows
    are exactly those of the in-memory call on the computed customers. Options
    and equipment are checked at call time; customer geometries when computed.
    The rows come in partition order, sorted within each partition as
    ``sort`` says, and each partition's index starts at 0; for one global
    order use ``result.compute().sort_values([customer_id, equipment_id],
    ignore_index=True)``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> customers = gpd.GeoDataFrame(
    ...     {"customer_id": ["c1", "c2", "c3"]},
    ...     geometry=[Point(400000, 300000), Point(400030, 300040), Point(400000, 300035)],
    ...     crs="EPSG:27700",
    ... )
    >>> equipment = gpd.GeoDataFrame(
    ...     {"equipment_id": ["T1", "C9"], "kind": ["oltc_transformer", "lv_capacitor"]},
    ...     geometry=[Point(400000, 300000), Point(400000, 300040)],
    ...     crs="EPSG:27700",
    ... )
    >>> customers_near(customers, equipment, radius={"oltc_transformer": 50, "lv_capacitor": 30})
      customer_id equipment_id  distance_m
    0          c1           T1         0.0
    1          c2           C9        30.0
    2          c2           T1        50.0
    3          c3           C9         5.0
    4          c3           T1        35.0

    As a GeoDataFrame, ids named as the caller names them:

    >>> near = customers_near(
    ...     customers.rename(columns={"customer_id": "MPAN"}),
    ...     equipment,
    ...     radius={"oltc_transformer": 50, "lv_capacitor": 30},
    ...     geometry=True,
    ...     customer_id="MPAN",
    ... )
    >>> near.crs.to_epsg(), near.columns.tolist()
    (27700, ['MPAN', 'equipment_id', 'distance_m', 'kind', 'radius_m', 'geometry'])
    """
    check_output_names(customer_id, equipment_id)
    if is_dask_collection(customers):
        from ._dask import customers_near_dask

        return customers_near_dask(
            customers, equipment, radius=radius, sort=sort, progress=progress,
            geometry=geometry, customer_id=customer_id, equipment_id=equipment_id,
        )  # fmt: skip
    cust = as_canonical_ids(customers, customer_id, CUSTOMER_ID, what="customers")
    keep = (radius,) if isinstance(radius, str) else ()
    eq_frame = as_canonical_ids(equipment, equipment_id, EQUIPMENT_ID, what="equipment", keep=keep)
    index = ProximityIndex(cust)
    eq = index._prepare(eq_frame)
    pairs = index.within_pairs(eq, radius=radius, sort=sort, progress=progress)
    radius_by_row = None
    if geometry:
        radius_by_row = np.empty(eq.size, dtype=np.float64)
        radius_by_row[eq.rank_to_row] = resolve_radius(radius, eq)
    return _result(
        index, pairs, customers, eq_frame, customer_id, equipment_id, geometry, radius_by_row
    )


def nearest_equipment(
    customers: gpd.GeoDataFrame,
    equipment: gpd.GeoDataFrame,
    *,
    k: int = 1,
    max_distance: float | None = None,
    sort: bool = True,
    progress: Progress | None = None,
    geometry: bool = False,
    customer_id: str = CUSTOMER_ID,
    equipment_id: str = EQUIPMENT_ID,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Return the k nearest equipment of every customer, with distances and ranks.

    Every equipment tied with the k-th nearest is kept, as QGIS and
    ``geopandas.sjoin_nearest`` do, so a customer can have more than k rows.

    Parameters
    ----------
    customers : geopandas.GeoDataFrame or dask_geopandas.GeoDataFrame
        Point geometries in EPSG:27700 with a ``customer_id`` column; a
        dask-geopandas frame gives a lazy Dask result (see Notes).
    equipment : geopandas.GeoDataFrame
        ``equipment_id`` with Point, line or polygon geometries in EPSG:27700.
    k : int, default 1
        How many nearest equipment per customer (plus ties).
    max_distance : float, optional
        Only equipment at most this far (metres, equality counts); customers
        with none that close get no row.
    sort : bool, default True
        Order rows by ``customer_id``; ``False`` keeps the customers' row order.
        With Dask customers this orders the rows within each partition.
    progress : callable, optional
        Called with the number of customers just processed. Not with Dask
        customers.
    geometry : bool, default False
        Return a GeoDataFrame with the equipment's ``kind`` (when present) and
        the customer's Point as geometry in EPSG:27700.
    customer_id, equipment_id : str, default "customer_id", "equipment_id"
        The id columns, as for :func:`customers_near`.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame or dask.dataframe.DataFrame
        ``customer_id``, ``equipment_id``, ``distance_m``, ``rank``; ``rank``
        is 1 + the number of equipment strictly nearer (ties share a rank,
        every row has ``rank <= k``). Sorted by ``customer_id``,
        ``distance_m``, ``equipment_id``. With ``geometry=True`` also ``kind``
        and the customer's geometry. For Dask customers a
        ``dask.dataframe.DataFrame`` (``dask_geopandas.GeoDataFrame`` with
        ``geometry=True``), one partition per customer partition.

    Raises
    ------
    CRSError, EmptyGeometryError, ParameterError
        As for :func:`customers_near`; also for ``k < 1`` or a negative
        ``max_distance``.

    See Also
    --------
    customers_near : every pair within a radius.
    ProximityIndex.nearest : the same on a prepared index.

    Notes
    -----
    Distances that differ by at most :data:`DISTANCE_TOLERANCE_M` (1 nm) are
    ties.

    With Dask customers each partition runs this function against the
    equipment within ``D + h`` of its bounds (``D``: the k-th nearest distance
    from the bounds' centre, ``h``: half their diagonal; at most
    ``max_distance``). That halo is exact even without ``max_distance``: a
    customer is at most ``h`` from the centre, so its k nearest (and every
    equipment strictly nearer) are within ``D + h``. The computed rows are
    exactly those of the in-memory call, in partition order, sorted within
    each partition; ``result.compute().sort_values([customer_id, "distance_m",
    equipment_id], ignore_index=True)`` gives the in-memory order.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> customers = gpd.GeoDataFrame(
    ...     {"customer_id": ["c1", "c2"]},
    ...     geometry=[Point(0, 0), Point(100, 0)],
    ...     crs="EPSG:27700",
    ... )
    >>> equipment = gpd.GeoDataFrame(
    ...     {"equipment_id": ["A", "B"]},
    ...     geometry=[Point(10, 0), Point(90, 0)],
    ...     crs="EPSG:27700",
    ... )
    >>> nearest_equipment(customers, equipment, k=2)
      customer_id equipment_id  distance_m  rank
    0          c1            A        10.0     1
    1          c1            B        90.0     2
    2          c2            B        10.0     1
    3          c2            A        90.0     2
    >>> nearest_equipment(customers, equipment, max_distance=5)
    Empty DataFrame
    Columns: [customer_id, equipment_id, distance_m, rank]
    Index: []
    """
    check_output_names(customer_id, equipment_id)
    if is_dask_collection(customers):
        from ._dask import nearest_equipment_dask

        return nearest_equipment_dask(
            customers, equipment, k=k, max_distance=max_distance, sort=sort, progress=progress,
            geometry=geometry, customer_id=customer_id, equipment_id=equipment_id,
        )  # fmt: skip
    cust = as_canonical_ids(customers, customer_id, CUSTOMER_ID, what="customers")
    eq_frame = as_canonical_ids(equipment, equipment_id, EQUIPMENT_ID, what="equipment")
    index = ProximityIndex(cust)
    eq = index._prepare(eq_frame)
    pairs = index.nearest_pairs(eq, k=k, max_distance=max_distance, sort=sort, progress=progress)
    return _result(index, pairs, customers, eq_frame, customer_id, equipment_id, geometry, None)


def _result(
    index: ProximityIndex,
    pairs: Pairs,
    customers: gpd.GeoDataFrame,
    equipment: gpd.GeoDataFrame,
    customer_id: str,
    equipment_id: str,
    geometry: bool,
    radius_by_row: Any,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Build the result frame from positions; the geometry variant adds kind, radius, points."""
    cols: dict[str, Any] = {
        customer_id: index.customer_ids.array.take(pairs.customer),
        equipment_id: equipment[EQUIPMENT_ID].reset_index(drop=True).array.take(pairs.equipment),
        "distance_m": pairs.distance_m,
    }
    if pairs.rank is not None:
        cols["rank"] = pairs.rank
    if not geometry:
        return pd.DataFrame(cols)
    if KIND in equipment.columns:
        cols[KIND] = equipment[KIND].reset_index(drop=True).array.take(pairs.equipment)
    if radius_by_row is not None:
        cols[RADIUS_M] = radius_by_row[pairs.equipment]
    points = customers.geometry.reset_index(drop=True).array.take(pairs.customer)
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(points, crs=BNG_CRS), crs=BNG_CRS)
