"""A missing key matches nothing: outage impact with unknown circuits, placements and needs.

Regression tests for issue 11's PSR cases: blank circuit ids never pair with blank
circuit ids, equipment that cannot be placed never silently phones nobody, and a
PSR customer with blank needs codes does not crash the run.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely import LineString, Point

import smartstreet_geo as ssg
from smartstreet_geo.campaign import load_config, run_campaign

E, N = 354500.0, 404100.0  # Wigan, postcode district WN5
RADII = {"lv_capacitor": 30, "oltc_transformer": 50, "link_box_switch": 20, "circuit_breaker": 30}


def _customers(tmp_path: Path, rows: list[dict]) -> None:
    base = {
        "name": "Person",
        "address_line_1": "1 Oak Street",
        "post_town": "WIGAN",
        "postcode": "WN5 9XP",
        "psr": "Y",
        "psr_needs": "04",
        "phone": "01614960000",
    }
    pd.DataFrame([{**base, **r} for r in rows]).to_csv(tmp_path / "customers.csv", index=False)


def _equipment(tmp_path: Path, rows: list[dict]) -> None:
    base = {"kind": "lv_capacitor", "install_date": "2027-03-01", "outage_required": "true"}
    pd.DataFrame([{**base, **r} for r in rows]).to_csv(tmp_path / "equipment.csv", index=False)


def _config(tmp_path: Path, **inputs: str) -> dict:
    return {
        "campaign": {"name": "keys", "reference": "K-1", "run_date": "2027-01-04"},
        "inputs": {"customers": "customers.csv", "equipment": "equipment.csv", **inputs},
        "scope": {"circuits": ["C1"]},
        "radii": RADII,
        "campaigns": {"produce": ["outage_phone_call", "outage_letter"]},
        "psr": {"needs_codes": str(ssg.demo.path("psr_needs_codes"))},
    }


def _run(tmp_path: Path, cfg: dict):
    return run_campaign(load_config(cfg, base=tmp_path))


def _called(r) -> list[str]:
    calls = r.contacts[r.contacts["campaign"] == "outage_phone_call"]
    return sorted(calls["customer_id"])


def _review(r, issue: str = "outage_impact_unknown") -> list[str]:
    m = r.manual_review
    return sorted(set(m.loc[m["issue"] == issue, "customer_id"]))


# ----------------------------------------------------------------------------- no network
def test_blank_circuit_on_equipment_never_matches_blank_customers(tmp_path):
    """Case (a): pandas merges NaN to NaN; a stranger must never be phoned."""
    _customers(
        tmp_path,
        [
            {"customer_id": "near_blank", "easting": E + 100, "northing": N, "circuit_id": ""},
            {"customer_id": "far_blank", "easting": E + 5000, "northing": N, "circuit_id": ""},
            {"customer_id": "on_c1", "easting": E + 5000, "northing": N + 10, "circuit_id": "C1"},
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert _called(r) == []
    assert r.contacts.empty
    # who might be affected goes to review; who cannot be (5 km away) does not
    assert _review(r) == ["near_blank"]
    assert any("EQ1" in w and "unknown" in w for w in r.warnings)
    rec = r.reconciliation.set_index("customer_id")["status"]
    assert rec.to_dict() == {
        "near_blank": "manual_review",
        "far_blank": "not_contacted",
        "on_c1": "not_contacted",
    }


def test_known_circuit_pairs_only_known_circuits(tmp_path):
    _customers(
        tmp_path,
        [
            {"customer_id": "on_c1", "easting": E + 5000, "northing": N, "circuit_id": "C1"},
            {"customer_id": "on_c2", "easting": E + 10, "northing": N, "circuit_id": "C2"},
            {"customer_id": "blank_near", "easting": E + 50, "northing": N, "circuit_id": ""},
            {"customer_id": "blank_far", "easting": E + 3000, "northing": N, "circuit_id": ""},
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert _called(r) == ["on_c1"]
    assert _review(r) == ["blank_near"]


def test_substation_work_without_circuit_takes_the_substation(tmp_path):
    _customers(
        tmp_path,
        [
            {"customer_id": "s1", "easting": E + 10, "northing": N, "substation_id": "S1"},
            {"customer_id": "s2", "easting": E + 20, "northing": N, "substation_id": "S2"},
            {"customer_id": "blank", "easting": E + 30, "northing": N, "substation_id": ""},
        ],
    )
    _equipment(
        tmp_path,
        [{"equipment_id": "OLTC", "substation_id": "S1", "easting": E, "northing": N}],
    )
    r = _run(tmp_path, _config(tmp_path))
    assert _called(r) == ["s1"]
    assert _review(r) == ["blank"]


# ----------------------------------------------------------------------------- with a network
def _network(tmp_path: Path) -> dict:
    """Substation S at (E, N): feeder F1 runs east S-a-b, feeder F2 runs west S-c."""
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["e1", "e2", "e3"],
            "from_node": ["S", "a", "S"],
            "to_node": ["a", "b", "c"],
            "circuit_id": ["F1", "F1", "F2"],
        },
        geometry=[
            LineString([(E, N), (E + 100, N)]),
            LineString([(E + 100, N), (E + 200, N)]),
            LineString([(E, N), (E - 100, N)]),
        ],
        crs="EPSG:27700",
    )
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["S"]}, geometry=[Point(E, N)], crs="EPSG:27700"
    )
    edges.to_file(tmp_path / "edges.gpkg")
    subs.to_file(tmp_path / "subs.gpkg")
    return {"network_edges": "edges.gpkg", "substations": "subs.gpkg"}


def test_unplaceable_equipment_takes_its_feeder_by_connectivity(tmp_path):
    """Case (b): customers with connection_node and no circuit_id column."""
    _customers(
        tmp_path,
        [
            {"customer_id": "at_a", "easting": E + 100, "northing": N + 5, "connection_node": "a"},
            {"customer_id": "at_b", "easting": E + 200, "northing": N + 5, "connection_node": "b"},
            {"customer_id": "at_c", "easting": E - 100, "northing": N + 5, "connection_node": "c"},
        ],
    )
    # 150 m off every cable: cannot be placed (max 20 m), but its circuit is known
    _equipment(
        tmp_path,
        [{"equipment_id": "EQ1", "circuit_id": "F1", "easting": E + 150, "northing": N + 150}],
    )
    r = _run(tmp_path, _config(tmp_path, **_network(tmp_path)))
    assert _called(r) == ["at_a", "at_b"]
    assert any("EQ1" in w and "cannot be placed" in w for w in r.warnings)


def test_unplaceable_equipment_without_circuit_sends_neighbours_to_review(tmp_path):
    _customers(
        tmp_path,
        [
            {"customer_id": "at_a", "easting": E + 100, "northing": N + 5, "connection_node": "a"},
            {"customer_id": "at_c", "easting": E - 100, "northing": N + 5, "connection_node": "c"},
            {"customer_id": "far", "easting": E + 4000, "northing": N, "connection_node": ""},
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "easting": E + 150, "northing": N + 150}])
    r = _run(tmp_path, _config(tmp_path, **_network(tmp_path)))
    assert _called(r) == []
    assert _review(r) == ["at_a", "at_c"]
    assert any("EQ1" in w and "unknown" in w for w in r.warnings)


def test_unplaced_psr_customer_near_an_outage_goes_to_review(tmp_path):
    _customers(
        tmp_path,
        [
            {"customer_id": "at_b", "easting": E + 200, "northing": N + 5, "connection_node": "b"},
            # no node and 300 m from every cable: cannot be placed, but lives near the works
            {"customer_id": "lost", "easting": E + 200, "northing": N + 300, "connection_node": ""},
        ],
    )
    _equipment(
        tmp_path,
        [{"equipment_id": "EQ1", "circuit_id": "F1", "easting": E + 150, "northing": N + 3}],
    )
    r = _run(tmp_path, _config(tmp_path, **_network(tmp_path)))
    assert _called(r) == ["at_b"]
    assert _review(r) == ["lost"]


# ----------------------------------------------------------------------------- needs codes
@pytest.mark.parametrize("needs", ["", " "])
def test_psr_customer_with_blank_needs_is_called(tmp_path, needs):
    """Case (c): blank psr_needs with [psr] needs_codes set crashed the run."""
    _customers(
        tmp_path,
        [
            {
                "customer_id": "c1",
                "easting": E + 10,
                "northing": N,
                "circuit_id": "C1",
                "psr_needs": needs,
            },
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert _called(r) == ["c1"]
    call = r.contacts[r.contacts["campaign"] == "outage_phone_call"].iloc[0]
    assert call["medically_dependent"] is False or call["medically_dependent"] == False  # noqa: E712


# ----------------------------------------------------------------------------- reprs
def test_campaign_result_repr_holds_counts_only(tmp_path):
    """Deliverable 6: a notebook or a traceback must never show a customer's data."""
    secret = {"name": "Zebedee Quixote", "address_line_1": "77 Secret Lane", "phone": "01614960123"}
    _customers(
        tmp_path,
        [
            {
                "customer_id": "CUST-SECRET-1",
                "easting": E + 10,
                "northing": N,
                "circuit_id": "C1",
                **secret,
            },
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert _called(r) == ["CUST-SECRET-1"]  # the data is in the result...
    for text in (repr(r), str(r), r._repr_html_()):
        for value in [*secret.values(), "CUST-SECRET-1", "Secret", "0161"]:
            assert value not in text  # ...but never in its display
        assert "outage_phone_call" in text and "contacted" in text


# ----------------------------------------------------------------------------- empty inputs
def test_network_with_no_valid_edge_is_a_clear_error(tmp_path):
    _customers(
        tmp_path, [{"customer_id": "c1", "easting": E, "northing": N, "connection_node": "a"}]
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "F1", "easting": E, "northing": N}])
    files = _network(tmp_path)
    edges = gpd.read_file(tmp_path / "edges.gpkg")
    edges["from_node"] = None  # every edge rejected (missing_value)
    edges.to_file(tmp_path / "edges.gpkg")
    with pytest.raises(ssg.errors.InputFileError, match=r"edges\.gpkg.*0 valid.*no usable rows"):
        _run(tmp_path, _config(tmp_path, **files))


