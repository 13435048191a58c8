"""What :func:`~smartstreet_geo.campaign.run_campaign` does differently for one partition.

A partitioned customer input (:func:`smartstreet_geo.distributed.partition_customers`) is
a folder of Parquet parts and ``partitions.json``. Each part runs the campaign's steps as
any customer file does, with three differences: its rows keep their row numbers in the
whole file (the frame's index, so rejects and ``source_row`` name the file's rows), it
looks only at the equipment within reach of its own customers (the halo), and it leaves
numbering, the register, the trace and the manifest to the merge, which does them once
for the whole input (:mod:`smartstreet_geo.distributed`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._points import CustomerTable, columns_of

__all__ = [
    "PARTITIONS_FILE",
    "PART_CUSTOMER_COLUMNS",
    "CustomerPart",
    "TrackedWarnings",
    "equipment_halo",
    "forget_worker_network",
    "is_partitioned",
    "part_facts",
    "refuse_unpartitionable",
    "slim_customers",
    "worker_network",
]

#: The file that makes a folder a partitioned customer input.
PARTITIONS_FILE = "partitions.json"


@dataclass(frozen=True)
class CustomerPart:
    """One partition's raw customer rows.

    Attributes
    ----------
    frame : DataFrame
        The rows as in the file (raw values), indexed by their 1-based row number in
        the whole file, with ``attrs["source"]`` the whole file's name.
    network : bool
        Return the network's edges and substations with the result (one partition
        does; the others leave them out rather than send the same tables again).
    """

    frame: pd.DataFrame
    network: bool = True


#: Customer columns a partition sends back (with the geometry): what the map, the GIS
#: layers and the counts read. Names, phone numbers, PSR needs and nominees stay on the
#: worker (data minimisation; they are in the contact lists where a contact needs them).
PART_CUSTOMER_COLUMNS = (
    "customer_id",
    "premise_id",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "post_town",
    "postcode",
    "psr",
    "circuit_id",
    "substation_id",
    "source_row",
    "location_source",
    "location_uncertainty_m",
    "map_category",
    "map_category_shared",
)


def slim_customers(
    customers: gpd.GeoDataFrame | CustomerTable,
) -> gpd.GeoDataFrame | CustomerTable:
    """Return the customers with only :data:`PART_CUSTOMER_COLUMNS` and the geometry last.

    Customers held as coordinates (:class:`~smartstreet_geo.campaign._points.CustomerTable`)
    stay so, their geometry's place moved last as in the GeoDataFrame.
    """
    if isinstance(customers, CustomerTable):
        keep = [c for c in customers.frame.columns if c in PART_CUSTOMER_COLUMNS]
        return replace(customers, frame=customers.frame[keep], at=len(keep))
    keep = [c for c in customers.columns if c in PART_CUSTOMER_COLUMNS]
    return customers[[*keep, customers.geometry.name]]


#: The network a process last read and built for a partition, by the files' identity.
_NETWORK: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def worker_network(cfg: Any, read: Callable[[], Any]) -> tuple[Any, Any]:
    """Return the campaign's network as read (``read()``) and built, once per process.

    A Dask worker runs many partitions of one campaign; each needs the whole network.
    It is read and built for the first and kept for the next while the files (path,
    size, modification time) and their column mappings are the same. The
    :class:`~smartstreet_geo.network.Network` is only read after it is built (None when
    a file has no usable rows: the campaign then says so).
    """

    def identity(path: Any) -> tuple[Any, ...]:
        if path is None:
            return ()
        stat = Path(path).stat()
        return (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)

    key = (
        identity(cfg.network_edges),
        identity(cfg.substations),
        repr(cfg.column_maps.get("edges")),
        repr(cfg.column_maps.get("substations")),
        cfg.encoding,
    )
    if key not in _NETWORK:
        built = read_and_build(read)
        _NETWORK.clear()  # one campaign's network at a time
        _NETWORK[key] = built
    return _NETWORK[key]


def read_and_build(read: Callable[[], Any]) -> tuple[Any, Any]:
    """Return the network as read (``read()``) and its :class:`~smartstreet_geo.network.Network`.

    The network is None when a file has no usable rows (the campaign then says so, in
    :func:`smartstreet_geo.campaign._circuits.place`).
    """
    from ..network import Network

    net_r = read()
    usable = net_r.edges_result.n_valid and net_r.substations_result.n_valid
    return net_r, Network(net_r.edges, net_r.substations) if usable else None


def forget_worker_network() -> None:
    """Let go of the network :func:`worker_network` keeps (the end of an in-process run)."""
    _NETWORK.clear()


def refuse_unpartitionable(cfg: Any) -> None:
    """Raise ConfigError for a campaign whose steps cannot run one partition at a time."""
    from ..errors import ConfigError

    if cfg.outage_plan == "backfeed":
        raise ConfigError(
            f'{cfg.source or "campaign"}: [outage] plan = "backfeed" weighs every customer of '
            "the circuits that could backfeed an outage together; it is not yet run on a "
            "partitioned customer input - run it on the customer file itself"
        )


def is_partitioned(path: Any) -> bool:
    """Return True when ``path`` is a partitioned customer input (a folder with partitions.json)."""
    if path is None or isinstance(path, pd.DataFrame):
        return False
    p = Path(path)
    return p.is_dir() and (p / PARTITIONS_FILE).is_file()


def equipment_halo(
    customers: gpd.GeoDataFrame | CustomerTable, equipment: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Return the equipment that can be within reach of any of ``customers``.

    Reach is the largest radius plus the largest location uncertainty (a customer
    placed at a postcode centroid is decided against ``r + u``). An equipment item
    farther than that from the customers' bounding box is farther than that from
    every customer in it, so leaving it out loses no pair; the 1 m slack absorbs
    rounding at the box's edge. Pairs are produced only by the partition holding
    their customer, so none is counted twice.
    """
    if len(customers) == 0 or len(equipment) == 0:
        return equipment.iloc[:0]
    reach = float(equipment["radius_m"].max()) + 1.0
    columns = columns_of(customers)
    if "location_uncertainty_m" in columns:
        reach += float(np.nan_to_num(columns["location_uncertainty_m"].max()))
    box = shapely.box(*customers.total_bounds)
    near = shapely.distance(equipment.geometry.to_numpy(), box) <= reach
    return equipment[near]


