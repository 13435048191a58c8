"""Proximity queries over partitioned customers (dask-geopandas), one task per partition.

Customers are the large side and stay partitioned: each partition is one task
that runs the in-memory :func:`customers_near` / :func:`nearest_equipment` on
its own rows - the same code, so the same distances, ties, ranks and column
types. Equipment is small: it travels as one :func:`dask.delayed` object
(sent once to each worker) and every task first cuts it down to the *halo* of
its partition, the equipment that can reach one of its customers:

* within a radius: equipment whose bounding box is within its own radius of the
  partition's bounding box;
* nearest: equipment within ``D + h`` of the partition's box, where ``D`` is the
  distance from the box centre to its k-th nearest equipment and ``h`` the
  box's half diagonal (capped at ``max_distance``). A customer ``p`` of the box
  is at most ``h`` from the centre, and the k-th nearest distance moves by at
  most as much as the point does, so every equipment ``p`` keeps (and every one
  strictly nearer, which its rank counts) is within ``D + h`` of ``p``, hence of
  the box. With no distance limit that halo is still finite and exact; no
  equipment can be cut that a customer of the partition would have had.

Every pair is produced by the one task holding its customer, so no pair is
lost or produced twice, and the result equals the in-memory one row for row.

When the customers carry ``spatial_partitions`` (e.g. after
``spatial_shuffle``) the equipment sent to the workers is first trimmed on the
client to the union of the partitions' halos, and each task checks that its
rows lie inside one of those partition boxes (stale ``spatial_partitions``
raise instead of losing pairs). The per-partition halo itself is always taken
from the partition's actual bounds inside the task: a partition number
(``partition_info``) cannot be trusted to pick per-partition data, because
dask's optimiser pushes ``.partitions[...]`` and ``head()`` below the mapped
function and renumbers the partitions.

Dask is imported here only; ``import smartstreet_geo`` never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ..errors import ParameterError
from ..schema import EQUIPMENT_ID, KIND
from ._index import DISTANCE_TOLERANCE_M
from ._inputs import FloatArray, Radius, as_canonical_ids, prepare_equipment, resolve_radius

__all__ = ["customers_near_dask", "is_dask_collection", "nearest_equipment_dask"]

#: Widening of every halo (metres): covers the 1 nm distance tolerance and float
#: rounding of boxes and GEOS distances many times over; a wider halo only sends
#: more equipment to a task, it never changes a result.
_HALO_PAD_M: Final = 1e-3
#: How far (metres) a partition's rows may stick out of its ``spatial_partitions``
#: box and still be covered by the halo (well inside ``_HALO_PAD_M / 2``).
_REGION_SLACK_M: Final = 1e-4

Box: TypeAlias = tuple[float, float, float, float]
#: Boxes as an (n, 4) float64 array of xmin, ymin, xmax, ymax.
Boxes: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


def is_dask_collection(obj: Any) -> bool:
    """Return True for a dask (or dask-geopandas) collection, without importing dask."""
    return type(obj).__module__.startswith("dask")


def customers_near_dask(
    customers: Any,
    equipment: gpd.GeoDataFrame,
    *,
    radius: Radius,
    sort: bool,
    progress: Any,
    geometry: bool,
    customer_id: str,
    equipment_id: str,
) -> Any:
    """Run :func:`customers_near` on every partition of dask-geopandas customers."""
    from ._api import customers_near

    options: dict[str, Any] = {
        "radius": radius,
        "sort": sort,
        "geometry": geometry,
        "customer_id": customer_id,
        "equipment_id": equipment_id,
    }
    meta_customers = _check_inputs(customers, equipment, progress, customer_id, "customers_near")
    # the in-memory call on the empty meta frame checks every option and the
    # equipment now (not at compute time) and gives the exact result columns
    meta = customers_near(meta_customers, equipment, **options)
    eq = _equipment_columns(equipment, equipment_id, radius)
    radii = _radii(eq, equipment_id, radius)
    return _map(customers, customer_id, eq, radii, None, meta, "customers_near", options)


def nearest_equipment_dask(
    customers: Any,
    equipment: gpd.GeoDataFrame,
    *,
    k: int,
    max_distance: float | None,
    sort: bool,
    progress: Any,
    geometry: bool,
    customer_id: str,
    equipment_id: str,
) -> Any:
    """Run :func:`nearest_equipment` on every partition of dask-geopandas customers."""
    from ._api import nearest_equipment

    options: dict[str, Any] = {
        "k": k,
        "max_distance": max_distance,
        "sort": sort,
        "geometry": geometry,
        "customer_id": customer_id,
        "equipment_id": equipment_id,
    }
    meta_customers = _check_inputs(customers, equipment, progress, customer_id, "nearest_equipment")
    meta = nearest_equipment(meta_customers, equipment, **options)
    eq = _equipment_columns(equipment, equipment_id, None)
    limit = (int(k), None if max_distance is None else float(max_distance))
    return _map(customers, customer_id, eq, None, limit, meta, "nearest_equipment", options)


# ---------------------------------------------------------------------- client side
def _check_inputs(
    customers: Any, equipment: Any, progress: Any, customer_id: str, what: str
) -> gpd.GeoDataFrame:
    """Refuse what the partitioned path cannot do; return the customers' meta frame."""
    if progress is not None:
        raise ParameterError(
            f"{what}: progress= is not supported with dask customers; watch the tasks "
            "on the Dask dashboard (or dask.diagnostics.ProgressBar) instead."
        )
    if is_dask_collection(equipment):
        raise ParameterError(
            f"{what}: equipment must be an in-memory geopandas.GeoDataFrame (it is small "
            "and sent to every worker); call equipment.compute() first."
        )
    meta = getattr(customers, "_meta", None)
    if not isinstance(meta, gpd.GeoDataFrame):
        raise TypeError(
            f"{what}: dask customers must be a dask_geopandas.GeoDataFrame (e.g. from "
            f"dask_geopandas.from_geopandas or read_parquet), not {type(customers).__name__}"
        )
    if customer_id not in meta.columns:
        raise ParameterError(
            f"customers have no {customer_id!r} column (columns: "
            f"{', '.join(map(str, list(meta.columns)[:3]))}...); pass customer_id= or "
            "rename the id column."
        )
    return meta[[customer_id, meta.geometry.name]]


