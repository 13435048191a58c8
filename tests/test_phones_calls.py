"""Phone numbers, whom to call, accessible formats, call-list order and late-notice warnings.

Oracles: libphonenumber's own formatting is checked against Ofcom's published
formats written out by hand here; ordering is checked against Python's
``sorted`` on the documented key; warnings against a hand-made outage plan.
"""

from __future__ import annotations

import random
import re
from collections.abc import Hashable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import HOSTILE, hostile_ids
from smartstreet_geo import demo
from smartstreet_geo.campaign import normalise_uk_phone
from smartstreet_geo.campaign import phones as phones_module
from smartstreet_geo.campaign._phones_plain import plain_uk_numbers
from smartstreet_geo.campaign.calls import (
    CALL_COLUMNS,
    earliest_outage,
    late_notice_warnings,
    order_calls,
    plan_calls,
)
from smartstreet_geo.campaign.phones import (
    DRAMA_PREFIXES,
    is_drama_number,
    normalise_uk_phones,
)
from smartstreet_geo.campaign.psr import (
    DEFAULT_CALL_NOMINEE_FIRST,
    accessible_format_by_premise,
    assess_needs_many,
    load_needs_table,
    nominee_copies,
)
from smartstreet_geo.errors import InputFileError

RUN = date(2027, 1, 4)
TABLE = load_needs_table(demo.path("psr_needs_codes"))

# ------------------------------------------------------------------ phone numbers

DIALABLE = [
    # prefixes and punctuation
    ("+44 (0)161-496-0123", "0161 496 0123"),
    ("+44 161 496 0123", "0161 496 0123"),
    ("+441614960123", "0161 496 0123"),
    ("0044 161 496 0123", "0161 496 0123"),
    ("0044 (0)161 496 0123", "0161 496 0123"),
    ("(0161) 496-0123", "0161 496 0123"),
    ("0161.496.0123", "0161 496 0123"),
    ("0161\u00a0496\u00a00123", "0161 496 0123"),
    (" 0161 496 0123\n", "0161 496 0123"),
    ("0161 496 0123" + " " * 100, "0161 496 0123"),  # a fixed-width export's padding
    ("020 7946 0018", "020 7946 0018"),
    ("02079460018", "020 7946 0018"),
    ("0113 496 0508", "0113 496 0508"),
    # freephone: 0800 + 7 digits is 0800 xxx xxxx
    ("0800 123 4567", "0800 123 4567"),
    ("08001234567", "0800 123 4567"),
    # Brampton: five-digit area code 016977 with a four-digit local number
    ("016977 3456", "016977 3456"),
    ("01697 73456", "016977 3456"),
    ("0169773456", "016977 3456"),
    # five-digit area code, six-digit local number
    ("01632 960 957", "01632 960957"),
    ("01534 123456", "01534 123456"),  # Jersey: +44, dialled nationally
    # mobiles
    ("07700900123", "07700 900123"),
    ("+44 7700 900 123", "07700 900123"),
    ("07911 123456", "07911 123456"),
    ("07624 123456", "07624 123456"),  # Isle of Man
    # extensions are kept
    ("0161 496 0000 ext 23", "0161 496 0000 ext. 23"),
    ("0161 496 0000 ext. 23", "0161 496 0000 ext. 23"),
    ("0161 496 0000 extn 23", "0161 496 0000 ext. 23"),
    ("0161 496 0000 extension 23", "0161 496 0000 ext. 23"),
    ("0161 496 0000 x23", "0161 496 0000 ext. 23"),
    ("0161 496 0000 X 23", "0161 496 0000 ext. 23"),
    ("0161 496 0000#23", "0161 496 0000 ext. 23"),
    ("0161 496 0000;ext=23", "0161 496 0000 ext. 23"),
    ("+44 161 496 0000 x 4567", "0161 496 0000 ext. 4567"),
]

NOT_DIALABLE = [
    "00000000000",  # reported: all zeros
    "0161 496 012",  # reported: a digit short
    "0161 496 01234",  # a digit too many
    "01632960",
    "12345",
    "1614960123",  # leading zero lost in a spreadsheet: restoring it is a guess
    "7700900123",
    "0500 123456",  # withdrawn freephone range
    "0800 FLOWERS",  # letters (the library would read a vanity number)
    "0161 496 0ABC",
    "0161 496 O123",  # letter O for zero
    "n/a",
    "ask son",
    "tel:+441614960123",
    "x23",
    "0161 496 0000 ext 23 ext 24",
    "0161 496 0123 / 0161 496 0124",  # two numbers: which one?
    "+33 1 42 68 53 00",  # other countries: not a UK call list
    "0033 1 42 68 53 00",
    "+1 212 555 1234",
    "+44",
    "++44 161 496 0123",
    "0161 496 0123" + " -" * 30,  # longer than any written number
    "x1" * 5_000,
    "\u0660\u0661\u0666\u0661\u0664\u0669\u0666\u0660\u0661\u0662\u0663",  # Arabic-Indic digits
    "",
    "   ",
]


