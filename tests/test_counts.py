"""Every count of the demo run agrees in every output; shareable outputs say nothing about the PSR.

Issue 12, deliverables 5 and 6: the console, ``reconciliation.csv``,
``manual_review.csv``, the manifest, the map legend and the reader all count
from one table of statuses; ``reconciliation.csv``, ``manual_review.csv`` and
the default map carry no Priority Services Register (PSR) or health
information unless internal details are asked for.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hostile import HOSTILE, hostile_ids
from smartstreet_geo import demo, maps
from smartstreet_geo.campaign import load_config, run_campaign
from smartstreet_geo.campaign.reconcile import reconcile
from smartstreet_geo.campaign.result import READER_STATUSES, RECONCILIATION_STATUSES
from smartstreet_geo.export import write_campaign
from test_maps import data_island, decode_points, expected_points, page_specs, render

DEMO = Path(demo.path("campaign")).parent
NEEDS = pd.read_csv(DEMO / "psr_needs_codes.csv", dtype=str, keep_default_na=False)
#: Words no shareable file may hold: the register, its campaigns and issues, every needs description.
PSR_WORDS = ["PSR", "psr", "Priority Services", "outage_phone_call", "outage_letter", "nominee"]
PSR_WORDS += [d for d in NEEDS["description"] if d]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _with_internal_details(cfg):
    """The demo config with ``[output] internal_details = true``."""
    if "internal_details" in {f.name for f in dataclasses.fields(cfg)}:
        return dataclasses.replace(cfg, internal_details=True)
    # until the config reads the key: the run reads it with getattr
    object.__setattr__(cfg, "internal_details", True)
    return cfg


# --------------------------------------------------------------------------- the runs
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The real ``smartstreet-geo demo`` command: its folder and its console text."""
    out = tmp_path_factory.mktemp("counts") / "out"
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "demo", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(
        out=out,
        console=r.stdout,
        recon=pd.read_csv(out / "reconciliation.csv", dtype=str, keep_default_na=False),
        review=pd.read_csv(out / "manual_review.csv", dtype=str, keep_default_na=False),
        manifest=json.loads((out / "manifest.json").read_text(encoding="utf-8")),
        letters=pd.read_csv(out / "letters.csv", dtype=str, keep_default_na=False),
        calls=pd.read_csv(out / "phone_calls.csv", dtype=str, keep_default_na=False),
        rejects=pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False),
        island=data_island((out / "map.html").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def internal_run(tmp_path_factory):
    """The demo with internal details: its result, files and both maps."""
    result = run_campaign(_with_internal_details(load_config(demo.path("campaign"))))
    out = tmp_path_factory.mktemp("internal") / "out"
    write_campaign(result, out)
    return SimpleNamespace(
        result=result,
        out=out,
        manifest=json.loads((out / "manifest.json").read_text(encoding="utf-8")),
        internal_map=render(maps.campaign_map(result, tiles="none", internal=True)),
        shared_map=render(maps.campaign_map(result, tiles="none")),
    )


@pytest.fixture(scope="module")
def blind_map(tmp_path_factory):
    """The default map of the demo with nobody on the PSR (no flag, no needs, no nominee)."""
    folder = tmp_path_factory.mktemp("blind") / "demo"
    shutil.copytree(DEMO, folder)
    cust = pd.read_parquet(folder / "customers.parquet")
    # rows of a repeated id keep theirs: a pair that differs only there must stay a conflict
    single = ~cust["customer_id"].duplicated(keep=False)
    cust.loc[single, "psr"] = False
    for col in [c for c in cust.columns if c.startswith(("psr_", "nominee"))]:
        cust.loc[single, col] = None
    cust.to_parquet(folder / "customers.parquet", index=False)
    result = run_campaign(folder / "campaign.toml")
    assert result.count_summary()["contacts"].get("outage_phone_call", 0) == 0
    return render(maps.campaign_map(result, tiles="none"))


# --------------------------------------------------------------------------- console
def _console(text: str) -> dict:
    """The numbers the console gives, parsed from its text."""
    rows, valid, rejected = re.search(
        r"^\s+customers\s+([\d,]+) rows\s+([\d,]+) valid\s+([\d,]+) rejected", text, re.M
    ).groups()
    contacts = {
        m[0]: _number(m[1])
        for m in re.findall(r"^\s{2}(\w+)\s+(?:letter|phone)\s+([\d,]+)$", text, re.M)
    }
    statuses = {
        m[0]: _number(m[1])
        for m in re.findall(r"^\s{4}(\w+)\s+([\d,]+)$", text, re.M)
        if m[0] in RECONCILIATION_STATUSES or m[0] == "total"
    }
    aside = re.search(r"set aside by the reader: ([\d,]+) = (.*)$", text, re.M)
    review = re.search(
        r"manual review \(manual_review.csv\): ([\d,]+) issues for ([\d,]+) customer rows\n(.*)$",
        text,
        re.M,
    )
    legend = re.search(r"map legend \([^)]*\):\n(.*)$", text, re.M).group(1)
    return {
        "reader": (_number(rows), _number(valid), _number(rejected)),
        "contacts": contacts,
        "statuses": statuses,
        "aside": _number(aside.group(1)),
        "aside_parts": {k: _number(v) for k, v in re.findall(r"(\w+) ([\d,]+)", aside.group(2))},
        "review": (_number(review.group(1)), _number(review.group(2)), review.group(3)),
        "legend": {k: _number(v) for k, v in re.findall(r"(\w+) ([\d,]+)", legend)},
    }


def test_every_count_agrees_in_every_output(cli_run):
    c = _console(cli_run.console)
    recon, review, manifest = cli_run.recon, cli_run.review, cli_run.manifest
    counts = manifest["counts"]
    n_rows, n_valid, n_rejected = c["reader"]

    # the reader: rows, valid and rejected in the console and the manifest; rejects.csv
    (cust_in,) = [i for i in manifest["inputs"] if i["role"] == "customers"]
    assert (cust_in["rows"], cust_in["valid"], cust_in["rejected"]) == c["reader"]
    from_customers = cli_run.rejects["source_file"].str.endswith("customers.parquet")
    assert int(from_customers.sum()) == n_rejected

    # reconciliation: every input row once; the console and the manifest say the same
    status = recon["status"].value_counts().reindex(RECONCILIATION_STATUSES, fill_value=0)
    assert len(recon) == n_rows == c["statuses"]["total"] == counts["input_rows"]
    assert recon["source_row"].is_unique
    assert {s: int(n) for s, n in status.items()} == {
        s: c["statuses"][s] for s in RECONCILIATION_STATUSES
    }
    assert counts["reconciliation"] == {s: int(n) for s, n in status.items()}
    # the reader's "rejected" is rejected + exact_duplicate + conflicting_duplicate
    assert int(status[list(READER_STATUSES)].sum()) == n_rejected == c["aside"]
    assert c["aside_parts"] == {s: int(status[s]) for s in READER_STATUSES}
    assert counts["reader_set_aside"] == n_rejected
    assert int(status[["contacted", "manual_review", "not_contacted"]].sum()) == n_valid
    for code in READER_STATUSES[1:]:  # each duplicate row is its own status, with its reason
        rows = recon[recon["status"] == code]
        assert len(rows) == int((cli_run.rejects["reason_code"] == code).sum()) > 0
        assert rows["reason"].str.startswith(code).all()

    # contacts: the letters and calls written, the console, the manifest
    written = cli_run.letters["campaign"].value_counts().to_dict()
    written["outage_phone_call"] = len(cli_run.calls)
    assert written == c["contacts"] == counts["contacts"]

    # manual review: one row per issue; each row carries its customer row's status
    issues, n_review_rows, by_status = c["review"]
    assert len(review) == issues == counts["manual_review"]["issues"]
    assert review["source_row"].nunique() == n_review_rows == counts["manual_review"]["rows"]
    assert review["issue"].value_counts().to_dict() == counts["manual_review"]["by_issue"]
    row_status = recon.set_index("source_row")["status"]
    assert (review["status"] == review["source_row"].map(row_status)).all()
    per_row = review.drop_duplicates("source_row")["status"].value_counts().to_dict()
    assert per_row == counts["manual_review"]["rows_by_status"]
    assert f"{per_row['contacted']:,} contacted and to check" in by_status
    assert per_row["contacted"] > 0 and len(review) > n_review_rows  # several issues, contacted
    # nothing-sent review customers in the reconciliation are exactly those with issues
    assert set(recon.loc[recon["status"] == "manual_review", "source_row"]) <= set(
        review["source_row"]
    )
    assert set(review.loc[review["issue"] == "conflicting_duplicate", "source_row"]) == set(
        recon.loc[recon["status"] == "conflicting_duplicate", "source_row"]
    )

    # the map legend (customers, one per valid row) from the map's own data
    (section,) = [
        s for s in cli_run.island["legend"]["sections"] if s["title"].startswith("Customers")
    ]
    label_key = {s.label: k for k, s in maps.SHARED_CATEGORIES.items()}
    legend = {label_key[r["label"]]: r["count"] for r in section["rows"]}
    assert legend == c["legend"] == counts["map_shared"]
    assert sum(legend.values()) == n_valid
    points = {s["key"]: len(s["xy"]) // 2 for s in page_specs_island(cli_run.island, "points")}
    assert points == {f"customers_{k}": n for k, n in legend.items()}
    # derived from the reconciliation's shareable campaigns
    contacted = recon["status"] == "contacted"
    letter = recon["campaigns"].str.contains("installation_letter")
    leaflet = recon["campaigns"].str.contains("leaflet")
    assert legend["installation_letter"] == int((contacted & letter).sum())
    assert legend["leaflet"] == int((contacted & leaflet & ~letter).sum())
    assert legend["manual_review"] == int(status["manual_review"])
    # the letters are per premise, the legend per customer: more customers than letters here
    assert legend["leaflet"] + legend["installation_letter"] < sum(c["contacts"].values())


def page_specs_island(island: dict, factory: str) -> list[dict]:
    return [layer["spec"] for layer in island["layers"] if layer["factory"] == factory]


def test_internal_counts_agree_with_the_internal_map(internal_run):
    res = internal_run.result
    table = res.status_table()
    assert len(table) == len(res.reconciliation)
    assert table["review_issues"].sum() == len(res.manual_review)
    cats = table["map_category"].value_counts().to_dict()
    assert cats == {k: v for k, v in res.count_summary()["map"].items() if v}
    (section,) = [
        s
        for s in page_specs(internal_run.internal_map, "setup")[0]["legend"]["sections"]
        if s["title"].startswith("Customers")
    ]
    label_key = {s.label: k for k, s in maps.CATEGORIES.items()}
    legend = {label_key[r["label"]]: r["count"] for r in section["rows"]}
    assert legend == internal_run.manifest["counts"]["map"]
    # everyone called is a phone-call dot; the statuses agree with the categories
    called = res.contacts.loc[res.contacts["campaign"] == "outage_phone_call", "customer_id"]
    assert legend["phone_call"] == called.nunique() > 0
    by_status = table.groupby("status")["map_category"].agg(set).to_dict()
    assert by_status["contacted"] <= {"phone_call", "installation_letter", "leaflet"}
    assert by_status["not_contacted"] == {"not_contacted"}
    assert table.loc[table["status"].isin(READER_STATUSES), "map_category"].isna().all()


# --------------------------------------------------------------------------- privacy of files
def _text(folder: Path, name: str) -> str:
    return (folder / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["reconciliation.csv", "manual_review.csv"])
def test_shareable_files_hold_no_psr_or_health_information(cli_run, name):
    text = _text(cli_run.out, name)
    assert [w for w in PSR_WORDS if w in text] == []
    review = cli_run.review
    codes = "|".join(re.escape(c) for c in NEEDS["code"])
    assert not review["detail"].str.contains(rf"\b(?:{codes})\b", regex=True).any()
    assert cli_run.manifest["details"] == "shareable"
    # what is shared instead: the outage notices and neutral issue names
    assert cli_run.recon["campaigns"].str.contains("outage_notice").any()
    assert {"no_usable_phone", "record_code_check"} <= set(review["issue"])


def test_internal_details_keep_what_the_rules_said(internal_run):
    recon = _text(internal_run.out, "reconciliation.csv")
    review = pd.read_csv(internal_run.out / "manual_review.csv", dtype=str)
    assert "outage_phone_call" in recon and "outage_letter" in recon
    assert {"psr_no_phone", "psr_needs_code"} <= set(review["issue"])
    assert review["detail"].str.contains("PSR").any()  # with the needs codes, as held
    assert internal_run.manifest["details"] == "internal"
    # the call centre's list keeps what a call handler needs, in either mode
    calls = pd.read_csv(internal_run.out / "phone_calls.csv", dtype=str)
    assert {"needs", "medically_dependent", "call_number"} <= set(calls.columns)


# --------------------------------------------------------------------------- privacy of the map
def _points(html: str) -> dict[str, set[tuple[int, int]]]:
    return {
        s["key"]: {tuple(p) for p in decode_points(s).tolist()} for s in page_specs(html, "points")
    }


def test_default_map_is_the_map_of_a_run_without_psr(cli_run, internal_run, blind_map):
    """Nothing on the default map depends on who is on the PSR: no PSR household is placed."""
    shared = internal_run.shared_map
    assert data_island(shared) == data_island(blind_map)
    layers = _points(shared)
    assert "customers_phone_call" not in layers
    assert "customers_phone_call" not in {
        s["key"] for s in page_specs_island(cli_run.island, "points")
    }
    # positions: every PSR customer's dot is where and as the run without a PSR has it
    res = internal_run.result
    psr = res.customers[res.customers["psr"].astype(bool)]
    assert len(psr) > 100
    blind = _points(blind_map)
    for pos in {tuple(p) for p in expected_points(psr).tolist()}:
        assert {k for k, v in layers.items() if pos in v} == {
            k for k, v in blind.items() if pos in v
        }


def test_internal_map_places_every_called_household(internal_run):
    res = internal_run.result
    layers = _points(internal_run.internal_map)
    called = res.contacts.loc[res.contacts["campaign"] == "outage_phone_call", "customer_id"]
    where = res.customers[res.customers["customer_id"].isin(called)]
    assert layers["customers_phone_call"] == {tuple(p) for p in expected_points(where).tolist()}


# --------------------------------------------------------------------------- small oracles
@pytest.mark.parametrize("value", [v for _, v in HOSTILE], ids=hostile_ids())
def test_reconcile_statuses_and_words_with_hostile_text(value):
    """A hand-made run: statuses, review statuses and shareable words, whatever the text."""
    cust = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "source_row": [1, 2, 3, 4]})
    rejects = pd.DataFrame(
        {
            "row_number": [5, 6, 7],
            "record_id": ["c1", "c9", "c8"],
            "reason_code": ["exact_duplicate", "conflicting_duplicate", "invalid_postcode"],
            "column": ["customer_id", "customer_id", "postcode"],
            "message": pd.Series([value, value, "postcode = 'WN5 9XP' " + value], dtype=object),
        }
    )
    contacts = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2"],
            "campaign": ["leaflet", "outage_phone_call", "leaflet"],
            "reason": pd.Series(
                ["served by circuit " + value, "PSR " + value, "served by circuit X"], dtype=object
            ),
            "equipment_ids": ["", "EQ1", ""],
        }
    )
    covered = pd.DataFrame({"customer_id": ["c3"], "campaign": ["outage_letter"]})
    reviews = [
        pd.DataFrame(
            {
                "customer_id": ["c1", "c1", "c4"],
                "issue": ["psr_needs_code", "psr_no_phone", "ambiguous_circuit"],
                "detail": pd.Series(
                    ["unknown PSR needs code(s) 99", value, "circuit " + value], dtype=object
                ),
            }
        )
    ]
    r = SimpleNamespace(rejects=rejects)
    for internal in (False, True):
        t = reconcile(r, cust, contacts, covered, reviews, {"c4": value}, internal=internal)
        rec = t.reconciliation.set_index("source_row")
        assert rec["status"].to_dict() == {
            1: "contacted",
            2: "contacted",
            3: "contacted",
            4: "manual_review",
            5: "exact_duplicate",
            6: "conflicting_duplicate",
            7: "rejected",
        }
        mr = t.manual_review
        assert sorted(zip(mr["source_row"].tolist(), mr["status"], strict=True)) == [
            (1, "contacted"),
            (1, "contacted"),
            (4, "manual_review"),
            (6, "conflicting_duplicate"),
        ]
        cats = t.categories.set_index("customer_id")
        assert cats["map_category"].to_dict() == {
            "c1": "phone_call",
            "c2": "leaflet",
            "c3": "installation_letter",
            "c4": "manual_review",
        }
        # as if nobody were on the PSR: c1 has its leaflet, c3 nothing
        assert cats["map_category_shared"].to_dict() == {
            "c1": "leaflet",
            "c2": "leaflet",
            "c3": "not_contacted",
            "c4": "manual_review",
        }
        shared_text = " ".join(
            str(v) for f in (t.reconciliation, mr) for v in f.to_numpy(dtype=object).ravel()
        )
        if internal:
            assert "outage_phone_call" in shared_text and "psr_needs_code" in shared_text
        else:
            assert not re.search(r"(?i)psr|outage_phone_call|outage_letter|\b99\b", shared_text)
            assert "WN5 9XP" not in shared_text  # a reader message can quote personal data
            assert rec.loc[1, "campaigns"] == "leaflet;outage_notice"
            assert rec.loc[3, "campaigns"] == "outage_notice"
            assert set(mr["issue"]) == {
                "record_code_check",
                "no_usable_phone",
                "ambiguous_circuit",
                "conflicting_duplicate",
            }


def test_reconcile_is_vectorised_enough_for_a_large_file():
    """100,000 customers reconcile in well under the time the old per-customer loop took."""
    import time

    n = 100_000
    ids = pd.Series([f"c{i}" for i in range(n)])
    cust = pd.DataFrame({"customer_id": ids, "source_row": np.arange(1, n + 1)})
    contacts = pd.DataFrame(
        {
            "customer_id": ids[::2].to_numpy(),
            "campaign": "leaflet",
            "reason": "served by circuit C1",
            "equipment_ids": "",
        }
    )
    covered = pd.DataFrame({"customer_id": ids[1::4].to_numpy(), "campaign": "leaflet"})
    rejects = pd.DataFrame(
        columns=["row_number", "record_id", "reason_code", "column", "message"]
    ).astype({"row_number": int})
    start = time.perf_counter()
    t = reconcile(SimpleNamespace(rejects=rejects), cust, contacts, covered, [], {})
    assert time.perf_counter() - start < 10
    assert t.reconciliation["status"].value_counts().to_dict() == {
        "contacted": n // 2 + n // 4,
        "not_contacted": n // 4,
    }
