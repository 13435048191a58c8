"""The real ``smartstreet-geo demo`` and ``run`` commands, as the letter team would use them."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

import smartstreet_geo as ssg

OUTPUTS = {
    "letters.csv",
    "letters.xlsx",
    "phone_calls.csv",
    "manual_review.csv",
    "reconciliation.csv",
    "rejects.csv",
    "contact_trace.csv",
    "manifest.json",
    "map.html",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    runs = []
    for name in ("a", "b"):
        r = cli("demo", "--out", str(base / name), "--quiet")
        assert r.returncode == 0, r.stderr
        runs.append((base / name, r))
    return runs


def test_demo_writes_every_output_owner_only(demo_runs):
    out, _ = demo_runs[0]
    assert {p.name for p in out.iterdir()} == OUTPUTS
    for p in out.iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p.name
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700


def test_manifest_lists_every_output_with_its_size_and_hash(demo_runs):
    out, _ = demo_runs[0]
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {o["file"]: o for o in manifest["outputs"]}
    assert set(listed) == OUTPUTS - {"manifest.json"}
    for name, o in listed.items():
        data = (out / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (o["bytes"], o["sha256"]), name
    # nothing left beside the folder: no staging folder, no lock, no temporary copy
    assert sorted(p.name for p in out.parent.iterdir()) == ["a", "b"]


def test_demo_is_byte_identical_run_to_run(demo_runs):
    """Every file but the manifest's real run time (and the register's run id, see there)."""
    from test_campaign import assert_same_but_the_run_time

    (a, _), (b, _) = demo_runs
    assert {p.name for p in a.iterdir()} == {p.name for p in b.iterdir()} == OUTPUTS
    assert_same_but_the_run_time(a, b)


def test_demo_counts_are_plausible_against_smart_street(demo_runs):
    out, run = demo_runs[0]
    manifest = json.loads((out / "manifest.json").read_text())
    contacts = manifest["counts"]["contacts"]
    # tens of thousands on the trial circuits (67,300 fictional customers there), one per premise
    assert 60_000 <= contacts["leaflet"] <= 67_300
    # about 1,500 customers live close to new equipment (one letter per premise)
    assert 1_350 <= contacts["installation_letter"] <= 1_650
    recon = pd.read_csv(out / "reconciliation.csv", dtype=str)
    assert len(recon) == manifest["inputs"][0]["rows"] == 85_820
    assert recon["source_row"].astype(int).is_unique
    assert "reconciliation (every input customer row once)" in run.stdout
    letters = pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False)
    assert list(letters.columns) == [
        "contact_ref",
        "campaign",
        "template_id",
        "addressee",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "post_town",
        "postcode",
        "accessible_format",
        "equipment_kind",
        "install_date",
        "outage_date",
        "circuit_id",
        "reason",
    ]
    installation = letters[letters["campaign"] == "installation_letter"]
    assert (installation["addressee"] == "The Occupier").all()
    assert installation["reason"].str.contains(r"m away, radius \d+ m").all()
    calls = pd.read_csv(out / "phone_calls.csv", dtype=str)
    # a call handler's order: notice deadline first, then medically dependent customers
    deadline = pd.to_datetime(calls["notice_deadline"])
    assert deadline.is_monotonic_increasing
    for _, same in calls.groupby("notice_deadline"):
        medical = same["medically_dependent"].eq("True").to_numpy()
        assert not medical[medical.argmin() :].any() or medical.all()
    assert (calls["days_left"].astype(int) == (deadline - pd.Timestamp("2027-01-04")).dt.days).all()
    assert (
        calls["call_number"]
        .str.fullmatch(r"0\d{2,4} \d{3,4} ?\d{3,4}|0\d{4} \d{5,6}( ext\. \d+)?")
        .all()
    )


def test_no_personal_data_on_the_console(demo_runs):
    customers = ssg.read_customers(ssg.demo.path("customers")).data
    sample = customers.sample(300, random_state=1)
    for _, run in demo_runs:
        console = run.stdout + run.stderr
        for value in [
            *sample["name"].dropna(),
            *sample["address_line_1"].dropna(),
            *sample["phone"].dropna(),
        ]:
            assert value not in console


def test_existing_output_needs_force(demo_runs, tmp_path):
    out, _ = demo_runs[0]
    again = cli("demo", "--out", str(out), "--quiet")
    assert again.returncode == 1 and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert [line for line in again.stderr.splitlines() if line.startswith("error: ")] == [
        f"error: --out {out}: the folder exists and is not empty; choose a new folder or "
        "add --force (force=True) to replace it."
    ]


def test_bad_campaign_file_names_the_key(tmp_path):
    campaign = tmp_path / "c.toml"
    campaign.write_text('[inputs]\ncustomers = "nope.csv"\n')
    r = cli("run", str(campaign), "--out", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "[inputs] customers: file" in r.stderr and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_map_is_the_librarys_map_of_the_same_run(demo_runs, tmp_path):
    """The CLI draws the map on a second thread while it writes the CSV files: the page is
    still exactly what ``save_map(campaign_map(result))`` writes for the same campaign."""
    from smartstreet_geo.maps import campaign_map, save_map

    out, _ = demo_runs[0]
    cfg = ssg.campaign.load_config(ssg.demo.path("campaign"))
    result = ssg.run_campaign(cfg, new_register=True)
    mine = save_map(campaign_map(result, tiles=cfg.map_tiles), tmp_path / "map.html")
    assert mine.read_bytes() == (out / "map.html").read_bytes()


def test_a_map_that_cannot_be_drawn_leaves_no_output_folder(tmp_path, monkeypatch, capsys):
    """The drawing's error reaches the user (from the thread it ran on) and the folder,
    written meanwhile, is not committed: all or nothing."""
    import smartstreet_geo.maps as maps
    from smartstreet_geo.cli import main

    def broken(*_args, **_kwargs):
        raise ssg.errors.ParameterError("the map cannot be drawn (test)")

    monkeypatch.setattr(maps, "campaign_map", broken)
    out = tmp_path / "o"
    assert main(["demo", "--out", str(out), "--quiet"]) == 1
    assert "the map cannot be drawn (test)" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
