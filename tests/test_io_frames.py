"""Readers given a DataFrame or GeoDataFrame: the same rows and rejects as the same data in a file.

The oracle is the file reader itself: the same values written to a file (or read
from the demo's files) and handed over as a frame must give equal valid rows and
equal rejects (reason, column, value, id); only the source's name differs, and
row numbers become the frame's index labels.
"""

from __future__ import annotations

import io
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point

import smartstreet_geo as ssg
from catalogue import CASES, HEADER_BNG, WIGAN_E, WIGAN_N, Case, bng_rows
from hostile import HOSTILE, UNENCODABLE, hostile_ids
from smartstreet_geo.errors import CRSError, InputFileError, MissingColumnError

_SOURCE = ["source_file", "message"]


def _same(file_result: ssg.ReadResult, frame_result: ssg.ReadResult) -> None:
    pd.testing.assert_frame_equal(file_result.data, frame_result.data)
    pd.testing.assert_frame_equal(
        file_result.rejects.drop(columns=_SOURCE), frame_result.rejects.drop(columns=_SOURCE)
    )
    assert file_result.n_input == frame_result.n_input
    assert dict(file_result.columns_used) == dict(frame_result.columns_used)
    assert file_result.columns_unused == frame_result.columns_unused


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """Index 1..n: the frame's labels are then the file's row numbers."""
    return frame.set_axis(pd.RangeIndex(1, len(frame) + 1), axis=0)


@pytest.fixture(scope="module")
def demo_customers() -> tuple[ssg.ReadResult, pd.DataFrame]:
    path = ssg.demo.path("customers")
    return ssg.read_customers(path), pd.read_parquet(path)


def test_demo_customers_frame_equals_file(demo_customers):
    from_file, frame = demo_customers
    assert from_file.n_rejected > 100  # the demo has every kind of bad row
    _same(from_file, ssg.read_customers(_numbered(frame)))


def test_demo_customers_row_numbers_are_index_labels(demo_customers):
    from_file, frame = demo_customers
    got = ssg.read_customers(frame)  # RangeIndex from 0: row numbers are the labels
    assert got.rejects["row_number"].tolist() == (from_file.rejects["row_number"] - 1).tolist()
    assert got.data["source_row"].tolist() == (from_file.data["source_row"] - 1).tolist()
    # a label finds the rejected row in the caller's frame
    first = got.rejects.iloc[0]
    assert frame.loc[first["row_number"], "customer_id"] == first["record_id"]
    assert got.source == "DataFrame"
    assert got.rejects["source_file"].eq("DataFrame").all()
    assert got.rejects["message"].str.startswith("DataFrame row ").all()


def test_shuffled_frame_keeps_its_labels(demo_customers):
    from_file, frame = demo_customers
    shuffled = _numbered(frame).sample(frac=1.0, random_state=7)
    got = ssg.read_customers(shuffled)
    # the same rows rejected, for the same reasons, named by the same labels (of exact
    # duplicates the first copy in the frame's order is kept, so which one is kept moves)
    exact = "exact_duplicate"

    def by_label(r: pd.DataFrame) -> pd.DataFrame:
        r = r[r["reason_code"] != exact].drop(columns=[*_SOURCE, "value"])
        return r.set_index("row_number").sort_index()

    pd.testing.assert_frame_equal(by_label(from_file.rejects), by_label(got.rejects))
    n_exact = (from_file.rejects["reason_code"] == exact).sum()
    assert n_exact > 0 and (got.rejects["reason_code"] == exact).sum() == n_exact
    assert got.n_valid == from_file.n_valid
    # a conflicting duplicate lists its twins by label (in the frame's order)
    conflict = got.rejects[got.rejects["reason_code"] == "conflicting_duplicate"]
    assert len(conflict)
    for label, message in zip(conflict["row_number"], conflict["message"], strict=True):
        listed = {int(x) for x in message.split(": rows ")[1].split(";")[0].split(", ")}
        assert label in listed and len(listed) >= 2


def test_text_or_repeated_index_gives_positions(demo_customers):
    _, frame = demo_customers
    small = frame.head(300)
    want = ssg.read_customers(_numbered(small))
    for index in (small["customer_id"].astype(str), pd.Index([5] * len(small))):
        got = ssg.read_customers(small.set_axis(index, axis=0))
        _same(want, got)


def test_demo_equipment_csv_frame_equals_file():
    path = ssg.demo.path("equipment")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    _same(ssg.read_equipment(path), ssg.read_equipment(_numbered(frame)))
    # pandas' own NaN for blanks reads the same
    _same(ssg.read_equipment(path), ssg.read_equipment(_numbered(pd.read_csv(path, dtype=str))))


def test_demo_network_geodataframes_equal_files():
    edges, subs = ssg.demo.path("network_edges"), ssg.demo.path("substations")
    from_file = ssg.read_network(edges, subs)
    e, s = gpd.read_parquet(edges), gpd.read_parquet(subs)
    got = ssg.read_network(_numbered(e), _numbered(s))
    _same(from_file.edges_result, got.edges_result)
    _same(from_file.substations_result, got.substations_result)