def test_network_read_beside_the_customers_fails_as_it_did_alone(tmp_path):
    # the network is read on a second thread while the customers are read: its error
    # still names its file, at its own step, after the customers were read
    _customers(
        tmp_path, [{"customer_id": "c1", "easting": E, "northing": N, "connection_node": "a"}]
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "F1", "easting": E, "northing": N}])
    files = _network(tmp_path)
    (tmp_path / "edges.gpkg").write_bytes(b"not a GeoPackage")
    steps: list[str] = []
    with pytest.raises(ssg.errors.InputFileError, match=r"edges\.gpkg"):
        run_campaign(load_config(_config(tmp_path, **files), base=tmp_path), step=steps.append)
    assert steps == ["reading customers", "reading equipment", "reading network"]


def test_broken_customers_and_network_report_the_customers_first(tmp_path):
    # as when the network was read after the customers: the first step's error is shown
    pd.DataFrame({"customer_id": ["c1"], "easting": [E]}).to_csv(
        tmp_path / "customers.csv", index=False
    )  # no northing: the customers cannot be located
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "F1", "easting": E, "northing": N}])
    files = _network(tmp_path)
    (tmp_path / "edges.gpkg").write_bytes(b"not a GeoPackage")
    with pytest.raises(ssg.errors.SmartStreetGeoError, match=r"customers\.csv") as err:
        _run(tmp_path, _config(tmp_path, **files))
    assert "edges.gpkg" not in str(err.value)


