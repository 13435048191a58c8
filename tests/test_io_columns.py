"""Every column and every line of an input file is accounted for, and none is shown as data."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import Point

import smartstreet_geo as ssg
from catalogue import HEADER_BNG, WIGAN_E, WIGAN_LAT, WIGAN_LON, WIGAN_N, bng_rows
from smartstreet_geo import errors
from smartstreet_geo.io._columns import ALIASES, column_labels, header_looks_like_data

# values that must never appear in a message, summary, repr or error
SECRETS = ("Zebedee", "Quixote", "Unlikely Lane", "0161 496 0999")
ROW = f"1600000000001,Zebedee Quixote,7 Unlikely Lane,WN5 9XP,{WIGAN_E},{WIGAN_N},0161 496 0999"


def _write(tmp_path, text: str, name: str = "c.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_unused_columns_are_listed_and_used_ones_mapped(tmp_path):
    path = _write(
        tmp_path,
        "MPAN,Name,Addr Line1,Telephone,premise_ref,Mobile,Post Code,Eastings,Northings\n"
        f"1600000000001,Ann,1 Oak St,0161 496 0000,P1,07700 900000,WN5 9XP,{WIGAN_E},{WIGAN_N}\n",
    )
    r = ssg.read_customers(path)
    assert dict(r.columns_used) == {
        "MPAN": "customer_id",
        "Name": "name",
        "Addr Line1": "address_line_1",
        "Telephone": "phone",
        "Post Code": "postcode",
        "Eastings": "easting",
        "Northings": "northing",
    }
    # not guessed: a premise reference may not be the premise key, a mobile may be a nominee's
    assert r.columns_unused == ("premise_ref", "Mobile")
    assert r.summary().endswith("; columns not used: 'premise_ref', 'Mobile'")
    assert r.data["phone"].tolist() == ["0161 496 0000"]
    assert r.data["address_line_1"].tolist() == ["1 Oak St"]
    # a mapping reads one of them
    mapped = ssg.read_customers(path, columns={"premise_ref": "premise_id"})
    assert mapped.columns_used["premise_ref"] == "premise_id"
    assert mapped.columns_unused == ("Mobile",)
    assert mapped.data["premise_id"].tolist() == ["P1"]


def test_explicit_mapping_wins_and_the_other_column_is_listed(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,phone,Tel No,postcode,easting,northing\n"
        f"1,0161 496 0000,0161 496 0001,WN5 9XP,{WIGAN_E},{WIGAN_N}\n",
    )
    r = ssg.read_customers(path, columns={"Tel No": "phone"})
    assert r.data["phone"].tolist() == ["0161 496 0001"]
    assert r.columns_unused == ("phone",)


def test_mapping_two_columns_to_one_name_is_an_error(tmp_path):
    path = _write(
        tmp_path, f"customer_id,A,B,postcode,easting,northing\n1,x,y,WN5 9XP,{WIGAN_E},{WIGAN_N}\n"
    )
    with pytest.raises(errors.ColumnMappingError, match="maps both 'A' and 'B' to 'phone'"):
        ssg.read_customers(path, columns={"A": "phone", "B": "phone"})


def test_mapping_a_name_the_file_has_twice_is_an_error(tmp_path):
    path = _write(
        tmp_path,
        f"customer_id,A,A,postcode,easting,northing\n1,x,y,WN5 9XP,{WIGAN_E},{WIGAN_N}\n",
    )
    assert ssg.read_customers(path).columns_unused == ("A", "A")  # unread: listed twice
    with pytest.raises(errors.ColumnMappingError, match="2 columns of that name"):
        ssg.read_customers(path, columns={"A": "phone"})


def test_aliases_point_only_at_columns_that_exist():
    from smartstreet_geo.io import readers

    canonical = {
        *readers.CUSTOMER_COLUMNS,
        *readers.EQUIPMENT_COLUMNS,
        *readers._LOCATION_COLUMNS,
    }
    assert set(ALIASES.values()) <= canonical
    # a name that could mean two things is not an alias
    for ambiguous in ("premise_ref", "mobile", "contact_number", "reference", "id", "number"):
        assert ambiguous not in ALIASES


def test_headerless_file_error_shows_no_values(tmp_path):
    path = _write(tmp_path, f"{ROW}\n{ROW.replace('01,', '02,')}\n")
    with pytest.raises(errors.MissingColumnError) as info:
        ssg.read_customers(path)
    message = str(info.value)
    _no_secret(message)
    assert "column 2 (15 characters)" in message
    assert "looks like data" in message


def test_mapping_error_on_a_headerless_file_shows_no_values(tmp_path):
    path = _write(tmp_path, f"{ROW}\n")
    with pytest.raises(errors.ColumnMappingError) as info:
        ssg.read_customers(path, columns={"MPAN": "customer_id"})
    _no_secret(str(info.value))


def test_column_labels_hide_a_header_that_looks_like_data():
    assert column_labels(["customer_id", "Telephone", ""]) == [
        "'customer_id'",
        "'Telephone'",
        "column 3 (no name)",
    ]
    # one value-like name hides every unrecognised name (the line is a customer's record)
    assert column_labels(["1600000000001", "Zebedee Quixote", "postcode"], known=["postcode"]) == [
        "column 1 (13 characters)",
        "column 2 (15 characters)",
        "'postcode'",
    ]
    for value in ("WN5 9XP", "354500.0", "0161 496 0999", "a@b.example", "x" * 70, "a\x1bb"):
        assert header_looks_like_data([value]), value
    for name in ("Address Line1", "Tel", "psr_needs", "Post Code", "Nominee Phone 2"):
        assert not header_looks_like_data([name]), name


def test_ragged_rows_carry_no_values_into_rejects(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,name,address_line_1,postcode,easting,northing,phone\n"
        f"{ROW.replace('01,', '02,')}\n"
        f"{ROW},extra\n"  # one field too many: nothing in the row can be trusted
        f"{ROW.replace('01,', '03,')}\n",
    )
    r = ssg.read_customers(path)
    assert r.n_input == 3 and r.n_valid == 2
    bad = r.rejects.iloc[0]
    assert bad["reason_code"] == "wrong_field_count" and bad["row_number"] == 2
    assert bad["value"] == "8 fields"
    assert "expected 7 fields" in bad["message"] and "found 8" in bad["message"]
    assert bad["record_id"] is None or bad["record_id"] != bad["record_id"]  # blank, not a guess
    _no_secret(r.rejects.to_csv())
    assert sorted(r.data["customer_id"]) == ["1600000000002", "1600000000003"]


def test_short_header_never_shifts_columns(tmp_path):
    """A header one name short once made pandas take customer_id as the index."""
    header = "name,address_line_1,postcode,easting,northing,phone"  # customer_id missing
    path = _write(tmp_path, f"{header}\n{ROW}\n{ROW.replace('01,', '02,')}\n")
    with pytest.raises(errors.InputFileError, match="header line has 6 fields but 2 of 2"):
        ssg.read_customers(path)


def test_blank_rows_are_counted_not_faults(tmp_path):
    rows = bng_rows(2)
    path = _write(tmp_path, f"{HEADER_BNG}\n{rows[0]}\n \t \n\n{rows[1]}\n")
    r = ssg.read_customers(path)
    assert (r.n_input, r.n_valid, r.n_rejected, r.n_faults) == (4, 2, 2, 0)
    assert r.data["source_row"].tolist() == [1, 4]
    assert "2 blank rows" in " ".join(r.notes)


def test_parquet_blank_rows_are_counted(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "customer_id": ["1", None, None],
            "postcode": ["WN5 9XP", None, "WN5 9XP"],
            "easting": [WIGAN_E, np.nan, WIGAN_E],
            "northing": [WIGAN_N, np.nan, WIGAN_N],
        }
    )
    frame.to_parquet(tmp_path / "c.parquet")
    r = ssg.read_customers(tmp_path / "c.parquet")
    assert r.rejects["reason_code"].tolist() == ["blank_row", "missing_id"]


def test_geometry_and_coordinate_columns_must_agree(tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "customer_id": ["1", "2", "3", "4"],
            "postcode": ["WN5 9XP"] * 4,
            "easting": [WIGAN_E, WIGAN_E + 200, WIGAN_E, None],
            "northing": [WIGAN_N, WIGAN_N, WIGAN_N + 10, None],
        },
        geometry=[Point(WIGAN_E, WIGAN_N), Point(WIGAN_E, WIGAN_N)] * 2,
        crs="EPSG:27700",
    )
    gdf.to_file(tmp_path / "c.gpkg")
    r = ssg.read_customers(tmp_path / "c.gpkg")
    assert r.rejects["reason_code"].tolist() == ["coordinates_disagree"]
    assert r.rejects["row_number"].tolist() == [2]
    assert "200 m from the geometry" in r.rejects["message"].iloc[0]
    assert {"easting", "northing"} <= set(r.columns_used.values())


def test_lonlat_agreement_uses_ostn15(tmp_path):
    """The same place in both pairs agrees to well within the tolerance (OSTN15, not Helmert)."""
    lon, lat = ssg.bng_to_lonlat([WIGAN_E], [WIGAN_N])
    path = _write(
        tmp_path,
        "customer_id,postcode,easting,northing,longitude,latitude\n"
        f"1,WN5 9XP,{WIGAN_E},{WIGAN_N},{lon[0]:.9f},{lat[0]:.9f}\n"
        f"2,WN5 9XP,{WIGAN_E + 24},{WIGAN_N},{lon[0]:.9f},{lat[0]:.9f}\n"
        f"3,WN5 9XP,{WIGAN_E + 26},{WIGAN_N},{lon[0]:.9f},{lat[0]:.9f}\n",
    )
    r = ssg.read_customers(path)
    assert r.rejects["row_number"].tolist() == [3]  # 26 m apart: over the 25 m tolerance
    assert "26 m from easting/northing" in r.rejects["message"].iloc[0]


def test_wkt_column_beside_coordinates_is_listed_not_used(tmp_path):
    path = _write(
        tmp_path,
        f'customer_id,postcode,easting,northing,WKT\n1,WN5 9XP,{WIGAN_E},{WIGAN_N},"POINT (1 2)"\n',
    )
    r = ssg.read_customers(path)
    assert r.columns_unused == ("WKT",)
    assert any("'WKT' not used" in n for n in r.notes)


def test_repr_and_html_show_counts_only(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,name,address_line_1,postcode,easting,northing,phone,Notes\n"
        f"{ROW},n\n{ROW.replace('01,', '02,')},n\n1600000000003,Zebedee Quixote,x,WN5 9XP,,,0161 496 0999,n\n",
    )
    r = ssg.read_customers(path)
    assert r.n_rejected == 1
    for text in (repr(r), r._repr_html_(), str(r), r.summary()):
        _no_secret(text)
    assert repr(r) == (
        f"ReadResult(source={str(path)!r}, n_input=3, n_valid=2, n_rejected=1, "
        "columns_used=7, columns_unused=1)"
    )
    assert "missing_coordinates" in r._repr_html_() and "&#x27;Notes&#x27;" in r._repr_html_()
    net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    assert repr(net).startswith("NetworkReadResult(edges=ReadResult(")
    assert "geometry" not in repr(net) and "LINESTRING" not in net._repr_html_()
    assert "<table>" in net._repr_html_()


def test_hostile_header_names_are_shown_escaped(tmp_path):
    from hostile import HOSTILE

    values = dict(HOSTILE)
    header = ["customer_id", "postcode", "easting", "northing", values["html_script"], "Notes"]
    path = _write(
        tmp_path,
        ",".join(header) + f"\n1,WN5 9XP,{WIGAN_E},{WIGAN_N},a,b\n",
    )
    r = ssg.read_customers(path)
    assert r.columns_unused == (values["html_script"], "Notes")
    assert "<script>" not in r._repr_html_()
    escape = _write(
        tmp_path,
        f"customer_id,postcode,easting,northing,{values['control_escape']}\n1,WN5 9XP,{WIGAN_E},{WIGAN_N},a\n",
        "e.csv",
    )
    assert "\x1b" not in ssg.read_customers(escape).summary()


def test_both_pairs_present_lonlat_is_used(tmp_path):
    path = _write(
        tmp_path,
        "customer_id,postcode,easting,northing,lat,lon\n"
        f"1,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LAT},{WIGAN_LON}\n",
    )
    r = ssg.read_customers(path)
    assert r.n_valid == 1 and r.columns_unused == ()
    assert r.columns_used["lat"] == "latitude"


def test_personal_values_are_hidden_whatever_the_column_is_called(tmp_path):
    """A too-long value is not copied into rejects from an alias or mapped personal column."""
    long_name = "Zebedee Quixote " * 20
    path = _write(
        tmp_path,
        "customer_id,Full Name,Customer Name,Tel,postcode,easting,northing\n"
        f"1,{long_name},x,1,WN5 9XP,{WIGAN_E},{WIGAN_N}\n"
        f"2,y,{long_name},1,WN5 9XP,{WIGAN_E},{WIGAN_N}\n"
        f"3,y,x,{'0161 496 0999 ' * 20},WN5 9XP,{WIGAN_E},{WIGAN_N}\n",
    )
    r = ssg.read_customers(path, columns={"Full Name": "nominee_name"})
    assert r.rejects["column"].tolist() == ["Full Name", "Customer Name", "Tel"]
    assert r.rejects["reason_code"].eq("field_too_long").all()
    assert r.rejects["value"].str.endswith("characters, not shown>").all()
    _no_secret(r.rejects.to_csv())


def test_csv_paths_agree(tmp_path, monkeypatch):
    """Arrow (fast and aligned) and the csv module alone read every catalogue file the same."""
    from catalogue import CASES
    from smartstreet_geo.io import _files

    def outcome(path, kwargs):
        try:
            r = ssg.read_customers(path, **kwargs)
        except errors.SmartStreetGeoError as exc:
            return type(exc).__name__
        return (
            r.data.drop(columns="geometry").to_csv(),
            r.data.geometry.to_wkt().tolist(),
            r.rejects.to_csv(),
        )

    for case in CASES:
        if case.suffix != ".csv":
            continue
        path = tmp_path / f"{case.id}.csv"
        path.write_bytes(case.text if isinstance(case.text, bytes) else case.text.encode())
        with monkeypatch.context() as m:
            fast = outcome(path, case.kwargs)
            m.setattr(_files, "_arrow_table", lambda *a, **k: None)  # the csv module alone
            slow = outcome(path, case.kwargs)
        assert fast == slow, case.id


def test_equipment_and_network_files_account_for_every_line(tmp_path):
    equipment = _write(
        tmp_path,
        "equipment_id,kind,easting,northing,outage_required,Owner\n"
        f"E1,lv_capacitor,{WIGAN_E},{WIGAN_N},false,x\n"
        "\n"
        f"E2,lv_capacitor,{WIGAN_E},{WIGAN_N},false\n"
        f"E3,lv_capacitor,{WIGAN_E},{WIGAN_N},true,x\n",
        "e.csv",
    )
    r = ssg.read_equipment(equipment)
    assert (r.n_input, r.n_valid) == (4, 2)
    assert r.rejects["reason_code"].tolist() == ["blank_row", "wrong_field_count"]
    assert r.columns_unused == ("Owner",)
    edges = _write(
        tmp_path,
        "edge_id,from_node,to_node,geometry\n"
        '1,a,b,"LINESTRING (354500 404100, 354510 404100)"\n'
        "   \n"
        '2,b,c,"LINESTRING (354510 404100, 354520 404100)",extra\n',
        "edges.csv",
    )
    subs = _write(
        tmp_path, f"substation_id,node,easting,northing\nS1,a,{WIGAN_E},{WIGAN_N}\n", "s.csv"
    )
    net = ssg.read_network(edges, subs, crs="EPSG:27700")
    assert net.edges_result.rejects["reason_code"].tolist() == ["blank_row", "wrong_field_count"]
    assert net.edges_result.n_valid == 1
