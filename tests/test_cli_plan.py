"""``smartstreet-geo circuits --isolate ... --plan``: the CLI prints and writes the library's plan."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from smartstreet_geo import demo, read_customers, read_equipment, read_network
from smartstreet_geo.network import Network, plan_outage


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", *args], capture_output=True, text=True
    )


def test_plan_matches_the_library_and_is_written(tmp_path):
    files = [
        "--network", str(demo.path("network_edges")),
        "--substations", str(demo.path("substations")),
        "--customers", str(demo.path("customers")),
        "--equipment", str(demo.path("equipment")),
    ]  # fmt: skip
    r = _cli("circuits", *files, "--isolate", "EQ0006", "--plan", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    nr = read_network(demo.path("network_edges"), demo.path("substations"))
    cust = read_customers(demo.path("customers")).data
    eq = read_equipment(demo.path("equipment")).data
    plan = plan_outage(Network(nr.edges, nr.substations), cust, ["EQ0006"], equipment=eq)
    s = plan.summary()
    assert s["customers_restored"] > 0  # the case is worth testing: a point restores someone
    assert f"{s['customers_restored']} restored" in r.stdout
    for point in plan.points_to_close:
        assert f"close {point}" in r.stdout
    written = pd.read_csv(tmp_path / "o" / "outage_plan.csv", dtype=str, keep_default_na=False)
    assert sorted(written["customer_id"]) == sorted(plan.customers["customer_id"].astype(str))
    assert (written["status"] == "restored").sum() == s["customers_restored"]


def test_plan_without_points_is_refused():
    r = _cli(
        "circuits", "--network", str(demo.path("network_edges")),
        "--customers", str(demo.path("customers")), "--plan",
    )  # fmt: skip
    assert r.returncode != 0 and "--plan needs points" in r.stderr
