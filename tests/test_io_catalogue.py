"""Every awkward input in the catalogue gives exactly the expected outcome, losing no row."""

from __future__ import annotations

import pandas as pd
import pytest

import smartstreet_geo as ssg
from catalogue import CASES, Case


def _write(tmp_path, case: Case):
    path = tmp_path / f"{case.id}{case.suffix}"
    data = case.text if isinstance(case.text, bytes) else case.text.encode("utf-8")
    path.write_bytes(data)
    return path


def _data_rows(case: Case) -> int:
    if case.n_rows is not None:
        return case.n_rows
    text = case.text.decode("cp1252") if isinstance(case.text, bytes) else case.text
    return len(pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue_case(tmp_path, case: Case):
    path = _write(tmp_path, case)
    if case.error is not None:
        with pytest.raises(case.error) as info:
            ssg.read_customers(path, **case.kwargs)
        assert case.message in str(info.value)
        assert str(path.name) in str(info.value)  # the message names the file
        return
    result = ssg.read_customers(path, **case.kwargs)
    n = _data_rows(case)
    # nothing lost: valid + rejected = input, and every input row appears exactly once
    assert result.n_input == n
    assert result.n_valid + result.n_rejected == n
    rows = sorted([*result.data["source_row"].tolist(), *result.rejects["row_number"].tolist()])
    assert rows == list(range(1, n + 1))
    got = dict(zip(result.rejects["row_number"], result.rejects["reason_code"], strict=True))
    assert got == case.expected
    assert result.data.crs.to_epsg() == 27700
    assert result.data.geometry.geom_type.eq("Point").all()
    # every reject names the file, row and column and says what to do
    for _, r in result.rejects.iterrows():
        assert f"row {r['row_number']}" in r["message"]
        assert r["column"]
        assert r["source_file"] == str(path)


def test_cp1252_text_is_decoded_when_declared(tmp_path):
    case = next(c for c in CASES if c.id == "cp1252_with_encoding")
    result = ssg.read_customers(_write(tmp_path, case), encoding="cp1252")
    assert "Renée Brontë" in result.data["name"].tolist()


def test_embedded_newlines_become_single_spaces(tmp_path):
    case = next(c for c in CASES if c.id == "embedded_newline")
    data = ssg.read_customers(_write(tmp_path, case)).data
    row = data[data["customer_id"] == "1600000000099"].iloc[0]
    assert row["name"] == "Ann Smith"
    assert row["address_line_1"] == "Flat 2 1 Oak Street"


def test_postcodes_are_normalised(tmp_path):
    case = next(c for c in CASES if c.id == "postcode_needing_normalising")
    data = ssg.read_customers(_write(tmp_path, case)).data
    assert set(data["postcode"]) == {"WN5 9XP"}


def test_psr_flag_taken_from_needs_when_blank(tmp_path):
    case = next(c for c in CASES if c.id == "psr_blank_with_needs")
    data = ssg.read_customers(_write(tmp_path, case)).data.set_index("customer_id")
    assert bool(data.loc["1600000000099", "psr"]) is True
    assert bool(data.loc["1600000000000", "psr"]) is False


def test_lonlat_and_bng_inputs_give_the_same_place(tmp_path):
    bng = ssg.read_customers(_write(tmp_path, next(c for c in CASES if c.id == "good_bng"))).data
    ll = ssg.read_customers(_write(tmp_path, next(c for c in CASES if c.id == "good_lonlat"))).data
    # first rows are the same place to within the 6-decimal rounding of the degrees (~0.1 m)
    assert bng.geometry.iloc[0].distance(ll.geometry.iloc[0]) < 0.15


def test_personal_values_are_not_copied_into_rejects(tmp_path):
    case = next(c for c in CASES if c.id == "very_long_field")
    rejects = ssg.read_customers(_write(tmp_path, case)).rejects
    assert "AAAA" not in rejects.to_csv()
    assert "300 characters, not shown" in rejects["value"].iloc[0]


def test_result_unpacks_and_summarises(tmp_path):
    case = next(c for c in CASES if c.id == "conflicting_duplicate")
    result = ssg.read_customers(_write(tmp_path, case))
    data, rejects = result
    assert len(data) == 1
    assert len(rejects) == 2
    assert result.summary().endswith("3 rows read = 1 valid + 2 rejected (conflicting_duplicate 2)")
    assert any("different data" in n for n in result.notes)


def test_exact_duplicate_keeps_the_first_copy(tmp_path):
    case = next(c for c in CASES if c.id == "exact_duplicate")
    result = ssg.read_customers(_write(tmp_path, case))
    assert result.data["source_row"].tolist() == [1, 2]
    assert "same as row 2" in result.rejects["message"].iloc[0]
    assert result.n_faults == 0


def test_duplicate_ids_in_other_scripts_digits(tmp_path):
    """Ids that are digits of another script are not numbers to us: compared as text."""
    from smartstreet_geo import read_customers

    path = tmp_path / "c.csv"
    path.write_text(
        "customer_id,easting,northing,postcode\n"
        "١٢,383000,398000,M9 4AB\n١٢,383000,398000,M9 4AB\n12,383001,398000,M9 4AB\n",
        encoding="utf-8",
    )
    result = read_customers(path, check_postcodes=False)
    assert result.n_valid == 2 and result.n_input == 3
    assert result.rejects["reason_code"].tolist() == ["exact_duplicate"]


def test_every_postcode_blank(tmp_path):
    """A postcode column with no values: every row rejected as missing_postcode, none lost."""
    from smartstreet_geo import read_customers

    path = tmp_path / "c.csv"
    path.write_text(
        "customer_id,easting,northing,postcode\nC1,354500,404100,\nC2,354500,404100, \n",
        encoding="utf-8",
    )
    result = read_customers(path)
    assert result.n_valid == 0 and result.n_input == 2
    assert result.rejects["reason_code"].tolist() == ["missing_postcode", "missing_postcode"]
