"""British National Grid geometries to compact longitude/latitude arrays for the page.

Positions are converted with OSTN15 (:func:`smartstreet_geo.crs.bng_to_lonlat`)
and written as integers in units of 1e-5 degree (about 1.1 m north-south and
0.7 m east-west in Great Britain), as differences from the previous position:
points sorted into ~110 m latitude bands and by longitude within a band, so
most differences are a few digits. The page adds them up again
(``SSG.decode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from ..crs import bng_to_lonlat

__all__ = ["SCALE", "Encoder"]

#: Integer units per degree in the page's coordinate arrays.
SCALE = 100_000
_BAND = 100  # latitude band height for point ordering, in 1/SCALE degree (~110 m)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def quantise(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    """Convert BNG metres to integer 1e-5 degree longitude/latitude.

    Returns
    -------
    qlon, qlat : numpy.ndarray of int64
        0 where the position cannot be converted.
    ok : numpy.ndarray of bool
        False where the input is not finite or outside the OSTN15 grid.
    """
    lon, lat = bng_to_lonlat(x, y)
    ok = np.isfinite(lon) & np.isfinite(lat)
    qlon = np.zeros(lon.shape, dtype=np.int64)
    qlat = np.zeros(lat.shape, dtype=np.int64)
    qlon[ok] = np.rint(lon[ok] * SCALE).astype(np.int64)
    qlat[ok] = np.rint(lat[ok] * SCALE).astype(np.int64)
    return qlon, qlat, ok


@dataclass(frozen=True)
class Encoder:
    """Delta-encode positions against a common origin (integer degrees * SCALE)."""

    origin: tuple[int, int]

    @classmethod
    def around(cls, qlon: IntArray, qlat: IntArray) -> Encoder:
        """Return an encoder whose origin is the south-west corner of the positions."""
        if qlon.size == 0:
            return cls((0, 0))
        return cls((int(qlon.min()), int(qlat.min())))

    def spec(self) -> dict[str, object]:
        """Return the keys the page needs to decode: ``origin`` and ``scale``."""
        return {"origin": list(self.origin), "scale": SCALE}

    def points(self, qlon: IntArray, qlat: IntArray) -> tuple[IntArray, IntArray]:
        """Return interleaved deltas of points in a compact order, and that order.

        Parameters
        ----------
        qlon, qlat : numpy.ndarray of int64

        Returns
        -------
        flat : numpy.ndarray of int64
            ``[dlon0, dlat0, dlon1, dlat1, ...]``, the first from the origin.
        order : numpy.ndarray
            Position ``k`` of ``flat`` is input point ``order[k]`` (to reorder
            labels or counts the same way).
        """
        if qlon.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # one int64 key (band, lon, lat), sorted stably: the order of
        # np.lexsort((qlat, qlon, qlat // _BAND)) at a third of the time
        lat0, lon0 = int(qlat.min()), int(qlon.min())
        span_lat = int(qlat.max()) - lat0 + 1
        span_lon = int(qlon.max()) - lon0 + 1
        bands = (int(qlat.max()) // _BAND) - (lat0 // _BAND) + 1
        if bands * span_lon * span_lat < 2**62:
            key = ((qlat // _BAND) - lat0 // _BAND) * span_lon + (qlon - lon0)
            key = key * span_lat + (qlat - lat0)
            order = np.argsort(key, kind="stable").astype(np.int64)
        else:  # positions too far apart for one key
            order = np.lexsort((qlat, qlon, qlat // _BAND)).astype(np.int64)
        return self._delta_array(qlon[order], qlat[order]), order

    def line(self, qlon: IntArray, qlat: IntArray) -> list[int]:
        """Return interleaved deltas of one line's vertices, the first from the origin."""
        return self._deltas(qlon, qlat)

    def lines(self, parts: Sequence[tuple[IntArray, IntArray]]) -> list[list[int]]:
        """Return :meth:`line` of each part, computed for all parts at once."""
        if not parts:
            return []
        sizes = np.array([lo.size for lo, _ in parts], dtype=np.int64)
        qlon = np.concatenate([lo for lo, _ in parts])
        qlat = np.concatenate([la for _, la in parts])
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        flat = np.empty(2 * qlon.size, dtype=np.int64)
        dlon = np.diff(qlon, prepend=self.origin[0])
        dlat = np.diff(qlat, prepend=self.origin[1])
        dlon[first] = qlon[first] - self.origin[0]  # each part starts from the origin
        dlat[first] = qlat[first] - self.origin[1]
        flat[0::2] = dlon
        flat[1::2] = dlat
        values: list[int] = flat.tolist()
        ends = 2 * np.cumsum(sizes)
        return [values[b - 2 * k : b] for b, k in zip(ends.tolist(), sizes.tolist(), strict=True)]

    def _deltas(self, qlon: IntArray, qlat: IntArray) -> list[int]:
        out: list[int] = self._delta_array(qlon, qlat).tolist()
        return out

    def _delta_array(self, qlon: IntArray, qlat: IntArray) -> IntArray:
        flat = np.empty(2 * qlon.size, dtype=np.int64)
        flat[0::2] = np.diff(qlon, prepend=self.origin[0])
        flat[1::2] = np.diff(qlat, prepend=self.origin[1])
        return flat