def _equipment_columns(
    equipment: gpd.GeoDataFrame, equipment_id: str, radius: Radius | None
) -> gpd.GeoDataFrame:
    """Only the equipment columns a query reads, with a fresh positional index."""
    wanted = [equipment_id, KIND]
    if isinstance(radius, str):
        wanted.append(radius)
    keep = [c for c in dict.fromkeys(wanted) if c in equipment.columns]
    return equipment[[*keep, equipment.geometry.name]].reset_index(drop=True)


def _radii(eq: gpd.GeoDataFrame, equipment_id: str, radius: Radius) -> FloatArray:
    """Return the radius of every equipment row, in row order (already validated)."""
    prepared = prepare_equipment(
        as_canonical_ids(eq, equipment_id, EQUIPMENT_ID, what="equipment", keep=(str(radius),))
        if isinstance(radius, str)
        else as_canonical_ids(eq, equipment_id, EQUIPMENT_ID, what="equipment")
    )
    by_row = np.empty(prepared.size, np.float64)
    by_row[prepared.rank_to_row] = resolve_radius(radius, prepared)
    return by_row


def _regions(customers: Any) -> Boxes | None:
    """Return the boxes of the customers' non-empty ``spatial_partitions``, or None."""
    parts = getattr(customers, "spatial_partitions", None)
    if parts is None or len(parts) != customers.npartitions:
        return None
    boxes = np.asarray(shapely.bounds(np.asarray(parts.array, dtype=object)), dtype=np.float64)
    return boxes[np.isfinite(boxes).all(axis=1)]


def _map(
    customers: Any,
    customer_id: str,
    eq: gpd.GeoDataFrame,
    radii: FloatArray | None,
    limit: tuple[int, float | None] | None,
    meta: pd.DataFrame,
    query: str,
    options: dict[str, Any],
) -> Any:
    """One task per partition; the equipment (trimmed) goes as one delayed object."""
    import dask

    payload = _Equipment.of(eq, radii, limit, _regions(customers))
    if payload.regions is not None:  # send only what some partition can reach
        keep = np.zeros(len(eq), bool)
        for box in payload.regions:
            keep |= payload.halo_mask(tuple(box))
        payload = payload.subset(keep)
    cust = customers[[customer_id, customers._meta.geometry.name]]
    return cust.map_partitions(
        _partition_task,
        dask.delayed(payload, traverse=False),
        query,
        options,
        meta=meta,
        align_dataframes=False,
    )