def test_geodataframe_in_degrees_is_converted_and_checked():
    pts = [Point(WIGAN_E + 10 * i, WIGAN_N) for i in range(3)]
    bng = gpd.GeoDataFrame(
        {"customer_id": ["1", "2", "3"], "postcode": ["WN5 9XP"] * 3}, geometry=pts, crs=27700
    )
    want = ssg.read_customers(bng)
    got = ssg.read_customers(bng.to_crs(4326))
    assert got.data.crs.to_epsg() == 27700
    assert np.allclose(
        np.c_[got.data.geometry.x, got.data.geometry.y],
        np.c_[want.data.geometry.x, want.data.geometry.y],
        atol=0.01,
    )
    with pytest.raises(CRSError, match="no coordinate reference system"):
        ssg.read_customers(bng.set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="declares"):
        ssg.read_customers(bng, crs="EPSG:4326")
    # swapped axes in a geometry are rejected row by row, as from a GeoPackage
    swapped = bng.copy()
    swapped.loc[1, "geometry"] = Point(WIGAN_N, WIGAN_E)
    bad = ssg.read_customers(swapped)
    assert bad.rejects["row_number"].tolist() == [1]
    assert bad.n_valid == 2


def test_frame_needs_the_same_columns_as_a_file():
    frame = pd.DataFrame({"MPAN": ["1"], "easting": [WIGAN_E], "northing": [WIGAN_N]})
    assert ssg.read_customers(frame).data["customer_id"].tolist() == ["1"]  # alias
    with pytest.raises(MissingColumnError, match="DataFrame: customer file has no"):
        ssg.read_customers(frame.rename(columns={"MPAN": "who"}))
    got = ssg.read_customers(frame.rename(columns={"MPAN": "who"}), columns={"who": "customer_id"})
    assert got.n_valid == 1


def test_wrong_input_types_are_explained():
    with pytest.raises(TypeError, match="DataFrame or GeoDataFrame"):
        ssg.read_customers([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InputFileError, match="needs a query"):
        ssg.read_customers("postgresql://localhost/db")
    with pytest.raises(TypeError, match=r"sql=\.\.\. needs a database URL"):
        ssg.read_customers(pd.DataFrame(), sql="select 1")


def _frame_from_csv(case: Case) -> pd.DataFrame | None:
    text = case.text if isinstance(case.text, str) else None
    if text is None:
        return None
    sep = case.kwargs.get("delimiter", ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
            sep=sep,
            header=None,  # the header as a row: repeated names stay as they are
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    header = [str(v) for v in frame.iloc[0]]
    return _numbered(frame.iloc[1:].set_axis(pd.Index(header, dtype=object), axis=1))


_FRAMEABLE = [
    c
    for c in CASES
    if c.error is None
    and c.suffix == ".csv"
    and "wrong_field_count" not in c.expected.values()  # a frame has no ragged rows
]


@pytest.mark.parametrize("case", _FRAMEABLE, ids=[c.id for c in _FRAMEABLE])
def test_catalogue_frame_equals_file(tmp_path, case: Case):
    frame = _frame_from_csv(case)
    if frame is None:
        pytest.skip("pandas cannot read this CSV text as a frame")
    path = tmp_path / f"{case.id}.csv"
    path.write_text(str(case.text), encoding="utf-8", newline="")
    kwargs = {k: v for k, v in case.kwargs.items() if k not in ("encoding", "delimiter")}
    with warnings.catch_warnings(record=True) as file_warnings:
        warnings.simplefilter("always")
        from_file = ssg.read_customers(path, **case.kwargs)
    with warnings.catch_warnings(record=True) as frame_warnings:
        warnings.simplefilter("always")
        from_frame = ssg.read_customers(frame, **kwargs)
    _same(from_file, from_frame)
    assert [str(w.message).replace(str(path), "DataFrame") for w in file_warnings] == [
        str(w.message) for w in frame_warnings
    ]


def test_catalogue_is_mostly_frameable():
    assert len(_FRAMEABLE) >= 40


_WRITABLE = [(i, v) for i, v in HOSTILE if i not in UNENCODABLE]


@pytest.mark.parametrize(
    ("hid", "value"), _WRITABLE, ids=[i for i in hostile_ids() if i not in UNENCODABLE]
)
def test_hostile_values_frame_equals_parquet(tmp_path, hid, value):
    rows = pd.read_csv(io.StringIO("\n".join([HEADER_BNG, *bng_rows(4)])), dtype=str)
    rows.loc[0, "customer_id"] = value  # a hostile id
    rows.loc[1, "name"] = value  # hostile personal text
    rows.loc[2, "postcode"] = value  # a hostile postcode: rejected, value shown or not
    rows.loc[3, "psr"] = value  # a hostile flag
    path = tmp_path / "hostile.parquet"
    rows.to_parquet(path)
    from_file = ssg.read_customers(path)
    from_frame = ssg.read_customers(_numbered(rows))
    _same(from_file, from_frame)
    assert from_frame.n_input == 4


def test_same_id_at_another_geometry_is_a_conflict_not_a_copy():
    # before: a file's own geometry was not compared, so the second location was dropped as an
    # "exact duplicate" of the first
    pts = [Point(WIGAN_E, WIGAN_N), Point(WIGAN_E + 40, WIGAN_N), Point(WIGAN_E, WIGAN_N)]
    frame = gpd.GeoDataFrame({"customer_id": ["1", "1", "2"]}, geometry=pts, crs=27700)
    got = ssg.read_customers(frame)
    assert got.rejects["reason_code"].tolist() == ["conflicting_duplicate"] * 2
    assert got.data["customer_id"].tolist() == ["2"]
    same = gpd.GeoDataFrame({"customer_id": ["1", "1"]}, geometry=pts[::2], crs=27700)
    assert ssg.read_customers(same).rejects["reason_code"].tolist() == ["exact_duplicate"]