@pytest.mark.parametrize(("raw", "expected"), DIALABLE)
def test_dialable_numbers_in_national_format(raw: str, expected: str) -> None:
    assert normalise_uk_phone(raw) == expected


@pytest.mark.parametrize("raw", NOT_DIALABLE)
def test_undialable_numbers_give_none(raw: str) -> None:
    assert normalise_uk_phone(raw) is None


@pytest.mark.parametrize("value", [None, np.nan, pd.NA, pd.NaT, float("nan"), 1614960123, True])
def test_missing_and_non_text_values(value: object) -> None:
    assert normalise_uk_phone(value) is None


@pytest.mark.parametrize(("hid", "value"), HOSTILE, ids=hostile_ids())
def test_hostile_values_are_not_numbers(hid: str, value: str) -> None:
    assert normalise_uk_phone(value) is None
    assert normalise_uk_phone("0161 496 0123" + value) is None or value.strip() == ""


@pytest.mark.parametrize(
    ("raw", "drama"),
    [
        ("07700 900000", True),
        ("07700 900999", True),
        ("07700 901000", False),
        ("01632 960957", True),
        ("0161 496 0000", True),
        ("0161 496 0999", True),
        ("0161 496 1000", False),
        ("020 7946 0999", True),
        ("020 7946 1000", False),
        ("028 9649 6000", True),
        ("028 9649 5999", False),
        ("0191 498 0000", True),
        ("0191 496 0000", False),
        ("03069 990000", True),
        ("08081 570999", True),
        ("0909 879 0000", True),
        ("0161 496 0ABC", False),
        (None, False),
    ],
)
def test_ofcom_drama_ranges(raw: str | None, drama: bool) -> None:
    assert is_drama_number(raw) is drama
    if raw is not None and normalise_uk_phone(raw) is not None:
        # refused on request, otherwise unchanged
        strict = normalise_uk_phone(raw, accept_drama=False)
        assert (strict is None) is drama
        if not drama:
            assert strict == normalise_uk_phone(raw)


def test_library_validity_of_drama_ranges_is_mixed() -> None:
    """What libphonenumber itself says, so the explicit drama rule is needed both ways."""
    import phonenumbers

    def valid(text: str) -> bool:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "GB"))

    assert not valid("07700 900123")  # unallocated to the library
    assert not valid("01632 960957")
    assert valid("0161 496 0123")  # an ordinary Manchester number to the library
    assert valid("020 7946 0018")


def test_demo_numbers_are_all_drama_numbers_and_all_dialable_by_default() -> None:
    cust = pd.read_parquet(demo.path("customers"))
    for col in ("phone", "nominee_phone"):
        given_ = cust[col] != ""
        assert given_.sum() > 1000
        out = normalise_uk_phones(cust[col])
        assert out[given_].notna().all()
        assert out[~given_].isna().all()
        assert normalise_uk_phones(cust[col], accept_drama=False).isna().all()


def test_vectorised_equals_elementwise_and_parses_each_value_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [r for r, _ in DIALABLE] + NOT_DIALABLE + [None, np.nan, pd.NA]
    rng = random.Random(12)
    sample = [rng.choice(values) for _ in range(2_000)]
    s = pd.Series(sample, index=[i % 7 for i in range(len(sample))], dtype=object)
    expected = [normalise_uk_phone(v) for v in sample]
    calls: list[object] = []
    original = phones_module.normalise_uk_phone

    def counting(value: object, *, accept_drama: bool = True) -> str | None:
        calls.append(value)
        return original(value, accept_drama=accept_drama)

    monkeypatch.setattr(phones_module, "normalise_uk_phone", counting)
    out = normalise_uk_phones(s)
    assert out.tolist() == expected
    assert out.index.tolist() == s.index.tolist()
    assert out.dtype == object
    # plainly written numbers are decided together; each other value once, by the library
    assert len(calls) == len(set(calls))
    assert 0 < len(calls) < len({v for v in sample if isinstance(v, str)})
    assert "0161 496 0000 ext 23" in calls and "07700900123" not in calls


