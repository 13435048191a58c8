"""A catalogue of awkward customer inputs, shared by the reader and CLI tests.

Like Shapely's ``tests/common.py``: every entry is a small file and the exact
outcome expected from :func:`smartstreet_geo.read_customers` - either the
reason code of each rejected row (every other row valid), or an error type
and a fragment of its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smartstreet_geo import errors

HEADER_BNG = "customer_id,name,address_line_1,postcode,easting,northing,psr,psr_needs"
HEADER_LL = "customer_id,name,address_line_1,postcode,longitude,latitude,psr,psr_needs"

# Real places: a house in Wigan WN5 (Code-Point unit WN5 9XP area), and the same in degrees.
WIGAN_E, WIGAN_N = 354500.0, 404100.0
WIGAN_LON, WIGAN_LAT = -2.687903, 53.531589  # the same place in ETRS89 degrees (OSTN15)


def bng_rows(n: int = 3, **override: str) -> list[str]:
    """``n`` good rows a few metres apart in Wigan."""
    rows = []
    for i in range(n):
        rows.append(
            f"16000000000{i:02d},Person {i},{i} Oak Street,WN5 9XP,{WIGAN_E + 10 * i},{WIGAN_N},N,"
        )
    return rows


def ll_rows(n: int = 3) -> list[str]:
    return [
        f"16000000000{i:02d},Person {i},{i} Oak Street,WN5 9XP,{WIGAN_LON + 0.0001 * i:.6f},{WIGAN_LAT},N,"
        for i in range(n)
    ]


@dataclass
class Case:
    """One input file and its expected outcome."""

    id: str
    text: str | bytes
    expected: dict[int, str] = field(default_factory=dict)  # 1-based row -> reason code
    n_rows: int | None = None
    error: type[Exception] | None = None
    message: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    suffix: str = ".csv"


def _csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


CASES: list[Case] = [
    Case("good_bng", _csv(HEADER_BNG, bng_rows())),
    Case("good_lonlat", _csv(HEADER_LL, ll_rows())),
    Case("utf8_bom", "\ufeff" + _csv(HEADER_BNG, bng_rows())),
    Case("crlf_line_endings", _csv(HEADER_BNG, bng_rows()).replace("\n", "\r\n")),
    Case(
        "cp1252_without_encoding",
        _csv(
            HEADER_BNG,
            [
                *bng_rows(2),
                f"1600000000099,Renée Brontë,1 Café Row,WN5 9XP,{WIGAN_E},{WIGAN_N + 20},N,",
            ],
        ).encode("cp1252"),
        error=errors.EncodingError,
        message="line 4",
    ),
    Case(
        "cp1252_with_encoding",
        _csv(
            HEADER_BNG,
            [
                *bng_rows(2),
                f"1600000000099,Renée Brontë,1 Café Row,WN5 9XP,{WIGAN_E},{WIGAN_N + 20},N,",
            ],
        ).encode("cp1252"),
        kwargs={"encoding": "cp1252"},
    ),
    Case("empty_file", "", error=errors.InputFileError, message="empty"),
    Case("header_only", HEADER_BNG + "\n", n_rows=0),
    Case(
        "blank_coordinates",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,,,N,"]),
        {3: "missing_coordinates"},
    ),
    Case(
        "nan_text_coordinates",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,NaN,NaN,N,"]),
        {3: "missing_coordinates"},
    ),
    Case(
        "inf_coordinates",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,inf,404100,N,"]),
        {3: "invalid_coordinate"},
    ),
    Case(
        "text_coordinates",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,35x500,404100,N,"]),
        {3: "invalid_coordinate"},
    ),
    Case(
        "null_marker_coordinates",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,NULL,NULL,N,"]),
        {3: "missing_coordinates"},
    ),
    Case(
        "zero_zero_sentinel",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,0,0,N,"]),
        {3: "sentinel_coordinates"},
    ),
    Case(
        "zero_zero_sentinel_lonlat",
        _csv(HEADER_LL, [*ll_rows(2), "1600000000099,X,1 Oak,WN5 9XP,0,0,N,"]),
        {3: "sentinel_coordinates"},
    ),
    Case(
        "bng_outside_gb",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,-5000,404100,N,"]),
        {3: "outside_gb"},
    ),
    Case(
        "lonlat_outside_gb_paris",
        _csv(HEADER_LL, [*ll_rows(2), "1600000000099,X,1 Oak,WN5 9XP,2.3522,48.8566,N,"]),
        {3: "outside_gb"},
    ),
    Case(
        "bng_swapped_one_row_out_of_grid",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,CA7 9QT,1000000,300000,N,"]),
        {3: "swapped_coordinates"},
    ),
    Case(
        "bng_swapped_one_row_inside_england",
        _csv(HEADER_BNG, [*bng_rows(2), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_N},{WIGAN_E},N,"]),
        {3: "swapped_coordinates"},
    ),
    Case(
        "postcode_far_from_location",
        _csv(HEADER_BNG, [*bng_rows(2), "1600000000099,X,1 Oak,WN5 9XP,340000,556000,N,"]),
        {3: "postcode_location_mismatch"},
    ),
    Case(
        "bng_swapped_whole_file",
        _csv(
            HEADER_BNG,
            [f"16000000000{i:02d},X,1 Oak,CA7 9QT,{1_000_000 + i},300000,N," for i in range(3)],
        ),
        error=errors.CoordinateError,
        message="exchanged",
    ),
    Case(
        "lonlat_swapped_one_row",
        _csv(HEADER_LL, [*ll_rows(2), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_LAT},{WIGAN_LON},N,"]),
        {3: "swapped_coordinates"},
    ),
    Case(
        "lonlat_swapped_whole_file",
        _csv(
            HEADER_LL,
            [f"16000000000{i:02d},X,1 Oak,WN5 9XP,{WIGAN_LAT},{WIGAN_LON},N," for i in range(3)],
        ),
        error=errors.CoordinateError,
        message="exchanged",
    ),
    Case(
        "metres_labelled_degrees_one_row",
        _csv(HEADER_LL, [*ll_rows(3), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,"]),
        {4: "metres_as_degrees"},
    ),
    Case(
        "metres_labelled_degrees_whole_file",
        _csv(HEADER_LL, bng_rows(3)),
        error=errors.CoordinateError,
        message="easting/northing",
    ),
    Case(
        "degrees_labelled_metres_one_row",
        _csv(
            HEADER_BNG, [*bng_rows(3), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_LON},{WIGAN_LAT},N,"]
        ),
        {4: "degrees_as_metres"},
    ),
    Case(
        "degrees_labelled_metres_whole_file",
        _csv(HEADER_BNG, ll_rows(3)),
        error=errors.CoordinateError,
        message="longitude/latitude",
    ),
    Case(
        "exact_duplicate", _csv(HEADER_BNG, [*bng_rows(2), bng_rows(2)[1]]), {3: "exact_duplicate"}
    ),
    Case(
        "exact_duplicate_differs_only_in_whitespace",
        _csv(HEADER_BNG, [*bng_rows(2), bng_rows(2)[1].replace("Oak Street", " Oak  Street ")]),
        {3: "exact_duplicate"},
    ),
    Case(
        "conflicting_duplicate",
        _csv(HEADER_BNG, [*bng_rows(2), bng_rows(2)[1].replace("Oak Street", "Elm Street")]),
        {2: "conflicting_duplicate", 3: "conflicting_duplicate"},
    ),
    Case(
        "conflicting_duplicate_triple",
        _csv(HEADER_BNG, [*bng_rows(2), bng_rows(2)[1], bng_rows(2)[1].replace(",N,", ",Y,13")]),
        {2: "conflicting_duplicate", 3: "conflicting_duplicate", 4: "conflicting_duplicate"},
    ),
    Case(
        "missing_id",
        _csv(HEADER_BNG, [*bng_rows(2), f",X,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,"]),
        {3: "missing_id"},
    ),
    Case(
        "malformed_postcodes",
        _csv(
            HEADER_BNG,
            [
                *bng_rows(1),
                *[
                    f"16000000001{i},X,1 Oak,{pc},{WIGAN_E},{WIGAN_N + i},N,"
                    for i, pc in enumerate(["M9 4XXX", "WN12", "CA22 4", "QQ1 1AA", "WN5 9CX"])
                ],
            ],
        ),
        {
            2: "invalid_postcode",
            3: "invalid_postcode",
            4: "invalid_postcode",
            5: "invalid_postcode",
            6: "invalid_postcode",
        },
    ),
    Case(
        "blank_postcode",
        _csv(HEADER_BNG, [*bng_rows(1), f"1600000000099,X,1 Oak,,{WIGAN_E},{WIGAN_N},N,"]),
        {2: "missing_postcode"},
    ),
    Case(
        "postcode_needing_normalising",
        _csv(HEADER_BNG, [*bng_rows(1), f"1600000000099,X,1 Oak, wn59xp ,{WIGAN_E},{WIGAN_N},N,"]),
    ),
    Case(
        "very_long_field",
        _csv(
            HEADER_BNG,
            [*bng_rows(1), f"1600000000099,{'A' * 300},1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,"],
        ),
        {2: "field_too_long"},
    ),
    Case(
        "very_long_field_at_limit",
        _csv(
            HEADER_BNG,
            [*bng_rows(1), f"1600000000099,{'A' * 255},1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,"],
        ),
    ),
    Case(
        "embedded_newline",
        _csv(
            HEADER_BNG,
            [
                *bng_rows(1),
                f'1600000000099,"Ann\nSmith","Flat 2\r\n1 Oak Street",WN5 9XP,{WIGAN_E},{WIGAN_N},N,',
            ],
        ),
    ),
    Case(
        "ragged_row",
        _csv(
            HEADER_BNG,
            [*bng_rows(1), f"1600000000099,X,1 Oak, Wigan,WN5 9XP,{WIGAN_E},{WIGAN_N},N,,extra"],
        ),
        {2: "wrong_field_count"},
        n_rows=2,
    ),
    Case(
        "psr_flag_invalid",
        _csv(
            HEADER_BNG, [*bng_rows(1), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},maybe,"]
        ),
        {2: "invalid_value"},
    ),
    Case(
        "psr_flag_contradicts_needs",
        _csv(
            HEADER_BNG, [*bng_rows(1), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,12;26"]
        ),
        {2: "invalid_value"},
    ),
    Case(
        "psr_blank_with_needs",
        _csv(HEADER_BNG, [*bng_rows(1), f"1600000000099,X,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},,12"]),
    ),
    Case(
        "no_id_column",
        "name,easting,northing\nX,354500,404100\n",
        error=errors.MissingColumnError,
        message="customer_id",
    ),
    Case(
        "no_location_columns",
        "customer_id,name,postcode\n1,X,WN5 9XP\n",
        error=errors.MissingColumnError,
        message="location",
    ),
    Case(
        "wkt_without_crs",
        "customer_id,postcode,geometry\n1,WN5 9XP,POINT (354500 404100)\n",
        error=errors.CRSError,
        message="no CRS",
    ),
    Case(
        "wkt_with_crs",
        'customer_id,postcode,geometry\n1,WN5 9XP,POINT (354500 404100)\n2,WN5 9XP,POINT EMPTY\n3,WN5 9XP,POINT (oops)\n4,WN5 9XP,"LINESTRING (354500 404100, 354510 404100)"\n',
        {2: "empty_geometry", 3: "invalid_geometry", 4: "wrong_geometry_type"},
        kwargs={"crs": "EPSG:27700"},
    ),
    Case(
        "mapped_columns",
        "MPAN,Post Code,X,Y\n1600000000001,WN5 9XP,354500,404100\n",
        kwargs={"columns": {"X": "easting", "Y": "northing"}},
    ),
    Case(
        "mapping_names_absent_column",
        "MPAN,Post Code,X,Y\n1600000000001,WN5 9XP,354500,404100\n",
        kwargs={"columns": {"EAST": "easting"}},
        error=errors.ColumnMappingError,
        message="'EAST'",
    ),
    Case(
        "two_columns_same_meaning",
        "customer_id,MPAN,postcode,easting,northing\n1,2,WN5 9XP,354500,404100\n",
        error=errors.ColumnMappingError,
        message="both mean",
    ),
    # ---- issue 11: every line and every column accounted for
    Case(
        "ragged_row_short",
        _csv(
            HEADER_BNG,
            [*bng_rows(2), f"1600000000099,X,WN5 9XP,{WIGAN_E},{WIGAN_N},N", *bng_rows(3)[2:]],
        ),
        {3: "wrong_field_count"},
        n_rows=4,
    ),
    Case(
        "ragged_rows_both_ways",
        _csv(
            HEADER_BNG,
            [
                "1600000000090,X,1 Oak,WN5 9XP,354500,404100,N,,",
                *bng_rows(3),
                "1600000000091,X",
            ],
        ),
        {1: "wrong_field_count", 5: "wrong_field_count"},
        n_rows=5,
    ),
    Case(
        # one name short: pandas would take customer_id as the index and shift every column
        "short_header_every_row",
        _csv(HEADER_BNG.replace("customer_id,", ""), bng_rows(3)),
        error=errors.InputFileError,
        message="header line has 7 fields but 3 of 3 rows have 8",
    ),
    Case(
        "short_header_most_rows",
        _csv(
            HEADER_BNG.replace(",psr_needs", ""),
            [*bng_rows(3), "1600000000099,X,1 Oak,WN5 9XP,354500,404100,N"],
        ),
        error=errors.InputFileError,
        message="a column name is missing from the header",
    ),
    Case(
        "blank_and_whitespace_lines",
        HEADER_BNG
        + "\n"
        + bng_rows(3)[0]
        + "\n\n   \n"
        + bng_rows(3)[1]
        + "\n\t \n"
        + bng_rows(3)[2]
        + "\n\n",
        {2: "blank_row", 3: "blank_row", 5: "blank_row", 7: "blank_row"},
        n_rows=7,
    ),
    Case(
        "separator_only_line",
        _csv(HEADER_BNG, [bng_rows(2)[0], ",,,,,,,", " , ,,,,,,", bng_rows(2)[1]]),
        {2: "blank_row", 3: "blank_row"},
        n_rows=4,
    ),
    Case(
        "blank_lines_before_header",
        "\n  \n" + _csv(HEADER_BNG, bng_rows(2)),
        n_rows=2,
    ),
    Case(
        "crlf_and_cr_mixed",
        HEADER_BNG
        + "\r\n"
        + bng_rows(3)[0]
        + "\r"
        + bng_rows(3)[1]
        + "\n"
        + bng_rows(3)[2]
        + "\r\n",
        n_rows=3,
    ),
    Case(
        "nul_byte_in_a_value",
        _csv(
            HEADER_BNG, [*bng_rows(1), f"1600000000099,A\x00B,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,"]
        ),
        n_rows=2,
    ),
    Case(
        "quote_never_closed",
        _csv(
            HEADER_BNG,
            [
                *bng_rows(1),
                f'1600000000099,"Ann,1 Oak,WN5 9XP,{WIGAN_E},{WIGAN_N},N,',
                *bng_rows(3)[1:],
            ],
        ),
        error=errors.InputFileError,
        message="never closed",
    ),
    Case(
        "duplicate_header_identical",
        _csv(HEADER_BNG + ",postcode", [r + ",WN5 9XP" for r in bng_rows(2)]),
        error=errors.ColumnMappingError,
        message="have the same name",
    ),
    Case(
        "duplicate_header_after_normalising",
        _csv(
            HEADER_BNG.replace("postcode", "Post Code") + ",postcode",
            [r + ",WN5 9XP" for r in bng_rows(2)],
        ),
        error=errors.ColumnMappingError,
        message="'Post Code'",
    ),
    Case(
        "two_phone_columns",
        _csv(
            HEADER_BNG + ",Telephone,phone",
            [r + ",0161 496 0000,0161 496 0001" for r in bng_rows(2)],
        ),
        error=errors.ColumnMappingError,
        message="both mean 'phone'",
    ),
    Case(
        "duplicate_unused_columns_are_listed",
        _csv(HEADER_BNG + ",Notes,Notes", [r + ",a,b" for r in bng_rows(2)]),
    ),
    Case(
        "dno_aliases",
        "MPAN,Customer Name,Address Line1,Addr Line2,Post Town,Post Code,Telephone,Eastings,Northings\n"
        f"1600000000001,Ann,1 Oak Street,Pemberton,WIGAN,WN5 9XP,0161 496 0000,{WIGAN_E},{WIGAN_N}\n",
    ),
    Case(
        "both_coordinate_pairs_agree",
        "customer_id,postcode,easting,northing,longitude,latitude\n"
        f"1,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON},{WIGAN_LAT}\n"
        f"2,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON:.4f},{WIGAN_LAT:.4f}\n"  # rounded: ~6 m off
        f"3,WN5 9XP,{WIGAN_E},{WIGAN_N},,\n",  # the second pair blank: nothing to compare
    ),
    Case(
        "both_coordinate_pairs_disagree",
        "customer_id,postcode,easting,northing,longitude,latitude\n"
        f"1,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON},{WIGAN_LAT}\n"
        f"2,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON},{WIGAN_LAT + 0.001}\n"  # ~111 m north
        f"3,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON},\n"  # half a pair: cannot be compared
        f"4,WN5 9XP,{WIGAN_E + 10},{WIGAN_N},{WIGAN_LON},{WIGAN_LAT}\n"
        f"5,WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON},{WIGAN_LAT}\n",
        {2: "coordinates_disagree", 3: "coordinates_disagree"},
    ),
    Case(
        "both_coordinate_pairs_disagree_whole_file",
        "customer_id,postcode,easting,northing,longitude,latitude\n"
        + "".join(
            f"{i},WN5 9XP,{WIGAN_E},{WIGAN_N},{WIGAN_LON + 0.003},{WIGAN_LAT}\n" for i in range(3)
        ),
        error=errors.CoordinateError,
        message="more than 25 m from",
    ),
    Case(
        "half_coordinate_pair_is_not_used",
        "customer_id,postcode,easting,longitude,latitude\n"
        f"1,WN5 9XP,{WIGAN_E},{WIGAN_LON},{WIGAN_LAT}\n",
    ),
    Case(
        "headerless_file",
        "\n".join(bng_rows(3)) + "\n",
        error=errors.MissingColumnError,
        message="looks like data",
    ),
]
