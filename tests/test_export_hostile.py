"""Every hostile value through the CSV and XLSX writers: data in, the same data out, nothing run.

CSV keeps the spreadsheet neutralising of formula triggers (a leading ``'``);
everything else must read back exactly as written. A value that cannot be
encoded at all (a lone surrogate) is refused with an error naming the column
and row, never a raw UnicodeEncodeError and never a silent change.
"""

from __future__ import annotations

import csv
import re

import openpyxl
import pandas as pd
import pytest

from hostile import HOSTILE, UNENCODABLE, hostile_ids
from smartstreet_geo.errors import SmartStreetGeoError
from smartstreet_geo.export import FORMULA_TRIGGERS, write_csv, write_xlsx

_XLSX_ESCAPE = re.compile(r"_x([0-9A-F]{4})_")


def _expected_csv(value: str) -> str:
    risky = value.startswith(FORMULA_TRIGGERS) and not re.fullmatch(r"[+-]?\d+(\.\d*)?", value)
    return "'" + value if risky else value


def _frame(value: str) -> pd.DataFrame:
    # object dtype: pandas' string dtype cannot even hold a lone surrogate
    return pd.DataFrame(
        {
            "contact_ref": ["LF-000001", "LF-000002"],
            "text": pd.Series(["plain", value], dtype=object),
            "after": ["kept", "kept"],
        }
    )


@pytest.mark.parametrize(("hid", "value"), HOSTILE, ids=hostile_ids())
def test_csv_reads_back_the_same_text(tmp_path, hid, value):
    path = tmp_path / "out.csv"
    if hid in UNENCODABLE:
        with pytest.raises(SmartStreetGeoError, match=r"column 'text'.*row 2"):
            write_csv(_frame(value), path)
        assert not path.exists() and not list(tmp_path.iterdir())
        return
    write_csv(_frame(value), path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["contact_ref", "text", "after"]
    assert len(rows) == 3, "an embedded line break split a row"
    assert rows[2] == ["LF-000002", _expected_csv(value), "kept"]


@pytest.mark.parametrize(("hid", "value"), HOSTILE, ids=hostile_ids())
def test_xlsx_reads_back_the_same_text_never_a_formula(tmp_path, hid, value):
    path = tmp_path / "out.xlsx"
    if hid in UNENCODABLE:
        with pytest.raises(SmartStreetGeoError, match=r"column 'text'.*row 2"):
            write_xlsx(_frame(value), path)
        assert not path.exists() and not list(tmp_path.iterdir())
        return
    write_xlsx(_frame(value), path)
    ws = openpyxl.load_workbook(path).active
    cell = ws.cell(3, 2)
    assert cell.data_type == "s", "written as something other than text"
    # XML cannot hold control characters: XLSX stores them as _xHHHH_, which Excel decodes
    got = _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), cell.value)
    assert got == value  # exactly the text: no apostrophe prefix in XLSX (it would print)
    assert ws.cell(3, 3).value == "kept"