def _written(rng: random.Random, nsn: str) -> str:
    """``nsn`` written as people write it: 0, +44 or 0044 in front, separators anywhere."""
    head = rng.choice(
        ["0", "0", "+44", "+44 ", "0044 ", "(0", "(+44) ", "+ 44", "+44 (0)", "00 44 "]
    )
    body = "".join(d + (rng.choice(" -./") if rng.random() < 0.2 else "") for d in nsn)
    if head == "(0":
        cut = rng.randint(2, 5)
        body = body[:cut] + ")" + rng.choice(["", " "]) + body[cut:]
    text = head + body
    return rng.choice([text, " " + text + " ", text + "\t", text.replace(" ", "\u00a0")])


def _nsns(rng: random.Random) -> list[str]:
    """Every four-digit start of a national number, at the lengths the UK plan has and
    one either side, with Ofcom's drama ranges and the 180020 prefix the parser strips."""
    out = []
    for start in range(1000, 10_000):
        for length in (9, 10):
            out.append(str(start) + "".join(rng.choice("0123456789") for _ in range(length - 4)))
    for length in (5, 7, 8, 11):
        out += [str(rng.randint(10 ** (length - 1), 10**length - 1)) for _ in range(300)]
    out += [p + f"{rng.randint(0, 999):03d}" for p in sorted(DRAMA_PREFIXES)]
    out += ["180020" + f"{rng.randint(0, 9999):04d}" for _ in range(20)]
    # the short forms: 0800 1111, 0845 46 47, Brampton's 016977 with four digits
    out += ["8001111", "8454647", "169773456", "1697734567"]
    # the library's example number of each type in each region sharing +44
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[44]:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                out.append(phonenumbers.national_significant_number(example))
    return out


@pytest.mark.parametrize("accept_drama", [True, False])
def test_plain_numbers_decided_together_as_the_library_decides_them(accept_drama: bool) -> None:
    """Oracle: phonenumbers itself (``normalise_uk_phone``), value by value, on every
    four-digit prefix of the UK plan written in many ways."""
    rng = random.Random(2027)
    short = ["0800 1111", "0845 46 47", "016977 3456", "01697 73456", "+44 800 1111"]
    texts = list(dict.fromkeys([_written(rng, nsn) for nsn in _nsns(rng)] + short))
    decided, found = plain_uk_numbers(
        pa.array(texts, type=pa.string()), DRAMA_PREFIXES, accept_drama=accept_drama
    )
    expected = [normalise_uk_phone(t, accept_drama=accept_drama) for t in texts]
    mismatched = [
        (t, f, e)
        for t, d, f, e in zip(texts, decided, found, expected, strict=True)
        if d and f != e
    ]
    assert mismatched == []
    # the plain path decides the plain forms, valid and not valid alike
    plain = [not any(c in t for c in "\t\u00a0") and "(0)" not in t for t in texts]
    share = np.asarray(decided)[np.asarray(plain)].mean()
    assert share > 0.95
    assert not np.asarray(decided)[~np.asarray(plain)].any()
    kept = [f for d, f in zip(decided, found, strict=True) if d and f is not None]
    assert 1_000 < len(kept) < sum(decided)  # dialable and not dialable both decided here
    # each of the UK's eight national formats is used (0800 1111, 0845 46 47, 0800 123456,
    # 016977 3456, 01234 56789, 020 7946 0018, 01234 567890, 0161 496 0123), and more shapes
    shapes = {re.sub("[0-9]", "d", f) for f in kept}
    assert shapes >= {
        "dddd dddd",
        "dddd dd dd",
        "dddd dddddd",
        "dddddd dddd",
        "ddddd ddddd",
        "ddd dddd dddd",
        "ddddd dddddd",
        "dddd ddd dddd",
    }
    assert normalise_uk_phones(pd.Series(texts), accept_drama=accept_drama).tolist() == expected


def test_vectorised_empty_series() -> None:
    out = normalise_uk_phones(pd.Series([], dtype=object))
    assert out.empty


# ------------------------------------------------------------------ the needs table


def test_demo_table_columns() -> None:
    t = TABLE.table
    assert TABLE.defaulted == ()
    assert set(t.index[t["call_nominee_first"]]) == {"17", "20", "35", "36"}
    assert t.at["08", "accessible_format"] == ("braille", "audio")
    assert t.at["09", "accessible_format"] == ("large_print",)
    assert (t.drop(index=["08", "09"])["accessible_format"] == ()).all()


