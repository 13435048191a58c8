"""The contact register across waves: suppression, references, pseudonyms, atomic saves, scale."""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hostile import HOSTILE, UNENCODABLE
from smartstreet_geo.campaign import CAMPAIGNS
from smartstreet_geo.campaign.register import (
    METADATA_KEY,
    REGISTER_COLUMNS,
    TRACE_COLUMNS,
    ContactRegister,
    RegisterError,
    allocate_refs,
    append_contacts,
    forget_run,
    load_register,
    record_contacts,
    save_register,
    suppress_repeats,
    trace_table,
)
from smartstreet_geo.errors import ParameterError

REF = "SS-DEMO-2027"
KEY = b"0123456789abcdef-register-test-key"
OTHER_KEY = b"fedcba9876543210-another-test-key"

EQ1_FIRST = dt.date(2027, 2, 1)
EQ1_MOVED = dt.date(2027, 2, 15)
EQ2_DATE = dt.date(2027, 3, 1)


def contacts(*rows: tuple[str, str | None, str | None, str | None]) -> pd.DataFrame:
    """Contacts as run_campaign builds them: (campaign, customer_id, premise_key, equipment_ids)."""
    frame = pd.DataFrame(
        [
            {
                "campaign": camp,
                "channel": CAMPAIGNS[camp],
                "customer_id": cid,
                "premise_key": pkey,
                "equipment_ids": eqs,
                "reason": f"because {eqs or 'in scope'}",
                "postcode": "WN5 9XP",
            }
            for camp, cid, pkey, eqs in rows
        ]
    )
    return frame


def wave(
    path: Path,
    frame: pd.DataFrame,
    dates: dict[str, dt.date | None],
    run_id: str,
    run_date: dt.date,
    key: bytes | None = None,
    reference: str = REF,
) -> tuple[pd.DataFrame, pd.DataFrame, ContactRegister]:
    """One run: suppress, number, append and save."""
    reg = load_register(path, campaign_reference=reference, pseudonym_key=key)
    kept, suppressed = suppress_repeats(frame, reg, outage_dates=dates)
    kept = kept.copy()
    kept.insert(0, "contact_ref", allocate_refs(kept, reg))
    saved = record_contacts(reg, kept, run_id=run_id, run_date=run_date, outage_dates=dates)
    return kept, suppressed, saved


