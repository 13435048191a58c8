"""XLSX writers for the letters mail-merge file: rows/s and peak memory (run by hand).

    python benchmarks/bench_xlsx.py --n 1000000
    python benchmarks/bench_xlsx.py --n 100000 --writers current,project

Each writer runs in a fresh subprocess on the same synthetic letters table (the 15
``LETTER_COLUMNS``, realistic text); peak memory is the child's VmHWM, and the
baseline (the table alone, before writing) is reported beside it. Writers:

- ``current``: the writer before issue 14, cell by cell with ``write_string``
  (copied here, so the comparison stays possible after the change);
- ``constant_memory``: xlsxwriter ``constant_memory`` with ``write_row``;
- ``project``: ``smartstreet_geo.export.write_xlsx`` as it is now;
- ``rustpy``: ``rustpy_xlsxwriter.write_worksheets`` (Rust, rust_xlsxwriter), if installed;
- ``pyexcelerate``: ``pyexcelerate.Workbook``, if installed.

Each child also writes the file twice a second apart and reports whether the
bytes are identical (reproducibility), and whether a text cell starting with
``=`` came back as text (read with openpyxl from a small file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from smartstreet_geo.export import LETTER_COLUMNS as COLUMNS  # the mail-merge columns

WHEN = dt.date(2027, 3, 1)


def letters(n: int, seed: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = np.array(["Alex", "Sam", "Priya", "Owen", "Siân", "Mohammed", "Joanne", "Chen"])
    last = np.array(["Smith", "Jones", "Patel", "O'Brien", "Williams", "Nowak", "Hughes", "Li"])
    streets = np.array(["High Street", "Church Lane", "Mill Road", "Station Road", "Park View"])
    towns = np.array(["WIGAN", "BOLTON", "LEIGH", "ORRELL", "ASHTON-IN-MAKERFIELD"])
    kinds = np.array(["LV capacitor", "OLTC transformer", "link box switch"])
    idx = np.arange(n)
    campaign = np.where(idx % 20 == 0, "installation_letter", "leaflet")
    frame = pd.DataFrame(
        {
            "contact_ref": pd.Series(idx + 1).map("LF-{:07d}".format),
            "campaign": campaign,
            "template_id": np.where(campaign == "leaflet", "LEAF/01", "INSTALL-01"),
            "addressee": pd.Series(first[rng.integers(0, 8, n)])
            + " "
            + pd.Series(last[rng.integers(0, 8, n)]),
            "address_line_1": pd.Series(rng.integers(1, 300, n)).astype(str)
            + " "
            + pd.Series(streets[rng.integers(0, 5, n)]),
            "address_line_2": np.where(rng.random(n) < 0.3, "Pemberton", ""),
            "address_line_3": "",
            "post_town": towns[rng.integers(0, 5, n)],
            "postcode": pd.Series(rng.integers(1, 9, n)).map("WN5 {}".format)
            + pd.Series(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), n))
            + pd.Series(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), n)),
            "accessible_format": np.where(rng.random(n) < 0.02, "large print", ""),
            "equipment_kind": kinds[rng.integers(0, 3, n)],
            "install_date": "2027-03-01",
            "outage_date": "",
            "circuit_id": pd.Series(rng.integers(1, 4000, n)).map("SS{:05d}-F1".format),
            "reason": "leaflet: served by circuit "
            + pd.Series(rng.integers(1, 4000, n)).map("SS{:05d}-F1".format)
            + ", within 150 m of the new equipment",
        }
    )
    return frame.astype("str")[list(COLUMNS)]


def by_template(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(t): g for t, g in frame.groupby("template_id", sort=False)}


def current(frames: dict[str, pd.DataFrame], out: io.BytesIO) -> None:
    """The writer before issue 14 (cell by cell, return codes ignored)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    wb.set_properties({"created": dt.datetime(2027, 3, 1), "author": "smartstreet-geo"})
    bold = wb.add_format({"bold": True})
    for name, safe in frames.items():
        ws = wb.add_worksheet(name.replace("/", "_"))
        for j, col in enumerate(safe.columns):
            ws.write_string(0, j, str(col), bold)
        for j, col in enumerate(safe.columns):
            values = safe[col]
            present = values.notna().to_numpy()
            texts = values.astype(object).to_numpy()
            write = ws.write_string
            for i in present.nonzero()[0].tolist():
                write(i + 1, j, str(texts[i]))
        ws.freeze_panes(1, 0)
        ws.autofit(max_width=60 * 7)
    wb.close()