def _write_table(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "needs.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_table_without_new_columns_uses_documented_defaults(tmp_path: Path) -> None:
    shipped = pd.read_csv(demo.path("psr_needs_codes"), dtype=str, keep_default_na=False)
    old = shipped[["code", "description", "temporary", "medically_dependent"]]
    p = tmp_path / "old.csv"
    old.to_csv(p, index=False)
    t = load_needs_table(p)
    assert t.defaulted == ("call_nominee_first", "accessible_format")
    assert set(t.table.index[t.table["call_nominee_first"]]) == DEFAULT_CALL_NOMINEE_FIRST
    assert t.table["accessible_format"].equals(TABLE.table["accessible_format"])


def test_table_decides_not_a_hard_coded_list(tmp_path: Path) -> None:
    p = _write_table(
        tmp_path,
        "code,description,call_nominee_first,accessible_format\n"
        "14,Pensionable age,true,audio\n35,Hearing impairment,false,\n",
    )
    t = load_needs_table(p)
    psr = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "phone": ["0161 496 0001", "0161 496 0002"],
            "nominee_phone": ["0161 496 0901", "0161 496 0902"],
            "psr_needs": ["14", "35"],
        }
    )
    calls = plan_calls(psr, t, on=RUN).calls
    assert calls["call_who"].tolist() == ["nominee", "customer"]
    assert calls["accessible_format"].tolist() == ["audio", ""]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("14,Pensionable age,ture,", "call_nominee_first must be true or false"),
        ("14,Pensionable age,false,brail", "'brail' is not one of"),
        ("14,Pensionable age,false,large print", "'large print' is not one of"),
    ],
)
def test_table_typos_are_errors(tmp_path: Path, row: str, message: str) -> None:
    p = _write_table(tmp_path, f"code,description,call_nominee_first,accessible_format\n{row}\n")
    with pytest.raises(InputFileError, match=re.escape(message)):
        load_needs_table(p)


def test_table_short_rows_count_as_blank(tmp_path: Path) -> None:
    p = _write_table(
        tmp_path,
        "code,description,medically_dependent,call_nominee_first,accessible_format\n"
        "04,Oxygen concentrator,true\n08,Blind,false,false,braille\n",
    )
    t = load_needs_table(p).table
    assert not t.at["04", "call_nominee_first"]
    assert t.at["04", "accessible_format"] == ()
    assert t.at["08", "accessible_format"] == ("braille",)


# ------------------------------------------------------------------ whom to call


def _one(needs: str, phone: str = "0161 496 0001", nominee: str = "0161 496 0901") -> pd.Series:
    psr = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "phone": [phone],
            "nominee_name": ["N. Ominee"],
            "nominee_phone": [nominee],
            "psr_needs": [needs],
        }
    )
    calls = plan_calls(psr, TABLE, on=RUN).calls
    assert len(calls) == 1
    return calls.iloc[0]


@pytest.mark.parametrize("code", ["17", "20", "35", "36"])
def test_nominee_first_for_each_code(code: str) -> None:
    row = _one(code)
    assert row["call_who"] == "nominee"
    assert row["call_number"] == "0161 496 0901"
    assert row["alternative_number"] == "0161 496 0001"  # both shown
    assert row["call_nominee_first"]


@pytest.mark.parametrize("code", ["01", "04", "08", "09", "14", "15", "22", "30", "31"])
def test_customer_first_for_other_codes(code: str) -> None:
    row = _one(code)
    assert row["call_who"] == "customer"
    assert row["call_number"] == "0161 496 0001"
    assert row["alternative_number"] == "0161 496 0901"
    assert not row["call_nominee_first"]
    assert row["call_note"] is None


@pytest.mark.parametrize(
    ("needs", "who", "medical"),
    [
        ("14;35", "nominee", False),
        ("04;20", "nominee", True),
        ("17;36", "nominee", False),
        ("04;14", "customer", True),
        ("99;35", "nominee", False),  # an unknown code does not hide a known one
        ("35@2026-01-01", "customer", False),  # expired temporary code: does not count
        ("", "customer", False),
    ],
)
def test_nominee_first_combinations(needs: str, who: str, medical: bool) -> None:
    row = _one(needs)
    assert row["call_who"] == who
    assert row["medically_dependent"] is medical


