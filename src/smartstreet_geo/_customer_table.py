"""Customers held as coordinates instead of points (issue 14).

A shapely point costs some 200 bytes and 0.2-0.4 µs to make, and as much again to free.
At 5 million customers the reader's points were 1 GiB, made while the file was read and
read back as two float arrays by every step that uses them (the circuits' attachment, the
proximity index, the outage's reach), then dropped before the contact lists. A
:class:`CustomerTable` holds the customers' columns and each one's easting and northing;
the run reads its customers straight into one, and only the few rows that a step needs
as geometries (customers placed nowhere, PSR customers near unplaceable equipment) become
points (:func:`geo_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._gc import collector_paused

__all__ = ["CustomerTable", "columns_of", "geo_rows"]


@dataclass(frozen=True, eq=False)
class CustomerTable:
    """Customers without their geometry column, and where each one is.

    Attributes
    ----------
    frame : DataFrame
        Every column but the geometry, in order (add columns to it as to the
        GeoDataFrame: they come after the geometry there too).
    x, y : ndarray of float64
        Easting and northing (EPSG:27700) of each row's point; NaN: no point.
    geometry_name : str
        The geometry column's name.
    at : int
        The geometry column's position among the columns.
    crs : pyproj.CRS or None
    """

    frame: pd.DataFrame
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    geometry_name: str
    at: int
    crs: Any

    @classmethod
    def of(cls, customers: gpd.GeoDataFrame) -> CustomerTable | gpd.GeoDataFrame:
        """Return ``customers`` as a table: coordinates instead of points.

        Only geometries that are 2-D points (or missing) with finite coordinates, as
        the readers make them, are dropped; any other frame, or a table, is returned as
        it is.
        """
        if isinstance(customers, CustomerTable):
            return customers
        name = customers.geometry.name
        geoms = np.asarray(customers.geometry.array, dtype=object)
        # a few passes over the points (a GEOS call per geometry each: 0.03-0.04 s at 2.4 M)
        kind = shapely.get_type_id(geoms)
        present = kind >= 0  # (-1: missing)
        every = bool(present.all())
        points = geoms if every else geoms[present]
        if (kind[present] != 0).any() or shapely.has_z(points).any():
            return customers
        try:
            px, py = shapely.get_x(points), shapely.get_y(points)
        except shapely.errors.GEOSException:  # an empty point has no x
            return customers
        if not (np.isfinite(px).all() and np.isfinite(py).all()):
            return customers
        if every:
            x, y = px, py
        else:
            x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
            x[present], y[present] = px, py
        return cls(
            frame=pd.DataFrame(customers.drop(columns=name)),
            x=x,
            y=y,
            geometry_name=name,
            at=list(customers.columns).index(name),
            crs=customers.crs,
        )

    def __len__(self) -> int:
        return len(self.frame)

    def with_frame(self, frame: pd.DataFrame) -> CustomerTable:
        """Return the table with ``frame`` (the same rows, columns added) as its columns."""
        if len(frame) != len(self.frame):
            raise ValueError("a customer table's frame keeps its rows")
        return replace(self, frame=frame)

    @property
    def total_bounds(self) -> npt.NDArray[np.float64]:
        """``minx, miny, maxx, maxy`` of the points (as :attr:`GeoSeries.total_bounds`)."""
        has = ~np.isnan(self.x)
        if not has.any():
            return np.full(4, np.nan)
        x, y = self.x[has], self.y[has]
        return np.array([x.min(), y.min(), x.max(), y.max()], dtype=np.float64)

    def geodataframe(self) -> gpd.GeoDataFrame:
        """Return the customers as the GeoDataFrame they came from (points made again)."""
        geoms = np.full(len(self.x), None, dtype=object)
        has = ~np.isnan(self.x)
        with collector_paused():  # points hold no references (see smartstreet_geo._gc)
            geoms[has] = shapely.points(self.x[has], self.y[has])
        frame = self.frame.copy(deep=False)
        frame.insert(self.at, self.geometry_name, gpd.GeoSeries(geoms, index=frame.index))
        return gpd.GeoDataFrame(frame, geometry=self.geometry_name, crs=self.crs)


def columns_of(customers: CustomerTable | pd.DataFrame) -> pd.DataFrame:
    """Return the customers' columns without their geometry (no point is made)."""
    if isinstance(customers, CustomerTable):
        return customers.frame
    if isinstance(customers, gpd.GeoDataFrame):
        return pd.DataFrame(customers.drop(columns=customers.geometry.name))
    return customers


def geo_rows(customers: CustomerTable | gpd.GeoDataFrame, rows: Any) -> gpd.GeoDataFrame:
    """Return the customers at ``rows`` (positions or a boolean mask) as a GeoDataFrame.

    For a table only those rows' points are made; a GeoDataFrame is taken by position
    (``iloc``), its index kept. The table's frame index is kept too.
    """
    if not isinstance(customers, CustomerTable):
        return customers.iloc[rows]
    at = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.intp)
    part = CustomerTable(
        frame=customers.frame.iloc[at],
        x=customers.x[at],
        y=customers.y[at],
        geometry_name=customers.geometry_name,
        at=customers.at,
        crs=customers.crs,
    )
    return part.geodataframe()
