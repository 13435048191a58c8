"""Privacy as the README states it: manifest dates, no machine paths, pseudonyms everywhere, keys.

The demo is run once here (``--pseudonymise``) and every output is searched for the
machine's paths and for any customer id of the input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from hostile import HOSTILE, hostile_ids
from smartstreet_geo.campaign import manifest as manifest_module
from smartstreet_geo.errors import ConfigError
from smartstreet_geo.export import (
    check_pseudonym_key,
    key_strength_bits,
    pseudonym,
    shareable_manifest,
    shareable_outputs,
    write_campaign,
)
from test_campaign import E, N, customer, make_inputs, run

GOOD_KEY = "3f9c2a7be41d08c56a9e7f1b2d4c6e80a1b2c3d4e5f60718"
FIXED = datetime(2026, 12, 3, 9, 30, 15, tzinfo=UTC)
#: Two customers at one premise (one letter): the smallest campaign with every table filled.
TWO = [customer("1", 5, premise="P"), customer("2", 6, premise="P")]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


# --------------------------------------------------------------------------- manifest dates
@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(manifest_module, "_now", lambda: FIXED)
    return FIXED


def test_created_is_the_time_of_the_run_and_delete_after_counts_from_it(tmp_path, clock):
    cfg = make_inputs(tmp_path, TWO, [], output={"delete_after_days": 30})
    m = run(tmp_path, cfg).manifest
    assert m["run_date"] == "2027-01-04"  # the campaign's date, recorded apart
    assert m["created"] == "2026-12-03T09:30:15+00:00"
    assert datetime.fromisoformat(m["delete_after"]) == FIXED + timedelta(days=30)
    assert not any("delete_after_days" in w for w in m["warnings"])


def test_the_real_clock_is_used(tmp_path):
    cfg = make_inputs(tmp_path, TWO, [])
    before = datetime.now(UTC).replace(microsecond=0)
    m = run(tmp_path, cfg).manifest
    after = datetime.now(UTC)
    created = datetime.fromisoformat(m["created"])
    assert before <= created <= after and created.tzinfo is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", m["created"])


def test_a_run_whose_retention_date_is_past_warns(tmp_path, clock):
    # the issue's case: run on 2026-12-03 with run_date 2026-01-05 and 90 days' retention
    cfg = make_inputs(tmp_path, TWO, [])
    cfg["campaign"]["run_date"] = "2026-01-05"
    r = run(tmp_path, cfg)
    late = [w for w in r.warnings if "delete_after_days" in w]
    assert len(late) == 1 and "2026-04-05" in late[0] and "2026-12-03" in late[0]
    assert late[0] in r.manifest["warnings"]
    # the last day of retention is not late yet
    assert manifest_module.retention_warning(date(2026, 9, 4), 90, date(2026, 12, 3)) is None
    assert manifest_module.retention_warning(date(2026, 9, 3), 90, date(2026, 12, 3))


#: Also differs run to run today: the register's run id (random), in the manifest and the trace.
#: Reported: identical inputs should give identical bytes there too.
RUN_ID = "run_id"


def _without_run_time(manifest: dict) -> dict:
    out = dict(manifest)
    for key in (*manifest_module.RUN_VARYING_KEYS, RUN_ID):
        out.pop(key, None)
    out["outputs"] = [o for o in out["outputs"] if o["file"] != "contact_trace.csv"]
    return out


def test_identical_inputs_identical_bytes_but_the_run_time(tmp_path, monkeypatch):
    rows = [
        customer(str(i), 7 * i, premise="P", psr="Y", needs="04", phone="0161 496 0100")
        for i in (1, 2)
    ]
    cfg = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"])
    outs = []
    for i, name in enumerate(("a", "b")):
        moment = FIXED + timedelta(days=i, seconds=i)
        monkeypatch.setattr(manifest_module, "_now", lambda moment=moment: moment)
        write_campaign(run(tmp_path, cfg), tmp_path / name)
        outs.append(tmp_path / name)
    a, b = outs
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in outs)
    assert ma["created"] != mb["created"] and ma["delete_after"] != mb["delete_after"]
    assert _without_run_time(ma) == _without_run_time(mb)
    for p in sorted(a.iterdir()):
        if p.name == "contact_trace.csv":
            ta, tb = (pd.read_csv(d / p.name, dtype=str) for d in outs)
            assert ta.drop(columns=RUN_ID).equals(tb.drop(columns=RUN_ID))
        elif p.name != "manifest.json":
            assert p.read_bytes() == (b / p.name).read_bytes(), p.name


# --------------------------------------------------------------------------- paths
def test_shown_path():
    base = Path("/data/run1")
    assert manifest_module.shown_path("/data/run1/in/c.csv", base) == "in/c.csv"
    assert manifest_module.shown_path("/home/ann/secret/c.csv", base) == "c.csv"
    assert manifest_module.shown_path("/home/ann/secret/c.csv", None) == "c.csv"
    assert manifest_module.shown_path("../up/c.csv", None) == "c.csv"
    rejects = pd.DataFrame({"source_file": ["/data/run1/c.csv", "/else/e.csv"], "x": [1, 2]})
    shown = manifest_module.shown_sources(rejects, base)
    assert shown["source_file"].tolist() == ["c.csv", "e.csv"]
    assert rejects["source_file"].iloc[0] == "/data/run1/c.csv"  # not modified


def test_inputs_outside_the_campaign_folder_show_their_name_only(tmp_path):
    data = tmp_path / "private" / "ann"
    data.mkdir(parents=True)
    cfg = make_inputs(data, [*TWO, "bad,row"], [])
    cfg["inputs"] = {k: str(data / v) for k, v in cfg["inputs"].items()}
    camp = tmp_path / "campaigns"
    camp.mkdir()
    r = run(camp, cfg)
    assert {i["path"] for i in r.manifest["inputs"]} >= {"customers.csv", "equipment.csv"}
    out = tmp_path / "out"
    write_campaign(r, out)
    for p in out.iterdir():
        text = p.read_bytes().decode("utf-8", "replace")
        assert str(tmp_path) not in text, p.name


# --------------------------------------------------------------------------- the demo, once
@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    base = tmp_path_factory.mktemp("privacy")
    campaign = ssg.demo.path("campaign")
    r = cli(
        "run",
        str(campaign),
        "--out",
        str(base / "out"),
        "--pseudonymise",
        "--quiet",
        env={"SMARTSTREET_PSEUDONYM_KEY": GOOD_KEY},
    )
    assert r.returncode == 0, r.stderr
    return base / "out", r


def test_no_machine_path_in_any_output(demo_out):
    out, _ = demo_out
    package = str(Path(ssg.__file__).resolve().parent)
    needles = {str(out.parent), str(out.parent.resolve()), package, str(Path.home())}
    for p in sorted(out.iterdir()):
        text = p.read_bytes().decode("utf-8", "replace")
        for needle in needles:
            assert needle not in text, (p.name, needle)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert not rejects["source_file"].str.startswith("/").any()
    assert set(rejects["source_file"]) <= {"customers.parquet", "equipment.csv"}


def test_pseudonymise_covers_every_output_of_the_demo(demo_out):
    out, _ = demo_out
    customers = pd.read_parquet(ssg.demo.path("campaign").parent / "customers.parquet")
    ids = set(customers["customer_id"].dropna().astype(str))
    for p in sorted(out.iterdir()):
        if p.suffix == ".xlsx":
            continue  # the letters carry contact references, no ids (and are zipped)
        tokens = set(re.findall(r"\w{6,}", p.read_text(encoding="utf-8")))
        assert not tokens & ids, (p.name, sorted(tokens & ids)[:3])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["pseudonymised_ids"] is True  # the flag, not the config
    rejects = pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False)
    cust_rows = rejects[rejects["source_file"] == "customers.parquet"]
    assert cust_rows["record_id"].str.fullmatch(r"[0-9a-f]{16}|").all()
    recon = pd.read_csv(out / "reconciliation.csv", dtype=str)
    expected = pseudonym(customers["customer_id"].dropna().drop_duplicates(), GOOD_KEY.encode())
    assert set(recon["customer_id"].dropna()) <= set(expected)


# --------------------------------------------------------------------------- pseudonyms
def _old_pseudonym(values: pd.Series, key: bytes) -> pd.Series:
    """The row-by-row implementation the vectorised one replaced (the oracle)."""

    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and v != v):
            return None
        return hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    return pd.Series([one(v) for v in values.astype(object)], index=values.index, dtype=object)


def test_vectorised_pseudonym_gives_the_old_pseudonyms():
    rng = secrets.SystemRandom(12)
    sample = [str(1_600_000_000_000 + rng.randrange(10**6)) for _ in range(500)]
    # (the old one failed on a lone surrogate: that one is checked apart)
    sample += [v for _, v in HOSTILE if "\ud800" not in v]
    sample += [None, float("nan"), 1, 1.0, True, "1", "", " 1 "]
    sample += sample[:100]  # repeats
    values = pd.Series(sample, index=range(1000, 1000 + len(sample)), dtype=object)
    for key in (b"k" * 16, GOOD_KEY.encode()):
        new, old = pseudonym(values, key), _old_pseudonym(values, key)
        assert new.index.equals(old.index)
        assert new.tolist() == old.tolist()
    text = pd.Series(["1600000000001", None, "1600000000001"], dtype="str")
    assert (
        pseudonym(text, b"k" * 16).tolist()
        == _old_pseudonym(
            pd.Series(["1600000000001", None, "1600000000001"], dtype=object), b"k" * 16
        ).tolist()
    )
    assert pseudonym(pd.Series([], dtype=object), b"k" * 16).tolist() == []
    assert (
        pseudonym(pd.Series(["a\ud800"], dtype=object), b"k" * 16)
        .str.fullmatch("[0-9a-f]{16}")
        .all()
    )


@pytest.mark.parametrize("value", [v for _, v in HOSTILE], ids=hostile_ids())
def test_shareable_outputs_hide_hostile_ids_wherever_a_row_quotes_them(value):
    key = GOOD_KEY.encode()
    cid = f"ID{value}"
    shown = cid if len(cid) <= 60 else cid[:57] + "..."
    tables = {
        "rejects.csv": pd.DataFrame(
            {
                "source_file": ["/home/ann/data/customers.csv", "equipment.csv"],
                "row_number": [4, 2],
                "record_id": [cid, "EQ-1"],
                "column": ["customer_id", "equipment_id"],
                "value": [shown, "EQ-1"],
                "reason_code": ["conflicting_duplicate", "missing_coordinates"],
                "message": [f"customers.csv row 4, column customer_id = {shown!r}: x", "EQ-1 y"],
            },
            dtype=object,  # pandas' str dtype cannot hold a lone surrogate; object can
        ),
        "reconciliation.csv": pd.DataFrame(
            {
                "customer_id": [cid, "1600000000002"],
                "reason": [f"conflicting_duplicate: row 4 = {shown!r}", "near EQ-1"],
            },
            dtype=object,
        ),
    }
    out = shareable_outputs(tables, pseudonym_key=key)
    name = pseudonym(pd.Series([cid], dtype=object), key).iloc[0]
    rej, rec = out["rejects.csv"], out["reconciliation.csv"]
    assert rej["source_file"].tolist() == ["customers.csv", "equipment.csv"]
    assert rej["record_id"].tolist() == [name, "EQ-1"]  # an equipment id stays
    assert rej["value"].tolist() == [name, "EQ-1"]
    assert rec["customer_id"].iloc[0] == name
    assert rej["message"].iloc[1] == "EQ-1 y" and rec["reason"].iloc[1] == "near EQ-1"
    for text in (rej["message"].iloc[0], rec["reason"].iloc[0]):
        assert repr(name) in text and repr(shown) not in text
    assert tables["rejects.csv"]["record_id"].iloc[0] == cid  # inputs untouched
    plain = shareable_outputs(tables)
    assert plain["rejects.csv"]["record_id"].iloc[0] == cid
    assert plain["rejects.csv"]["source_file"].iloc[0] == "customers.csv"


def test_a_short_id_is_replaced_only_where_quoted():
    key = GOOD_KEY.encode()
    tables = {
        "reconciliation.csv": pd.DataFrame(
            {"customer_id": ["1"], "reason": ["exact_duplicate: row 1, column id = '1': same"]}
        )
    }
    name = pseudonym(pd.Series(["1"]), key).iloc[0]
    reason = shareable_outputs(tables, pseudonym_key=key)["reconciliation.csv"]["reason"].iloc[0]
    assert reason == f"exact_duplicate: row 1, column id = '{name}': same"


def test_write_campaign_pseudonymises_rejects_reasons_and_says_so(tmp_path):
    rows = [
        customer("1600000000001", 5, premise="P", address="1 Oak Street"),
        customer("1600000000004", 5, premise="P", address="1 Oak Street"),
        customer("1600000000002", 6, address="2 Oak Street"),
        customer("1600000000002", 7, address="3 Oak Street"),  # conflicting duplicate
        customer("1600000000003", 8, address="4 Oak Street").replace(f"{E + 8}", "abc"),
    ]
    cfg = make_inputs(tmp_path, rows, [f"EQ9,link_box_switch,C1,2027-03-01,true,{E},{N}"])
    r = run(tmp_path, cfg)
    assert r.manifest["parameters"]["pseudonymised_ids"] is False
    assert "1600000000002" in r.rejects.to_csv()  # the case exists
    out = tmp_path / "out"
    write_campaign(r, out, pseudonym_key=GOOD_KEY.encode())
    for p in out.iterdir():
        if p.suffix != ".xlsx":
            text = p.read_text(encoding="utf-8")
            assert not re.search(r"160000000000[1-4]", text), p.name
    m = json.loads((out / "manifest.json").read_text())
    assert m["parameters"]["pseudonymised_ids"] is True
    assert (
        shareable_manifest(r.manifest, pseudonymised=False)["parameters"]["pseudonymised_ids"]
        is False
    )
    plain = tmp_path / "plain"
    write_campaign(r, plain)
    assert "1600000000002" in (plain / "rejects.csv").read_text()


# --------------------------------------------------------------------------- keys
@pytest.mark.parametrize(
    "value",
    [
        "short-key",
        "0123456789abcdef",  # 16 hex characters: 64 bits
        "a" * 64,
        "ab" * 40,
        "0123456789abcdef" * 4,  # one block, repeated
        "0" * 31 + "1",
        "secretsecretsecretsecret",
        "0123456789abcdef0123456789abcde",  # 31 hex characters
    ],
)
def test_weak_keys_are_refused_naming_the_variable_never_the_value(value):
    with pytest.raises(ConfigError, match="MY_KEY") as err:
        check_pseudonym_key(value, "MY_KEY")
    assert value not in str(err.value) and "too weak" in str(err.value)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("/usr/local/bin:/usr/bin:/bin", "SMARTSTREET_PSEUDONYM_KEY"),
        ("/home/ann", "MY_KEY"),
        ("~/keys/pseudonym.key", "MY_KEY"),
        ("a-long-enough-looking-random-value-x7Q2", "PATH"),
        ("a-long-enough-looking-random-value-x7Q2", "home"),
    ],
)
def test_system_variables_and_paths_are_not_keys(value, name):
    with pytest.raises(ConfigError, match=f"{name} holds a path or a system value") as err:
        check_pseudonym_key(value, name)
    assert value not in str(err.value)


def test_the_value_of_a_system_variable_is_not_a_key(monkeypatch):
    monkeypatch.setenv("SHELL", "zshzshzsh-not-a-path-but-a-system-value-7Q")
    with pytest.raises(ConfigError, match="system value"):
        check_pseudonym_key("zshzshzsh-not-a-path-but-a-system-value-7Q", "MY_KEY")


def test_missing_key_is_refused():
    for value in (None, ""):
        with pytest.raises(ConfigError, match="MY_KEY, which is not set or empty"):
            check_pseudonym_key(value, "MY_KEY")


def test_random_keys_of_128_bits_are_accepted():
    for _ in range(2000):
        for key in (secrets.token_hex(16), secrets.token_urlsafe(16), secrets.token_hex(32)):
            assert check_pseudonym_key(key, "K") == key.encode()
    # text keys keep their UTF-8 bytes (earlier pseudonyms and registers still match)
    assert check_pseudonym_key("0123456789abcdef-secret", "K") == b"0123456789abcdef-secret"
    assert key_strength_bits("0123456789abcdef" * 2) == 64
    assert key_strength_bits(secrets.token_hex(32)) >= 200


def test_cli_refuses_a_weak_key_before_any_work(tmp_path):
    out = tmp_path / "out"
    weak = "x" * 40
    r = cli(
        "run",
        str(ssg.demo.path("campaign")),
        "--out",
        str(out),
        "--pseudonymise",
        env={"SMARTSTREET_PSEUDONYM_KEY": weak},
    )
    assert r.returncode == 1
    assert "SMARTSTREET_PSEUDONYM_KEY" in r.stderr and "too weak" in r.stderr
    assert weak not in r.stderr + r.stdout
    assert not out.exists()