def test_nominee_first_but_no_dialable_nominee_calls_the_customer_with_a_note() -> None:
    row = _one("35", nominee="0161 496 012")
    assert row["call_who"] == "customer"
    assert row["call_number"] == "0161 496 0001"
    assert row["alternative_number"] is None
    assert "no nominee number is dialable" in row["call_note"]
    assert "nominee's number on record is not dialable" in row["call_note"]


def test_customer_without_dialable_number_gets_the_nominee() -> None:
    row = _one("14", phone="00000000000")
    assert row["call_who"] == "nominee"
    assert row["call_number"] == "0161 496 0901"
    assert row["alternative_number"] is None
    assert "customer has no dialable number" in row["call_note"]
    assert "customer's number on record is not dialable" in row["call_note"]


@pytest.mark.parametrize(
    ("phone", "nominee", "name", "detail"),
    [
        ("", "", "", "customer's number missing; no nominee"),
        ("00000000000", "", "", "customer's number not dialable; no nominee"),
        ("0161 496 012", "0161 496 012", "N", "customer's number not dialable; nominee's number "),
        ("", "", "N. Ominee", "customer's number missing; nominee's number missing"),
    ],
)
def test_neither_number_dialable_goes_to_review(
    phone: str, nominee: str, name: str, detail: str
) -> None:
    psr = pd.DataFrame(
        {
            "customer_id": ["C9", "C1"],
            "phone": [phone, "0161 496 0001"],
            "nominee_name": [name, ""],
            "nominee_phone": [nominee, ""],
            "psr_needs": ["04", "04"],
        }
    )
    plan = plan_calls(psr, TABLE, on=RUN)
    assert plan.calls["customer_id"].tolist() == ["C1"]
    assert plan.review["customer_id"].tolist() == ["C9"]
    assert plan.review["issue"].tolist() == ["psr_no_phone"]
    assert plan.review["detail"].iloc[0].startswith("no dialable number: " + detail)
    assert not re.search(r"\d{3}", plan.review["detail"].iloc[0])  # no number in the text


def test_needs_codes_review_and_columns() -> None:
    psr = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "phone": ["0161 496 0001"] * 3,
            "psr_needs": ["04;99", "33@2026-01-01", "08;09"],
        }
    )
    plan = plan_calls(psr, TABLE, on=RUN)
    assert list(plan.calls.columns) == ["customer_id", "phone", "psr_needs", *CALL_COLUMNS]
    assert plan.calls["customer_id"].tolist() == ["A", "B", "C"]  # still called
    assert plan.review.values.tolist() == [
        ["A", "psr_needs_code", "unknown PSR needs code(s) 99"],
        ["B", "psr_needs_code", "expired temporary PSR code(s) 33"],
    ]
    assert plan.calls["needs"].tolist() == ["Oxygen concentrator", None, "Blind; Partially sighted"]
    assert plan.calls["call_who"].tolist() == ["customer"] * 3  # no nominee column at all
    assert plan.calls["alternative_number"].tolist() == [None] * 3


def test_without_a_table_defaults_decide() -> None:
    psr = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "phone": ["0161 496 0001", "0161 496 0002"],
            "nominee_phone": ["0161 496 0901", "0161 496 0902"],
            "psr_needs": ["14;35@2030-01-01", "8"],
        }
    )
    calls = plan_calls(psr, None, on=RUN).calls
    assert calls["call_who"].tolist() == ["nominee", "customer"]
    assert calls["accessible_format"].tolist() == ["", "braille;audio"]
    assert calls["medically_dependent"].tolist() == [None, None]
    letters = assess_needs_many(pd.Series(["09", "08;09", None]), None, on=RUN)
    assert letters["accessible_format"].tolist() == ["large_print", "large_print;braille;audio", ""]
    assert letters["needs_review"].tolist() == [None, None, None]


@pytest.mark.parametrize(("hid", "value"), HOSTILE, ids=hostile_ids())
def test_hostile_values_never_reach_review_text(hid: str, value: str) -> None:
    psr = pd.DataFrame(
        {
            "customer_id": ["H"],
            "phone": [value],
            "nominee_name": [value],
            "nominee_phone": [value],
            "psr_needs": [value],
        },
        dtype=object,  # a lone surrogate cannot be held in an Arrow string column
    )
    plan = plan_calls(psr, TABLE, on=RUN)
    assert plan.calls.empty
    assert "psr_no_phone" in plan.review["issue"].tolist()
    for detail in plan.review["detail"]:
        assert "no dialable number" in detail or "PSR needs code" in detail
        if len(value) > 3 and "PSR needs code" not in detail:
            assert value not in detail