def made(kept: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    return sorted(
        (c, i, e if isinstance(e, str) else None)
        for c, i, e in zip(
            kept["campaign"], kept["customer_id"], kept["equipment_ids"], strict=True
        )
    )


# C1 at P1, C2 at P2 (PSR), C3 at P3 (PSR); wave 3 adds C4, a second meter at P1.
P1, P2, P3 = "uprn:100", "uprn:200", "addr:3 OAK ST|WN5 9XP"
WAVE1 = contacts(
    ("leaflet", "C1", P1, None),
    ("leaflet", "C2", P2, None),
    ("leaflet", "C3", P3, None),
    ("installation_letter", "C1", P1, "EQ1"),
    ("installation_letter", "C2", P2, "EQ1"),
    ("outage_letter", "C2", P2, "EQ1"),
    ("outage_phone_call", "C2", P2, "EQ1"),
)
DATES1 = {"EQ1": EQ1_FIRST}
# EQ2 goes in near P2 and P3 and cuts off C2 and C3
WAVE2 = contacts(
    ("leaflet", "C1", P1, None),
    ("leaflet", "C2", P2, None),
    ("leaflet", "C3", P3, None),
    ("installation_letter", "C1", P1, "EQ1"),
    ("installation_letter", "C2", P2, "EQ1;EQ2"),
    ("installation_letter", "C3", P3, "EQ2"),
    ("outage_letter", "C2", P2, "EQ1;EQ2"),
    ("outage_letter", "C3", P3, "EQ2"),
    ("outage_phone_call", "C2", P2, "EQ1;EQ2"),
    ("outage_phone_call", "C3", P3, "EQ2"),
)
DATES2 = {"EQ1": EQ1_FIRST, "EQ2": EQ2_DATE}
# EQ1's outage moves; C4 is a second meter at P1 (already leafleted, already told about EQ1)
WAVE3 = contacts(
    ("leaflet", "C1", P1, None),
    ("leaflet", "C2", P2, None),
    ("leaflet", "C3", P3, None),
    ("leaflet", "C4", P1, None),
    ("installation_letter", "C4", P1, "EQ1"),
    ("installation_letter", "C2", P2, "EQ1;EQ2"),
    ("installation_letter", "C3", P3, "EQ2"),
    ("outage_letter", "C2", P2, "EQ1;EQ2"),
    ("outage_letter", "C3", P3, "EQ2"),
    ("outage_phone_call", "C2", P2, "EQ1;EQ2"),
    ("outage_phone_call", "C3", P3, "EQ2"),
)
DATES3 = {"EQ1": EQ1_MOVED, "EQ2": EQ2_DATE}


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "pseudonymised"])
def test_three_waves(tmp_path, key):
    path = tmp_path / "register.parquet"
    # wave 1: everything is new
    k1, s1, _ = wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4), key)
    assert s1.empty
    assert made(k1) == made(WAVE1)
    assert k1["contact_ref"].tolist() == [
        f"{REF}-LF-0000001",
        f"{REF}-LF-0000002",
        f"{REF}-LF-0000003",
        f"{REF}-IL-0000001",
        f"{REF}-IL-0000002",
        f"{REF}-OL-0000001",
        f"{REF}-PC-0000001",
    ]

    # wave 2: only what is about EQ2 goes out, naming EQ2 only
    k2, s2, _ = wave(path, WAVE2, DATES2, "w2", dt.date(2027, 2, 1), key)
    assert made(k2) == [
        ("installation_letter", "C2", "EQ2"),
        ("installation_letter", "C3", "EQ2"),
        ("outage_letter", "C2", "EQ2"),
        ("outage_letter", "C3", "EQ2"),
        ("outage_phone_call", "C2", "EQ2"),
        ("outage_phone_call", "C3", "EQ2"),
    ]
    partial = k2[k2["customer_id"].eq("C2")]
    assert (partial["reason"] == "because EQ1;EQ2 (new since last run: EQ2)").all()
    assert made(s2) == [
        ("installation_letter", "C1", "EQ1"),
        ("leaflet", "C1", None),
        ("leaflet", "C2", None),
        ("leaflet", "C3", None),
    ]
    assert k2["contact_ref"].tolist() == [
        f"{REF}-IL-0000003",
        f"{REF}-IL-0000004",
        f"{REF}-OL-0000002",
        f"{REF}-OL-0000003",
        f"{REF}-PC-0000002",
        f"{REF}-PC-0000003",
    ]

    # wave 3: the moved outage is told again (EQ1 only); the second meter at P1 gets nothing
    k3, s3, r3 = wave(path, WAVE3, DATES3, "w3", dt.date(2027, 2, 3), key)
    assert made(k3) == [("outage_letter", "C2", "EQ1"), ("outage_phone_call", "C2", "EQ1")]
    assert (
        k3["reason"]
        == "because EQ1;EQ2 (new since last run: EQ1) (outage date changed: EQ1 was 2027-02-01)"
    ).all()
    assert k3["contact_ref"].tolist() == [f"{REF}-OL-0000004", f"{REF}-PC-0000004"]
    assert not s3["customer_id"].eq("C2").any() or set(
        s3.loc[s3["customer_id"].eq("C2"), "campaign"]
    ) == {"leaflet", "installation_letter"}
    c4 = s3[s3["customer_id"].eq("C4")].set_index("campaign")
    assert c4.loc["leaflet", "suppressed_reason"] == (
        f"leaflet already sent to this premise under {REF} in an earlier run ({REF}-LF-0000001)"
    )
    assert c4.loc["installation_letter", "suppressed_reason"] == (
        "installation letter already sent to this premise about EQ1 in an earlier run "
        f"({REF}-IL-0000001)"
    )

    # the register: every contact once, references unique, the file reads back the same
    table = r3.table
    assert len(table) == 7 + 6 + 2
    assert table["contact_ref"].is_unique
    assert table["run_id"].tolist() == ["w1"] * 7 + ["w2"] * 6 + ["w3"] * 2
    back = load_register(path, campaign_reference=REF, pseudonym_key=key)
    assert list(back.table.columns) == list(REGISTER_COLUMNS)
    pd.testing.assert_frame_equal(back.table, table)
    moved = table[table["contact_ref"].eq(f"{REF}-PC-0000004")].iloc[0]
    assert (moved["equipment_ids"], moved["outage_dates"]) == ("EQ1", "2027-02-15")
    if key is None:
        assert set(table["customer_key"]) == {"C1", "C2", "C3"}
    else:
        assert not set(table["customer_key"]) & {"C1", "C2", "C3", "C4"}
        assert not table["premise_key"].str.contains("OAK").any()

    # the trace links each reference of a run to its customer and premise
    trace = trace_table(r3, run_id="w2")
    assert list(trace.columns) == list(TRACE_COLUMNS)
    assert trace["contact_ref"].tolist() == k2["contact_ref"].tolist()
    if key is None:
        assert trace["customer_id"].tolist() == k2["customer_id"].tolist()
        assert trace["premise_key"].tolist() == k2["premise_key"].tolist()
    assert (trace["run_date"] == "2027-02-01").all()
    assert len(trace_table(r3)) == len(table)


