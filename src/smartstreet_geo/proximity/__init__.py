"""Proximity: customers within a radius of equipment, and nearest equipment.

The question behind an installation letter is "who lives close to the new
equipment". This subpackage answers it exactly and fast at national scale:

* :func:`customers_near` - every (customer, equipment) pair within a radius
  (a number, a radius per equipment kind, or a column of radii), with the
  distance;
* :func:`nearest_equipment` - the k nearest equipment of each customer, with
  distances and ranks, keeping every tie;
* :class:`ProximityIndex` - customers prepared once and queried many times
  (other radii, other equipment, customer subsets).

Both functions also take partitioned dask-geopandas customers and return a
lazy Dask DataFrame with exactly the in-memory rows: one task per partition,
each with the equipment within reach of its bounds (dask is imported only
then; it is an optional extra).

All distances are metres in British National Grid (EPSG:27700); a geographic
CRS or a CRS mismatch raises :class:`~smartstreet_geo.errors.CRSError`.
Customer points are handled as coordinate arrays in compiled (numba) kernels,
never one shapely object per customer; lines and polygons (cable routes,
works areas) are measured by GEOS to the geometry itself, not a centroid.
A distance equal to the radius counts as within, up to
:data:`DISTANCE_TOLERANCE_M` (1 nm), which absorbs the float64 representation
error of decimal coordinates. Buffering the equipment and intersecting is
*not* used: a buffer is a polygon that cuts inside the true circle and misses
customers near the radius.
"""

from __future__ import annotations

from ._api import customers_near, nearest_equipment
from ._index import DISTANCE_TOLERANCE_M, Pairs, ProximityIndex

__all__ = [
    "DISTANCE_TOLERANCE_M",
    "Pairs",
    "ProximityIndex",
    "customers_near",
    "nearest_equipment",
]