def test_demo_psr_customers_are_planned() -> None:
    cust = pd.read_parquet(demo.path("customers"))
    psr = cust[cust["psr"]]
    plan = plan_calls(psr, TABLE, on=RUN)
    no_number = (psr["phone"] == "") & (psr["nominee_phone"] == "")
    assert len(plan.calls) == (~no_number).sum()
    assert (plan.review["issue"] == "psr_no_phone").sum() == no_number.sum()
    # nominee first exactly where a valid code asks for it and a nominee can be phoned
    a = assess_needs_many(plan.calls["psr_needs"], TABLE, on=RUN)
    expect = np.where(
        (a["call_nominee_first"] & plan.calls["nominee_phone"].ne("")) | plan.calls["phone"].eq(""),
        "nominee",
        "customer",
    )
    assert (plan.calls["call_who"].to_numpy() == expect).all()
    assert (plan.calls["call_who"] == "nominee").sum() > 0


# ------------------------------------------------------------------ accessible formats


@pytest.mark.parametrize(
    ("needs", "formats"),
    [
        ("08", "braille;audio"),
        ("09", "large_print"),
        ("09;08", "large_print;braille;audio"),
        ("08;08", "braille;audio"),
        ("14;22", ""),
        ("", ""),
        ("09@2030-01-01", "large_print"),
        ("09@2026-01-01", ""),  # a dated code past its date does not count
        ("99", ""),
    ],
)
def test_accessible_format_from_needs(needs: str, formats: str) -> None:
    a = assess_needs_many(pd.Series([needs, None]), TABLE, on=RUN)
    assert a["accessible_format"].tolist() == [formats, ""]


def test_accessible_format_by_premise_is_the_union() -> None:
    keys = pd.Series(["P1", "P1", "P2", "", None, "P3"], index=[9, 8, 7, 6, 5, 4])
    formats = pd.Series(["braille;audio", "large_print", "", "audio", "braille", None])
    formats.index = keys.index
    out = accessible_format_by_premise(keys, formats)
    assert out.index.tolist() == keys.index.tolist()
    assert out.tolist() == [
        "large_print;braille;audio",
        "large_print;braille;audio",
        "",
        "audio",  # a blank key matches nothing: its own formats only
        "braille",
        "",
    ]


def test_nominee_copies() -> None:
    letters = pd.DataFrame(
        {
            "letter_ref": ["OL-1", "OL-2", "OL-3", "OL-4"],
            "customer_id": ["A", "B", "C", "D"],
            "nominee_name": ["N. One", "", "N. Three", None],
            "addressee": ["Mrs A", "Mr B", "Ms C", "Dr D"],
            "address_line_1": ["1 High St"] * 4,
            "postcode": ["WN1 1AA"] * 4,
            "nominee_address_line_1": ["9 Low Rd", "8 Low Rd", " ", "7 Low Rd"],
            "nominee_postcode": ["M1 1AA", "M1 1AB", "", "M1 1AD"],
        }
    )
    copies, review = nominee_copies(letters)
    assert copies["copy_of"].tolist() == ["OL-1"]
    assert copies["addressee"].tolist() == ["N. One"]
    assert copies["address_line_1"].tolist() == ["9 Low Rd"]
    assert copies["postcode"].tolist() == ["M1 1AA"]
    assert copies["address_line_2"].isna().all()
    assert copies["copy_for"].tolist() == ["nominee"]
    assert review["customer_id"].tolist() == ["C"]
    assert review["issue"].tolist() == ["nominee_no_address"]
    assert letters["address_line_1"].tolist() == ["1 High St"] * 4  # input untouched


# ------------------------------------------------------------------ call order


def _calls(n: int, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "medically_dependent": [rng.random() < 0.3 for _ in range(n)],
            "postcode": [f"WN{rng.randint(1, 9)} {rng.randint(1, 9)}AA" for _ in range(n)],
            "outage_date": [RUN + timedelta(days=rng.randint(20, 60)) for _ in range(n)],
        }
    )