def test_a_first_wave_suppresses_nothing_and_holds_none_of_the_contacts(tmp_path):
    # the empty table of suppressed contacts is kept to the end of a run: an empty slice of
    # the contacts would be a view of all their Arrow buffers (0.3 GB at 2.4 M customers)
    frame = WAVE1.astype(dict.fromkeys(("campaign", "customer_id", "reason", "postcode"), "str"))
    reg = load_register(tmp_path / "r.parquet", campaign_reference=REF)
    kept, suppressed = suppress_repeats(frame, reg, outage_dates=DATES1)
    assert kept is frame and suppressed.empty
    assert list(suppressed.columns) == [*frame.columns, "suppressed_reason", "previous_refs"]
    assert (suppressed.dtypes[frame.columns] == frame.dtypes).all()
    for col in ("campaign", "customer_id", "reason", "postcode"):
        arr = pa.array(suppressed[col].array)
        assert sum(b.size for b in arr.buffers() if b is not None) <= 8, col


def test_reasons_carry_no_personal_data(tmp_path):
    path = tmp_path / "r.parquet"
    wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4))
    reg = load_register(path, campaign_reference=REF)
    _, suppressed = suppress_repeats(WAVE1, reg, outage_dates=DATES1)
    assert len(suppressed) == len(WAVE1)
    text = " ".join(suppressed["suppressed_reason"])
    for value in ("C1", "C2", "C3", "uprn:", "OAK", "WN5"):
        assert value not in text
    assert suppressed.loc[suppressed["campaign"].eq("outage_phone_call"), "suppressed_reason"].iloc[
        0
    ] == (
        f"outage phone call already made to this customer about EQ1 in an earlier run "
        f"({REF}-PC-0000001)"
    )


def test_pseudonymised_register_refuses_other_key_and_no_key(tmp_path):
    path = tmp_path / "register.parquet"
    wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4), KEY)
    with pytest.raises(RegisterError, match="written with a different pseudonym key"):
        load_register(path, campaign_reference=REF, pseudonym_key=OTHER_KEY)
    with pytest.raises(RegisterError, match="holds pseudonymised ids"):
        load_register(path, campaign_reference=REF)
    meta = pq.read_schema(path).metadata[METADATA_KEY]
    assert KEY not in meta
    assert b"0123456789abcdef" not in path.read_bytes()
    # and the other way round: a plain register refuses a key
    plain = tmp_path / "plain.parquet"
    wave(plain, WAVE1, DATES1, "w1", dt.date(2027, 1, 4))
    with pytest.raises(RegisterError, match="holds real customer ids"):
        load_register(plain, campaign_reference=REF, pseudonym_key=KEY)


