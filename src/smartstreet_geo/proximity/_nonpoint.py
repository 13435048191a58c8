"""Lines and polygons (cable routes, works areas) as equipment.

The distance is to the geometry itself, computed by GEOS (``shapely.distance``),
never to a centroid or a buffer. Candidates are found without a shapely point
per customer: each geometry is cut into parts with tight boxes (one box per
line segment, one per polygon), the boxes go through the same cell-grid kernel
as point equipment, and only the customers that land near a box become shapely
points for the exact distance.
"""

from __future__ import annotations

from collections.abc import Callable
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


_BATCH = 1 << 17
_EPS_M = 1e-6  # query slightly wider than needed; computed distances decide


def nearest_other(
    x: FloatArray,
    y: FloatArray,
    geoms: npt.NDArray[Any],
    k: int,
    max_distance: float | None,
    tol: float,
    progress: Callable[[int], None] | None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Find the k nearest of ``geoms`` for every customer, ties kept (ranks not set).

    Searches a growing radius per customer with GEOS (STRtree ``dwithin``),
    until the k-th distance plus the tie tolerance lies inside the searched
    radius, or ``max_distance`` or all geometries are reached.
    """
    tree = shapely.STRtree(geoms)
    m = geoms.size
    q_max = np.inf if max_distance is None else max_distance + tol + _EPS_M
    out_c: list[IntArray] = []
    out_j: list[IntArray] = []
    out_d: list[FloatArray] = []
    for lo in range(0, x.size, _BATCH):
        pts = shapely.points(x[lo : lo + _BATCH], y[lo : lo + _BATCH])
        near_idx, d1 = tree.query_nearest(
            pts,
            max_distance=None if max_distance is None else q_max,
            return_distance=True,
            all_matches=False,
        )
        todo = near_idx[0].astype(np.int64)
        first = d1 + tol + _EPS_M
        q = first if k == 1 else 2.0 * first + 100.0
        q = np.minimum(q, q_max)
        while todo.size:
            pi, gj = tree.query(pts[todo], predicate="dwithin", distance=q)
            dist = np.asarray(shapely.distance(pts[todo[pi]], geoms[gj]), dtype=np.float64)
            order = np.lexsort((gj, dist, pi))
            pi, gj, dist = pi[order], gj[order], dist[order]
            cnt = np.bincount(pi, minlength=todo.size)
            start = np.r_[0, np.cumsum(cnt)[:-1]]
            dk = np.full(todo.size, np.inf)
            has_k = cnt >= k
            dk[has_k] = dist[start[has_k] + k - 1]
            done = (has_k & (dk + tol + _EPS_M <= q)) | (q >= q_max) | (cnt >= m)
            lim = np.minimum(dk + tol, q_max)
            keep = done[pi] & (dist <= lim[pi])
            if max_distance is not None:
                keep &= dist <= max_distance + tol
            out_c.append(todo[pi[keep]] + lo)
            out_j.append(gj[keep].astype(np.int64))
            out_d.append(dist[keep])
            grow = ~done
            q = np.minimum(np.maximum(2.0 * q[grow] + 100.0, dk[grow] + tol + 2 * _EPS_M), q_max)
            todo = todo[grow]
        if progress is not None:
            progress(pts.size)
    if not out_c:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(out_c), np.concatenate(out_j), np.concatenate(out_d)