def test_the_reported_case_urgent_calls_come_first() -> None:
    """1,256 calls; two for an outage two days after the run were at positions 200 and 1,103."""
    calls = _calls(1_256, seed=3)
    urgent = [200, 1_103]
    calls.loc[urgent, "outage_date"] = RUN + timedelta(days=2)
    calls.loc[urgent, "medically_dependent"] = False
    calls.loc[urgent, "postcode"] = "WN9 9ZZ"
    # the old order (medically dependent first, then postcode) buried them
    old = calls.sort_values(
        ["medically_dependent", "postcode", "customer_id"], ascending=[False, True, True]
    ).reset_index(drop=True)
    assert (old.index[old["customer_id"].isin(calls.loc[urgent, "customer_id"])] > 200).all()

    out = order_calls(calls, notice_days=5, run_date=RUN)
    assert out.calls["customer_id"].iloc[:2].tolist() == ["C00200", "C01103"]
    assert out.calls["days_left"].iloc[:2].tolist() == [-3, -3]
    assert out.calls["notice_deadline"].iloc[0] == date(2027, 1, 1)
    assert out.past.empty
    assert len(out.calls) == 1_256


def _oracle_key(row: Mapping[Hashable, Any], notice_days: int) -> tuple[object, ...]:
    d = row["outage_date"]
    deadline = d - timedelta(days=notice_days) if isinstance(d, date) else None
    pc = row.get("postcode")
    return (
        deadline is None,
        deadline or date.min,
        0 if row.get("medically_dependent") is True else 1,
        pc is None,
        pc or "",
        row["customer_id"],
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-10, 40)),
            st.sampled_from([True, False, None]),
            st.sampled_from(["M1 1AA", "M1 1AB", "WN2 3CD", None]),
        ),
        max_size=40,
    ),
    st.integers(0, 10),
)
def test_order_matches_sorted_oracle(
    rows: list[tuple[int | None, bool | None, str | None]], notice: int
) -> None:
    calls = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(len(rows))],
            "medically_dependent": pd.Series([m for _, m, _ in rows], dtype=object),
            "postcode": pd.Series([p for _, _, p in rows], dtype=object),
            "outage_date": pd.Series(
                [RUN + timedelta(days=o) if o is not None else None for o, _, _ in rows],
                dtype=object,
            ),
        }
    )
    out = order_calls(calls, notice_days=notice, run_date=RUN)
    records = calls.to_dict("records")
    kept = [r for r in records if r["outage_date"] is None or r["outage_date"] >= RUN]
    past = [r for r in records if r["outage_date"] is not None and r["outage_date"] < RUN]
    oracle = sorted(kept, key=lambda r: _oracle_key(r, notice))
    assert out.calls["customer_id"].tolist() == [r["customer_id"] for r in oracle]
    assert sorted(out.past["customer_id"]) == sorted(r["customer_id"] for r in past)
    for r in out.calls.to_dict("records"):
        if r["outage_date"] is None:
            assert r["notice_deadline"] is None and pd.isna(r["days_left"])
        else:
            assert r["notice_deadline"] == r["outage_date"] - timedelta(days=notice)
            assert r["days_left"] == (r["notice_deadline"] - RUN).days


def test_past_outages_are_set_aside_today_is_not() -> None:
    calls = pd.DataFrame(
        {
            "customer_id": ["past", "today", "later", "undated"],
            "medically_dependent": [True, False, False, True],
            "postcode": ["A", "B", "C", "D"],
            "outage_date": [
                pd.Timestamp(RUN - timedelta(days=1)),
                RUN.isoformat(),
                RUN + timedelta(days=30),
                pd.NaT,
            ],
        }
    )
    out = order_calls(calls, notice_days=7, run_date=RUN)
    assert out.calls["customer_id"].tolist() == ["today", "later", "undated"]
    assert out.calls["days_left"].tolist()[:2] == [-7, 23]
    assert out.past["customer_id"].tolist() == ["past"]
    assert out.past["outage_date"].tolist() == [RUN - timedelta(days=1)]


def test_order_calls_with_a_repeated_index() -> None:
    calls = _calls(10, seed=1)
    calls.index = [0] * 10
    out = order_calls(calls, notice_days=5, run_date=RUN)
    assert sorted(out.calls["customer_id"]) == sorted(calls["customer_id"])


def test_earliest_outage_prefers_the_next_one() -> None:
    dates = {
        "E1": RUN - timedelta(days=3),
        "E2": RUN + timedelta(days=10),
        "E3": RUN + timedelta(days=5),
        "E4": None,
        "E5": RUN - timedelta(days=1),
    }
    ids = pd.Series(
        ["E1;E2;E3", "E1;E5", "E4", "E9", "", None, "E4;E2", " E3 "], index=list("abcdefgh")
    )
    out = earliest_outage(ids, dates, on=RUN)
    assert out.index.tolist() == list("abcdefgh")
    assert out.tolist() == [
        RUN + timedelta(days=5),
        RUN - timedelta(days=1),  # all past: the latest, so the call is set aside as past
        None,
        None,  # an unknown id matches nothing
        None,
        None,
        RUN + timedelta(days=10),
        RUN + timedelta(days=5),
    ]


