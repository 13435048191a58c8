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

    def points(self, qlon: IntArray, qlat: IntArray) -> tuple[list[int], IntArray]:
        """Return interleaved deltas of points in a compact order, and that order.

        Parameters
        ----------
        qlon, qlat : numpy.ndarray of int64

        Returns
        -------
        flat : list of int
            ``[dlon0, dlat0, dlon1, dlat1, ...]``, the first from the origin.
        order : numpy.ndarray
            Position ``k`` of ``flat`` is input point ``order[k]`` (to reorder
            labels or counts the same way).
        """
        order = np.lexsort((qlat, qlon, qlat // _BAND)).astype(np.int64)
        return self._deltas(qlon[order], qlat[order]), order

    def line(self, qlon: IntArray, qlat: IntArray) -> list[int]:
        """Return interleaved deltas of one line's vertices, the first from the origin."""
        return self._deltas(qlon, qlat)

    def _deltas(self, qlon: IntArray, qlat: IntArray) -> list[int]:
        flat = np.empty(2 * qlon.size, dtype=np.int64)
        flat[0::2] = np.diff(qlon, prepend=self.origin[0])
        flat[1::2] = np.diff(qlat, prepend=self.origin[1])
        out: list[int] = flat.tolist()
        return out


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
        arr = shapely.simplify(arr, tolerance)
    parts, owner = shapely.get_parts(arr, return_index=True)
    parts = np.asarray(parts, dtype=object)
    keep = ~shapely.is_empty(parts)
    parts, owner = parts[keep], owner[keep]
    xy, vertex_owner = shapely.get_coordinates(parts, return_index=True)
    qlon, qlat, ok = quantise(xy[:, 0], xy[:, 1])
    bounds = np.searchsorted(vertex_owner, np.arange(1, len(parts)))
    out_owner: list[int] = []
    out_lon: list[IntArray] = []
    out_lat: list[IntArray] = []
    for k, (lo_part, la_part, ok_part) in enumerate(
        zip(np.split(qlon, bounds), np.split(qlat, bounds), np.split(ok, bounds), strict=True)
    ):
        lo_part, la_part = lo_part[ok_part], la_part[ok_part]
        if lo_part.size > 1:
            same = np.zeros(lo_part.size, dtype=bool)
            same[1:] = (lo_part[1:] == lo_part[:-1]) & (la_part[1:] == la_part[:-1])
            lo_part, la_part = lo_part[~same], la_part[~same]
        if lo_part.size < min_vertices:
            continue
        out_owner.append(int(owner[k]))
        out_lon.append(lo_part)
        out_lat.append(la_part)
    return out_owner, out_lon, out_lat
