#!/usr/bin/env python
"""The campaign on a Dask cluster (issue 17): partitioned customers, 1 and 2 workers.

    python benchmarks/bench_dask.py                                   # k = 28 (2.4 M)
    python benchmarks/bench_dask.py --tiles 117 --partitions 32 --memory-limit 3GiB
    python benchmarks/bench_dask.py --tiles 28 --in-process --json out.json

The inputs are ``bench_run.py``'s: the demo campaign tiled k times (k = 117 is 10.04 million
customers), without ``[locate]``, with the reader's postcode-district margin widened (set in
every worker too). Each measurement runs in a fresh child process so peaks do not mix:

* ``partition``: ``partition_customers`` (substation groups packed into ``--partitions``
  Parquet parts), wall time and the child's peak resident set (VmHWM);
* ``dask-W``: a ``LocalCluster`` of W worker processes (one thread each, loopback,
  ``memory_limit`` per worker) runs the parts; the client merges and writes every output
  but the map. Reported: wall time of the parts, the merge and the writing, the client's
  peak, each worker's peak (VmHWM read in the worker when the run ends) and the number of
  worker starts (more than W: a worker went over its memory limit and was restarted);
* ``in-process`` (``--in-process``): ``run_campaign`` on the customer file itself and
  ``write_campaign``, as ``bench_run.py`` does, and a byte-for-byte comparison of every
  output file (manifest aside) with the Dask run's.

Results: benchmarks/README.md, section "On a Dask cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_run  # noqa: E402 - the tiled inputs and the in-process measurement


def _hwm_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _widen() -> None:
    import smartstreet_geo.locate as locate

    locate.DISTRICT_MARGIN_M = bench_run.WIDE_MARGIN_M


def child_partition(campaign: Path, parts: Path, n: int) -> dict:
    _widen()
    from smartstreet_geo.distributed import partition_customers

    t0 = time.perf_counter()
    done = partition_customers(campaign, parts, partitions=n, overwrite=True)
    return {
        "seconds": time.perf_counter() - t0,
        "peak_gb": _hwm_gb(),
        "rows": done.rows,
        "part_rows": [p["rows"] for p in done.parts],
    }


def _widening_plugin(log: Path):
    """A worker plugin: the widened margin in every worker, also one restarted by its nanny.

    Each worker start is noted in ``log``: more starts than workers means a worker went over
    its memory limit and was restarted (the run then counts as failed).
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class Widen(WorkerPlugin):
        name = "bench-widen-postcode-margin"

        def setup(self, worker) -> None:
            import smartstreet_geo.locate as locate

            locate.DISTRICT_MARGIN_M = 1e9
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{worker.address}\n")

    return Widen()


def child_dask(campaign: Path, out: Path, workers: int, limit: str) -> dict:
    _widen()
    from dask.distributed import Client, LocalCluster

    from smartstreet_geo import run_campaign
    from smartstreet_geo.export import write_campaign

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        memory_limit=limit,
    )
    client = Client(cluster)
    starts = out.with_name(out.name + ".worker_starts")
    starts.unlink(missing_ok=True)
    try:
        client.register_plugin(_widening_plugin(starts))
        marks: list[tuple[str, float]] = []
        peaks: dict = {}

        def step(label: str) -> None:
            marks.append((label, time.perf_counter()))
            if label.startswith("merging"):
                # the parts are done: read the workers' peaks and stop them, as `run
                # --workers` closes its own cluster before the merge (the client's peak is
                # then the merge's, not the merge's plus idle workers')
                peaks.update(client.run(_hwm_gb))
                cluster.scale(0)

        t0 = time.perf_counter()
        result = run_campaign(
            campaign, scheduler=cluster.scheduler_address, new_register=True, step=step
        )
        t1 = time.perf_counter()
        write_campaign(result, out)
        t2 = time.perf_counter()
        merge_at = next(t for label, t in marks if label.startswith("merging"))
        return {
            "customers": int(result.manifest["inputs"][0]["rows"]),
            "parts_s": merge_at - t0,
            "merge_s": t1 - merge_at,
            "write_s": t2 - t1,
            "total_s": t2 - t0,
            "client_peak_gb": _hwm_gb(),
            "worker_peak_gb": sorted(peaks.values()),
            "memory_limit": limit,
            "worker_starts": len(starts.read_text(encoding="utf-8").splitlines()),
            "counts": {k: int(v) for k, v in result.status_counts().items()},
        }
    finally:
        client.close()
        cluster.close()


def child_in_process(campaign: Path, out: Path) -> dict:
    got = bench_run.child_steps(campaign, out)
    return {k: got[k] for k in ("customers", "run_s", "write_s", "total_s", "peak_mb", "counts")}


def _child(*args: str) -> dict:
    """Run this script in a child process for one measurement; return its JSON."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"failed": done.returncode, "stderr": done.stderr[-3000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same(a: Path, b: Path) -> dict[str, bool]:
    return {
        p.name: p.read_bytes() == (b / p.name).read_bytes()
        for p in sorted(a.iterdir())
        if p.name != "manifest.json"
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiles", type=int, default=28)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--memory-limit", default="4GiB", help="per worker (dask notation)")
    ap.add_argument("--in-process", action="store_true", help="also run without Dask")
    ap.add_argument("--keep", type=Path, help="reuse/keep the inputs in this folder")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--reuse-parts", action="store_true", help="with --keep: use the parts already made there"
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "partition":
            got = child_partition(Path(rest[0]), Path(rest[1]), int(rest[2]))
        elif kind == "dask":
            got = child_dask(Path(rest[0]), Path(rest[1]), int(rest[2]), rest[3])
        else:
            got = child_in_process(Path(rest[0]), Path(rest[1]))
        print(json.dumps(got))
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_dask_"))
    inputs = root / f"k{args.tiles}"
    campaign = inputs / "campaign.toml"
    if not campaign.exists():
        t0 = time.perf_counter()
        bench_run.make_inputs(args.tiles, inputs)
        print(f"inputs k={args.tiles}: {time.perf_counter() - t0:.0f} s", flush=True)
    parts = inputs / "parts"
    report: dict = {"tiles": args.tiles, "partitions": args.partitions, "load": os.getloadavg()}
    if args.reuse_parts and (parts / "partitions.json").is_file():
        report["partition"] = "reused"
    else:
        report["partition"] = _child("partition", str(campaign), str(parts), str(args.partitions))
    print("partition", json.dumps(report["partition"]), flush=True)
    on_parts = inputs / "parts.toml"
    on_parts.write_text(
        campaign.read_text(encoding="utf-8").replace(
            'customers = "customers.parquet"', f'customers = "{parts.as_posix()}"'
        ),
        encoding="utf-8",
    )
    for w in args.workers:
        out = root / f"out_dask{w}"
        shutil.rmtree(out, ignore_errors=True)
        report[f"dask-{w}"] = _child("dask", str(on_parts), str(out), str(w), args.memory_limit)
        print(f"dask-{w}", json.dumps(report[f"dask-{w}"]), flush=True)
    if args.in_process:
        out = root / "out_in_process"
        shutil.rmtree(out, ignore_errors=True)
        report["in-process"] = _child("in-process", str(campaign), str(out))
        print("in-process", json.dumps(report["in-process"]), flush=True)
        for w in args.workers:
            if (root / f"out_dask{w}").exists() and out.exists():
                report[f"same-{w}"] = _same(out, root / f"out_dask{w}")
                print(f"same as in-process, {w} workers:", report[f"same-{w}"], flush=True)
    report["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
