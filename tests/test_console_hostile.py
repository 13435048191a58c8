"""Hostile text on the console: ids and names from the inputs never act on the terminal.

One campaign whose equipment ids are the whole hostile catalogue (each item due on
the run date, so each is named in a late-notice warning) and whose customers'
names and addresses are hostile too, run through the real command line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from hostile import HOSTILE
from smartstreet_geo.cli import main
from smartstreet_geo.cli._common import console_text

E, N = 354500.0, 404100.0
#: What a terminal obeys instead of showing (ESC, other C0/C1 controls, bidi overrides).
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
CSV_SAFE = [(i, v) for i, v in HOSTILE if i != "lone_surrogate"]  # a file cannot hold one


def _campaign(tmp_path: Path) -> Path:
    pd.DataFrame(
        [
            {
                "customer_id": f"C{k}",
                "name": f"Name {v}",
                "address_line_1": f"{k} {v}",
                "postcode": "WN5 9XP",
                "easting": E + k,
                "northing": N,
                "psr": "Y",
                "phone": "0161 496 0000",
                "circuit_id": "C1",
            }
            for k, (_, v) in enumerate(CSV_SAFE)
        ]
    ).to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame(
        [
            {
                "equipment_id": f"E{k} {v}",
                "kind": "lv_capacitor",
                "circuit_id": "C1",
                "install_date": "2027-01-04",
                "outage_required": "true",
                "easting": E,
                "northing": N + k,
            }
            for k, (_, v) in enumerate(CSV_SAFE)
        ]
    ).to_csv(tmp_path / "equipment.csv", index=False)
    (tmp_path / "campaign.toml").write_text(
        f"""
[campaign]
name = "hostile"
reference = "H-1"
run_date = "2027-01-04"
[inputs]
customers = "customers.csv"
equipment = "equipment.csv"
[scope]
circuits = ["C1"]
[radii]
lv_capacitor = 30
[campaigns]
produce = ["leaflet", "installation_letter", "outage_phone_call"]
[psr]
needs_codes = "{ssg.demo.path("psr_needs_codes").as_posix()}"
[outage]
use_install_date = true
""",
        encoding="utf-8",
    )
    return tmp_path / "campaign.toml"


def test_console_escapes_terminal_active_text_and_shows_no_personal_data(tmp_path, capsys):
    campaign = _campaign(tmp_path)
    code = main(["run", str(campaign), "--out", str(tmp_path / "out"), "--no-map", "--quiet"])
    out = capsys.readouterr()
    console = out.out + out.err
    assert code == 0, console
    assert not ACTIVE.search(console), ACTIVE.search(console)
    # every item due today is named in a warning, escaped where it must be
    read = ssg.read_equipment(tmp_path / "equipment.csv").data["equipment_id"]
    assert len(read) > 20
    for eid in read:
        assert console_text(eid) in console
    # names and addresses never reach the console
    for _, v in CSV_SAFE:
        if len(v) > 3 and not v.isspace():
            assert f"Name {v}" not in console


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        ("abc\u202edcba", "abc\\u202edcba"),
        ("a\x00b\x07c", "a\\x00b\\x07c"),
        ("tab\there", "tab\\there"),
        ("two\nlines", "two\nlines"),
        ("Tŷ Gwyn 東京 🏠 {{7*7}} <b>", "Tŷ Gwyn 東京 🏠 {{7*7}} <b>"),
    ],
)
def test_console_text_shows_only_active_characters_as_escapes(value, shown):
    assert console_text(value) == shown
    assert not ACTIVE.search(console_text(value).replace("\n", ""))
