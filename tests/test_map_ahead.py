"""The campaign map's network layers drawn ahead, while the run works (issue 14).

The oracle is the map drawn the ordinary way, from the same result without the layers
drawn ahead: the pages must be the same bytes.
"""

from __future__ import annotations

import dataclasses

import pytest

from smartstreet_geo import demo, run_campaign
from smartstreet_geo.maps import _api, campaign_map
from smartstreet_geo.maps._api import page_bytes


@pytest.fixture(scope="module")
def ahead():
    result = run_campaign(demo.path("campaign"), _draw_network=True)
    assert result.network_layers is not None
    return result


def _plain(result):
    return dataclasses.replace(result, network_layers=None)


@pytest.mark.parametrize("options", [{}, {"internal": True}, {"aggregate_m": 100.0}])
def test_the_map_is_the_same_bytes_with_the_layers_drawn_ahead(ahead, options):
    drawn = page_bytes(campaign_map(ahead, tiles="none", **options))
    assert drawn == page_bytes(campaign_map(_plain(ahead), tiles="none", **options))


def test_the_layers_drawn_ahead_are_used_and_serve_several_maps(ahead, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was drawn again")

    oracle = page_bytes(campaign_map(_plain(ahead), tiles="none"))
    monkeypatch.setattr(_api, "add_network", refuse)
    # twice: the page's assembly rewrites the layers' specifications, so they are copied
    assert page_bytes(campaign_map(ahead, tiles="none")) == oracle
    assert page_bytes(campaign_map(ahead, tiles="none")) == oracle


def test_layers_drawn_for_other_frames_are_not_used(ahead, monkeypatch):
    fewer = dataclasses.replace(ahead, edges=ahead.edges.iloc[: len(ahead.edges) // 2])
    calls = []
    real = _api.add_network
    monkeypatch.setattr(_api, "add_network", lambda *a, **k: calls.append(1) or real(*a, **k))
    drawn = page_bytes(campaign_map(fewer, tiles="none"))
    assert calls == [1]  # drawn again, from the result's own edges
    monkeypatch.undo()
    assert drawn == page_bytes(campaign_map(_plain(fewer), tiles="none"))
    assert drawn != page_bytes(campaign_map(_plain(ahead), tiles="none"))


def test_without_asking_nothing_is_drawn_ahead():
    assert run_campaign(demo.path("campaign")).network_layers is None