def test_blank_keys_never_match(tmp_path):
    path = tmp_path / "r.parquet"
    blanks = contacts(
        ("leaflet", "", "addr:|WN5 9XP", None),
        ("leaflet", None, "addr:1 OAK ST|", None),
        ("leaflet", "  ", None, None),
        ("leaflet", None, "uprn:", None),
        ("leaflet", None, "", None),
        ("outage_phone_call", "", P1, "EQ1"),
        ("outage_phone_call", None, P1, "EQ1"),
    )
    wave(path, blanks, DATES1, "w1", dt.date(2027, 1, 4))
    reg = load_register(path, campaign_reference=REF)
    assert reg.table["customer_key"].isna().all()
    assert reg.table["premise_key"].isna().sum() == 5
    kept, suppressed = suppress_repeats(blanks, reg, outage_dates=DATES1)
    assert len(kept) == len(blanks)
    assert suppressed.empty
    # the control: the same rows with real keys are suppressed
    real = contacts(("leaflet", "C9", "addr:9 OAK ST|WN5 9XP", None))
    wave(path, real, DATES1, "w2", dt.date(2027, 1, 5))
    reg = load_register(path, campaign_reference=REF)
    assert suppress_repeats(real, reg).kept.empty


def test_match_scope_rules(tmp_path):
    path = tmp_path / "r.parquet"
    wave(
        path,
        contacts(
            ("leaflet", "C1", P1, None),
            ("installation_letter", "C1", P1, "EQ1"),
            ("outage_phone_call", "C1", P1, "EQ1"),
        ),
        DATES1,
        "w1",
        dt.date(2027, 1, 4),
    )
    # another campaign reference: a new leaflet, but the equipment letter is not repeated
    reg = load_register(path, campaign_reference="SS-NEXT-2028")
    kept, _ = suppress_repeats(
        contacts(("leaflet", "C1", P1, None), ("installation_letter", "C1", P1, "EQ1")), reg
    )
    assert made(kept) == [("leaflet", "C1", None)]
    assert allocate_refs(kept, reg).tolist() == ["SS-NEXT-2028-LF-0000001"]
    # a letter matches by customer too (the premise key changed from address to UPRN)
    reg = load_register(path, campaign_reference=REF)
    kept, _ = suppress_repeats(contacts(("installation_letter", "C1", "uprn:999", "EQ1")), reg)
    assert kept.empty
    # a call is per customer: another PSR customer at the same premise gets their own
    kept, _ = suppress_repeats(
        contacts(("outage_phone_call", "C5", P1, "EQ1"), ("outage_phone_call", "C1", P1, "EQ1")),
        reg,
        outage_dates=DATES1,
    )
    assert made(kept) == [("outage_phone_call", "C5", "EQ1")]
    # an outage that had no date and now has one is told again
    reg_path = tmp_path / "nodate.parquet"
    wave(reg_path, contacts(("outage_letter", "C1", P1, "EQ1")), {"EQ1": None}, "w1", EQ1_FIRST)
    reg = load_register(reg_path, campaign_reference=REF)
    again = contacts(("outage_letter", "C1", P1, "EQ1"))
    assert suppress_repeats(again, reg, outage_dates={"EQ1": None}).kept.empty
    kept = suppress_repeats(again, reg, outage_dates={"EQ1": "2027-04-01"}).kept
    assert kept["reason"].iloc[0].endswith("(outage date changed: EQ1 had no date)")
    # moved twice: the latest earlier date is the one it moved from
    call = contacts(("outage_phone_call", "C1", P1, "EQ1"))
    moves = tmp_path / "moves.parquet"
    wave(moves, call, {"EQ1": "2027-04-01"}, "w1", EQ1_FIRST)
    wave(moves, call, {"EQ1": "2027-04-08"}, "w2", EQ1_FIRST)
    reg = load_register(moves, campaign_reference=REF)
    kept, suppressed = suppress_repeats(call, reg, outage_dates={"EQ1": "2027-04-15"})
    assert kept["reason"].iloc[0].endswith("(outage date changed: EQ1 was 2027-04-08)")
    kept, suppressed = suppress_repeats(call, reg, outage_dates={"EQ1": "2027-04-01"})
    assert kept.empty
    assert suppressed["previous_refs"].tolist() == [f"{REF}-PC-0000001"]


