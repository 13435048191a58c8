"""Lines and polygons (cable routes, works areas) as equipment.

The distance is to the geometry itself, computed by GEOS (``shapely.distance``),
never to a centroid or a buffer. Candidates are found without a shapely point
per customer: each geometry is cut into parts with tight boxes (one box per
line segment, one per polygon), the boxes go through the same cell-grid kernel
as point equipment, and only the customers that land near a box become shapely
points for the exact distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from ._inputs import FloatArray, IntArray

_LINE_TYPES = (1, 2)  # LineString, LinearRing
_MULTI_TYPES = (4, 5, 6, 7)  # Multi*, GeometryCollection


def part_boxes(
    geoms: npt.NDArray[Any],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Cut geometries into parts and return each part's box and owner.

    Returns ``xmin, ymin, xmax, ymax, owner``: one row per line segment, per
    polygon and per point inside a collection, ``owner`` being the position of
    the geometry in ``geoms``. Rows are in owner order.
    """
    parts = geoms
    owner = np.arange(geoms.size, dtype=np.int64)
    while parts.size and np.isin(shapely.get_type_id(parts), _MULTI_TYPES).any():
        parts, idx = shapely.get_parts(parts, return_index=True)
        owner = owner[idx]
    keep = ~shapely.is_empty(parts)  # empty members of collections
    parts, owner = parts[keep], owner[keep]
    types = shapely.get_type_id(parts)
    is_line = np.isin(types, _LINE_TYPES)
    boxes: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray]] = []
    other = np.flatnonzero(~is_line)
    if other.size:
        b = shapely.bounds(parts[other])
        boxes.append((b[:, 0], b[:, 1], b[:, 2], b[:, 3], owner[other]))
    lines = np.flatnonzero(is_line)
    if lines.size:
        xy, idx = shapely.get_coordinates(parts[lines], return_index=True)
        seg = np.flatnonzero(idx[1:] == idx[:-1])
        x0, y0 = xy[seg, 0], xy[seg, 1]
        x1, y1 = xy[seg + 1, 0], xy[seg + 1, 1]
        boxes.append(
            (
                np.minimum(x0, x1),
                np.minimum(y0, y1),
                np.maximum(x0, x1),
                np.maximum(y0, y1),
                owner[lines][idx[seg]],
            )
        )
    if not boxes:
        e = np.empty(0)
        return e, e, e, e, np.empty(0, np.int64)
    xmin, ymin, xmax, ymax, own = (np.concatenate(c) for c in zip(*boxes, strict=True))
    order = np.argsort(own, kind="stable")
    return (
        np.ascontiguousarray(xmin[order]),
        np.ascontiguousarray(ymin[order]),
        np.ascontiguousarray(xmax[order]),
        np.ascontiguousarray(ymax[order]),
        own[order].astype(np.int64),
    )


def exact_distances(
    x: FloatArray, y: FloatArray, rows: IntArray, geoms: npt.NDArray[Any], which: IntArray
) -> FloatArray:
    """GEOS distance from customer ``rows`` to ``geoms[which]`` (pairwise)."""
    if rows.size == 0:
        return np.empty(0)
    uniq, inv = np.unique(rows, return_inverse=True)
    pts = shapely.points(x[uniq], y[uniq])
    return np.asarray(shapely.distance(pts[inv], geoms[which]), dtype=np.float64)