def test_network_object_refuses_no_edges():
    empty = gpd.GeoDataFrame(
        {"edge_id": [], "from_node": [], "to_node": []}, geometry=[], crs="EPSG:27700"
    )
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["S"]}, geometry=[Point(E, N)], crs="EPSG:27700"
    )
    with pytest.raises(ssg.errors.ParameterError, match="no edges"):
        ssg.network.Network(empty, subs)


def test_campaign_with_no_contacts_at_all(tmp_path):
    """Zero contacts crashed the letter-reference numbering."""
    _customers(
        tmp_path,
        [
            {
                "customer_id": "c1",
                "easting": E + 5000,
                "northing": N,
                "circuit_id": "C9",
                "psr": "N",
                "psr_needs": "",
            }
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert r.contacts.empty
    counts = r.status_counts()
    assert counts["not_contacted"] == 1 and counts.sum() == 1


# ----------------------------------------------------------------------------- columns a contact needs
def test_letter_without_address_goes_to_review_not_to_the_letter_house(tmp_path):
    _customers(
        tmp_path,
        [
            {"customer_id": "c1", "easting": E + 10, "northing": N, "circuit_id": "C1"},
            {
                "customer_id": "c2",
                "easting": E + 12,
                "northing": N,
                "circuit_id": "C1",
                "address_line_1": "",
            },
        ],
    )
    _equipment(
        tmp_path,
        [
            {
                "equipment_id": "EQ1",
                "circuit_id": "C1",
                "easting": E,
                "northing": N,
                "outage_required": "false",
            }
        ],
    )
    cfg = _config(tmp_path)
    cfg["campaigns"]["produce"] = ["installation_letter"]
    r = _run(tmp_path, cfg)
    assert sorted(r.contacts["customer_id"]) == ["c1"]
    assert _review(r, "no_address") == ["c2"]
    assert r.reconciliation.set_index("customer_id").loc["c2", "status"] == "manual_review"


@pytest.mark.parametrize(
    ("header", "produce", "needed"),
    [
        ("Corresp Line A", "installation_letter", "address_line_1"),
        ("Contact No X", "outage_phone_call", "phone or nominee_phone"),
    ],
)
def test_campaign_refuses_when_a_needed_column_is_not_found(tmp_path, header, produce, needed):
    """An unrecognised header must not send letters without addresses or phone nobody."""
    _customers(
        tmp_path, [{"customer_id": "c1", "easting": E + 10, "northing": N, "circuit_id": "C1"}]
    )
    table = pd.read_csv(tmp_path / "customers.csv", dtype=str)
    canonical = "address_line_1" if "Corresp" in header else "phone"
    table.rename(columns={canonical: header}).to_csv(tmp_path / "customers.csv", index=False)
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    cfg = _config(tmp_path)
    cfg["campaigns"]["produce"] = [produce]
    with pytest.raises(ssg.errors.ConfigError, match=needed) as err:
        _run(tmp_path, cfg)
    assert "01614960000" not in str(err.value) and "Oak Street" not in str(err.value)
    # mapped, it runs
    cfg["inputs"]["columns"] = {"customers": {header: canonical}}
    r = _run(tmp_path, cfg)
    assert list(r.contacts.loc[r.contacts["campaign"] == produce, "customer_id"]) == ["c1"]


# ----------------------------------------------------------------------------- side files
def test_opt_outs_saved_by_a_spreadsheet_still_suppress(tmp_path):
    """`1652199544894.0` suppressed nothing, silently; a shortened id is refused."""
    _customers(
        tmp_path,
        [
            {
                "customer_id": "1652199544894",
                "easting": E + 10,
                "northing": N,
                "circuit_id": "C1",
                "psr": "N",
                "psr_needs": "",
            },
            {
                "customer_id": "1652199544895",
                "easting": E + 12,
                "northing": N,
                "circuit_id": "C1",
                "psr": "N",
                "psr_needs": "",
                "address_line_1": "2 Oak Street",
            },
        ],
    )
    _equipment(
        tmp_path,
        [
            {
                "equipment_id": "EQ1",
                "circuit_id": "C1",
                "easting": E,
                "northing": N,
                "outage_required": "false",
            }
        ],
    )
    (tmp_path / "optout.csv").write_text("customer_id\n1652199544894.0\n9999\n")
    cfg = _config(tmp_path)
    cfg["campaigns"]["produce"] = ["installation_letter"]
    cfg["suppression"] = {"opted_out": "optout.csv"}
    r = _run(tmp_path, cfg)
    assert list(r.contacts["customer_id"]) == ["1652199544895"]
    assert "opted out" in r.reconciliation.set_index("customer_id").loc["1652199544894", "reason"]
    assert any("1 opted-out ids match no customer" in w for w in r.warnings)
    (tmp_path / "optout.csv").write_text("customer_id\n1.652199E+12\n")
    with pytest.raises(ssg.errors.InputFileError, match="shortened"):
        _run(tmp_path, cfg)


def test_outage_date_for_unknown_equipment_is_an_error(tmp_path):
    _customers(tmp_path, [{"customer_id": "c1", "easting": E, "northing": N, "circuit_id": "C1"}])
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    cfg = _config(tmp_path)
    cfg["outage"] = {"dates": {"EQ9": "2027-03-01"}}
    with pytest.raises(ssg.errors.ConfigError, match=r"dates\.EQ9.*no equipment with this id"):
        _run(tmp_path, cfg)


def test_equipment_id_with_the_list_separator_is_rejected(tmp_path):
    """Lists join equipment ids with ';': an id holding one would be split into two."""
    _equipment(
        tmp_path,
        [
            {"equipment_id": "EQ1;EQ2", "easting": E, "northing": N},
            {"equipment_id": "EQ3", "easting": E, "northing": N},
        ],
    )
    r = ssg.read_equipment(tmp_path / "equipment.csv")
    assert list(r.data["equipment_id"]) == ["EQ3"]
    assert r.rejects[["row_number", "reason_code"]].values.tolist() == [[1, "invalid_value"]]
    assert "cannot contain ';'" in r.rejects["message"].iloc[0]


def test_blank_circuit_flagged_in_scope_is_not_a_circuit(tmp_path):
    _customers(tmp_path, [{"customer_id": "c1", "easting": E, "northing": N, "circuit_id": ""}])
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    (tmp_path / "circuits.csv").write_text("circuit_id,trial\nC1,true\n,true\n")
    cfg = _config(tmp_path, circuits="circuits.csv")
    cfg["scope"] = {"circuits_column": "trial"}
    cfg["campaigns"]["produce"] = ["leaflet"]
    r = _run(tmp_path, cfg)
    assert r.manifest["parameters"]["circuits_in_scope"] == ["C1"]
    assert r.contacts.empty  # the customer's blank circuit is unknown, not in scope


# ----------------------------------------------------------------------------- nominee copies
def test_outage_letters_are_copied_to_nominees_at_their_own_address(tmp_path, monkeypatch):
    from smartstreet_geo.cli import main

    rows = [
        {
            "customer_id": "with_addr",
            "nominee_name": "Nora Nominee",
            "nominee_address_line_1": "9 Far Lane",
            "nominee_post_town": "BOLTON",
            "nominee_postcode": "BL1 1AA",
        },
        {"customer_id": "no_addr", "nominee_name": "Ned Nominee"},
        {"customer_id": "no_nominee"},
    ]
    _customers(
        tmp_path,
        [
            {
                **r,
                "address_line_1": f"{k} Oak Street",
                "easting": E + 5 * k,
                "northing": N,
                "circuit_id": "C1",
            }
            for k, r in enumerate(rows)
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    cfg = _config(tmp_path)
    r = _run(tmp_path, cfg)
    letters = r.contacts[r.contacts["campaign"] == "outage_letter"]
    assert sorted(letters["customer_id"]) == ["no_addr", "no_nominee", "with_addr"]
    copies = r.nominee_copies
    original = letters.set_index("customer_id").loc["with_addr", "contact_ref"]
    assert copies[
        ["contact_ref", "addressee", "address_line_1", "post_town", "postcode"]
    ].values.tolist() == [[original + "-NC", "Nora Nominee", "9 Far Lane", "BOLTON", "BL1 1AA"]]
    issues = r.manual_review.set_index("customer_id")["issue"]
    assert issues.get("no_addr") == "copy_address_missing"  # shareable wording
    assert "with_addr" not in issues.index and "no_nominee" not in issues.index
    assert r.manifest["counts"]["nominee_copies"] == 1
    # the copy reaches the letter house's file
    toml = tmp_path / "c.toml"
    toml.write_text(
        "\n".join(
            [
                '[campaign]\nname = "n"\nreference = "N-1"\nrun_date = "2027-01-04"',
                '[inputs]\ncustomers = "customers.csv"\nequipment = "equipment.csv"',
                '[scope]\ncircuits = ["C1"]',
                "[radii]\nlv_capacitor = 30",
                '[campaigns]\nproduce = ["outage_phone_call"]',
            ]
        )
    )
    assert main(["run", str(toml), "--out", str(tmp_path / "out"), "--no-map", "--quiet"]) == 0
    written = pd.read_csv(tmp_path / "out" / "letters.csv", dtype=str, keep_default_na=False)
    copy = written[written["contact_ref"].str.endswith("-NC")]
    assert copy[["addressee", "address_line_1"]].values.tolist() == [["Nora Nominee", "9 Far Lane"]]


def test_no_nominee_address_column_is_one_warning_not_a_review_flood(tmp_path):
    _customers(
        tmp_path,
        [
            {
                "customer_id": f"c{k}",
                "nominee_name": "N",
                "easting": E + k,
                "northing": N,
                "circuit_id": "C1",
            }
            for k in range(3)
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    r = _run(tmp_path, _config(tmp_path))
    assert r.nominee_copies.empty
    assert not r.manual_review["issue"].isin(["copy_address_missing", "nominee_no_address"]).any()
    assert sum("no nominee address" in w for w in r.warnings) == 1


def test_psr_customer_without_phone_is_not_sent_back_to_review_every_wave(tmp_path):
    _customers(
        tmp_path,
        [
            {
                "customer_id": "nophone",
                "phone": "",
                "easting": E + 10,
                "northing": N,
                "circuit_id": "C1",
            },
        ],
    )
    _equipment(tmp_path, [{"equipment_id": "EQ1", "circuit_id": "C1", "easting": E, "northing": N}])
    cfg = _config(tmp_path)
    cfg["suppression"] = {"register": "register.parquet"}
    first = run_campaign(load_config(cfg, base=tmp_path), new_register=True)
    assert list(first.contacts["campaign"]) == ["outage_letter"]
    assert list(first.manual_review["issue"]) == ["no_usable_phone"]
    first.save_register()
    second = run_campaign(load_config(cfg, base=tmp_path))
    assert second.contacts.empty  # the letter went in wave 1
    assert second.manual_review.empty  # and the missing phone was reviewed then