def test_outage_dates_are_required_for_outage_contacts(tmp_path):
    reg = load_register(tmp_path / "r.parquet", campaign_reference=REF)
    frame = contacts(("outage_phone_call", "C1", P1, "EQ1;EQ7"))
    with pytest.raises(ParameterError, match="no entry for equipment EQ7"):
        suppress_repeats(frame, reg, outage_dates={"EQ1": EQ1_FIRST})
    with pytest.raises(ParameterError, match="EQ1, EQ7"):
        suppress_repeats(frame, reg)
    with pytest.raises(ParameterError, match="not a date"):
        suppress_repeats(frame, reg, outage_dates={"EQ1": "soon", "EQ7": None})


def test_references_continue_and_are_never_reused(tmp_path):
    path = tmp_path / "r.parquet"
    reg = load_register(path, campaign_reference=REF)
    first = contacts(*[("leaflet", f"C{i}", f"uprn:{i}", None) for i in range(3)])
    first.insert(0, "contact_ref", allocate_refs(first, reg))
    reg = save_register(append_contacts(reg, first, run_id="a", run_date=dt.date(2027, 1, 4)))
    # refused: a reference not above the highest, a repeated one, a foreign pattern
    again = contacts(("leaflet", "C9", "uprn:9", None))
    for bad in (f"{REF}-LF-0000002", f"{REF}-LF-0000003", "SS-OTHER-LF-0000009", "LF-9"):
        again["contact_ref"] = bad
        with pytest.raises(ParameterError):
            append_contacts(reg, again, run_id="b", run_date=dt.date(2027, 1, 5))
    # rows removed from the table (a retention purge) do not free their numbers
    trimmed = ContactRegister(
        path=reg.path,
        campaign_reference=REF,
        table=reg.table.iloc[:1],
        pseudonymised=False,
        sequences=reg.sequences,
        _key=None,
        _loaded_sha256=None,
    )
    assert allocate_refs(again, trimmed).tolist() == [f"{REF}-LF-0000004"]
    # forgetting a run (never sent) frees its contacts for the next run, never its numbers
    second = contacts(("leaflet", "C1", "uprn:1", None), ("leaflet", "C7", "uprn:7", None))
    second.insert(0, "contact_ref", allocate_refs(second, reg))
    grown = save_register(append_contacts(reg, second, run_id="b", run_date=dt.date(2027, 1, 5)))
    assert second["contact_ref"].tolist() == [f"{REF}-LF-0000004", f"{REF}-LF-0000005"]
    assert suppress_repeats(second, grown).kept.empty
    undone = save_register(forget_run(grown, "b"))
    back = load_register(path, campaign_reference=REF)
    assert back.table["run_id"].tolist() == ["a"] * 3
    assert made(suppress_repeats(second, back).kept) == [("leaflet", "C7", None)]
    assert allocate_refs(second.iloc[:1], undone).tolist() == [f"{REF}-LF-0000006"]
    with pytest.raises(ParameterError, match="no contact of run"):
        forget_run(back, "b")
    reg = back
    # deterministic: the same contacts in the same order get the same references
    many = contacts(*[("leaflet", f"D{i}", f"uprn:d{i}", None) for i in range(5)])
    assert allocate_refs(many, reg).tolist() == allocate_refs(many.copy(), reg).tolist()
    assert allocate_refs(many, reg).iloc[0] == f"{REF}-LF-0000006"
    # wider than 7 digits once past 9,999,999, still unique
    big = ContactRegister(
        path=reg.path,
        campaign_reference=REF,
        table=reg.table,
        pseudonymised=False,
        sequences={REF: {"leaflet": 9_999_999}},
        _key=None,
        _loaded_sha256=None,
    )
    assert allocate_refs(many.iloc[:2], big).tolist() == [
        f"{REF}-LF-10000000",
        f"{REF}-LF-10000001",
    ]


def test_save_is_atomic_and_owner_only(tmp_path, monkeypatch):
    path = tmp_path / "register.parquet"
    _, _, reg = wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    reg = load_register(path, campaign_reference=REF)
    kept, _ = suppress_repeats(WAVE2, reg, outage_dates=DATES2)
    kept.insert(0, "contact_ref", allocate_refs(kept, reg))
    grown = append_contacts(
        reg, kept, run_id="w2", run_date=dt.date(2027, 2, 1), outage_dates=DATES2
    )

    def boom(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(RegisterError, match=r"No space left on device.*previous register is unch"):
        save_register(grown)
    monkeypatch.undo()
    assert path.read_bytes() == before
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [".register.parquet.lock", "register.parquet"]
    saved = save_register(grown)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_register(path, campaign_reference=REF)) == len(saved) == 7 + 6