def line_parts(
    geoms: Sequence[shapely.Geometry] | npt.NDArray[np.object_],
    *,
    tolerance: float,
    min_vertices: int = 2,
) -> tuple[list[int], list[IntArray], list[IntArray]]:
    """Split line geometries into simple parts and convert their vertices.

    Parameters
    ----------
    geoms : array of shapely geometries (BNG)
        LineStrings, MultiLineStrings, or the boundaries of polygons.
    tolerance : float
        Douglas-Peucker simplification tolerance in metres (0 keeps every vertex).
    min_vertices : int, default 2
        Parts with fewer distinct vertices once rounded (e.g. a 1 m link) are dropped.

    Returns
    -------
    owner : list of int
        For each part, the index of the geometry it came from.
    qlon, qlat : list of numpy.ndarray
        Each part's vertices in integer 1e-5 degrees, repeated vertices dropped.
    """
    arr = np.asarray(geoms, dtype=object)
    if tolerance > 0:
        # without topology checks: lines only (and rings drawn as lines), much faster
        arr = shapely.simplify(arr, tolerance, preserve_topology=False)
    parts, owner = shapely.get_parts(arr, return_index=True)
    parts = np.asarray(parts, dtype=object)
    keep = ~shapely.is_empty(parts)
    parts, owner = parts[keep], owner[keep]
    xy, part_of = shapely.get_coordinates(parts, return_index=True)
    qlon, qlat, ok = quantise(xy[:, 0], xy[:, 1])
    # one pass over every vertex (no Python loop per part): drop vertices outside the
    # grid, then vertices equal to the previous one of the same part once rounded
    qlon, qlat, part_of = qlon[ok], qlat[ok], part_of[ok]
    same = np.zeros(qlon.size, dtype=bool)
    same[1:] = (qlon[1:] == qlon[:-1]) & (qlat[1:] == qlat[:-1]) & (part_of[1:] == part_of[:-1])
    qlon, qlat, part_of = qlon[~same], qlat[~same], part_of[~same]
    n = np.bincount(part_of, minlength=len(parts))
    starts = np.concatenate([[0], np.cumsum(n)])
    kept = np.flatnonzero(n >= min_vertices)
    out_owner = owner[kept].tolist()
    out_lon = [qlon[starts[k] : starts[k + 1]] for k in kept.tolist()]
    out_lat = [qlat[starts[k] : starts[k + 1]] for k in kept.tolist()]
    return out_owner, out_lon, out_lat
