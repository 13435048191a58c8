"""Campaigns over partitioned customers: in process, or on a Dask cluster.

LV networks are independent below each substation (apart from normally-open
links, which stay inside a substation group) and proximity is local, so a
campaign partitions by substation group: :func:`partition_customers` writes the
customer file as Parquet parts, each part runs the campaign's steps (on a Dask
worker, which reads its part itself), and the results are merged into exactly
the outputs of an in-process run. ``run_campaign(cfg, workers=2)`` or
``smartstreet-geo run CAMPAIGN --workers 2`` starts a local cluster;
``scheduler="tcp://host:8786"`` uses a running one.
"""

from ._partitioner import PartitionedCustomers, partition_customers, read_partitions
from ._run import run_part, run_partitioned

__all__ = [
    "PartitionedCustomers",
    "partition_customers",
    "read_partitions",
    "run_part",
    "run_partitioned",
]
