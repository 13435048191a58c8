"""The real ``smartstreet-geo validate`` command, run as a user would."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from catalogue import CASES

GOOD = next(c for c in CASES if c.id == "good_bng").text
MIXED = next(c for c in CASES if c.id == "conflicting_duplicate").text


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_usable_inputs_exit_0_and_print_counts(tmp_path):
    (tmp_path / "c.csv").write_text(GOOD)
    r = run("validate", "--customers", str(tmp_path / "c.csv"))
    assert r.returncode == 0, r.stderr
    assert "read         3   valid         3   rejected         0" in r.stdout
    assert "inputs usable" in r.stdout


def test_rejects_are_written_owner_only_and_strict_fails(tmp_path):
    (tmp_path / "c.csv").write_text(MIXED)
    out = tmp_path / "out"
    r = run("validate", "--customers", str(tmp_path / "c.csv"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "conflicting_duplicate" in r.stdout
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert rejects["row_number"].tolist() == ["2", "3"]
    assert stat.S_IMODE(os.stat(out / "rejects.csv").st_mode) == 0o600
    strict = run("validate", "--customers", str(tmp_path / "c.csv"), "--strict")
    assert strict.returncode == 1


def test_existing_output_folder_is_not_overwritten_without_force(tmp_path):
    (tmp_path / "c.csv").write_text(GOOD)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    r = run("validate", "--customers", str(tmp_path / "c.csv"), "--out", str(out))
    assert r.returncode == 1
    assert "--force" in r.stderr
    # --force replaces an earlier output folder, never a folder holding other files
    forced = run("validate", "--customers", str(tmp_path / "c.csv"), "--out", str(out), "--force")
    assert forced.returncode == 1 and "does not write" in forced.stderr
    assert (out / "keep.txt").read_text() == "x"
    (out / "keep.txt").unlink()
    (out / "rejects.csv").write_text("old")
    forced = run("validate", "--customers", str(tmp_path / "c.csv"), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "rejects.csv").read_text() != "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "out"]  # nothing left beside


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name,easting,northing\nX,1,2\n", "no 'customer_id' column"),
        ("", "empty"),
        ("customer_id,postcode,geometry\n1,WN5 9XP,POINT (1 2)\n", "no CRS is declared"),
    ],
)
def test_unusable_inputs_exit_1_with_a_message_and_no_traceback(tmp_path, text, fragment):
    (tmp_path / "c.csv").write_text(text)
    r = run("validate", "--customers", str(tmp_path / "c.csv"))
    assert r.returncode == 1
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    debug = run("--debug", "validate", "--customers", str(tmp_path / "c.csv"))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr


def test_column_mapping_on_the_command_line(tmp_path):
    (tmp_path / "c.csv").write_text("ID,Post Code,X,Y\n1,WN5 9XP,354500,404100\n")
    r = run(
        "validate",
        "--customers",
        str(tmp_path / "c.csv"),
        "--map",
        "customers:ID=customer_id",
        "--map",
        "customers:X=easting",
        "--map",
        "customers:Y=northing",
    )
    assert r.returncode == 0, r.stderr
    bad = run("validate", "--customers", str(tmp_path / "c.csv"), "--map", "ID=customer_id")
    assert bad.returncode == 1 and "KIND:COLUMN=CANONICAL" in bad.stderr


def test_no_personal_data_on_the_console(tmp_path):
    text = (
        "customer_id,name,address_line_1,postcode,phone,easting,northing\n"
        "1,Zebedee Quixote,7 Unlikely Lane,WN5 9XP,0161 496 0999,354500,404100\n"
        "1,Zebedee Quixote,8 Unlikely Lane,WN5 9XP,0161 496 0999,354500,404100\n"
        f"2,{'Y' * 300},9 Unlikely Lane,WN5 9XP,0161 496 0998,354500,404100\n"
        "3,Ada Unseen,1 Hidden Row,WN5 9XP,0161 496 0997,,\n"
    )
    (tmp_path / "c.csv").write_text(text)
    r = run(
        "--debug", "validate", "--customers", str(tmp_path / "c.csv"), "--out", str(tmp_path / "o")
    )
    console = r.stdout + r.stderr
    for secret in ("Zebedee", "Quixote", "Unlikely", "YYYY", "Ada Unseen", "Hidden Row", "496 0"):
        assert secret not in console


def test_cp1252_file_gets_encoding_advice(tmp_path):
    (tmp_path / "c.csv").write_bytes(
        "customer_id,name,postcode,easting,northing\n1,Renée,WN5 9XP,354500,404100\n".encode(
            "cp1252"
        )
    )
    r = run("validate", "--customers", str(tmp_path / "c.csv"))
    assert r.returncode == 1 and "--encoding cp1252" in r.stderr and "line 2" in r.stderr
    assert (
        run("validate", "--customers", str(tmp_path / "c.csv"), "--encoding", "cp1252").returncode
        == 0
    )


SECRET_ROW = "1600000000001,Zebedee Quixote,7 Unlikely Lane,WN5 9XP,0161 496 0999,354500,404100"
SECRETS = ("Zebedee", "Quixote", "Unlikely", "496 0")


@pytest.mark.parametrize("debug", [False, True])
def test_headerless_file_shows_no_personal_data(tmp_path, debug):
    (tmp_path / "c.csv").write_text(f"{SECRET_ROW}\n{SECRET_ROW.replace('01,', '02,')}\n")
    args = ["--debug"] * debug + ["validate", "--customers", str(tmp_path / "c.csv")]
    r = run(*args)
    assert r.returncode != 0
    console = r.stdout + r.stderr
    for secret in SECRETS:
        assert secret not in console
    assert "column 2 (15 characters)" in console
    assert "looks like data" in console


def test_unused_columns_are_listed_with_how_to_map_them(tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,name,Addr Line1,postcode,Tel,Mobile,premise_ref,easting,northing\n"
        "1,Ann,1 Oak St,WN5 9XP,0161 496 0000,07700 900000,P1,354500,404100\n"
    )
    r = run("validate", "--customers", str(tmp_path / "c.csv"))
    assert r.returncode == 0, r.stderr
    assert "columns not used: 'Mobile', 'premise_ref'" in r.stdout
    assert "--map 'customers:Mobile=CANONICAL'" in r.stdout
    assert "columns read: customer_id, name, address_line_1, postcode, phone" in r.stdout
    mapped = run(
        "validate", "--customers", str(tmp_path / "c.csv"),
        "--map", "customers:Mobile=nominee_phone", "--map", "customers:premise_ref=premise_id",
    )  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert "columns not used" not in mapped.stdout


def test_ragged_rows_and_blank_lines_are_counted(tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,name,address_line_1,postcode,phone,easting,northing\n"
        f"{SECRET_ROW}\n\n   \n{SECRET_ROW.replace('01,', '02,')},extra\n"
        f"{SECRET_ROW.replace('01,', '03,')}\n"
    )
    out = tmp_path / "out"
    r = run("validate", "--customers", str(tmp_path / "c.csv"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "read         5   valid         2   rejected         3" in r.stdout
    assert "wrong_field_count" in r.stdout and "blank_row" in r.stdout
    rejects = (out / "rejects.csv").read_text()
    for secret in SECRETS:
        assert secret not in r.stdout + r.stderr
        assert secret not in rejects


def test_duplicate_header_is_a_one_line_error(tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,phone,Telephone,postcode,easting,northing\n1,1,2,WN5 9XP,354500,404100\n"
    )
    r = run("validate", "--customers", str(tmp_path / "c.csv"))
    assert r.returncode == 1
    assert "column 2 ('phone') and column 3 ('Telephone') both mean 'phone'" in r.stderr
    assert "Traceback" not in r.stderr
