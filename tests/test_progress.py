"""Progress of ``run``: one line per step with its rows and time when stderr is not a terminal."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from smartstreet_geo import demo
from smartstreet_geo.cli._progress import Progress, base_step


def test_run_reports_every_step_with_rows_and_time_in_a_log(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "run", str(demo.path("campaign")),
         "--out", str(tmp_path / "o"), "--no-map"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [ln.strip() for ln in r.stderr.splitlines() if re.search(r": \d+\.\d s$", ln)]
    names = [base_step(ln.rsplit(": ", 1)[0]) for ln in lines]
    for step in (
        "reading customers",
        "circuit membership",
        "customers near new equipment",
        "outage impact",
        "building contact lists",
        "reconciliation",
        "writing outputs",
    ):
        assert step in names, (step, r.stderr)  # fmt: skip
    assert names[-1] == "total"
    # rows, not only a label
    assert re.search(r"circuit membership \([\d,]+ customers\): \d", r.stderr)
    assert re.search(r"writing reconciliation\.csv \([\d,]+ rows\): \d", r.stderr)
    # the step times add up to (about) the total
    secs = [float(ln.rsplit(": ", 1)[1][:-2]) for ln in lines]
    assert abs(sum(secs[:-1]) - secs[-1]) <= 0.1 * len(secs)


def test_quiet_says_nothing(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "run", str(demo.path("campaign")),
         "--out", str(tmp_path / "o"), "--no-map", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not re.search(r": \d+\.\d s$", r.stderr, re.M)


def test_a_failed_step_prints_no_time_for_it():
    out = io.StringIO()
    p = Progress(["a", "b"], desc="x", quiet=False, stream=out)
    p("a (3 rows)")
    p("b")
    p.close(ok=False)
    assert out.getvalue().splitlines() == ["  a (3 rows): 0.0 s"]
