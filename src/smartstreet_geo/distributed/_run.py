"""Run a campaign over a partitioned customer input, in process or on a Dask cluster."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..campaign._partition import CustomerPart, refuse_unpartitionable
from ..campaign.config import CampaignConfig
from ..errors import ConfigError, ParameterError, SmartStreetGeoError
from ._packed import pack_part
from ._partitioner import ROW_COLUMN, partition_settings, read_partitions

__all__ = ["run_part", "run_partitioned"]


def run_part(
    cfg: CampaignConfig,
    part_file: str,
    source: str,
    pseudonym_key: bytes | None = None,
    new_register: bool = False,
    network: bool = True,
) -> Any:
    """Run the campaign's steps on one part file (this runs on a Dask worker).

    The worker reads the part itself (nothing but its path is sent), and the
    network, equipment and reference files named by the campaign (each worker
    reads the same files: they must be where the workers can read them). With
    ``network=False`` the result leaves out the network's tables (the first part
    sends them).
    """
    import pyarrow.parquet as pq

    from ..campaign.run import run_campaign

    if b"geo" in (pq.read_schema(part_file).metadata or {}):
        import geopandas as gpd

        frame: pd.DataFrame = gpd.read_parquet(part_file)
    else:
        frame = pd.read_parquet(part_file)
    frame.index = pd.Index(frame.pop(ROW_COLUMN).to_numpy(dtype="int64"))
    frame.attrs["source"] = source
    return run_campaign(
        cfg,
        pseudonym_key=pseudonym_key,
        new_register=new_register,
        _part=CustomerPart(frame, network=network),
    )


def run_partitioned(
    cfg: CampaignConfig,
    *,
    step: Callable[[str], None] | None = None,
    pseudonym_key: bytes | None = None,
    new_register: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Any:
    """Run ``cfg`` over its partitioned customer input and merge the partitions' results.

    See :func:`smartstreet_geo.campaign.run_campaign` (which calls this for a
    partitioned input) for the parameters.
    """
    from ..campaign._partition import is_partitioned
    from ..campaign.run import _open_register
    from ._merge import merge_parts

    say = step or (lambda _label: None)
    scheduler = scheduler or cfg.scheduler
    workers = workers or cfg.workers
    if not is_partitioned(cfg.customers):
        raise ConfigError(
            f"{cfg.customers}: a Dask run reads partitioned customers (each worker reads its "
            "own part); make them first: smartstreet-geo partition CAMPAIGN --out FOLDER, then "
            "point [inputs] customers at FOLDER"
        )
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, not {workers}")
    refuse_unpartitionable(cfg)  # before any part runs
    data = read_partitions(cfg.customers)
    now = partition_settings(cfg)
    if data.settings and data.settings != now:
        changed = ", ".join(k for k in now if data.settings.get(k) != now[k])
        raise ConfigError(
            f"{cfg.customers}: partitioned with other campaign settings ({changed}: "
            f"{data.settings} then, {now} now); rows that must share a part (one customer id, "
            "one premise) may not. Partition again with this campaign: smartstreet-geo "
            "partition CAMPAIGN --out FOLDER --force"
        )
    register = _open_register(cfg, pseudonym_key, new_register, [])
    tasks = [
        (cfg, str(f), data.source, pseudonym_key, new_register, i == 0)
        for i, f in enumerate(data.files)
    ]
    n = len(tasks)
    if scheduler or workers:
        results = _on_dask(tasks, scheduler, workers, say)
    else:
        from ..campaign._partition import forget_worker_network

        results = []
        try:
            for i, task in enumerate(tasks):
                say(f"partition {i + 1} of {n} ({data.parts[i]['rows']:,} rows)")
                results.append(pack_part(run_part(*task)))
        finally:
            forget_worker_network()  # kept from part to part, not after the run
    say(f"merging {n} partitions")
    return merge_parts(cfg, results, register, Path(cfg.customers))


def _on_dask(
    tasks: list[tuple[Any, ...]],
    scheduler: str | None,
    workers: int | None,
    say: Callable[[str], None],
) -> list[Any]:
    """Run the parts on a Dask cluster: the one at ``scheduler``, or a local one of ``workers``."""
    try:
        from dask.distributed import Client, KilledWorker, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - the dask extra is not installed
        raise ConfigError(
            "running on Dask needs the dask extra: pip install 'smartstreet-geo[dask]'"
        ) from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # loopback; None does not turn it off (dask#8136)
        )
        client = Client(cluster)
    try:
        _check_workers(client)
        n_workers = len(client.scheduler_info()["workers"])
        say(f"partitions on Dask ({len(tasks)} parts, {n_workers} workers)")
        # keys are the scheduler's names for results: a run's own, or a second run on the same
        # scheduler (another campaign, another user) would be given this run's results
        run = uuid.uuid4().hex
        futures = [
            client.submit(_call, task, key=f"smartstreet-geo-part-{i}-{run}", pure=False)
            for i, task in enumerate(tasks)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        try:
            # each result is fetched as soon as it is ready and released on the worker, so a
            # worker holds one partition's result at a time, not all of its partitions'
            for done, (future, result) in enumerate(
                as_completed(futures, with_results=True), start=1
            ):
                results[index[future.key]] = result
                future.release()
                say(f"partitions on Dask: {done} of {len(tasks)} done")
            futures.clear()
            return results
        except KilledWorker as exc:
            at = index.get(exc.task)
            part = Path(tasks[at][1]).name if at is not None else "a partition"
            raise SmartStreetGeoError(
                f"{part}: the Dask workers running it died {exc.allowed_failures + 1} times "
                "(usually: over the worker's memory limit). Use more partitions "
                "(smartstreet-geo partition --partitions N) or more memory per worker; nothing "
                "was written."
            ) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _version() -> str:
    """Return the smartstreet-geo version of the process (run on each worker)."""
    from .. import __version__

    return __version__


def _check_workers(client: Any) -> None:
    """Refuse a cluster whose workers run another smartstreet-geo version (or none).

    A part's outputs are merged with this process's code: a worker with other rules
    would make a result that is neither version's.
    """
    from .. import __version__

    try:
        found = client.run(_version)
    except ImportError:
        raise ConfigError(
            "the Dask workers cannot import smartstreet_geo: install the same version "
            f"({__version__}) on every worker"
        ) from None
    other = sorted({v for v in found.values() if v != __version__})
    if other:
        raise ConfigError(
            f"the Dask workers run smartstreet-geo {', '.join(other)}, this process "
            f"{__version__}: install the same version on every worker"
        )


def _call(task: tuple[Any, ...]) -> Any:
    """Run one part on a worker and return its result packed (:mod:`._packed`)."""
    return pack_part(run_part(*task))