class TrackedWarnings:
    """A partition's warnings with the step each came in, and those the merge must word.

    The merge puts the partitions' warnings back in the order of the campaign's steps
    (:meth:`placed`). A warning about the whole input (a count over every customer, an id
    that matches no customer anywhere) cannot be worded by one partition: it is deferred
    with what the merge needs to word it and the place it would have had.
    """

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.marks: list[int] = []
        self.deferred: list[dict[str, Any]] = []

    def marking(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """Return ``say`` that first notes where a new step starts."""

        def marked(label: str) -> None:
            self.marks.append(len(self.warnings))
            say(label)

        return marked

    def _place(self, j: int) -> tuple[int, int]:
        stage = bisect.bisect_right(self.marks, j)
        return stage, j - (self.marks[stage - 1] if stage else 0)

    def defer(self, kind: str, data: Any) -> None:
        """Leave a warning to the merge: ``kind`` and the facts it is worded from."""
        stage, at = self._place(len(self.warnings))
        self.deferred.append({"kind": kind, "stage": stage, "at": at, "data": data})

    def placed(self) -> list[tuple[int, int, str]]:
        """Return ``(step, position in the step, text)`` of each warning."""
        return [(*self._place(j), w) for j, w in enumerate(self.warnings)]


def part_facts(
    cust_r: Any,
    eq_r: Any,
    net_r: Any,
    location_counts: dict[str, int],
    in_scope: set[str],
    latest_send: dict[str, date],
    outage_dates: dict[str, date | None],
    suppressed: pd.DataFrame,
    tracked: TrackedWarnings,
) -> dict[str, Any]:
    """Return what the merge needs from a partition, in place of its manifest."""

    def counts(r: Any) -> dict[str, Any]:
        return {
            "source": str(r.source),
            "n_input": r.n_input,
            "n_valid": r.n_valid,
            "n_rejected": r.n_rejected,
        }

    inputs = {"customers": counts(cust_r), "equipment": counts(eq_r)}
    if net_r is not None:
        inputs["network_edges"] = counts(net_r.edges_result)
        inputs["substations"] = counts(net_r.substations_result)
    return {
        "part": {
            "inputs": inputs,
            "location_sources": dict(location_counts),
            "in_scope": sorted(in_scope),
            "latest_send": dict(latest_send),
            "outage_dates": dict(outage_dates),
            "suppressed": len(suppressed),
            "customer_rejects": len(cust_r.rejects),
            "warnings": tracked.placed(),
            "deferred": tracked.deferred,
        }
    }