def test_a_register_changed_by_another_run_is_not_overwritten(tmp_path):
    path = tmp_path / "register.parquet"
    wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4))
    a = load_register(path, campaign_reference=REF)
    b = load_register(path, campaign_reference=REF)
    wave_a = contacts(("leaflet", "C7", "uprn:7", None))
    wave_a.insert(0, "contact_ref", allocate_refs(wave_a, a))
    save_register(append_contacts(a, wave_a, run_id="a", run_date=dt.date(2027, 1, 5)))
    wave_b = contacts(("leaflet", "C8", "uprn:8", None))
    wave_b.insert(0, "contact_ref", allocate_refs(wave_b, b))
    with pytest.raises(RegisterError, match="changed by another run"):
        save_register(append_contacts(b, wave_b, run_id="b", run_date=dt.date(2027, 1, 5)))
    assert "C7" in set(load_register(path, campaign_reference=REF).table["customer_key"])
    # two new registers started at once: the second is refused too
    fresh = tmp_path / "new.parquet"
    x = load_register(fresh, campaign_reference=REF)
    y = load_register(fresh, campaign_reference=REF)
    save_register(append_contacts(x, wave_a, run_id="x", run_date=dt.date(2027, 1, 5)))
    with pytest.raises(RegisterError, match="created by another run"):
        save_register(append_contacts(y, wave_a, run_id="y", run_date=dt.date(2027, 1, 5)))


def test_files_that_are_not_registers_are_refused(tmp_path):
    other = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"customer_id": ["1"]}), other)
    with pytest.raises(RegisterError, match="not a smartstreet-geo contact register"):
        load_register(other, campaign_reference=REF)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(RegisterError, match="cannot be read as a contact register"):
        load_register(junk, campaign_reference=REF)
    newer = tmp_path / "newer.parquet"
    table = pq.read_table(_saved(tmp_path))
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: b'{"schema_version": 99}'}), newer)
    with pytest.raises(RegisterError, match="newer version"):
        load_register(newer, campaign_reference=REF)
    with pytest.raises(RegisterError, match="does not exist"):
        load_register(tmp_path / "typo.parquet", campaign_reference=REF, create=False)


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "saved.parquet"
    wave(path, WAVE1, DATES1, "w1", dt.date(2027, 1, 4))
    return path


def test_repr_holds_counts_only(tmp_path):
    path = _saved(tmp_path)
    reg = load_register(path, campaign_reference=REF, pseudonym_key=None)
    text = repr(reg)
    assert text == "ContactRegister(file='saved.parquet', rows=7, pseudonymised=False, new=False)"


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "pseudonymised"])
def test_hostile_ids_round_trip_and_match_themselves(tmp_path, key):
    values = [v for i, v in HOSTILE if i not in UNENCODABLE]
    frame = contacts(*[("leaflet", v, "uprn:" + v, None) for v in values])
    path = tmp_path / "r.parquet"
    kept, _, _ = wave(path, frame, {}, "w1", dt.date(2027, 1, 4), key)
    assert len(kept) == len(values)
    back = load_register(path, campaign_reference=REF, pseudonym_key=key)
    if key is None:
        assert back.table["customer_key"].tolist() == values
        assert trace_table(back)["customer_id"].tolist() == values
    # each value matches itself and nothing else
    kept2, suppressed = suppress_repeats(frame, back)
    assert kept2.empty
    assert len(suppressed) == len(values)
    others = contacts(*[("leaflet", v + "x", "uprn:" + v + "x", None) for v in values])
    assert len(suppress_repeats(others, back).kept) == len(values)


