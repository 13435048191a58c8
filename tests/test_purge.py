"""``smartstreet-geo purge DIR``: an output folder is deleted once its retention date has passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartstreet_geo.cli.purge import PurgeError, plan_purge, purge_folder
from smartstreet_geo.export import OutputError, _Lock, atomic_write_bytes, staged_output

CREATED = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
DUE = CREATED + timedelta(days=90)
SECRET = "Person 1, 1 Oak Street, 0161 496 0100"  # stands for personal data in the files


def output_folder(path: Path, *, delete_after: str | None = None, **manifest: object) -> Path:
    """Write a folder as a campaign run does (staged, manifest last with every file listed)."""
    with staged_output(path) as stage:
        for name in ("letters.csv", "reconciliation.csv", "map.html"):
            atomic_write_bytes(stage.file(name), f"{name}: {SECRET}\r\n".encode())
        stage.manifest = {
            "tool": "smartstreet-geo",
            "created": CREATED.isoformat(),
            "delete_after": delete_after or DUE.isoformat(),
            **manifest,
        }
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "purge", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_due_folder_is_deleted_and_reported(tmp_path):
    out = output_folder(tmp_path / "out")
    plan = purge_folder(out, now=DUE + timedelta(seconds=1))
    assert not out.exists()
    assert plan.due and plan.files == (
        "letters.csv",
        "map.html",
        "reconciliation.csv",
        "manifest.json",
    )
    assert plan.n_bytes == sum(plan.sizes.values()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no lock or leftover beside it


def test_due_at_the_retention_time_not_before(tmp_path):
    out = output_folder(tmp_path / "out")
    assert plan_purge(out, now=DUE).due
    assert not plan_purge(out, now=DUE - timedelta(seconds=1)).due
    with pytest.raises(PurgeError, match=r"not due for deletion until after 2026-04-05T10:00:00"):
        purge_folder(out, now=DUE - timedelta(days=3))
    assert sorted(p.name for p in out.iterdir()) == [
        "letters.csv",
        "manifest.json",
        "map.html",
        "reconciliation.csv",
    ]
    purge_folder(out, early=True, now=DUE - timedelta(days=3))
    assert not out.exists()


def test_a_date_only_retention_is_due_the_day_after(tmp_path):
    out = output_folder(tmp_path / "out", delete_after="2026-04-05")  # an older manifest
    assert not plan_purge(out, now=datetime(2026, 4, 5, 23, 59, tzinfo=UTC)).due
    assert plan_purge(out, now=datetime(2026, 4, 6, 0, 0, tzinfo=UTC)).due


def test_dry_run_deletes_nothing(tmp_path):
    out = output_folder(tmp_path / "out")
    before = sorted(p.name for p in out.iterdir())
    plan = purge_folder(out, dry_run=True, now=DUE + timedelta(days=1))
    assert plan.due and sorted(plan.files) == before
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("what", ["file", "folder", "link"])
def test_a_folder_holding_what_the_manifest_does_not_list_is_refused(tmp_path, what):
    out = output_folder(tmp_path / "out")
    stranger = out / "notes.txt"
    if what == "file":
        stranger.write_text("mine")
    elif what == "folder":
        stranger.mkdir()
    else:
        stranger.symlink_to(tmp_path)
    with pytest.raises(PurgeError, match=r"does not list \('notes.txt'\); nothing deleted"):
        purge_folder(out, now=DUE + timedelta(days=1))
    assert len(list(out.iterdir())) == 5


def test_a_listed_name_that_became_a_link_is_refused(tmp_path):
    out = output_folder(tmp_path / "out")
    (out / "map.html").unlink()
    (out / "map.html").symlink_to(tmp_path / "elsewhere.html")
    with pytest.raises(PurgeError, match=r"map\.html"):
        purge_folder(out, now=DUE + timedelta(days=1))


def test_a_folder_without_a_smartstreet_geo_manifest_is_refused(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "letters.csv").write_text("x")
    with pytest.raises(PurgeError, match=r"no manifest\.json: this is not an output folder"):
        purge_folder(plain, early=True)
    (plain / "manifest.json").write_text("{not json")
    with pytest.raises(PurgeError, match="not valid JSON"):
        purge_folder(plain, early=True)
    (plain / "manifest.json").write_text(json.dumps({"tool": "other", "outputs": []}))
    with pytest.raises(PurgeError, match="not a smartstreet-geo manifest"):
        purge_folder(plain, early=True)
    listed = {"file": "letters.csv", "bytes": 1, "sha256": "0"}
    (plain / "manifest.json").write_text(
        json.dumps({"tool": "smartstreet-geo", "outputs": [listed]})
    )
    with pytest.raises(PurgeError, match="no delete_after"):
        purge_folder(plain, early=True)
    (plain / "manifest.json").write_text(
        json.dumps({"tool": "smartstreet-geo", "outputs": [listed], "delete_after": "soon"})
    )
    with pytest.raises(PurgeError, match="not an ISO 8601 date"):
        purge_folder(plain, early=True)
    assert (plain / "letters.csv").read_text() == "x"
    with pytest.raises(PurgeError, match="no such folder"):
        purge_folder(tmp_path / "absent")


def test_a_folder_being_written_is_not_purged(tmp_path):
    out = output_folder(tmp_path / "out")
    lock = _Lock(out, "run", out)  # what a run writing (or replacing) the folder holds
    lock.acquire()
    try:
        with pytest.raises(OutputError, match=r"another smartstreet-geo run .* is writing it"):
            purge_folder(out, now=DUE + timedelta(days=1))
    finally:
        lock.release()
    assert (out / "manifest.json").is_file()
    purge_folder(out, now=DUE + timedelta(days=1))
    assert not out.exists()


def test_missing_listed_files_are_reported_not_refused(tmp_path):
    out = output_folder(tmp_path / "out")
    (out / "map.html").unlink()
    plan = purge_folder(out, now=DUE + timedelta(days=1))
    assert plan.missing == ("map.html",) and "map.html" not in plan.files
    assert not out.exists()


def test_cli_purges_a_due_folder_and_names_files_never_contents(tmp_path):
    out = output_folder(tmp_path / "out")
    dry = cli(str(out), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 4 file(s)" in dry.stdout and out.is_dir()
    r = cli(str(out))
    assert r.returncode == 0, r.stderr
    assert not out.exists()
    assert "deleted 4 file(s)" in r.stdout
    for name in ("letters.csv", "reconciliation.csv", "map.html", "manifest.json"):
        assert name in r.stdout
    assert SECRET not in r.stdout + r.stderr + dry.stdout


def test_cli_keeps_a_folder_not_yet_due_unless_now_and_yes(tmp_path):
    future = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    out = output_folder(tmp_path / "out", delete_after=future.isoformat())
    r = cli(str(out))
    assert r.returncode == 1 and "not due for deletion" in r.stderr and out.is_dir()
    r = cli(str(out), "--now")
    assert r.returncode == 1 and "add --yes to confirm" in r.stderr and out.is_dir()
    r = cli(str(out), "--dry-run")
    assert r.returncode == 0 and "not due yet" in r.stdout and out.is_dir()
    r = cli(str(out), "--now", "--yes")
    assert r.returncode == 0, r.stderr
    assert "before its retention date" in r.stdout and not out.exists()


def test_cli_refuses_a_folder_that_is_not_an_output(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    r = cli(str(tmp_path), "--now", "--yes")
    assert r.returncode == 1 and "not an output folder" in r.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert os.listdir(tmp_path) == ["mine.txt"]
