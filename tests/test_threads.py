"""The shared worker threads of the row kernels (``smartstreet_geo._threads.run_ranges``)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from smartstreet_geo import _threads
from smartstreet_geo._numba_cache import row_chunks, run_chunks
from smartstreet_geo._threads import run_ranges


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = [n * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(bounds))


@pytest.mark.parametrize("parts", [1, 2, 3, 17])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_results_are_the_sequential_ones_in_order(parts, threads):
    values = np.random.default_rng(parts * 10 + threads).integers(0, 1000, 10_000)
    ranges = _ranges(values.size, parts)
    expected = [int(values[lo:hi].sum()) for lo, hi in ranges]  # oracle: a plain loop
    assert run_ranges(lambda lo, hi: int(values[lo:hi].sum()), ranges, threads) == expected


def test_every_range_runs_once_and_the_caller_and_a_shared_thread_both_work():
    seen: list[tuple[tuple[int, int], str]] = []
    lock = threading.Lock()

    def work(lo: int, hi: int) -> int:
        time.sleep(0.02)  # long enough for the helper to take ranges too
        with lock:
            seen.append(((lo, hi), threading.current_thread().name))
        return hi - lo

    ranges = _ranges(100, 8)
    assert run_ranges(work, ranges, 2) == [hi - lo for lo, hi in ranges]
    assert sorted(r for r, _ in seen) == sorted(ranges)
    names = {name for _, name in seen}
    assert threading.current_thread().name in names
    assert any(name.startswith("smartstreet-rows") for name in names)


def test_no_new_threads_per_call():
    def ours() -> set[int | None]:  # (other tests' threads may come and go meanwhile)
        return {t.ident for t in threading.enumerate() if t.name.startswith("smartstreet-rows")}

    ranges = _ranges(10, 2)
    run_ranges(lambda lo, hi: hi, ranges, 2)
    before = ours()
    for _ in range(50):
        run_ranges(lambda lo, hi: hi, ranges, 2)
    assert before and ours() == before


def test_an_error_is_raised_after_the_ranges_taken_have_finished():
    finished: list[int] = []

    def work(lo: int, hi: int) -> int:
        if lo == 0:
            raise ValueError("range 0 fails")
        time.sleep(0.05)
        finished.append(lo)
        return lo

    ranges = _ranges(40, 4)
    with pytest.raises(ValueError, match="range 0 fails"):
        run_ranges(work, ranges, 2)
    count = len(finished)
    time.sleep(0.2)
    assert len(finished) == count  # nothing still running after the error came back
    assert count < len(ranges) - 1  # and the ranges not yet taken were not started


def test_called_from_many_threads_at_once_and_from_a_shared_thread():
    values = np.arange(50_000)

    def outer(k: int) -> list[int]:
        return run_ranges(lambda lo, hi: int(values[lo:hi].sum()) + k, _ranges(50_000, 5), 3)

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(outer, range(8)))
    for k, sums in enumerate(got):
        assert sums == [int(values[lo:hi].sum()) + k for lo, hi in _ranges(50_000, 5)]
    # work that itself runs ranges (from a shared thread) runs them there, in turn
    nested = run_ranges(
        lambda lo, hi: sum(run_ranges(lambda a, b: b - a, [(lo, hi)] * 3, 2)), [(0, 5), (5, 9)], 2
    )
    assert nested == [15, 12]


def test_run_chunks_and_row_chunks_keep_their_contract(monkeypatch):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    chunks = row_chunks(200_000, min_rows=1_000)
    assert len(chunks) == 3 and chunks[0][0] == 0 and chunks[-1][1] == 200_000
    assert run_chunks(lambda lo, hi: (lo, hi), chunks) == chunks
    assert run_chunks(lambda lo, hi: (lo, hi), chunks, threads=1) == chunks


def test_a_forked_child_starts_its_own_threads():
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = (
        "import os, sys\n"
        "from smartstreet_geo._threads import run_ranges\n"
        "r = [(0, 1), (1, 2), (2, 3)]\n"
        "assert run_ranges(lambda a, b: b, r, 2) == [1, 2, 3]\n"  # the parent's pool exists
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if run_ranges(lambda a, b: b * 10, r, 2) == [10, 20, 30] else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == 0


def test_the_pool_is_one_for_the_process():
    run_ranges(lambda lo, hi: hi, _ranges(4, 2), 2)
    pool = _threads._pool
    run_ranges(lambda lo, hi: hi, _ranges(4, 2), 2)
    assert pool is not None and _threads._pool is pool
