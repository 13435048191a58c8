"""XLSX writer: nothing cut silently (rows past Excel's limit, long cells), text stays text, same bytes.

The row limit is monkeypatched small so the split is tested fast; one slow test
writes the real 1,048,576-row boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from hostile import HOSTILE, UNENCODABLE
from smartstreet_geo import export
from smartstreet_geo.errors import SmartStreetGeoError
from smartstreet_geo.export import OutputError, write_xlsx

_XLSX_ESCAPE = re.compile(r"_x([0-9A-F]{4})_")


def _rows(ws) -> list[list[object]]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def _table(n: int, prefix: str = "R") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_ref": [f"{prefix}-{i:04d}" for i in range(1, n + 1)],
            "n": [float(i) for i in range(n)],
        }
    )


def test_a_table_past_the_row_limit_continues_on_further_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 4)  # header + 3 data rows per sheet
    leaf, inst = _table(7, "LF"), _table(2, "IL")
    out = write_xlsx({"LEAF/01": leaf, "INSTALL-01": inst}, tmp_path / "l.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["LEAF_01", "LEAF_01 (2)", "LEAF_01 (3)", "INSTALL-01"]
    assert [(s.source, s.part, s.first_row, s.rows) for s in out.sheets] == [
        ("LEAF/01", 1, 1, 3),
        ("LEAF/01", 2, 4, 3),
        ("LEAF/01", 3, 7, 1),
        ("INSTALL-01", 1, 1, 2),
    ]
    got = []
    for name in wb.sheetnames[:3]:
        rows = _rows(wb[name])
        assert rows[0] == ["contact_ref", "n"]  # every part has the header
        assert len(rows) <= 4
        got += rows[1:]
    assert got == leaf.to_numpy().tolist()  # every row once, in order: nothing lost
    assert _rows(wb["INSTALL-01"])[1:] == inst.to_numpy().tolist()
    assert out.layout()[1] == {
        "sheet": "LEAF_01 (2)",
        "table": "LEAF/01",
        "part": 2,
        "first_row": 4,
        "rows": 3,
    }


def test_split_sheet_names_stay_within_31_characters_and_distinct(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    long = "T" * 40
    out = write_xlsx({long: _table(5), "x": _table(3), "X (2)": _table(1)}, tmp_path / "l.xlsx")
    names = [s.name for s in out.sheets]
    assert all(len(n) <= 31 for n in names)
    assert len({n.casefold() for n in names}) == len(names)
    assert names[:3] == ["T" * 31, "T" * 27 + " (2)", "T" * 27 + " (3)"]
    # "x" split into "x (2)" clashes with the table named "X (2)": that one is renamed, not lost
    assert [s.source for s in out.sheets] == [long] * 3 + ["x", "x", "X (2)"]
    assert openpyxl.load_workbook(out).sheetnames == names


def test_an_empty_table_still_gets_its_sheet(tmp_path):
    out = write_xlsx({"a": _table(0)}, tmp_path / "e.xlsx")
    assert [(s.name, s.rows) for s in out.sheets] == [("a", 0)]
    assert _rows(openpyxl.load_workbook(out)["a"]) == [["contact_ref", "n"]]


@pytest.mark.parametrize(
    ("value", "units"),
    [("x" * 32_768, 32_768), ("🏠" * 16_384, 32_768)],  # Excel counts UTF-16 units
    ids=["ascii", "astral"],
)
def test_an_over_long_cell_is_refused_before_anything_is_written(tmp_path, value, units):
    frame = pd.DataFrame({"contact_ref": ["A", "B", "C"], "reason": ["ok", "ok", value]})
    with pytest.raises(SmartStreetGeoError, match=rf"column 'reason', row 3 holds {units:,}") as e:
        write_xlsx({"LEAF": frame, "OTHER": _table(1)}, tmp_path / "l.xlsx")
    assert "sheet 'LEAF'" in str(e.value)
    assert "xxxx" not in str(e.value) and "🏠" not in str(e.value)  # never the value itself
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def test_a_cell_at_the_limit_is_written_whole(tmp_path):
    value = "y" * 32_767
    frame = pd.DataFrame({"reason": [value, "é" * 32_767]})
    write_xlsx(frame, tmp_path / "l.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "l.xlsx").active
    assert ws["A2"].value == value and ws["A3"].value == "é" * 32_767


def test_an_infinite_number_is_refused(tmp_path):
    frame = pd.DataFrame({"distance_m": [1.0, float("inf")]})
    with pytest.raises(SmartStreetGeoError, match=r"column 'distance_m', row 2 .*infinite"):
        write_xlsx(frame, tmp_path / "l.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_header_write_raises_and_writes_nothing(tmp_path, monkeypatch):
    import xlsxwriter.worksheet

    monkeypatch.setattr(xlsxwriter.worksheet.Worksheet, "write_row", lambda *a, **k: -2)
    with pytest.raises(OutputError, match=r"sheet 'letters' \(code -2"):
        write_xlsx(_table(3), tmp_path / "l.xlsx")
    assert list(tmp_path.iterdir()) == []


def _xlsxwriter_reference(frame: pd.DataFrame, path) -> None:
    """The workbook as xlsxwriter writes it cell by cell (constant-memory mode): the oracle."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet("letters")
    bold = wb.add_format({"bold": True})
    ws.freeze_panes(1, 0)
    for j, col in enumerate(frame.columns):
        longest = frame[col].astype("str").str.len().max() if len(frame) else 0
        width = max(len(str(col)) * 1.15, float(0 if pd.isna(longest) else longest)) + 1.5
        ws.set_column(j, j, min(width, 60.0))
    ws.write_row(0, 0, [str(c) for c in frame.columns], bold)
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, v in enumerate(row):
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                continue
            if isinstance(v, bool):
                v = "true" if v else "false"
            if isinstance(v, float | int) and not isinstance(v, bool):
                assert ws.write_number(i, j, v) == 0
            else:
                assert ws.write(i, j, str(v)) in (0, -1) or str(v) == ""
    wb.close()


