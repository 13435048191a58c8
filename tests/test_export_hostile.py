"""Every hostile value through the CSV and XLSX writers: data in, the same data out, nothing run.

CSV keeps the spreadsheet neutralising of formula triggers (a leading ``'``);
everything else must read back exactly as written. A value that cannot be
encoded at all (a lone surrogate) is refused with an error naming the column
and row, never a raw UnicodeEncodeError and never a silent change.
"""

from __future__ import annotations

import csv
import re

import numpy as np
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


@pytest.mark.parametrize("at", [0, 6, 7, 12, 20])
def test_csv_names_the_row_of_unencodable_text_in_a_later_block(tmp_path, monkeypatch, at):
    # object columns are made text a block of rows at a time: the row named is the file's
    # data row, and nothing of the file is left
    from smartstreet_geo import export

    monkeypatch.setattr(export, "CSV_BLOCK_ROWS", 7)
    n = 21
    texts = np.array([f"t{i}" for i in range(n)], dtype=object)
    texts[at] = "a\ud800b"
    frame = pd.DataFrame({"n": np.arange(n), "number": [1.5] * n})
    frame["text"] = pd.Series(texts, dtype=object)  # (the str dtype cannot hold it at all)
    frame["mixed"] = pd.Series([i if i % 2 else f"s{i}" for i in range(n)], dtype=object)
    path = tmp_path / "out.csv"
    with pytest.raises(SmartStreetGeoError, match=rf"out.csv: column 'text', row {at + 1} "):
        write_csv(frame, path)
    assert not list(tmp_path.iterdir())
    frame.loc[at, "text"] = "fine"
    write_csv(frame, path)
    want = frame.to_csv(index=False, lineterminator="\r\n")
    assert path.read_bytes() == want.encode("utf-8")


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