def test_unknown_campaign_kind_and_missing_columns_are_refused(tmp_path):
    reg = load_register(tmp_path / "r.parquet", campaign_reference=REF)
    frame = contacts(("leaflet", "C1", P1, None))
    frame.loc[0, "campaign"] = "carrier_pigeon"
    with pytest.raises(ParameterError, match="carrier_pigeon"):
        suppress_repeats(frame, reg)
    with pytest.raises(ParameterError, match="premise_key"):
        suppress_repeats(contacts(("leaflet", "C1", P1, None)).drop(columns="premise_key"), reg)


def test_a_repeat_of_the_demo_campaign_sends_nothing(tmp_path):
    from smartstreet_geo import demo, run_campaign

    result = run_campaign(demo.path("campaign"))
    found = result.contacts.drop(columns="contact_ref")
    eq = result.equipment
    dates = dict(zip(eq["equipment_id"], eq["install_date"], strict=True))
    path = tmp_path / "register.parquet"
    k1, s1, reg = wave(path, found, dates, "w1", dt.date(2027, 1, 4), KEY)
    assert s1.empty and len(k1) == len(found)
    counts = reg.table.groupby("campaign")["ref_number"].max().to_dict()
    assert counts == found.groupby("campaign").size().to_dict()
    k2, s2, _ = wave(path, found, dates, "w2", dt.date(2027, 1, 5), KEY)
    assert k2.empty
    assert len(s2) == len(found)


def _synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.integers(10**12, 2 * 10**12, n).astype(str)
    premise = "uprn:" + pd.Series(rng.integers(10**9, 2 * 10**9, n).astype(str))
    kinds = np.where(rng.random(n) < 0.9, "leaflet", "installation_letter")
    eqs = np.where(
        kinds == "leaflet",
        None,
        "EQ" + pd.Series(rng.integers(0, 5000, n).astype(str)).to_numpy(dtype=object),
    )
    return pd.DataFrame(
        {
            "campaign": kinds,
            "channel": "letter",
            "customer_id": pd.array(ids, dtype="str"),
            "premise_key": pd.array(premise, dtype="str"),
            "equipment_ids": eqs,
            "reason": "r",
        }
    )