def _sheet_xml(path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every part's CRC checks
        return zf.read("xl/worksheets/sheet1.xml")


RICH = "<r><t>rich</t></r>"  # xlsxwriter writes this unescaped (as markup); we never do


@pytest.mark.parametrize(("seed", "block"), [(0, None), (1, None), (2, None), (0, 7), (1, 4)])
def test_sheet_xml_is_byte_for_byte_what_xlsxwriter_writes(tmp_path, monkeypatch, seed, block):
    """The column-wise writer (smartstreet_geo._xlsx) against xlsxwriter itself, cell by cell.

    Hostile text (controls, literal _xHHHH_, markup, surrounding white space of every
    kind, non-characters), numbers, booleans, blanks, empty strings, whole empty rows and
    columns, in random order; the last 10 rows blank. With ``block``, rows are rendered
    that many at a time (the last blocks wholly blank: the sheet's last row is found in
    an earlier one).
    """
    import numpy as np

    from smartstreet_geo import _xlsx

    if block is not None:
        monkeypatch.setattr(_xlsx, "BLOCK_ROWS", block)

    rng = np.random.default_rng(seed)
    texts = [v for h, v in HOSTILE if h not in UNENCODABLE and v != RICH]
    texts += ["", " lead", "trail\t", "\u3000ideo", "x\u2028", "_x0041_", "\ufffe", "a\x0bb"]
    n = 300
    frame = pd.DataFrame(
        {
            "ref": [f"LF-{i:04d}" for i in range(n)],
            "text": pd.Series([texts[k] for k in rng.integers(len(texts), size=n)], dtype="str"),
            "obj": pd.Series(
                [None if k % 5 == 0 else texts[k % len(texts)] for k in range(n)], dtype=object
            ),
            "num": [float(x) if x % 7 else float("nan") for x in rng.integers(-(10**6), 10**6, n)],
            "tiny": rng.normal(size=n) * 1e-9,
            "flag": rng.integers(2, size=n).astype(bool),
            "empty": pd.Series([None] * n, dtype="str"),
        }
    )
    frame.loc[frame.index[::17], ["ref", "text", "obj", "num", "tiny"]] = None
    frame.loc[frame.index[::17], "flag"] = pd.NA if False else frame["flag"][::17]
    blank_rows = frame.index[5::23]
    frame = frame.astype({"flag": object})
    frame.loc[blank_rows, :] = None
    frame.loc[frame.index[-10:], :] = None
    mine, ref = tmp_path / "mine.xlsx", tmp_path / "ref.xlsx"
    write_xlsx(frame, mine)
    _xlsxwriter_reference(frame, ref)
    assert _sheet_xml(mine) == _sheet_xml(ref)


def test_a_rich_text_lookalike_is_escaped_not_written_as_markup(tmp_path):
    out = write_xlsx(pd.DataFrame({"name": [RICH, "x"]}), tmp_path / "r.xlsx")
    assert b"&lt;r&gt;&lt;t&gt;rich" in _sheet_xml(out)
    ws = openpyxl.load_workbook(out, read_only=True)["letters"]
    assert _rows(ws)[1] == [RICH]


def test_hostile_values_read_back_as_the_same_text_across_a_split(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 6)
    values = [v for h, v in HOSTILE if h not in UNENCODABLE]
    frame = pd.DataFrame(
        {
            "contact_ref": [f"LF-{i:03d}" for i in range(len(values))],
            "text": pd.Series(values, dtype=object),
            "flag": [True, False] * (len(values) // 2) + [True] * (len(values) % 2),
        }
    )
    out = write_xlsx({"LEAF": frame}, tmp_path / "h.xlsx")
    assert len(out.sheets) == -(-len(values) // 5)
    wb = openpyxl.load_workbook(out)
    cells = [row for ws in wb.worksheets for row in list(ws.iter_rows())[1:]]
    assert len(cells) == len(values)
    for row, value, flag in zip(cells, values, frame["flag"], strict=True):
        assert all(c.data_type == "s" for c in row), "written as something other than text"
        got = _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), row[1].value)
        assert got == value
        assert row[2].value == ("true" if flag else "false")  # a flag is text, not TRUE


def test_same_inputs_give_the_same_bytes_and_the_date_is_the_given_one(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    frames = {"LEAF/01": _table(5), "B": _table(2)}
    write_xlsx(frames, tmp_path / "a.xlsx", created=dt.date(2027, 3, 1))
    write_xlsx(frames, tmp_path / "b.xlsx", created=dt.date(2027, 3, 1))
    write_xlsx(frames, tmp_path / "c.xlsx", created=dt.date(2027, 3, 2))
    a = (tmp_path / "a.xlsx").read_bytes()
    assert a == (tmp_path / "b.xlsx").read_bytes()
    assert a != (tmp_path / "c.xlsx").read_bytes()
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").properties.created == dt.datetime(2027, 3, 1)
    assert (tmp_path / "a.xlsx").stat().st_mode & 0o777 == 0o600


def test_the_campaign_manifest_lists_the_letter_sheets(tmp_path, monkeypatch):
    from smartstreet_geo.export import write_campaign
    from test_campaign import E, N, customer, make_inputs, run  # the campaign tests' small inputs

    rows = [customer("1", 10, premise="A"), customer("2", 200, premise="B")]
    cfg = make_inputs(tmp_path, rows, [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"])
    cfg["templates"] = {"leaflet": "LEAF/01", "installation_letter": "INSTALL-01"}
    result = run(tmp_path, cfg)
    limit = 2  # one letter per sheet: the two leaflets need two sheets
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", limit)
    out = tmp_path / "out"
    write_campaign(result, out)
    layout = json.loads((out / "manifest.json").read_text())["xlsx_sheets"]
    sheets = layout["letters.xlsx"]
    wb = openpyxl.load_workbook(out / "letters.xlsx", read_only=True)
    assert [s["sheet"] for s in sheets] == wb.sheetnames
    assert any(s["part"] == 2 for s in sheets)
    for s in sheets:
        assert wb[s["sheet"]].max_row == s["rows"] + 1
    rows = pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False)
    assert sum(s["rows"] for s in sheets) == len(rows)  # every letter is in the XLSX
    by_table: dict[str, int] = {}
    for s in sheets:
        by_table[s["table"]] = by_table.get(s["table"], 0) + s["rows"]
    assert by_table == rows["template_id"].value_counts().to_dict()


@pytest.mark.slow
def test_the_real_row_limit(tmp_path):
    n = export.XLSX_MAX_ROWS  # one more data row than a sheet holds under its header
    frame = pd.DataFrame({"ref": pd.RangeIndex(n).astype(str)})
    out = write_xlsx({"LEAF": frame}, tmp_path / "big.xlsx")
    assert [(s.name, s.rows) for s in out.sheets] == [("LEAF", n - 1), ("LEAF (2)", 1)]
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb["LEAF (2)"]["A2"].value == str(n - 1)


def test_letters_by_template_are_groupbys_groups_without_copying_runs():
    """``_groups`` gives exactly ``groupby(sort=False, dropna=False)``'s groups (names, order,
    rows, index), as slices of the table where each value's rows are one run."""
    from smartstreet_geo.export import _groups

    rng = np.random.default_rng(7)
    for trial in range(400):
        n = int(rng.integers(0, 30))
        values = rng.choice(np.array(["T1", "T2", None, "T3"], dtype=object), n)
        if trial % 2:  # runs, as letters sorted by campaign give them
            values = np.array(sorted(values, key=lambda v: (v is None, v or "")), dtype=object)
        column = pd.Series(values, dtype="str" if trial % 3 else object)
        table = pd.DataFrame({"template_id": column, "row": np.arange(n)})
        table.index = rng.permutation(n) + 10
        got = _groups(table, "template_id")
        want = {str(k): g for k, g in table.groupby("template_id", sort=False, dropna=False)}
        assert list(got) == list(want)
        for name in want:
            pd.testing.assert_frame_equal(got[name], want[name])
    runs = pd.DataFrame({"template_id": ["A"] * 5 + ["B"] * 3, "x": np.arange(8)})
    a = _groups(runs, "template_id")["A"]
    assert np.shares_memory(a["x"].to_numpy(), runs["x"].to_numpy())  # a view, not a copy


# --------------------------------------------------------------------------- the package's deflate
def _stream(chunks: list[bytes], piece: int, threads: int, monkeypatch) -> bytes:
    from smartstreet_geo import _threads, _xlsx

    monkeypatch.setattr(_xlsx, "DEFLATE_PIECE", piece)
    monkeypatch.setattr(_threads, "max_threads", lambda: threads)
    deflate = _xlsx.Deflate()
    return b"".join(b"".join(deflate.compress(c)) for c in chunks) + deflate.flush()


def _sheet_like(n: int, seed: int) -> bytes:
    from smartstreet_geo import _xlsx

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "reference": [f"SS-DEMO-2027-LF-{i:07d}" for i in rng.permutation(n)],
            "addressee": rng.choice(["The Occupier", "Mx A Example", "Dr B Sample"], n),
            "line_1": [f"{k} Example Road" for k in rng.integers(1, 400, n)],
            "postcode": [f"WN{a} {b}XX" for a, b in rng.integers(1, 9, (n, 2))],
        }
    )
    rows, _ = _xlsx.sheet_rows(frame)
    return b"".join(bytes(b) for b in rows)


@pytest.mark.parametrize("piece", [1, 1000, 40_000, 4 << 20])
def test_the_deflate_stream_inflates_to_the_bytes_whatever_the_pieces(monkeypatch, piece):
    """Chunks empty, shorter than a piece, than DEFLATE's 32 KiB window, and random bytes."""
    import os
    import zlib

    sheet = _sheet_like(3000, 0)
    chunks = [b"<sheetData>", b"", sheet[:70_000], os.urandom(5000), sheet[70_000:], b"</x>"]
    stream = _stream(chunks, piece, 2, monkeypatch)
    assert zlib.decompress(stream, -15) == b"".join(chunks)  # zlib itself reads it back


def test_each_piece_refers_back_across_its_start(monkeypatch):
    """A piece is primed with the 32 KiB before it: as small as one zlib stream (the oracle).

    Random 20 KB repeated: every byte but the first copy's is a reference 20 KB back, across
    the pieces' starts too (without the priming, each piece's first 20 KB cannot be).
    """
    import os
    import zlib

    motif = os.urandom(20_000)
    data = motif * 30
    stream = _stream([data[:50_000], data[50_000:]], 40_000, 2, monkeypatch)
    assert zlib.decompress(stream, -15) == data
    one = zlib.compressobj(1, zlib.DEFLATED, -15)
    assert len(stream) <= 1.02 * len(one.compress(data) + one.flush())


def test_the_deflate_stream_is_the_same_bytes_on_one_thread_or_two(monkeypatch):
    """The pieces depend on the bytes alone, never on which thread took which piece."""
    import concurrent.futures

    chunks = [_sheet_like(4000, seed) for seed in range(3)]
    one = _stream(chunks, 20_000, 1, monkeypatch)
    assert _stream(chunks, 20_000, 2, monkeypatch) == one
    with concurrent.futures.ThreadPoolExecutor(3) as pool:  # pieces of three streams at once
        assert (
            list(pool.map(lambda _: _stream(chunks, 20_000, 2, monkeypatch), range(3))) == [one] * 3
        )
