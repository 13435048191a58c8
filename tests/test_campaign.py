"""Campaigns on small hand-made inputs whose right answer is known, plus the demo."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from smartstreet_geo.campaign import load_config, normalise_uk_phone, run_campaign
from smartstreet_geo.export import atomic_write_bytes, write_campaign

E, N = 354500.0, 404100.0  # Wigan, postcode district WN5

CUSTOMER_HEADER = (
    "customer_id,premise_id,name,address_line_1,address_line_2,post_town,postcode,"
    "easting,northing,psr,psr_needs,phone,nominee_name,nominee_phone,circuit_id"
)


def customer(
    cid,
    dx,
    *,
    premise=None,
    name=None,
    address=None,
    psr="N",
    needs="",
    phone="",
    nominee="",
    nominee_phone="",
    circuit="C1",
):
    return ",".join(
        [
            cid,
            premise if premise is not None else f"P{cid}",
            name or f"Person {cid}",
            address or f"{cid} Oak Street",
            "",
            "WIGAN",
            "WN5 9XP",
            str(E + dx),
            str(N),
            psr,
            needs,
            phone,
            nominee,
            nominee_phone,
            circuit,
        ]
    )


def make_inputs(tmp_path: Path, rows: list[str], equipment: list[str], **extra) -> dict:
    (tmp_path / "customers.csv").write_text("\n".join([CUSTOMER_HEADER, *rows]) + "\n")
    (tmp_path / "equipment.csv").write_text(
        "equipment_id,kind,circuit_id,install_date,outage_required,easting,northing\n"
        + "\n".join(equipment)
        + "\n"
    )
    cfg = {
        "campaign": {"name": "test", "reference": "T-1", "run_date": "2027-01-04"},
        "inputs": {"customers": "customers.csv", "equipment": "equipment.csv"},
        "scope": {"circuits": ["C1"]},
        "radii": {
            "lv_capacitor": 30,
            "oltc_transformer": 50,
            "link_box_switch": 20,
            "circuit_breaker": 30,
        },
        "campaigns": {"produce": ["leaflet", "installation_letter", "outage_phone_call"]},
        "psr": {"needs_codes": str(ssg.demo.path("psr_needs_codes"))},
    }
    for k, v in extra.items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def run(tmp_path, cfg):
    return run_campaign(load_config(cfg, base=tmp_path))


# --------------------------------------------------------------------------- basics
def test_reasons_radius_and_one_letter_per_premise(tmp_path):
    rows = [
        customer("1", 10, premise="A"),
        customer("2", 10, premise="A"),  # same premise as 1: one letter
        customer("3", 30),  # exactly at the radius: within
        customer("4", 30.5),  # just outside
        customer("5", 200, circuit="C2"),  # another circuit, far away
    ]
    cfg = make_inputs(tmp_path, rows, [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"])
    r = run(tmp_path, cfg)
    il = r.contacts[r.contacts["campaign"] == "installation_letter"]
    assert sorted(il["customer_id"]) == ["1", "3"]
    assert il.set_index("customer_id").loc["3", "reason"] == (
        "new equipment nearby: EQ1 (lv capacitor) 30.0 m away, radius 30 m"
    )
    leaflets = r.contacts[r.contacts["campaign"] == "leaflet"]
    assert sorted(leaflets["customer_id"]) == ["1", "3", "4"]
    assert set(leaflets["addressee"]) == {"The Occupier"}
    rec = r.reconciliation.set_index("customer_id")
    assert rec.loc["2", "status"] == "contacted"
    assert "covered by the letter to the same premise" in rec.loc["2", "reason"]
    assert rec.loc["5", "status"] == "not_contacted"
    assert r.equipment.set_index("equipment_id").loc["EQ1", "n_customers_within"] == 3


def test_reconciliation_adds_up_with_rejects_and_duplicates(tmp_path):
    rows = [customer(str(i), i) for i in range(1, 6)]
    rows += [rows[0], rows[1].replace("Oak", "Elm"), "9,P9,X,1 Oak,,WIGAN,WN12,1,2,N,,,,,C1"]
    cfg = make_inputs(tmp_path, rows, [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"])
    r = run(tmp_path, cfg)
    rec = r.reconciliation
    assert len(rec) == len(rows)
    assert sorted(rec["source_row"]) == list(range(1, len(rows) + 1))
    assert int(r.status_counts().sum()) == len(rows)
    by_row = rec.set_index("source_row")["status"]
    assert by_row[6] == "exact_duplicate"  # exact duplicate of row 1 (a status of its own)
    assert by_row[2] == by_row[7] == "conflicting_duplicate"  # a status of its own
    assert by_row[8] == "rejected"
    assert set(r.manual_review["issue"]) == {"conflicting_duplicate"}


def test_kind_without_radius_is_an_error(tmp_path):
    cfg = make_inputs(
        tmp_path, [customer("1", 0)], [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"]
    )
    del cfg["radii"]["lv_capacitor"]
    with pytest.raises(ssg.ConfigError, match="no radius for equipment kind"):
        run(tmp_path, cfg)
    cfg["radii"]["flux_capacitor"] = 10
    with pytest.raises(ssg.ConfigError, match="unknown equipment kind 'flux_capacitor'"):
        load_config(cfg, base=tmp_path)


def test_unknown_config_key_is_named(tmp_path):
    cfg = make_inputs(tmp_path, [customer("1", 0)], [])
    cfg["output"] = {"delete_afterdays": 3}
    with pytest.raises(ssg.ConfigError, match=r"\[output\] unknown key 'delete_afterdays'"):
        load_config(cfg, base=tmp_path)


# --------------------------------------------------------------------------- PSR routing
@pytest.mark.parametrize(
    ("psr_fields", "called", "who", "review"),
    [
        ({"psr": "Y", "needs": "04", "phone": "+44 161 496 0123"}, True, "customer", set()),
        ({"psr": "Y", "needs": "04", "phone": ""}, False, None, {"no_usable_phone"}),
        ({"psr": "Y", "needs": "04", "phone": "12345"}, False, None, {"no_usable_phone"}),
        (
            {"psr": "Y", "needs": "04", "nominee": "Sam Carer", "nominee_phone": "07700 900123"},
            True,
            "nominee",
            set(),
        ),
        (
            {"psr": "Y", "needs": "33@2026-06-30", "phone": "0161 496 0124"},
            True,
            "customer",
            {"record_code_check"},
        ),
        (
            {"psr": "Y", "needs": "99", "phone": "0161 496 0125"},
            True,
            "customer",
            {"record_code_check"},
        ),
        ({"psr": "N", "phone": "0161 496 0126"}, False, None, set()),
    ],
    ids=["phone", "no_phone", "bad_phone", "nominee", "expired_code", "unknown_code", "not_psr"],
)
def test_psr_routing(tmp_path, psr_fields, called, who, review):
    rows = [customer("1", 5, **psr_fields)]
    cfg = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"])
    r = run(tmp_path, cfg)
    calls = r.contacts[r.contacts["campaign"] == "outage_phone_call"]
    assert (len(calls) == 1) is called
    if called:
        assert calls["call_who"].iloc[0] == who
        assert calls["call_number"].iloc[0].startswith("0")
    assert set(r.manual_review["issue"]) == review
    if psr_fields["psr"] == "Y":  # the PSR customer also gets the outage letter, by name
        letters = r.contacts[r.contacts["campaign"] == "outage_letter"]
        assert letters["addressee"].tolist() == ["Person 1"]


def test_phone_numbers_normalised_not_mangled():
    assert normalise_uk_phone("+44 161 496 0123") == "0161 496 0123"
    assert normalise_uk_phone("0044 7700 900123") == "07700 900123"
    assert normalise_uk_phone("(0161) 496-0123") == "0161 496 0123"
    assert normalise_uk_phone("=1+1") is None


def test_notice_date_warning(tmp_path):
    rows = [customer("1", 5, psr="Y", needs="04", phone="0161 496 0123")]
    late = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-01-06,true,{E},{N}"])
    r = run(tmp_path, late)
    assert any("EQ9" in w and "too late" in w and "2027-01-01" in w for w in r.warnings)
    early = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-02-06,true,{E},{N}"])
    assert not any("too late" in w for w in run(tmp_path, early).warnings)
    assert run(tmp_path, early).manifest["parameters"]["latest_send_dates"] == {"EQ9": "2027-02-01"}


def test_opt_out_suppresses_letters_not_outage_notices(tmp_path):
    rows = [customer("1", 5, psr="Y", needs="04", phone="0161 496 0123"), customer("2", 6)]
    (tmp_path / "optout.csv").write_text("customer_id\n1\n2\n")
    cfg = make_inputs(
        tmp_path,
        rows,
        [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"],
        suppression={"opted_out": "optout.csv"},
    )
    r = run(tmp_path, cfg)
    got = set(zip(r.contacts["customer_id"], r.contacts["campaign"], strict=True))
    assert got == {("1", "outage_letter"), ("1", "outage_phone_call")}
    assert "opted out" in r.reconciliation.set_index("customer_id").loc["2", "reason"]


# --------------------------------------------------------------------------- delta run
def test_delta_run_contacts_only_the_newly_affected(tmp_path):
    rows = [customer(str(i), 10 * i) for i in range(1, 8)]
    register = {"register": "register.parquet"}
    first = make_inputs(
        tmp_path, rows, [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"], suppression=register
    )
    r1 = run(tmp_path, first)
    assert any("register.parquet does not exist" in w for w in r1.warnings)
    assert not (tmp_path / "register.parquet").exists()  # saved only with the outputs
    out1 = tmp_path / "run1"
    write_campaign(r1, out1, map_html=False)
    assert (tmp_path / "register.parquet").is_file()
    sent1 = set(r1.contacts.loc[r1.contacts["campaign"] == "installation_letter", "customer_id"])
    assert sent1 == {"1", "2", "3"}
    # a second capacitor 45 m further east; the register remembers the first run
    second = make_inputs(
        tmp_path,
        rows,
        [
            f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}",
            f"EQ2,lv_capacitor,C1,2027-04-01,false,{E + 45},{N}",
        ],
        suppression=register,
    )
    r2 = run(tmp_path, second)
    assert not any("does not exist" in w for w in r2.warnings)
    # references continue the register's numbers
    refs1, refs2 = set(r1.contacts["contact_ref"]), set(r2.contacts["contact_ref"])
    assert not refs1 & refs2
    il1 = r1.contacts["contact_ref"][r1.contacts["campaign"] == "installation_letter"]
    il2 = r2.contacts["contact_ref"][r2.contacts["campaign"] == "installation_letter"]
    assert min(il2) == f"T-1-IL-{len(il1) + 1:07d}"
    il = r2.contacts[r2.contacts["campaign"] == "installation_letter"].set_index("customer_id")
    # 4..7 are newly within 30 m of EQ2; 1 is not; 2 and 3 were written to about EQ1 but EQ2 is new to them
    assert sorted(il.index) == ["2", "3", "4", "5", "6", "7"]
    assert il.loc["3", "equipment_ids"] == "EQ2"
    assert "new since last run: EQ2" in il.loc["3", "reason"]
    assert r2.contacts[r2.contacts["campaign"] == "leaflet"].empty  # everyone had one
    assert "already sent" in r2.reconciliation.set_index("customer_id").loc["1", "reason"]


def test_register_needs_a_reference_and_refuses_another_key(tmp_path):
    rows = [customer("1", 10)]
    eq = [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"]
    cfg = make_inputs(tmp_path, rows, eq, suppression={"register": "r.parquet"})
    cfg["campaign"]["reference"] = ""
    with pytest.raises(ssg.ConfigError, match=r"register: needs a \[campaign\] reference"):
        load_config(cfg, base=tmp_path)
    cfg["campaign"]["reference"] = "T-1"
    key = b"k" * 8 + b"0123456789abcdef0123"
    r = run_campaign(load_config(cfg, base=tmp_path), pseudonym_key=key, new_register=True)
    assert not r.warnings or not any("does not exist" in w for w in r.warnings)
    write_campaign(r, tmp_path / "o1", map_html=False)
    from smartstreet_geo.campaign.register import RegisterError

    with pytest.raises(RegisterError, match="different pseudonym key"):
        run_campaign(load_config(cfg, base=tmp_path), pseudonym_key=key[::-1])
    with pytest.raises(RegisterError, match="holds pseudonymised ids"):
        run_campaign(load_config(cfg, base=tmp_path))


def test_register_is_not_kept_when_the_folder_is_not_written(tmp_path, monkeypatch):
    rows = [customer("1", 10)]
    eq = [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"]
    cfg = make_inputs(tmp_path, rows, eq, suppression={"register": "r.parquet"})
    r1 = run(tmp_path, cfg)

    def broken(path):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_campaign(r1, tmp_path / "o1", extra_outputs={"map.html": broken})
    assert not (tmp_path / "o1").exists() and not (tmp_path / "r.parquet").exists()
    # a write that fails at the very end (the move into place): the register is saved, then undone
    r2 = run(tmp_path, cfg)
    import smartstreet_geo.export as export

    def fail(self):
        raise OSError("rename failed")

    with monkeypatch.context() as m:
        m.setattr(export.StagedFolder, "commit", fail)
        with pytest.raises(OSError, match="rename failed"):
            write_campaign(r2, tmp_path / "o2", map_html=False)
    from smartstreet_geo.campaign.register import load_register

    reg = load_register(tmp_path / "r.parquet", campaign_reference="T-1")
    assert len(reg) == 0 and not reg.is_new  # this run's contacts taken out again
    r3 = run(tmp_path, cfg)  # numbers used by the undone run stay used
    assert set(r3.contacts["contact_ref"]).isdisjoint(r2.contacts["contact_ref"])


# --------------------------------------------------------------------------- output safety
HOSTILE = ["=HYPERLINK(1)", "+SUM(A1)", "-2+3", "@cmd"]
TRIGGERS = ["=1+1", "+1+1", "-1+1", "@SUM(1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", TRIGGERS)
def test_every_trigger_neutralised_in_csv_and_xlsx(tmp_path, value):
    openpyxl = pytest.importorskip("openpyxl")
    from smartstreet_geo.export import write_csv, write_xlsx

    frame = pd.DataFrame({"name": [value], "phone": ["0161 496 0123"], "n": ["-2.5"]})
    write_csv(frame, tmp_path / "x.csv")
    got = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False)
    assert got["name"].iloc[0] == "'" + value
    assert got["phone"].iloc[0] == "0161 496 0123" and got["n"].iloc[0] == "-2.5"
    write_xlsx(frame, tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    # (openpyxl shows a CR stored in XLSX as its escape _x000D_); no apostrophe: it would print
    assert ws["A2"].value == value.replace("\r", "_x000D_")
    assert ws["A2"].data_type == "s"  # a string cell, not a formula


def test_formula_injection_neutralised_in_csv_and_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = [customer(str(i + 1), i, name=h, address=f"{h} Street") for i, h in enumerate(HOSTILE)]
    rows.append(customer("9", 3, address="-5", psr="Y", needs="04", phone="+44 161 496 0123"))
    cfg = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"])
    r = run(tmp_path, cfg)
    out = tmp_path / "out"
    out.mkdir()
    write_campaign(r, out, map_html=False)
    letters = pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False)
    for cell in letters.to_numpy().ravel():
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not (
            cell.startswith("-") and cell != "-5"
        ), repr(cell)
    assert "-5" in set(letters["address_line_1"])  # a plain number is left alone
    assert "'=HYPERLINK(1) Street" in set(letters["address_line_1"])
    wb = openpyxl.load_workbook(out / "letters.xlsx")
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", c.coordinate  # never a formula
                texts.append(c.value)
    # the text as given, printed as it is (no apostrophe prefix in XLSX)
    assert "=HYPERLINK(1) Street" in texts and "'=HYPERLINK(1) Street" not in texts
    calls = pd.read_csv(out / "phone_calls.csv", dtype=str)
    assert calls["call_number"].tolist() == ["0161 496 0123"]  # not "'+44 161 ..."


def test_outputs_are_owner_only_and_byte_identical(tmp_path):
    rows = [
        customer(
            str(i),
            7 * i,
            psr="Y" if i % 3 == 0 else "N",
            needs="04" if i % 3 == 0 else "",
            phone="0161 496 0100",
        )
        for i in range(1, 30)
    ]
    cfg = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"])
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_campaign(run(tmp_path, cfg), a, map_html=False)
    write_campaign(run(tmp_path, cfg), b, map_html=False)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert stat.S_IMODE(os.stat(a / name).st_mode) == 0o600
    assert_same_but_the_run_time(a, b)


def assert_same_but_the_run_time(a: Path, b: Path) -> None:
    """Two output folders of the same inputs: identical bytes but the manifest's run time.

    ``created`` and ``delete_after`` are the real time of each run. The register's
    ``run_id`` (manifest and contact_trace.csv) is random today: compared apart.
    """
    import json

    from smartstreet_geo.campaign.manifest import RUN_VARYING_KEYS

    def manifest(folder: Path) -> dict:
        m = json.loads((folder / "manifest.json").read_text())
        for key in (*RUN_VARYING_KEYS, "run_id"):
            m.pop(key, None)
        m["outputs"] = [o for o in m["outputs"] if o["file"] != "contact_trace.csv"]
        return m

    assert manifest(a) == manifest(b)
    for p in sorted(a.iterdir()):
        if p.name == "contact_trace.csv":
            ta, tb = (pd.read_csv(d / p.name, dtype=str) for d in (a, b))
            assert ta.drop(columns="run_id").equals(tb.drop(columns="run_id"))
        elif p.name != "manifest.json":
            assert p.read_bytes() == (b / p.name).read_bytes(), p.name


def test_interrupted_write_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "letters.csv"
    atomic_write_bytes(target, b"version 1\n")

    def boom(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"version 2, half written" * 1000)
    assert target.read_bytes() == b"version 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["letters.csv"]  # no temporary file left


def test_pseudonymised_ids(tmp_path):
    rows = [customer("1600000000001", 5), customer("1600000000002", 6)]
    cfg = make_inputs(tmp_path, rows, [])
    out = tmp_path / "out"
    out.mkdir()
    write_campaign(
        run(tmp_path, cfg), out, pseudonym_key=b"0123456789abcdef-secret", map_html=False
    )
    text = (out / "reconciliation.csv").read_text() + (out / "manual_review.csv").read_text()
    assert "1600000000001" not in text
    rec = pd.read_csv(out / "reconciliation.csv", dtype=str)
    assert rec["customer_id"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_the_results_customers_keep_no_names_phones_needs_or_nominees():
    # data minimisation: a result kept in a notebook holds the personal columns only in the
    # contacts that need them; its customers are what maps, GIS layers and counts read
    from smartstreet_geo.campaign._partition import PART_CUSTOMER_COLUMNS

    cfg = load_config(ssg.demo.path("campaign"))
    r = run_campaign(cfg)
    customers = r.customers
    own = [c for c in customers.columns if c != customers.geometry.name]
    assert set(own) <= set(PART_CUSTOMER_COLUMNS), own
    read = ssg.read_customers(cfg.customers).data
    personal = ("name", "phone", "psr_needs", "nominee_name", "nominee_phone", "connection_node")
    assert all(c in read for c in personal)  # the premise: the file has them
    assert not any(c in customers for c in personal)
    names = set(read["name"].dropna())
    assert names.isdisjoint(customers[own].astype(str).to_numpy().ravel())
    letters = r.contacts[r.contacts["campaign"] == "outage_letter"]
    assert letters["name"].notna().all() and r.contacts["phone"].notna().any()
    assert len(customers) == r.status_table()["map_category"].notna().sum()


def test_manifest_records_inputs_and_dates(tmp_path):
    cfg = make_inputs(
        tmp_path, [customer("1", 5)], [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"]
    )
    m = run(tmp_path, cfg).manifest
    assert m["run_date"] == "2027-01-04"  # created / delete_after: the real time (test_privacy)
    roles = {i["role"]: i for i in m["inputs"]}
    import hashlib

    assert (
        roles["customers"]["sha256"]
        == hashlib.sha256((tmp_path / "customers.csv").read_bytes()).hexdigest()
    )
    assert roles["customers"]["rows"] == 1
    assert m["version"] == ssg.__version__
    assert date.fromisoformat(m["run_date"]) == date(2027, 1, 4)


# --------------------------------------------------------------------------- with the network
def test_outage_equipment_on_the_demo_network(tmp_path):
    """Equipment sharing an isolation point share its customers; one off the network takes out
    its whole declared feeder (and says so)."""
    import tomllib

    demo_dir = ssg.demo.path("campaign").parent
    cfg = tomllib.loads(ssg.demo.path("campaign").read_text())
    for key, value in cfg["inputs"].items():
        cfg["inputs"][key] = str(demo_dir / value)
    cfg["psr"]["needs_codes"] = str(demo_dir / cfg["psr"]["needs_codes"])
    cfg["locate"] = {k: str(demo_dir / v) for k, v in cfg["locate"].items()}
    eq = pd.read_csv(ssg.demo.path("equipment"), dtype=str)
    base = run_campaign(load_config(cfg))  # pick an item whose installation cuts PSR customers off
    cutting = base.contacts.loc[base.contacts["campaign"] == "outage_phone_call", "equipment_ids"]
    first_id = sorted(cutting.str.split(";").explode())[0]
    one = eq[eq["equipment_id"] == first_id]
    twin = one.assign(equipment_id="TWIN")
    lost = one.assign(
        equipment_id="LOST", longitude=(one["longitude"].astype(float) + 0.02).map("{:.7f}".format)
    )
    pd.concat([one, twin, lost]).to_csv(tmp_path / "equipment.csv", index=False)
    cfg["inputs"]["equipment"] = str(tmp_path / "equipment.csv")
    r = run_campaign(load_config(cfg))

    calls = r.contacts[r.contacts["campaign"] == "outage_phone_call"]
    per_eq = {
        e: set(calls.loc[calls["equipment_ids"].str.contains(e), "customer_id"])
        for e in ("TWIN", "LOST")
    }
    first = one["equipment_id"].iloc[0]
    assert per_eq["TWIN"] == set(
        calls.loc[calls["equipment_ids"].str.contains(first), "customer_id"]
    )
    assert per_eq["TWIN"]  # the switch cuts someone off
    assert any(w.startswith("LOST: cannot be placed on the network") for w in r.warnings)
    customers = r.customers
    feeder = customers[(customers["circuit_id"] == one["circuit_id"].iloc[0]) & customers["psr"]]
    called = set(calls["customer_id"])
    on_feeder_callable = set(feeder["customer_id"]) & called
    assert per_eq["LOST"] == on_feeder_callable
    assert per_eq["TWIN"] < per_eq["LOST"]


# --------------------------------------------------------------------------- letters
def test_merge_fields_sheets_per_template_and_one_envelope(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = [customer("1", 10, premise="A"), customer("2", 200, premise="B")]
    eq = [f"EQ1,lv_capacitor,C1,2027-03-01,false,{E},{N}"]
    cfg = make_inputs(tmp_path, rows, eq)
    cfg["templates"] = {"leaflet": "LEAF/01", "installation_letter": "INSTALL-01"}
    r = run(tmp_path, cfg)
    il = r.contacts[r.contacts["campaign"] == "installation_letter"].iloc[0]
    assert (il["equipment_kind"], il["install_date"]) == ("LV capacitor", "2027-03-01")
    assert "outage_start" not in r.contacts.columns  # no input carries times
    write_campaign(r, tmp_path / "o1", map_html=False)
    wb = openpyxl.load_workbook(tmp_path / "o1" / "letters.xlsx")
    assert wb.sheetnames == ["LEAF_01", "INSTALL-01"]  # "/" is not allowed in a sheet name
    assert wb["INSTALL-01"]["A2"].value == il["contact_ref"]
    assert wb["LEAF_01"].max_row == 3  # header and the two premises' leaflets
    assert wb["LEAF_01"].column_dimensions["E"].width > 8  # widths fitted to the content

    cfg["output"] = {"one_envelope_per_premise": True}
    r2 = run(tmp_path, cfg)
    write_campaign(r2, tmp_path / "o2", map_html=False)
    letters = pd.read_csv(tmp_path / "o2" / "letters.csv", dtype=str, keep_default_na=False)
    # premise A: leaflet and installation letter in one envelope; premise B: the leaflet only
    assert len(letters) == 2
    both = letters[letters["campaign"].str.contains(";")].iloc[0]
    assert both["campaign"] == "leaflet;installation_letter"
    assert both["template_id"] == "LEAF/01;INSTALL-01"
    refs = both["contact_ref"].split(";")
    assert set(refs) == set(r2.contacts.loc[r2.contacts["premise_key"] == "uprn:A", "contact_ref"])
    assert (
        both["reason"].startswith("leaflet: served by circuit C1")
        and " | installation letter: " in both["reason"]
    )
    assert both["equipment_kind"] == "LV capacitor"
