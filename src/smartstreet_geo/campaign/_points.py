"""The result's customers kept as coordinates; their points made only when asked for (issue 14).

A shapely point costs some 200 bytes and 0.4 µs to make. At 2.4 million customers the
customers' geometry column was 0.45 GiB, held from the reading of the file to the end of
the run, through the contact lists, the reconciliation and the writing of the files,
where the run's memory peaks, although nothing after the outage step reads a point: the
map takes coordinates, the files none, the counts only columns. The run keeps its
customers as a :class:`~smartstreet_geo._customer_table.CustomerTable` (their columns,
and each point's easting and northing as two float arrays) from the reading on, and
:attr:`CampaignResult.customers <smartstreet_geo.campaign.CampaignResult.customers>`
makes the GeoDataFrame, the same one as before, the first time it is read
(:class:`LazyCustomers`).
"""

from __future__ import annotations

from typing import Any

from .._customer_table import CustomerTable, columns_of

__all__ = ["CustomerTable", "LazyCustomers", "columns_of", "held_customers"]


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
