"""Turn whatever a file has for location into EPSG:27700 geometries, row by row.

Rows whose location is unusable are rejected with a reason; a file whose
locations are wrong *as a whole* (degrees in easting/northing columns,
longitude and latitude exchanged, a wrong CRS) raises
:class:`~smartstreet_geo.errors.CoordinateError`, because rejecting every row
would hide a labelling mistake that one edit fixes.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from .._gc import collector_paused
from ..crs import classify_bng, classify_lonlat, geometries_to_bng, lonlat_to_bng
from ..errors import CoordinateError, CRSError, MissingColumnError
from ..schema import (
    COORDINATE_AGREEMENT_M,
    EASTING,
    GEOMETRY,
    LATITUDE,
    LONGITUDE,
    NORTHING,
    Reason,
)
from ._fields import Rejects, clean_text, none_mask, parse_float

if TYPE_CHECKING:
    from ._files import Source

__all__ = ["locate_rows"]

#: Share of rows (with coordinates) that must agree before a whole-file error is raised.
FILE_LEVEL_SHARE = 0.5

_FILE_LEVEL_ADVICE = {
    Reason.DEGREES_AS_METRES.value: (
        "look like longitude/latitude degrees, not British National Grid metres. If they are "
        "degrees, name the columns longitude/latitude (or map them, e.g. "
        "columns={{'X': 'longitude', 'Y': 'latitude'}})"
    ),
    Reason.METRES_AS_DEGREES.value: (
        "look like British National Grid eastings/northings (metres), not degrees. If they are "
        "metres, name the columns easting/northing (or map them), or declare crs='EPSG:27700'"
    ),
    Reason.SWAPPED_COORDINATES.value: (
        "appear exchanged (the x values are y values and vice versa); map the columns the "
        "other way round"
    ),
}


def locate_rows(
    frame: pd.DataFrame,
    raw_geometry: npt.NDArray[Any] | None,
    raw_crs: Any,
    declared_crs: Any,
    rejects: Rejects,
    *,
    source: Path | Source,
    geom_types: Collection[str],
    source_names: dict[str, str],
    xy_out: dict[str, npt.NDArray[np.float64]] | None = None,
    points: bool = True,
) -> npt.NDArray[Any] | None:
    """Return one EPSG:27700 geometry per row (None where rejected).

    When the rows are located from coordinate columns and ``xy_out`` is
    given, it receives the National Grid ``"x"`` and ``"y"`` of every row (NaN
    where rejected), saving a caller the read-back from a million points; with
    ``points=False`` as well, no point is made and None is returned instead (rows
    located by a geometry, or by two pairs of columns, which are compared as points,
    still return their geometries).

    A row located twice - a geometry and easting/northing or longitude/latitude
    columns, or both pairs - is located by the first of geometry, easting/northing,
    longitude/latitude, and the others must agree with it within
    :data:`~smartstreet_geo.schema.COORDINATE_AGREEMENT_M` (checked for point
    locations; a line or area is not compared with a pair).
    """
    n = len(frame)
    cols = set(frame.columns)
    en = EASTING in cols and NORTHING in cols
    ll = LONGITUDE in cols and LATITUDE in cols
    if raw_geometry is not None:
        out = _from_geometries(raw_geometry, raw_crs, rejects, source=source, geom_types=geom_types)
        pairs = [(EASTING, NORTHING, True)] * en + [(LONGITUDE, LATITUDE, False)] * ll
        _check_agreement(frame, out, rejects, pairs, source, source_names, "the geometry")
        return out
    if en:
        if declared_crs is not None and CRS.from_user_input(declared_crs).to_epsg() != 27700:
            raise CRSError(
                f"{source}: columns {source_names[EASTING]!r}/{source_names[NORTHING]!r} are "
                f"read as British National Grid metres, but crs={declared_crs!r} was given. "
                "For other CRSs use a geometry column."
            )
        got = _from_xy(
            frame, rejects, EASTING, NORTHING, source, source_names, bng=True, xy_out=xy_out,
            points=points or ll or xy_out is None,
        )  # fmt: skip
        if ll:
            assert got is not None  # (two pairs are compared as points: they were made)
            _check_agreement(
                frame,
                got,
                rejects,
                [(LONGITUDE, LATITUDE, False)],
                source,
                source_names,
                f"{source_names[EASTING]}/{source_names[NORTHING]}",
            )
        return got
    if LONGITUDE in cols and LATITUDE in cols:
        if declared_crs is not None and not CRS.from_user_input(declared_crs).is_geographic:
            raise CRSError(
                f"{source}: columns {source_names[LONGITUDE]!r}/{source_names[LATITUDE]!r} are "
                f"degrees, but crs={declared_crs!r} is not a geographic CRS."
            )
        return _from_xy(
            frame, rejects, LONGITUDE, LATITUDE, source, source_names, bng=False, xy_out=xy_out,
            points=points or xy_out is None,
        )  # fmt: skip
    if GEOMETRY in cols:
        if declared_crs is None:
            raise CRSError(
                f"{source}: column {source_names[GEOMETRY]!r} holds geometries but no CRS is "
                "declared; give crs=... (e.g. 'EPSG:27700'). smartstreet-geo never assumes one."
            )
        geoms = _parse_geometry_column(frame[GEOMETRY], rejects)
        return _from_geometries(
            geoms, CRS.from_user_input(declared_crs), rejects, source=source, geom_types=geom_types
        )
    if n == 0 and not cols:
        return np.empty(0, dtype=object)
    raise MissingColumnError(
        f"{source}: no location columns. Give easting and northing (British National Grid "
        "metres), or longitude and latitude (degrees), or a geometry column; map other names "
        f"with columns={{...}}. Columns in the file: {', '.join(map(repr, source_names.values()))}."
    )


def _check_agreement(
    frame: pd.DataFrame,
    geoms: npt.NDArray[Any],
    rejects: Rejects,
    pairs: list[tuple[str, str, bool]],
    source: Path | Source,
    source_names: dict[str, str],
    primary: str,
) -> None:
    """Reject rows whose other coordinate pairs are not where their location is.

    Vectorised: one OSTN15 conversion of the longitude/latitude of the located
    points; the per-row text is built for the (few) disagreeing rows only.
    """
    if not pairs or not len(frame):
        return
    n = len(frame)
    live = rejects.ok & ~none_mask(geoms)
    rows = np.flatnonzero(live)
    rows = rows[shapely.get_type_id(geoms[rows]) == 0]  # points only
    if not rows.size:
        return
    px, py = shapely.get_coordinates(geoms[rows]).T
    for xcol, ycol, bng in pairs:
        xs, ys = source_names[xcol], source_names[ycol]
        label = f"{xs}/{ys}"
        x, xbad = parse_float(frame[xcol])
        y, ybad = parse_float(frame[ycol])
        for bad, col, name in ((xbad, xcol, xs), (ybad, ycol, ys)):
            mask = np.zeros(n, dtype=bool)
            mask[rows] = bad[rows]
            rejects.add(mask, Reason.INVALID_COORDINATE, name, frame[col])
        sx, sy = x[rows], y[rows]
        given = ~(np.isnan(sx) & np.isnan(sy)) & ~(xbad | ybad)[rows]
        if not given.any():
            continue
        ex, ny = (sx, sy) if bng else lonlat_to_bng(sx, sy)
        dist = np.hypot(ex - px, ny - py)
        far = given & ~(dist <= COORDINATE_AGREEMENT_M)  # NaN (one blank, outside OSTN15): far
        if not far.any():
            continue
        at = np.flatnonzero(far)
        text = np.full(n, None, dtype=object)
        detail = np.full(n, None, dtype=object)
        for k in at.tolist():
            i = int(rows[k])
            a = "blank" if np.isnan(sx[k]) else repr(float(sx[k]))
            b = "blank" if np.isnan(sy[k]) else repr(float(sy[k]))
            text[i] = f"{a}, {b}"
            apart = f"{dist[k]:.0f} m from" if np.isfinite(dist[k]) else "cannot be compared with"
            detail[i] = (
                f"{apart} {primary} ({float(px[k])!r}, {float(py[k])!r}); they must agree "
                f"within {COORDINATE_AGREEMENT_M:g} m"
            )
        n_given = int(given.sum())
        if at.size >= FILE_LEVEL_SHARE * n_given and n_given > 1:
            first = int(rows[at[0]])
            finite = dist[far][np.isfinite(dist[far])]
            median = f", median {np.median(finite):.0f} m" if finite.size else ""
            raise CoordinateError(
                f"{source}: in {at.size} of {n_given} rows, {label} is more than "
                f"{COORDINATE_AGREEMENT_M:g} m from {primary}{median}. One of the two "
                "locations is wrong or approximate (e.g. postcode centroids) for the whole file: "
                "remove or rename the columns you do not trust and re-run. First such row: "
                f"{first + 1} ({label} = {text[first]}; {detail[first]})."
            )
        mask = np.zeros(n, dtype=bool)
        mask[rows[at]] = True
        rejects.add(mask, Reason.COORDINATES_DISAGREE, label, text, detail)


def _parse_geometry_column(values: pd.Series, rejects: Rejects) -> npt.NDArray[Any]:
    n = len(values)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    sample = values.dropna()
    if len(sample) and isinstance(sample.iloc[0], bytes | bytearray):
        arr = values.to_numpy(dtype=object)
        parsed = shapely.from_wkb(arr, on_invalid="ignore")
        text = values.map(lambda b: "" if b is None else "<WKB>")
    else:
        text = clean_text(values)
        objs = text.astype(object).where(text.notna(), None).to_numpy()
        parsed = shapely.from_wkt(objs, on_invalid="ignore")
    present = values.notna().to_numpy() & text.notna().to_numpy()
    bad = present & none_mask(parsed)
    rejects.add(bad, Reason.INVALID_GEOMETRY, GEOMETRY, text)
    out[:] = parsed
    return out


def _from_xy(
    frame: pd.DataFrame,
    rejects: Rejects,
    xcol: str,
    ycol: str,
    source: Path | Source,
    source_names: dict[str, str],
    *,
    bng: bool,
    xy_out: dict[str, npt.NDArray[np.float64]] | None = None,
    points: bool = True,
) -> npt.NDArray[Any] | None:
    n = len(frame)
    x, xbad = parse_float(frame[xcol])
    y, ybad = parse_float(frame[ycol])
    xs, ys = source_names[xcol], source_names[ycol]
    rejects.add(xbad, Reason.INVALID_COORDINATE, xs, frame[xcol])
    rejects.add(ybad, Reason.INVALID_COORDINATE, ys, frame[ycol])
    label = f"{xs}/{ys}"
    reasons = classify_bng(x, y) if bng else classify_lonlat(x, y)
    # Render "x, y" only for rows that may be reported (a million f-strings cost a second).
    pair = _render_pairs(x, y, ~none_mask(reasons) | xbad | ybad)
    _file_level_check_xy(reasons, xbad | ybad, source, label, pair)
    for reason in np.unique(reasons[~none_mask(reasons)].astype(str)):
        rejects.add(reasons == reason, reason, label, pair)
    ok = rejects.ok & none_mask(reasons)
    if xy_out is not None:
        xy_out["x"], xy_out["y"] = np.full(n, np.nan), np.full(n, np.nan)
    if not ok.any():
        return np.full(n, None, dtype=object) if points else None
    if bng:
        ex, ny = x[ok], y[ok]
    else:
        ex, ny = lonlat_to_bng(x[ok], y[ok])
        lost = np.zeros(n, dtype=bool)
        lost[np.flatnonzero(ok)[np.isnan(ex) | np.isnan(ny)]] = True
        rejects.add(
            lost,
            Reason.OUTSIDE_GB,
            label,
            _render_pairs(x, y, lost),
            "outside the OSTN15 transformation's coverage",
        )
        keep = ~(np.isnan(ex) | np.isnan(ny))
        ok_idx = np.flatnonzero(ok)[keep]
        ex, ny = ex[keep], ny[keep]
        ok = np.zeros(n, dtype=bool)
        ok[ok_idx] = True
    if xy_out is not None:
        xy_out["x"][ok], xy_out["y"][ok] = ex, ny
    if not points:
        return None
    out = np.full(n, None, dtype=object)
    with collector_paused():  # points cannot form cycles: no collections while made
        out[ok] = shapely.points(np.column_stack((ex, ny)))  # (one (n, 2) array: ~25% faster)
    return out


def _render_pairs(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]
) -> npt.NDArray[Any]:
    out = np.full(len(x), None, dtype=object)
    for i in np.flatnonzero(mask):
        a = "blank" if np.isnan(x[i]) else repr(float(x[i]))
        b = "blank" if np.isnan(y[i]) else repr(float(y[i]))
        out[i] = f"{a}, {b}"
    return out


def _file_level_check_xy(
    reasons: npt.NDArray[Any],
    unparseable: npt.NDArray[np.bool_],
    source: Path | Source,
    label: str,
    pair: npt.NDArray[Any],
) -> None:
    r = np.where(unparseable, Reason.INVALID_COORDINATE.value, reasons)
    flagged = np.flatnonzero(~none_mask(r))  # compare text only where there is a reason
    sub = r[flagged].astype(str)
    no_coords = (sub == Reason.MISSING_COORDINATES.value) | (sub == Reason.INVALID_COORDINATE.value)
    base = int(len(r) - no_coords.sum())
    if base == 0:
        return
    for reason, advice in _FILE_LEVEL_ADVICE.items():
        hit = sub == reason
        if hit.any() and hit.sum() >= FILE_LEVEL_SHARE * base:
            first = int(flagged[np.flatnonzero(hit)[0]])
            raise CoordinateError(
                f"{source}: {int(hit.sum())} of {base} rows' values in columns {label} {advice}. "
                f"First such row: {first + 1} ({label} = {pair[first]})."
            )


_GEOM_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def _from_geometries(
    geoms: npt.NDArray[Any],
    crs: Any,
    rejects: Rejects,
    *,
    source: Path | Source,
    geom_types: Collection[str],
) -> npt.NDArray[Any]:
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    crs = CRS.from_user_input(crs)
    geoms = np.asarray(geoms, dtype=object)
    missing = none_mask(geoms)
    rejects.add(missing, Reason.MISSING_COORDINATES, GEOMETRY)
    empty = ~missing & shapely.is_empty(geoms)
    rejects.add(empty, Reason.EMPTY_GEOMETRY, GEOMETRY, "EMPTY")
    tid = shapely.get_type_id(geoms)
    tname = np.asarray(np.where(tid >= 0, _GEOM_TYPE_NAMES[np.clip(tid, 0, 7)], None))
    wrong = ~missing & ~empty & ~np.isin(tname.astype(str), list(geom_types))
    rejects.add(
        wrong,
        Reason.WRONG_GEOMETRY_TYPE,
        GEOMETRY,
        tname,
        f"allowed here: {', '.join(geom_types)}",
    )
    live = rejects.ok & ~missing & ~empty
    b = np.full((n, 4), np.nan)
    b[live] = shapely.bounds(geoms[live])
    nonfinite = live & ~np.isfinite(b).all(axis=1)
    rejects.add(nonfinite, Reason.INVALID_COORDINATE, GEOMETRY, "non-finite coordinate")
    live &= ~nonfinite
    invalid = np.zeros(n, dtype=bool)
    invalid[live] = ~shapely.is_valid(geoms[live])
    if invalid.any():  # explain only the invalid ones (the reason is costly to compute)
        why = np.full(n, None, dtype=object)
        why[invalid] = shapely.is_valid_reason(geoms[invalid])
        rejects.add(invalid, Reason.INVALID_GEOMETRY, GEOMETRY, why)
    live &= ~invalid
    epsg = crs.to_epsg()
    if crs.is_geographic:
        reasons = _worst(classify_lonlat(b[:, 0], b[:, 1]), classify_lonlat(b[:, 2], b[:, 3]))
    elif epsg == 27700:
        reasons = _worst(classify_bng(b[:, 0], b[:, 1]), classify_bng(b[:, 2], b[:, 3]))
    else:
        reasons = np.full(n, None, dtype=object)
    reasons[~live] = None
    corner = _render_pairs(b[:, 0], b[:, 1], ~none_mask(reasons))
    _file_level_check_xy(reasons, np.zeros(n, dtype=bool), source, "geometry", corner)
    for reason in np.unique(reasons[~none_mask(reasons)].astype(str)):
        rejects.add(reasons == reason, reason, GEOMETRY, corner)
    live &= rejects.ok
    if not live.any():
        return out
    moved = geometries_to_bng(geoms[live], crs)
    mb = shapely.bounds(moved)
    lost = ~np.isfinite(mb).all(axis=1)
    if epsg != 27700:
        lost |= np.isfinite(mb).all(axis=1) & _worst(
            classify_bng(mb[:, 0], mb[:, 1]), classify_bng(mb[:, 2], mb[:, 3])
        ).astype(bool)
    lost_rows = np.zeros(n, dtype=bool)
    lost_rows[np.flatnonzero(live)[lost]] = True
    rejects.add(
        lost_rows,
        Reason.OUTSIDE_GB,
        GEOMETRY,
        _render_pairs(b[:, 0], b[:, 1], lost_rows),
        "outside Great Britain once converted",
    )
    keep_idx = np.flatnonzero(live)[~lost]
    out[keep_idx] = moved[~lost]
    return out


def _worst(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.where(none_mask(a), b, a)