def constant_memory(frames: dict[str, pd.DataFrame], out: io.BytesIO) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    wb.set_properties({"created": dt.datetime(2027, 3, 1), "author": "smartstreet-geo"})
    bold = wb.add_format({"bold": True})
    for name, safe in frames.items():
        ws = wb.add_worksheet(name.replace("/", "_"))
        ws.write_row(0, 0, [str(c) for c in safe.columns], bold)
        ws.freeze_panes(1, 0)
        cols = [safe[c].astype(object).where(safe[c].notna(), None).tolist() for c in safe]
        write_row = ws.write_row
        for i, row in enumerate(zip(*cols, strict=True), start=1):
            if write_row(i, 0, row):
                raise RuntimeError("write_row failed")
    wb.close()


def project(frames: dict[str, pd.DataFrame], out: io.BytesIO, tmp: Path) -> None:
    from smartstreet_geo.export import write_xlsx

    path = tmp / "letters.xlsx"
    write_xlsx(frames, path, created=WHEN)
    out.write(path.read_bytes())


def rustpy(frames: dict[str, pd.DataFrame], out: io.BytesIO) -> None:
    import rustpy_xlsxwriter

    rustpy_xlsxwriter.write_worksheets(
        [(name.replace("/", "_"), f) for name, f in frames.items()],
        out,
        freeze_panes={"general": {"row": 1, "col": 0}},
        bold_headers=True,
    )


def pyexcelerate(frames: dict[str, pd.DataFrame], out: io.BytesIO) -> None:
    from pyexcelerate import Workbook

    wb = Workbook()
    for name, f in frames.items():
        wb.new_sheet(name.replace("/", "_"), data=[list(f.columns), *f.to_numpy().tolist()])
    wb.save(out)


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(writer: str, n: int) -> dict[str, object]:
    import tempfile

    frames = by_template(letters(n))
    base = _vmhwm_mb()
    tmp = Path(tempfile.mkdtemp())

    def run(fr: dict[str, pd.DataFrame]) -> bytes:
        buf = io.BytesIO()
        if writer == "project":
            project(fr, buf, tmp)
        else:
            globals()[writer](fr, buf)
        return buf.getvalue()

    t0 = time.perf_counter()
    data = run(frames)
    seconds = time.perf_counter() - t0
    peak = _vmhwm_mb()
    # reproducibility and text safety on a small table (a second apart: a clock would show)
    small = letters(50)
    small.loc[3, "addressee"] = '=HYPERLINK("http://example.invalid","x")'
    one = run(by_template(small))
    time.sleep(1.1)
    two = run(by_template(small))
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(one))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    formula_as_text = all(c.data_type != "f" for c in cells) and any(
        c.value == small.loc[3, "addressee"] and c.data_type == "s" for c in cells
    )
    return {
        "writer": writer,
        "rows": n,
        "seconds": round(seconds, 2),
        "rows_per_s": round(n / seconds),
        "size_mb": round(len(data) / 1e6, 1),
        "table_mb": round(base),
        "peak_mb": round(peak),
        "reproducible": one == two,
        "formula_kept_as_text": formula_as_text,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--writers", default="current,constant_memory,project,rustpy,pyexcelerate")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.n)))
        return
    print(
        "| writer | rows/s | time | file | table alone | peak memory | same bytes | '=' as text |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for w in a.writers.split(","):
        r = subprocess.run(
            [sys.executable, __file__, "--n", str(a.n), "--child", w],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode:
            print(f"| {w} | failed: {r.stderr.strip().splitlines()[-1]} |")
            continue
        d = json.loads(r.stdout)
        print(
            f"| {w} | {d['rows_per_s']:,} | {d['seconds']} s | {d['size_mb']} MB | "
            f"{d['table_mb']:,} MB | {d['peak_mb']:,} MB | {d['reproducible']} | "
            f"{d['formula_kept_as_text']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