@pytest.mark.slow
def test_a_million_candidates_against_a_million_row_register(tmp_path):
    n = 1_000_000
    old = _synthetic(n, 1)
    reg = load_register(tmp_path / "r.parquet", campaign_reference=REF)
    old.insert(0, "contact_ref", allocate_refs(old, reg))
    reg = append_contacts(reg, old, run_id="w1", run_date=dt.date(2027, 1, 4))
    new = pd.concat([old.drop(columns="contact_ref").iloc[: n // 2], _synthetic(n // 2, 2)])
    new = new.reset_index(drop=True)
    start = time.perf_counter()
    kept, suppressed = suppress_repeats(new, reg)
    took = time.perf_counter() - start
    assert len(suppressed) >= n // 2
    assert len(kept) + len(suppressed) == n
    assert took < 20, f"suppression of {n:,} rows took {took:.1f} s"


# --------------------------------------------------------------------------- oracle
def _oracle_usable(value: object, *, premise: bool) -> str | None:
    """The rule in words: blank keys, and premise keys without a premise, match nothing."""
    import re

    if value is None or (isinstance(value, float) and value != value) or not str(value).strip():
        return None
    text = str(value)
    if premise and re.fullmatch(r"uprn:\s*|addr:\s*\|.*|addr:.*\|\s*", text, flags=re.S):
        return None
    return text


def _oracle(frame: pd.DataFrame, table: pd.DataFrame, reference: str, dates: dict) -> list:
    """Row-by-row reference implementation of the rules: (kept, equipment named) per row."""
    from smartstreet_geo.campaign.register import RULES

    done = []  # (kind, scope, basis, key, equipment, date)
    for r in table.itertuples(index=False):
        rule = RULES[r.campaign]
        named = r.equipment_ids if isinstance(r.equipment_ids, str) else ""
        eqs = named.split(";") if rule.per_equipment else [""]
        on = r.outage_dates if isinstance(r.outage_dates, str) else ""
        ods = on.split(";") if rule.per_outage_date and on else [""] * len(eqs)
        scope = r.campaign_reference if rule.per_reference else ""
        for e, d in zip(eqs, ods, strict=True):
            d = d if rule.per_outage_date else ""
            if rule.by_premise and isinstance(r.premise_key, str):
                done.append((r.campaign, scope, "p", r.premise_key, e, d))
            if rule.by_customer and isinstance(r.customer_key, str):
                done.append((r.campaign, scope, "c", r.customer_key, e, d))
    done_set = set(done)
    out = []
    for r in frame.itertuples(index=False):
        rule = RULES[r.campaign]
        named = r.equipment_ids if isinstance(r.equipment_ids, str) else ""
        eqs = [e.strip() for e in named.split(";") if e.strip()]
        eqs = eqs if rule.per_equipment and eqs else [""]
        scope = reference if rule.per_reference else ""
        pkey = _oracle_usable(r.premise_key, premise=True)
        ckey = _oracle_usable(r.customer_id, premise=False)
        fresh = []
        for e in eqs:
            d = dates.get(e, "") if rule.per_outage_date and e else ""
            d = d.isoformat() if isinstance(d, dt.date) else (d or "")
            hit = (
                rule.by_premise and pkey and (r.campaign, scope, "p", pkey, e, d) in done_set
            ) or (rule.by_customer and ckey and (r.campaign, scope, "c", ckey, e, d) in done_set)
            if not hit:
                fresh.append(e)
        if not fresh:
            out.append((False, None))
        elif len(fresh) < len(eqs):
            out.append((True, ";".join(fresh)))
        else:
            out.append((True, r.equipment_ids if isinstance(r.equipment_ids, str) else None))
    return out


def _random_wave(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    kinds = list(CAMPAIGNS)
    eq_names = ["EQ1", "EQ2", "EQ3", "EQ4"]
    premises = ["uprn:1", "uprn:2", "addr:1 OAK ST|WN5 9XP", "addr:|WN5 9XP", "", None, "uprn:"]
    customers = ["C1", "C2", "C3", "C4", "", None, " "]
    rows = []
    for _ in range(n):
        kind = kinds[rng.integers(len(kinds))]
        k = int(rng.integers(0, 3))
        eqs = ";".join(sorted(rng.choice(eq_names, size=k, replace=False))) if k else None
        rows.append(
            (
                kind,
                customers[rng.integers(len(customers))],
                premises[rng.integers(len(premises))],
                None if kind == "leaflet" else eqs,
            )
        )
    day = [None, dt.date(2027, 2, 1), dt.date(2027, 2, 8)]
    dates = {e: day[rng.integers(len(day))] for e in eq_names}
    return contacts(*rows), dates


@pytest.mark.parametrize("seed", range(12))
def test_suppression_agrees_with_a_row_by_row_oracle(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "r.parquet"
    for w in range(4):
        frame, dates = _random_wave(rng, 40)
        reference = REF if w != 2 else "SS-OTHER"
        reg = load_register(path, campaign_reference=reference)
        expected = _oracle(frame, reg.table, reference, dates)
        kept, suppressed = suppress_repeats(frame, reg, outage_dates=dates)
        want_kept = [i for i, (k, _) in enumerate(expected) if k]
        assert kept.index.tolist() == want_kept
        assert suppressed.index.tolist() == [i for i, (k, _) in enumerate(expected) if not k]
        got_eq = [e if isinstance(e, str) else None for e in kept["equipment_ids"]]
        assert got_eq == [expected[i][1] for i in want_kept]
        kept = kept.copy()
        kept.insert(0, "contact_ref", allocate_refs(kept, reg))
        reg = record_contacts(
            reg, kept, run_id=f"w{w}", run_date=dt.date(2027, 1, 4 + w), outage_dates=dates
        )
        assert reg.table["contact_ref"].is_unique


def test_blanking_nothing_keeps_the_array_itself():
    """``_nulls_where`` with nothing to blank returns its input (no copy), else blanks exactly."""
    import numpy as np
    import pyarrow as pa

    from smartstreet_geo.campaign.register import _nulls_where

    arr = pa.array(["a", None, "c"], pa.large_string())
    assert _nulls_where(arr, np.zeros(3, dtype=bool)) is arr
    assert _nulls_where(arr, np.array([False, False, True])).to_pylist() == ["a", None, None]
