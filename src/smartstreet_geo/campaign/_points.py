"""The result's customers kept as coordinates; their points made only when asked for (issue 14).

A shapely point costs some 200 bytes and 0.4 µs to make. At 2.4 million customers the
customers' geometry column was 0.45 GiB, held from the reading of the file to the end of
the run, through the contact lists, the reconciliation and the writing of the files,
where the run's memory peaks, although nothing after the outage step reads a point: the
map takes coordinates, the files none, the counts only columns. From there the run keeps
its customers as a :class:`CustomerTable` (their columns, and each point's easting and
northing as two float arrays), and :attr:`CampaignResult.customers
<smartstreet_geo.campaign.CampaignResult.customers>` makes the GeoDataFrame, the same
one as before, the first time it is read (:class:`LazyCustomers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from .._gc import collector_paused

__all__ = ["CustomerTable", "LazyCustomers", "columns_of", "held_customers"]


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
        the readers make them, are dropped; any other frame is returned as it is.
        """
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

    def geodataframe(self) -> gpd.GeoDataFrame:
        """Return the customers as the GeoDataFrame they came from (points made again)."""
        geoms = np.full(len(self.x), None, dtype=object)
        has = ~np.isnan(self.x)
        with collector_paused():  # points hold no references (see smartstreet_geo._gc)
            geoms[has] = shapely.points(self.x[has], self.y[has])
        frame = self.frame.copy(deep=False)
        frame.insert(self.at, self.geometry_name, gpd.GeoSeries(geoms, index=frame.index))
        return gpd.GeoDataFrame(frame, geometry=self.geometry_name, crs=self.crs)


class LazyCustomers:
    """The ``customers`` field of a campaign result: a :class:`CustomerTable` until read.

    A data descriptor on the (frozen) dataclass: the constructor's value is stored as
    given; reading the attribute turns a table into its GeoDataFrame once and keeps
    that. :meth:`table` gives the table (or the GeoDataFrame) without making points.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name]
        if isinstance(value, CustomerTable):
            value = value.geodataframe()
            obj.__dict__[self.name] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def held_customers(result: Any) -> Any:
    """Return a result's customers as held, without making points: a table or a frame.

    Any object with ``customers`` will do (a campaign result, or a stand-in for one).
    """
    held = getattr(result, "__dict__", {}).get("customers")
    return held if held is not None else result.customers


def columns_of(customers: CustomerTable | pd.DataFrame) -> pd.DataFrame:
    """Return the customers' columns without their geometry (no point is made)."""
    if isinstance(customers, CustomerTable):
        return customers.frame
    if isinstance(customers, gpd.GeoDataFrame):
        return pd.DataFrame(customers.drop(columns=customers.geometry.name))
    return customers
