"""The campaign with ``[outage] plan = "backfeed"``: calls only to customers still interrupted.

Oracle: the plan itself (``network.plan_outage``, tested against pandapower's topology in
tests/test_backfeed.py). The campaign must phone exactly the PSR customers the plans leave
interrupted, say why the others are not phoned, and write ``outage_plan.csv``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from smartstreet_geo import demo, run_campaign
from smartstreet_geo.campaign import load_config
from smartstreet_geo.export import write_campaign


@pytest.fixture(scope="module")
def runs():
    cfg = load_config(demo.path("campaign"))
    plain = run_campaign(cfg)
    planned = run_campaign(dataclasses.replace(cfg, outage_plan="backfeed"))
    return plain, planned


def _called(result) -> set[str]:
    c = result.contacts
    return set(c.loc[c["campaign"] == "outage_phone_call", "customer_id"])


def test_nobody_kept_on_supply_is_phoned_and_everyone_phoned_is_still_interrupted(runs):
    plain, planned = runs
    backfed = planned.backfed
    assert backfed is not None and len(backfed) > 0
    called_plain, called_planned = _called(plain), _called(planned)
    assert called_planned < called_plain  # fewer calls, and no new ones
    # a customer no longer called is kept on supply for every outage that concerned them
    dropped = called_plain - called_planned
    assert dropped <= set(backfed["customer_id"])
    calls = planned.contacts[planned.contacts["campaign"] == "outage_phone_call"]
    for cid, eqs in zip(calls["customer_id"], calls["equipment_ids"], strict=True):
        kept = set(backfed.loc[backfed["customer_id"] == cid, "equipment_id"])
        assert not set(eqs.split(";")) <= kept, cid  # phoned only about an outage still on


def test_the_reconciliation_says_who_is_kept_on_supply_and_through_which_point(runs):
    _, planned = runs
    recon = planned.reconciliation.set_index("customer_id")
    sample = planned.backfed.drop_duplicates("customer_id").head(200)
    for cid, point in zip(sample["customer_id"], sample["point"], strict=True):
        assert f"supply maintained by backfeed through {point}" in recon.loc[cid, "reason"]


def test_outage_plan_csv_is_written_and_listed(runs, tmp_path):
    _, planned = runs
    paths = write_campaign(planned, tmp_path / "out")
    assert "outage_plan.csv" in paths
    table = pd.read_csv(paths["outage_plan.csv"], dtype=str, keep_default_na=False)
    outage_eq = planned.equipment.loc[planned.equipment["outage_required"], "equipment_id"]
    assert sorted(table["equipment_id"]) == sorted(outage_eq)
    assert "customer_id" not in table.columns  # no customer ids in the plan
    manifest = pd.read_json(paths["manifest.json"], typ="series")
    assert "outage_plan.csv" in {o["file"] for o in manifest["outputs"]}
    assert (
        planned.manifest["outage_plan"]["customers_kept_on_supply"]
        == planned.backfed["customer_id"].nunique()
    )


def test_without_a_plan_nothing_changes(runs, tmp_path):
    plain, _ = runs
    assert plain.outage_plan is None and plain.backfed is None
    assert "outage_plan.csv" not in write_campaign(plain, tmp_path / "out")
