"""The real ``smartstreet-geo near`` command, run as a user would."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

CUSTOMERS = """customer_id,name,easting,northing
1600000000003,Ann Example,354600,404100
1600000000001,Bob Example,354500,404100
1600000000002,Cat Example,354530,404140
1600000000004,Dan Example,354500.5,404100.25
"""
EQUIPMENT = """equipment_id,kind,easting,northing
T1,oltc_transformer,354500,404100
C1,lv_capacitor,354530,404100
"""


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "near", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        check=False,
    )


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "c.csv").write_text(CUSTOMERS)
    (tmp_path / "e.csv").write_text(EQUIPMENT)
    return tmp_path


def near(tmp, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "--customers",
        str(tmp / "c.csv"),
        "--equipment",
        str(tmp / "e.csv"),
        "--out",
        str(tmp / "pairs.csv"),
        *extra,
    )


def test_writes_sorted_pairs_with_rounded_distances(inputs):
    r = near(inputs, "--radius", "50")
    assert r.returncode == 0, r.stderr
    text = (inputs / "pairs.csv").read_text()
    assert text.splitlines()[0] == '"customer_id","equipment_id","kind","distance_m"'
    pairs = pd.read_csv(inputs / "pairs.csv", dtype=str)
    assert pairs.values.tolist() == [
        ["1600000000001", "C1", "lv_capacitor", "30.00"],
        ["1600000000001", "T1", "oltc_transformer", "0.00"],
        ["1600000000002", "C1", "lv_capacitor", "40.00"],
        ["1600000000002", "T1", "oltc_transformer", "50.00"],  # exactly at the radius
        ["1600000000004", "C1", "lv_capacitor", "29.50"],
        ["1600000000004", "T1", "oltc_transformer", "0.56"],
    ]
    assert "pairs: 6 (3 customers near 2 of 2 equipment)" in r.stdout
    assert "Example" not in r.stdout + r.stderr  # no personal data on the console
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    assert stat.S_IMODE(os.stat(inputs / "pairs.csv").st_mode) == 0o600
    assert sorted(p.name for p in inputs.iterdir()) == ["c.csv", "e.csv", "pairs.csv"]


def test_radius_per_kind(inputs):
    r = near(inputs, "--radius", "oltc_transformer=50,lv_capacitor=30")
    assert r.returncode == 0, r.stderr
    pairs = pd.read_csv(inputs / "pairs.csv", dtype=str)
    assert pairs[["customer_id", "equipment_id"]].values.tolist() == [
        ["1600000000001", "C1"],
        ["1600000000001", "T1"],
        ["1600000000002", "T1"],
        ["1600000000004", "C1"],
        ["1600000000004", "T1"],
    ]


def test_a_kind_without_radius_exits_1_and_writes_nothing(inputs):
    r = near(inputs, "--radius", "oltc_transformer=50")
    assert r.returncode == 1
    assert "no radius for equipment kind(s) lv_capacitor" in r.stderr
    assert not (inputs / "pairs.csv").exists()


@pytest.mark.parametrize("bad", ["fifty", "-5", "oltc_transformer=", "=5", "a=1,a=2"])
def test_malformed_radius_is_a_usage_error(inputs, bad):
    r = near(inputs, "--radius", bad)
    assert r.returncode == 2
    assert "--radius" in r.stderr


def test_existing_output_needs_force(inputs):
    (inputs / "pairs.csv").write_text("keep me")
    r = near(inputs, "--radius", "50")
    assert r.returncode == 1
    assert "--force" in r.stderr
    assert (inputs / "pairs.csv").read_text() == "keep me"
    r = near(inputs, "--radius", "50", "--force", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(inputs / "pairs.csv")) == 6


def test_zero_radius_keeps_only_coincident_customers(inputs):
    r = near(inputs, "--radius", "0")
    assert r.returncode == 0, r.stderr
    assert "pairs: 1 (1 customers near 1 of 2 equipment)" in r.stdout
    assert pd.read_csv(inputs / "pairs.csv", dtype=str).values.tolist() == [
        ["1600000000001", "T1", "oltc_transformer", "0.00"]
    ]


def test_no_pairs_still_writes_a_header(inputs):
    (inputs / "e.csv").write_text(
        "equipment_id,kind,easting,northing\nT9,lv_capacitor,360000,410000\n"
    )
    r = near(inputs, "--radius", "50")
    assert r.returncode == 0, r.stderr
    assert "pairs: 0 (0 customers near 0 of 1 equipment)" in r.stdout
    assert (inputs / "pairs.csv").read_text().splitlines() == [
        '"customer_id","equipment_id","kind","distance_m"'
    ]


def test_ids_that_look_like_formulae_are_neutralised(tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,easting,northing\n=cmd,354500,404100\n2,354510,404100\n"
    )
    (tmp_path / "e.csv").write_text(
        "equipment_id,kind,easting,northing\n@E1,lv_capacitor,354500,404100\n"
    )
    out = tmp_path / "pairs.csv"
    r = run(
        "--customers",
        str(tmp_path / "c.csv"),
        "--equipment",
        str(tmp_path / "e.csv"),
        "--radius",
        "30",
        "--out",
        str(out),
        "--no-postcode-check",
    )
    assert r.returncode == 0, r.stderr
    import pandas as pd

    pairs = pd.read_csv(out, dtype=str)
    assert sorted(pairs["customer_id"]) == ["'=cmd", "2"]
    assert set(pairs["equipment_id"]) == {"'@E1"}