@dataclass(frozen=True)
class _Equipment:
    """What each task receives (one object, sent once to each worker).

    The equipment frame with its bounding boxes and which rows are points;
    ``radii`` per row for a within query, ``limit`` ``(k, max_distance)`` for a
    nearest query; ``regions`` the boxes of the customers' spatial partitions.
    """

    frame: gpd.GeoDataFrame
    bounds: FloatArray
    is_point: BoolArray
    radii: FloatArray | None
    limit: tuple[int, float | None] | None
    regions: Boxes | None

    @classmethod
    def of(
        cls,
        frame: gpd.GeoDataFrame,
        radii: FloatArray | None,
        limit: tuple[int, float | None] | None,
        regions: Boxes | None,
    ) -> _Equipment:
        geoms = np.asarray(frame.geometry.array, dtype=object)
        bounds = np.asarray(shapely.bounds(geoms), dtype=np.float64).reshape(-1, 4)
        is_point = np.asarray(shapely.get_type_id(geoms) == 0, dtype=bool)
        return cls(frame, bounds, is_point, radii, limit, regions)

    def subset(self, keep: BoolArray) -> _Equipment:
        """Return the rows where ``keep`` is true (same order)."""
        rows = np.flatnonzero(keep)
        return _Equipment(
            self.frame.iloc[rows].reset_index(drop=True),
            self.bounds[rows],
            self.is_point[rows],
            None if self.radii is None else self.radii[rows],
            self.limit,
            self.regions,
        )

    def halo_mask(self, box: Box) -> BoolArray:
        """Return the equipment that can reach a customer inside ``box`` (or more).

        The gap between two bounding boxes is never more than the distance
        between the geometries, so a box test only ever keeps too much.
        """
        xmin, ymin, xmax, ymax = box
        b = self.bounds
        gx = np.maximum(np.maximum(b[:, 0] - xmax, xmin - b[:, 2]), 0.0)
        gy = np.maximum(np.maximum(b[:, 1] - ymax, ymin - b[:, 3]), 0.0)
        gap2 = gx * gx + gy * gy
        if self.radii is not None:
            reach = self.radii + (DISTANCE_TOLERANCE_M + _HALO_PAD_M)
            return np.asarray(gap2 <= reach * reach)
        assert self.limit is not None
        k, max_distance = self.limit
        reach_m = self._nearest_reach(k, box)
        if max_distance is not None:
            reach_m = min(reach_m, max_distance)
        reach_m += DISTANCE_TOLERANCE_M + _HALO_PAD_M
        return np.asarray(gap2 <= reach_m * reach_m)

    def _nearest_reach(self, k: int, box: Box) -> float:
        """``D + h``: the k-th nearest distance from the box centre plus the half diagonal.

        Infinite (keep everything) when there are no more than k equipment.
        """
        if len(self.frame) <= k:
            return float("inf")
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        d = np.hypot(self.bounds[:, 0] - cx, self.bounds[:, 1] - cy)  # points: their box
        other = np.flatnonzero(~self.is_point)
        if other.size:  # lines and polygons: GEOS, to the geometry itself
            geoms = np.asarray(self.frame.geometry.array, dtype=object)[other]
            d[other] = shapely.distance(geoms, shapely.Point(cx, cy))
        kth = float(np.partition(d, k - 1)[k - 1])
        return kth + float(np.hypot(box[2] - box[0], box[3] - box[1])) / 2.0


# ---------------------------------------------------------------------- in the task
def _partition_task(
    part: gpd.GeoDataFrame, payload: _Equipment, query: str, options: dict[str, Any]
) -> pd.DataFrame:
    """Run the in-memory query on one partition against its halo of equipment."""
    from ._api import customers_near, nearest_equipment

    box = _bounds(part)
    if box is None:  # no customers (or unusable geometries: the query below says which)
        halo = payload.frame.iloc[:0]
    else:
        if payload.regions is not None and not _inside_a_region(box, payload.regions):
            raise ParameterError(
                "a partition of the customers lies outside every box of their "
                "spatial_partitions, which are out of date; call "
                "customers.calculate_spatial_partitions() (or drop them with "
                "customers.spatial_partitions = None) and run the query again."
            )
        halo = payload.frame.iloc[np.flatnonzero(payload.halo_mask(box))]
    func = customers_near if query == "customers_near" else nearest_equipment
    return func(part, halo, **options)


def _bounds(part: gpd.GeoDataFrame) -> Box | None:
    """Return the box of a partition's customers; None when it has no finite coordinates."""
    b = np.asarray(shapely.bounds(np.asarray(part.geometry.array, dtype=object))).reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    if b.shape[0] == 0:
        return None
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _inside_a_region(box: Box, regions: Boxes) -> bool:
    s = _REGION_SLACK_M
    r = regions
    inside = (
        (r[:, 0] - s <= box[0])
        & (r[:, 1] - s <= box[1])
        & (r[:, 2] + s >= box[2])
        & (r[:, 3] + s >= box[3])
    )
    return bool(inside.any())