# ------------------------------------------------------------------ late-notice warnings


def test_late_notice_only_for_equipment_that_cuts_someone_off() -> None:
    eq = pd.DataFrame(
        {
            "equipment_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
            "outage_date": [
                RUN + timedelta(days=2),  # late, affects customers
                RUN + timedelta(days=2),  # late, affects nobody
                RUN + timedelta(days=30),  # in time
                RUN - timedelta(days=1),  # already past
                None,  # no date
                None,  # no date, affects nobody
            ],
        }
    )
    affected = {"T1": 12, "T3": 4, "T4": 1, "T5": 2, "X9": 3}
    lines = late_notice_warnings(eq, affected, notice_days=5, run_date=RUN)
    assert [line.split(":")[0] for line in lines] == ["T1", "T4", "T5"]
    assert lines[0] == (
        "T1: outage on 2027-01-06 needs notice sent by 2027-01-01 (5 days); this list is "
        "produced on 2027-01-04, too late to give that notice - phone the 12 customers "
        "affected and agree a new date"
    )
    assert "before the run date 2027-01-04" in lines[1]
    assert "the 1 customer affected is left out of the call list" in lines[1]
    assert "has no date" in lines[2]
    assert not any("T2" in line or "T6" in line or "X9" in line for line in lines)

    as_set = late_notice_warnings(eq, {"T1", "T4"}, notice_days=5, run_date=RUN)
    assert [line.split(":")[0] for line in as_set] == ["T1", "T4"]
    assert "phone the customers affected" in as_set[0]
    assert late_notice_warnings(eq, set(), notice_days=5, run_date=RUN) == []


def test_notice_deadline_boundary() -> None:
    eq = pd.DataFrame(
        {
            "equipment_id": ["T1", "T2"],
            "outage_date": [RUN + timedelta(days=5), RUN + timedelta(days=4)],
        }
    )
    lines = late_notice_warnings(eq, {"T1", "T2"}, notice_days=5, run_date=RUN)
    # sent on the deadline itself is in time
    assert [line.split(":")[0] for line in lines] == ["T2"]


def test_without_usable_metadata_every_value_goes_to_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import smartstreet_geo.campaign._phones_plain as plain_module

    values = pd.Series([r for r, _ in DIALABLE] + NOT_DIALABLE, dtype=object)
    expected = [normalise_uk_phone(v) for v in values]
    monkeypatch.setattr(plain_module, "_plan", lambda: None)
    decided, _ = plain_uk_numbers(pa.array(["0161 496 0123"]), DRAMA_PREFIXES, accept_drama=True)
    assert not decided.any()
    assert normalise_uk_phones(values).tolist() == expected


@pytest.mark.parametrize("seed", range(3))
def test_plain_path_agrees_with_the_library_on_scrambled_writing(seed: int) -> None:
    """Oracle: phonenumbers itself. Numbers with separators and pluses scattered anywhere,
    after every kind of prefix (120,000 such strings gave no difference when this path
    was written; a few thousand here)."""
    rng = random.Random(seed)
    heads = ["0", "+44", "0044", "(0", "(+44)", "+ 4 4", "0 0 4 4", "+44(", "0(", "+44 0"]
    texts = set()
    while len(texts) < 3_000:
        nsn = rng.choice("1235789") + "".join(rng.choice("0123456789") for _ in range(9))
        text = rng.choice(heads)
        for digit in nsn[: rng.choice([9, 10, 10])]:
            text += digit + ("".join(rng.choices(" +()-./", k=2)) if rng.random() < 0.2 else "")
        texts.add(text)
    ordered = sorted(texts)
    for accept_drama in (True, False):
        decided, found = plain_uk_numbers(
            pa.array(ordered, type=pa.string()), DRAMA_PREFIXES, accept_drama=accept_drama
        )
        assert 0.2 < decided.mean() < 1  # both paths are exercised
        for text, d, f in zip(ordered, decided, found, strict=True):
            if d:
                assert f == normalise_uk_phone(text, accept_drama=accept_drama), text
