"""``read_customers(..., locate=...)`` and ``validate --locate-*``: the readers place too."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from smartstreet_geo import demo, read_customers, run_campaign

D = demo.path("campaign").parent
REFS = {
    "uprn_gazetteer": D / "osopenuprn_demo.zip",
    "addresses": D / "addressbase_plus_demo.zip",
    "codepoint": D / "codepo_demo.zip",
}


@pytest.fixture(scope="module")
def from_file():
    return read_customers(demo.path("customers"), locate=REFS)


def test_the_reader_places_what_the_campaign_places(from_file):
    campaign = run_campaign(demo.path("campaign")).customers
    a = from_file.data.set_index("customer_id")[["location_source", "location_uncertainty_m"]]
    b = campaign.set_index("customer_id")[["location_source", "location_uncertainty_m"]]
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
    assert from_file.n_valid + from_file.n_rejected == from_file.n_input


def test_a_frame_is_placed_like_the_file(from_file):
    raw = pd.read_parquet(demo.path("customers"))
    raw.index = pd.RangeIndex(1, len(raw) + 1)  # row numbers are the frame's labels
    from_frame = read_customers(raw, locate=REFS)
    cols = ["customer_id", "source_row", "location_source", "location_uncertainty_m"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_frame.data[cols]).reset_index(drop=True),
        pd.DataFrame(from_file.data[cols]).reset_index(drop=True),
    )
    assert from_frame.n_rejected == from_file.n_rejected


def test_without_reference_data_nothing_changes():
    plain = read_customers(demo.path("customers"))
    assert "location_source" not in plain.data
    assert (plain.rejects["reason_code"] == "missing_coordinates").sum() == 680


def test_unknown_locate_key_is_refused():
    from smartstreet_geo.errors import ParameterError

    with pytest.raises(ParameterError, match="unknown key"):
        read_customers(demo.path("customers"), locate={"gazeteer": "x.zip"})


def test_validate_reports_how_customers_were_placed(from_file):
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "validate",
         "--customers", str(demo.path("customers")),
         "--locate-uprn", str(REFS["uprn_gazetteer"]),
         "--locate-addresses", str(REFS["addresses"]),
         "--locate-codepoint", str(REFS["codepoint"])],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    by = from_file.data["location_source"].value_counts()
    line = next(ln for ln in r.stdout.splitlines() if "located by:" in ln)
    for source, n in by.items():
        assert f"{source.replace('_', ' ')} {n:,}" in line
    assert "not located 0" in line
