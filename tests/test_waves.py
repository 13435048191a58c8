"""Three waves of the demo campaign with one contact register (issue 12).

Wave 1 is the demo campaign. Wave 2 adds two pieces of equipment. Wave 3
moves an outage date and adds a second meter at a premise that already had a
leaflet. Each wave's contacts are checked against an oracle: a full run of the
same inputs without a register (what a first wave would send), minus the
*items* the earlier waves sent, matched as the register's rules say (leaflet
per premise, installation letter per premise and equipment, outage letter per
premise, equipment and date, call per customer, equipment and date). The same
waves run pseudonymised (the key from ``SMARTSTREET_PSEUDONYM_KEY``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import timedelta

import pandas as pd
import pytest

import smartstreet_geo as ssg
from smartstreet_geo.campaign import load_config, run_campaign
from smartstreet_geo.export import write_campaign

DEMO = ssg.demo.path("campaign").parent


def _items(contacts: pd.DataFrame, dates: dict[str, str]) -> set[tuple[str, ...]]:
    """Return what the contacts say, one item per campaign, key and equipment (and date)."""
    out: set[tuple[str, ...]] = set()
    for row in contacts.itertuples(index=False):
        eqs = [e for e in str(row.equipment_ids or "").split(";") if e]
        if row.campaign == "leaflet":
            out.add(("leaflet", row.premise_key))
        elif row.campaign == "installation_letter":
            out |= {("installation_letter", row.premise_key, e) for e in eqs}
        elif row.campaign == "outage_letter":
            out |= {("outage_letter", row.premise_key, e, dates[e]) for e in eqs}
        else:
            out |= {("outage_phone_call", row.customer_id, e, dates[e]) for e in eqs}
    return out


def _dates(result) -> dict[str, str]:
    eq = result.equipment
    return {
        e: pd.Timestamp(d).date().isoformat()
        for e, d in zip(eq["equipment_id"], eq["install_date"], strict=True)
        if pd.notna(d)
    }


@pytest.fixture(scope="module")
def wave_inputs(tmp_path_factory):
    """The demo inputs copied to a folder, and the three waves' edits as functions."""
    root = tmp_path_factory.mktemp("waves")
    for f in DEMO.iterdir():
        shutil.copy(f, root / f.name)
    text = (root / "campaign.toml").read_text()
    text = text.replace(
        'needs_codes = "psr_needs_codes.csv"',
        'needs_codes = "psr_needs_codes.csv"\n\n[suppression]\nregister = "register.parquet"',
    )
    (root / "campaign.toml").write_text(text)
    return root


_FULL: dict[str, object] = {}


def _full(root, wave: str):
    """Return the full run of a wave's inputs without a register (the oracle's start).

    It does not depend on the pseudonym key (contacts carry the ids), so both
    variants share it: four demo runs fewer.
    """
    if wave not in _FULL:
        from dataclasses import replace

        cfg = replace(load_config(root / "campaign.toml"), register=None)
        _FULL[wave] = run_campaign(cfg)
    return _FULL[wave]


def _run(root, key):
    return run_campaign(load_config(root / "campaign.toml"), pseudonym_key=key, new_register=True)


def _wave2(root, w1) -> list[str]:
    """Append two pieces of equipment where no installation letter went in wave 1."""
    eq = pd.read_csv(root / "equipment.csv", dtype=str, keep_default_na=False)
    cust = pd.read_parquet(root / "customers.parquet")
    lettered = set(w1.contacts.loc[w1.contacts["campaign"] == "installation_letter", "premise_key"])
    from smartstreet_geo.campaign import premise_keys

    cust = cust[cust["premise_id"].astype(str) != ""]
    free = cust[~premise_keys(cust).isin(lettered) & (cust["circuit_id"] != "")]
    picks = free.sort_values("customer_id").iloc[[10, 5000]]
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(
        picks["easting"].to_numpy(), picks["northing"].to_numpy()
    )
    rows = []
    for i, (p, kind, outage) in enumerate(
        zip(picks.itertuples(), ["lv_capacitor", "circuit_breaker"], ["true", "false"], strict=True)
    ):
        rows.append({
            "equipment_id": f"EQ900{i + 1}", "kind": kind, "circuit_id": p.circuit_id,
            "substation_id": p.substation_id, "install_date": "2027-03-15",
            "outage_required": outage, "longitude": f"{lon[i]:.7f}", "latitude": f"{lat[i]:.7f}",
        })  # fmt: skip
    eq = pd.concat([eq, pd.DataFrame(rows)], ignore_index=True).fillna("")
    eq.to_csv(root / "equipment.csv", index=False)
    return [r["equipment_id"] for r in rows]


def _wave3(root, w1) -> tuple[str, str, str]:
    """Move the outage of the wave-1 equipment with most calls a week later; add a second meter."""
    calls = w1.contacts[w1.contacts["campaign"] == "outage_phone_call"]
    moved = calls["equipment_ids"].str.split(";").explode().value_counts().index[0]
    eq = pd.read_csv(root / "equipment.csv", dtype=str, keep_default_na=False)
    at = eq["equipment_id"] == moved
    new_date = (pd.Timestamp(eq.loc[at, "install_date"].iloc[0]) + timedelta(days=7)).date()
    eq.loc[at, "install_date"] = new_date.isoformat()
    eq.to_csv(root / "equipment.csv", index=False)
    cust = pd.read_parquet(root / "customers.parquet")
    leafleted = w1.contacts.loc[w1.contacts["campaign"] == "leaflet", "customer_id"]
    host = cust[cust["customer_id"].isin(set(leafleted)) & ~cust["psr"]].iloc[0].copy()
    host["customer_id"] = "1999999999999"
    host["name"] = "Second Meter"
    pd.concat([cust, host.to_frame().T.astype(cust.dtypes)], ignore_index=True).to_parquet(
        root / "customers.parquet", index=False
    )
    return moved, new_date.isoformat(), str(host["premise_id"])


