"""The demo campaign with ``[locate]``: customers without coordinates placed, honestly.

Oracles: the demo generator's ``defects.csv`` (how each such customer was recorded:
``located_by`` and the true ``premise_uprn``), the OS Open UPRN extract shipped with the
demo (the true position of each UPRN), and brute-force distances for the
``location_uncertain`` decisions.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import shapely

from smartstreet_geo import demo, run_campaign
from smartstreet_geo.campaign import load_config
from smartstreet_geo.locate import read_uprn_gazetteer


@pytest.fixture(scope="module")
def located():
    return run_campaign(demo.path("campaign"))


@pytest.fixture(scope="module")
def defects():
    d = pd.read_csv(demo.path("campaign").with_name("defects.csv"), dtype=str)
    return d[d["defect"] == "missing_coordinates"]


def test_every_customer_without_coordinates_is_accounted_for(located, defects):
    recon = located.reconciliation.set_index("source_row")
    rows = defects["source_row"].astype(int)
    status = recon.loc[rows, "status"]
    assert status.isin(["contacted", "not_contacted", "manual_review", "rejected"]).all()
    cust = located.customers.set_index("source_row")
    placed = rows[rows.isin(cust.index)]
    # those the generator gave a UPRN or an address are all placed (postcode-only too)
    wanted = defects[defects["located_by"].notna()]
    assert set(wanted["source_row"].astype(int)) <= set(placed)
    src = cust.loc[wanted["source_row"].astype(int), "location_source"].to_numpy()
    by = wanted["located_by"].str.split(":").str[0].to_numpy()
    assert (src[by == "uprn"] == "uprn").all()
    assert set(src[by == "postcode"]) <= {"postcode_centroid"}
    assert set(src[by == "address"]) <= {"address_match", "postcode_centroid", "uprn"}


def test_placed_by_uprn_or_address_stands_on_the_true_premise(located, defects):
    gaz = read_uprn_gazetteer(demo.path("campaign").with_name("osopenuprn_demo.zip"))
    points = gaz.data.set_index("uprn")
    cust = located.customers.set_index("source_row")
    exact = defects[defects["located_by"].notna() & defects["premise_uprn"].notna()]
    exact = exact[exact["source_row"].astype(int).isin(cust.index)]
    rows = exact["source_row"].astype(int)
    src = cust.loc[rows, "location_source"].to_numpy()
    sure = np.isin(src, ["uprn", "address_match"])
    assert sure.sum() > 300
    got = cust.loc[rows[sure], "geometry"]
    true = points.loc[exact["premise_uprn"][sure].astype("int64").to_numpy()]
    d = shapely.distance(np.asarray(got.array), shapely.points(true["easting"], true["northing"]))
    assert np.all(d < 0.01)  # an automatic match is never the wrong premise


def test_location_uncertain_is_exactly_the_customers_whose_doubt_straddles_a_radius(located):
    cust = located.customers
    eq = located.equipment
    u = cust["location_uncertainty_m"].astype(float).to_numpy()
    fuzzy = cust[u > 0]
    # brute force: every uncertain customer against every equipment item
    d = shapely.distance(
        np.asarray(fuzzy.geometry.array)[:, None], np.asarray(eq.geometry.array)[None, :]
    )
    r = eq["radius_m"].to_numpy()[None, :]
    uu = fuzzy["location_uncertainty_m"].to_numpy()[:, None]
    straddles = ((d + uu > r) & (d - uu <= r)).any(axis=1)
    certainly_within = (d + uu <= r).any(axis=1)
    review = located.manual_review
    flagged = set(review.loc[review["issue"] == "location_uncertain", "customer_id"])
    expected = set(fuzzy.loc[straddles & ~certainly_within, "customer_id"]) | (
        set(fuzzy.loc[straddles & certainly_within, "customer_id"])
    )
    assert flagged == expected
    assert len(flagged) > 0  # the demo exercises the case
    letters = located.contacts[located.contacts["campaign"] == "installation_letter"]
    sent = set(letters["customer_id"]) | set(located.reconciliation.loc[
        located.reconciliation["campaigns"].str.contains("installation_letter", na=False),
        "customer_id",
    ])  # fmt: skip
    # an uncertain customer gets an installation letter only where certainly within a radius
    assert set(fuzzy.loc[~certainly_within, "customer_id"]).isdisjoint(set(letters["customer_id"]))
    assert sent  # sanity


def test_without_locate_they_stay_rejected_for_missing_coordinates(defects):
    cfg = dataclasses.replace(load_config(demo.path("campaign")), locate=None)
    plain = run_campaign(cfg)
    recon = plain.reconciliation.set_index("source_row")
    assert (recon.loc[defects["source_row"].astype(int), "status"] == "rejected").all()
    assert plain.manifest["counts"]["location_sources"] == {"supplied": len(plain.customers)}


def test_an_ambiguous_address_goes_to_review_with_its_candidates():
    cfg = dataclasses.replace(load_config(demo.path("campaign")), internal_details=True)
    review = run_campaign(cfg).manual_review
    ambiguous = review[review["detail"].str.contains("address_ambiguous", na=False)]
    assert len(ambiguous) > 0
    assert ambiguous["detail"].str.contains(r"candidates: UPRN \d+ \(\d+\)").all()


def test_a_follow_up_wave_says_what_was_already_sent_to_customers_held_for_review(tmp_path):
    """Wave 2: nothing is sent again; a customer still to check says its letter went in wave 1."""
    base = load_config(demo.path("campaign"))
    cfg = dataclasses.replace(base, register=tmp_path / "register.parquet")
    first = run_campaign(cfg, new_register=True)
    first.save_register()
    second = run_campaign(cfg)
    assert second.contacts.empty  # same inputs, same register: nothing twice
    sent = set(first.contacts["customer_id"])
    held = second.reconciliation[second.reconciliation["status"] == "manual_review"]
    held = held[held["customer_id"].isin(sent)]
    assert len(held) > 0
    assert held["reason"].str.contains("already sent", regex=False).all()
