"""write_csv: the compiled writer writes exactly what pandas' to_csv writes (after neutralising).

The oracle is the writer it replaces: ``neutralise_formulae`` on every column, then
``DataFrame.to_csv(index=False, lineterminator="\\r\\n")`` (Python's csv module).
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from hostile import HOSTILE, UNENCODABLE
from smartstreet_geo import export
from smartstreet_geo.export import neutralise_formulae, write_csv


def _reference(frame: pd.DataFrame, float_format: str | None = None) -> bytes:
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = neutralise_formulae(safe[col])
    buf = io.StringIO()
    safe.to_csv(buf, index=False, lineterminator="\r\n", float_format=float_format)
    return buf.getvalue().encode("utf-8")


TEXTS = [v for h, v in HOSTILE if h not in UNENCODABLE] + [
    "", " ", "-2.5", "+44", "-", "+", "=", "@", ".5", "5.", "1e5", "-1e+5", "1e", "--1", "+.e1",
    "a,b", 'q"r', "x\r\ny", "\tlead", "\rlead", "é", "日本", "=HYPERLINK(\"x\")", "'already",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_byte_for_byte_what_pandas_writes(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 400
    pick = rng.integers(len(TEXTS), size=n)
    frame = pd.DataFrame(
        {
            "text": pd.Series([TEXTS[k] for k in pick], dtype="str"),
            "obj": pd.Series(
                [None if k % 7 == 0 else TEXTS[k] if k % 3 else float(k) - 50.5 for k in pick],
                dtype=object,
            ),
            # text and missing values only: converted by Arrow, not str() of each value
            "objtext": pd.Series(
                [[None, float("nan"), pd.NA][k % 3] if k % 4 == 0 else TEXTS[k] for k in pick],
                dtype=object,
            ),
            "mixed": pd.Series(
                [True, 3, -2.0, None, dt.date(2027, 1, 4), "=x", float("nan")] * (n // 7)
                + [None] * (n % 7),
                dtype=object,
            ),
            "float": np.where(
                rng.random(n) < 0.1, np.nan, rng.normal(size=n) * 10.0 ** rng.integers(-8, 20, n)
            ),
            "int": rng.integers(-(10**12), 10**12, size=n),
            "nint": pd.array([None if k % 5 == 0 else int(k) - 20 for k in pick], dtype="Int64"),
            "flag": rng.integers(2, size=n).astype(bool),
            "nflag": pd.array([None if k % 4 == 0 else bool(k % 2) for k in pick], dtype="boolean"),
            "blank": pd.Series([None] * n, dtype="str"),
        }
    )
    frame.loc[frame.index[::11], "text"] = None
    out = write_csv(frame, tmp_path / "a.csv")
    assert out.read_bytes() == _reference(frame)
    assert write_csv(frame, tmp_path / "b.csv", float_format="%.2f").read_bytes() == _reference(
        frame, "%.2f"
    )


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": ["", None, "x", ",", "=1"]}),
        pd.DataFrame({"only": pd.Series([None, None], dtype="str")}),
        pd.DataFrame({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype=float)}),
        pd.DataFrame({'h"q': ["1"], "h,c": ["2"], "=h": ["3"]}),
        pd.DataFrame({"when": pd.to_datetime(["2027-01-04", None])}),  # left to pandas
        pd.DataFrame({"c": pd.Categorical(["a", "=b", None])}),  # left to pandas
    ],
    ids=["one-column", "one-column-empty", "no-rows", "headers", "datetime", "category"],
)
def test_edge_shapes(tmp_path, frame):
    assert write_csv(frame, tmp_path / "x.csv").read_bytes() == _reference(frame)


def test_the_demo_outputs_are_unchanged(tmp_path):
    from smartstreet_geo import demo, run_campaign

    result = run_campaign(demo.path("campaign"))
    for name, table in {
        "reconciliation": result.reconciliation,
        "contacts": result.contacts.drop(columns=["geometry"], errors="ignore"),
        "manual": result.manual_review,
        "rejects": result.rejects,
    }.items():
        assert write_csv(table, tmp_path / f"{name}.csv").read_bytes() == _reference(table), name


def test_only_text_columns_are_converted_by_arrow():
    from smartstreet_geo._xlsx import only_text

    text = pd.Series(["=a", None, float("nan"), pd.NA, pd.NaT, "é"], dtype=object)
    assert only_text(text).to_pylist() == ["=a", None, None, None, None, "é"]
    assert only_text(pd.Series([None, None], dtype=object)).to_pylist() == [None, None]
    # anything but text is left to str() of each value: bytes would not be their str()
    for other in (b"x", True, 1, 1.5, dt.date(2027, 1, 4), "\ud800"):
        assert only_text(pd.Series(["a", other], dtype=object)) is None, other


def test_the_kernel_is_used_for_the_usual_columns(monkeypatch, tmp_path):
    frame = pd.DataFrame({"a": ["=1", "x"], "n": [1.5, None], "k": [1, 2]})
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda *a, **k: pytest.fail("pandas wrote it"))
    assert export._csv_chunks(frame, None) is not None
    write_csv(frame, tmp_path / "k.csv")


def test_a_file_written_in_blocks_of_rows_is_the_same_bytes(monkeypatch, tmp_path):
    """Blocks of 7 rows (a file is rendered a block at a time) give pandas' bytes."""
    from smartstreet_geo import demo, run_campaign

    result = run_campaign(demo.path("campaign"))
    monkeypatch.setattr(export, "CSV_BLOCK_ROWS", 7)
    for name, table in {
        "reconciliation": result.reconciliation.iloc[:1000],
        "contacts": result.contacts.drop(columns=["geometry"], errors="ignore").iloc[:999],
        "rejects": result.rejects,
    }.items():
        assert write_csv(table, tmp_path / f"{name}.csv").read_bytes() == _reference(table), name