def _expected(full, earlier: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """What a wave sends: the full run's items, less those an earlier wave sent."""
    return _items(full.contacts, _dates(full)) - earlier


@pytest.mark.parametrize("pseudonymise", [False, True], ids=["plain", "pseudonymised"])
def test_three_waves(wave_inputs, tmp_path, monkeypatch, pseudonymise):
    root = tmp_path / "inputs"
    shutil.copytree(wave_inputs, root)
    key = None
    if pseudonymise:
        monkeypatch.setenv("SMARTSTREET_PSEUDONYM_KEY", secrets.token_hex(32))
        key = os.environ["SMARTSTREET_PSEUDONYM_KEY"].encode()
    sent: set[tuple[str, ...]] = set()
    refs: list[str] = []

    # ---------------------------------------------------------------- wave 1: the demo
    w1 = _run(root, key)
    assert w1.register.is_new and len(w1.register) == len(w1.contacts)
    sent |= _items(w1.contacts, _dates(w1))
    refs += list(w1.contacts["contact_ref"])
    write_campaign(w1, tmp_path / "w1", pseudonym_key=key)
    trace = pd.read_csv(tmp_path / "w1" / "contact_trace.csv", dtype=str)
    assert list(trace["contact_ref"]) == list(w1.contacts["contact_ref"])
    if pseudonymise:  # the trace holds pseudonyms, never the ids
        assert not set(trace["customer_id"]) & set(w1.contacts["customer_id"])
        assert trace["customer_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    else:
        assert list(trace["customer_id"]) == list(w1.contacts["customer_id"])
    letters = pd.read_csv(tmp_path / "w1" / "letters.csv", dtype=str)
    assert "customer_id" not in letters.columns and letters["contact_ref"].notna().all()

    # ---------------------------------------------------------------- wave 2: two more
    new_eq = _wave2(root, w1)
    full2 = _full(root, "2")
    w2 = _run(root, key)
    got2 = _items(w2.contacts, _dates(w2))
    assert got2 == _expected(full2, sent)
    assert got2, "wave 2 sends something"
    assert {i[2] for i in got2 if len(i) > 2} <= set(new_eq)  # only about the new equipment
    assert not any(i[0] == "leaflet" for i in got2)  # everyone in scope had a leaflet
    sent |= got2
    refs += list(w2.contacts["contact_ref"])
    write_campaign(w2, tmp_path / "w2", pseudonym_key=key)

    # ---------------------------------------------------------------- wave 3: moved, second meter
    moved, new_date, _premise = _wave3(root, w1)
    full3 = _full(root, "3")
    w3 = _run(root, key)
    got3 = _items(w3.contacts, _dates(w3))
    assert got3 == _expected(full3, sent)
    # the moved outage is announced again, with its new date, and nothing else is repeated
    assert {i[2:] for i in got3 if i[0].startswith("outage")} == {(moved, new_date)}
    assert not any(i[0] in ("leaflet", "installation_letter") for i in got3)
    # the second meter at a leafleted premise gets no leaflet
    assert "1999999999999" not in set(w3.contacts["customer_id"])
    rec = w3.reconciliation.set_index("customer_id")
    assert "leaflet already sent" in rec.loc["1999999999999", "reason"]
    refs += list(w3.contacts["contact_ref"])
    write_campaign(w3, tmp_path / "w3", pseudonym_key=key)

    # ---------------------------------------------------------------- across waves
    assert len(refs) == len(set(refs))
    from smartstreet_geo.campaign.register import load_register

    reg = load_register(
        root / "register.parquet", campaign_reference="SS-DEMO-2027", pseudonym_key=key
    )
    assert sorted(reg.table["contact_ref"]) == sorted(refs)
    assert reg.pseudonymised is pseudonymise


def test_a_repeat_wave_sends_nothing_and_still_writes_its_folder(wave_inputs, tmp_path):
    """The same inputs again with the first wave's register: no contact, a complete folder."""
    root = tmp_path / "inputs"
    shutil.copytree(wave_inputs, root)
    w1 = _run(root, None)
    write_campaign(w1, tmp_path / "w1")
    again = _run(root, None)
    assert len(again.contacts) == 0
    write_campaign(again, tmp_path / "again")  # no letter of any template: nothing to group
    letters = pd.read_csv(tmp_path / "again" / "letters.csv", dtype=str)
    calls = pd.read_csv(tmp_path / "again" / "phone_calls.csv", dtype=str)
    assert len(letters) == 0 and len(calls) == 0
    assert list(letters.columns) == list(pd.read_csv(tmp_path / "w1" / "letters.csv", nrows=0))
    rec = pd.read_csv(tmp_path / "again" / "reconciliation.csv", dtype=str)
    assert len(rec) == len(w1.reconciliation)
    assert (rec["status"] != "contacted").all()
