"""The campaign's per-customer joins without Python callbacks (issue 14) give the old answers.

Oracles: ``groupby(...).agg(sep.join)`` and f-strings, the code these steps
replaced; and a closed ring on a small network, whose customer must be named
on both circuits ("F1 + F2").
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

from hostile import HOSTILE
from smartstreet_geo.campaign import load_config, run_campaign
from smartstreet_geo.campaign._join import fixed, group_starts, join_groups
from smartstreet_geo.campaign.run import _reasons_near

E, N = 354500.0, 404100.0  # Wigan, postcode district WN5


def _ring(tmp_path: Path, scope: list[str]) -> pd.DataFrame:
    """S feeds F1 (S-a-r) and F2 (S-c-r), closed at r (a ring: fed by both), and F3 (S-d)."""
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["e1", "e2", "e3", "e4", "e5"],
            "from_node": ["S", "a", "S", "c", "S"],
            "to_node": ["a", "r", "c", "r", "d"],
            "circuit_id": ["F1", "F1", "F2", "F2", "F3"],
        },
        geometry=[
            LineString([(E, N), (E + 100, N)]),
            LineString([(E + 100, N), (E + 100, N + 100)]),
            LineString([(E, N), (E, N + 100)]),
            LineString([(E, N + 100), (E + 100, N + 100)]),
            LineString([(E, N), (E, N - 100)]),
        ],
        crs="EPSG:27700",
    )
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["S"]}, geometry=[Point(E, N)], crs="EPSG:27700"
    )
    edges.to_file(tmp_path / "edges.gpkg")
    subs.to_file(tmp_path / "subs.gpkg")
    base = {"name": "Person", "post_town": "WIGAN", "postcode": "WN5 9XP"}
    rows = [
        {
            "customer_id": "at_a",
            "easting": E + 100,
            "northing": N - 5,
            "connection_node": "a",
            "address_line_1": "1 Oak Street",
        },
        {
            "customer_id": "at_r",
            "easting": E + 105,
            "northing": N + 105,
            "connection_node": "r",
            "address_line_1": "2 Oak Street",
        },
        {
            "customer_id": "at_c",
            "easting": E - 5,
            "northing": N + 100,
            "connection_node": "c",
            "address_line_1": "3 Oak Street",
        },
        {
            "customer_id": "at_d",
            "easting": E + 5,
            "northing": N - 100,
            "connection_node": "d",
            "address_line_1": "4 Oak Street",
        },
    ]
    pd.DataFrame([{**base, **r} for r in rows]).to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame(
        columns=["equipment_id", "kind", "install_date", "outage_required", "easting", "northing"]
    ).to_csv(tmp_path / "equipment.csv", index=False)
    cfg = {
        "campaign": {"name": "ring", "reference": "R-1", "run_date": "2027-01-04"},
        "inputs": {
            "customers": "customers.csv",
            "equipment": "equipment.csv",
            "network_edges": "edges.gpkg",
            "substations": "subs.gpkg",
        },
        "scope": {"circuits": scope},
        "campaigns": {"produce": ["leaflet"]},
    }
    r = run_campaign(load_config(cfg, base=tmp_path))
    leaflets = r.contacts[r.contacts["campaign"] == "leaflet"]
    return leaflets.set_index("customer_id").sort_index()


def test_closed_ring_customers_are_named_on_both_circuits(tmp_path):
    got = _ring(tmp_path, ["F1", "F2", "F3"])
    assert got.index.tolist() == ["at_a", "at_c", "at_d", "at_r"]
    # the closed ring feeds everyone on it from both feeders; the spur F3 only from F3
    assert got["circuit_id"].tolist() == ["F1 + F2", "F1 + F2", "F3", "F1 + F2"]
    assert got.loc["at_r", "reason"].startswith("served by circuit F1 + F2 (in scope; by ")
    assert got.loc["at_d", "reason"].startswith("served by circuit F3 (in scope; by ")


def test_closed_ring_with_one_circuit_in_scope_names_only_that_one(tmp_path):
    got = _ring(tmp_path, ["F2"])
    assert got.index.tolist() == ["at_a", "at_c", "at_r"]
    assert got["circuit_id"].tolist() == ["F2", "F2", "F2"]


def _oracle(keys: list[str], values: list[str], sep: str) -> pd.Series:
    frame = pd.DataFrame({"k": keys, "v": values}).sort_values("k", kind="stable")
    return frame.groupby("k", sort=True)["v"].agg(sep.join).reset_index(drop=True)


@pytest.mark.parametrize("sep", [" + ", ";", "; "])
def test_join_groups_matches_groupby_join(sep):
    rng = np.random.default_rng(14)
    # (a lone surrogate cannot be held by pandas' str columns at all: the readers never pass one)
    texts = [
        v for _, v in HOSTILE if v.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == v
    ]
    texts += ["A + B", ";", "", "é", "\u202e"]
    keys = [f"c{k}" for k in rng.integers(0, 60, size=400)]
    values = [texts[i] for i in rng.integers(0, len(texts), size=400)]
    frame = pd.DataFrame({"k": keys, "v": values}).sort_values("k", kind="stable")
    starts = group_starts(frame["k"])
    got = join_groups(frame["v"], starts, sep)
    pd.testing.assert_series_equal(got, _oracle(keys, values, sep), check_names=False)
    assert frame["k"].iloc[starts].tolist() == sorted(set(keys))


def test_join_groups_edge_cases():
    empty = pd.Series([], dtype="str")
    assert group_starts(empty).tolist() == []
    assert join_groups(empty, group_starts(empty), ";").tolist() == []
    one = pd.Series(["x"])
    assert join_groups(one, group_starts(one), ";").tolist() == ["x"]
    with pytest.raises(ValueError, match="missing"):
        join_groups(pd.Series(["a", None]), np.array([0]), ";")


def test_fixed_matches_python_format():
    values = [0.05, 0.15, 0.25, 2.25, -0.0, 12.35, 1e20, 999.95, 1 / 3, float("nan")]
    got = fixed(pd.Series(values), "%.1f").tolist()
    assert got == [f"{v:.1f}" for v in values]


def test_reasons_near_matches_the_per_customer_oracle():
    equipment = pd.DataFrame(
        {
            "equipment_id": ["E1", "E2", "E3"],
            "kind": ["lv_capacitor", "link_box_switch", "oltc_transformer"],
            "radius_m": [30, 20.5, 50.0],
        }
    )
    pairs = pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", "a", "c", "a"],
            "equipment_id": ["E2", "E1", "E1", "E3", "E3", "E2"],
            "distance_m": [4.25, 12.0, 4.25, 0.15, 49.96, 3.0],
        }
    )
    got = _reasons_near(pairs, equipment)
    assert got["customer_id"].tolist() == ["a", "b", "c"]
    assert got["equipment_ids"].tolist() == ["E3;E2;E1", "E1;E2", "E3"]
    nearest = pairs.groupby("customer_id", sort=True)["distance_m"].min().round(1)
    assert got["distance_m"].tolist() == nearest.tolist()
    assert got.loc[0, "reason"] == (
        "new equipment nearby: E3 (oltc transformer) 0.1 m away, radius 50 m; "
        "E2 (link box switch) 3.0 m away, radius 20.5 m; "
        "E1 (lv capacitor) 12.0 m away, radius 30 m"
    )
    assert got.loc[1, "reason"] == (
        "new equipment nearby: E1 (lv capacitor) 4.2 m away, radius 30 m; "
        "E2 (link box switch) 4.2 m away, radius 20.5 m"
    )


@pytest.mark.parametrize("seed", range(30))
def test_take_rows_then_equals_take_and_concat(seed, monkeypatch):
    """``take_rows(frame, pos, then=tail)`` is ``pd.concat([frame.take(pos), tail])``.

    Oracle: pandas' own take and concat, on frames of text (Arrow), object, number,
    boolean and mixed columns, the tail's dtypes sometimes different (pandas then finds
    the common dtype), threaded (threshold lowered) and not.
    """
    from smartstreet_geo.campaign._join import take_rows
    from smartstreet_geo.io import _fields

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(_fields, "THREADED_ROWS", 0 if seed % 2 else 10**9)
    n, m = int(rng.integers(1, 60)), int(rng.integers(0, 10))

    def frame(rows: int, differ: bool) -> pd.DataFrame:
        text = [None if v % 5 == 0 else f"t{v}" for v in rng.integers(0, 20, rows)]
        objects = np.array([None if v % 3 else float(v) for v in rng.integers(0, 9, rows)], object)
        return pd.DataFrame(
            {
                "s": pd.Series(text, dtype="str"),
                "o": pd.Series(objects, dtype=object),
                "i": rng.integers(0, 100, rows),
                "f": rng.random(rows),
                "b": rng.random(rows) < 0.5,
                "x": pd.Series(text, dtype=object if differ else "str"),
            }
        )

    left, tail = frame(n, False), frame(m, bool(seed % 3 == 0))
    left.index = rng.permutation(n) + 100
    pos = rng.integers(0, n, int(rng.integers(0, 2 * n)))
    got = take_rows(left, pos, then=tail.iloc[:, ::-1])
    want = pd.concat([left.take(pos), tail[left.columns]], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    # consumed: the same rows, and the frame given is left with no columns (let go)
    given = left.copy()
    pd.testing.assert_frame_equal(take_rows(given, pos, then=tail, consume=True), want)
    assert given.shape == (n, 0)
    alone = left.copy()
    pd.testing.assert_frame_equal(take_rows(alone, pos, consume=True), left.take(pos))
    assert alone.shape == (n, 0)
    if seed % 2:  # threaded: Arrow text comes back as one array, not the tail as a piece
        import pyarrow as pa

        data = pa.array(got["s"].array)
        assert not isinstance(data, pa.ChunkedArray) or data.num_chunks <= 1


def test_contacts_carry_their_customers_own_columns():
    """Every contact's name, address, postcode, phone and row are its customer's record.

    run_campaign's rules leave those columns out of the proposed contacts and take them from
    the customers once, for the contacts that are sent; the oracle looks each contact's
    customer up by id in the customer file as the reader reads it (the demo campaign,
    every kind; the result's customers keep no names or phone numbers).
    """
    from smartstreet_geo import demo, read_customers
    from smartstreet_geo.campaign import _locate
    from smartstreet_geo.campaign.config import load_config
    from smartstreet_geo.campaign.rules import _CUSTOMER_COLUMNS, CONTACT_COLUMNS

    result = run_campaign(demo.path("campaign"))
    contacts = result.contacts
    assert list(contacts.columns[: len(CONTACT_COLUMNS) + 1]) == ["contact_ref", *CONTACT_COLUMNS]
    assert set(contacts["campaign"]) == {
        "leaflet", "installation_letter", "outage_letter", "outage_phone_call"
    }  # fmt: skip
    cfg = load_config(demo.path("campaign"))  # the demo places some customers ([locate])
    read = _locate.locate_rejected(read_customers(cfg.customers), cfg, [])
    own = read.read.data.set_index("customer_id")
    for column in _CUSTOMER_COLUMNS:
        want = own[column].reindex(contacts["customer_id"]).reset_index(drop=True)
        got = contacts[column].reset_index(drop=True)
        assert got.dtype == own[column].dtype, column
        pd.testing.assert_series_equal(got, want, check_names=False, check_dtype=False)


def test_as_contacts_keeps_customer_columns_without_rows():
    """A frame without run_campaign's private rows gives every contact column (the rules'
    public behaviour); with them, the customer's own columns are left to the caller."""
    from smartstreet_geo.campaign.rules import _CIX, _CUSTOMER_COLUMNS, CONTACT_COLUMNS, as_contacts

    frame = pd.DataFrame({"customer_id": ["A"], "name": ["Ann"], "postcode": ["M1 1AA"]})
    full = as_contacts(frame, "leaflet")
    assert list(full.columns) == CONTACT_COLUMNS
    assert full.loc[0, "name"] == "Ann"
    narrow = as_contacts(frame.assign(**{_CIX: [0]}), "leaflet")
    assert list(narrow.columns) == [
        *(c for c in CONTACT_COLUMNS if c not in _CUSTOMER_COLUMNS),
        _CIX,
    ]


@pytest.mark.parametrize("seed", range(12))
def test_reconciliation_rows_in_order_equal_concat_and_sort(seed):
    """``_in_row_order`` (column by column) equals ``pd.concat`` then a stable sort."""
    from smartstreet_geo.campaign.reconcile import _in_row_order

    rng = np.random.default_rng(seed)

    def part(n: int, object_status: bool) -> pd.DataFrame:
        rows = rng.integers(1, 40, n) if seed % 2 else np.sort(rng.integers(1, 40, n))
        words = [None if v == 0 else f"w{v}" for v in rng.integers(0, 4, n)]
        return pd.DataFrame(
            {
                "source_row": rows,
                "customer_id": pd.Series([f"C{v}" for v in rng.integers(0, 9, n)], dtype="str"),
                "status": pd.Series(words, dtype=object if object_status else "str"),
                "reason": pd.Series(words, dtype=object),
            }
        )

    parts = [part(int(rng.integers(1, 30)), False), part(int(rng.integers(0, 5)), True)]
    parts = [p for p in parts if len(p)]
    want = (
        pd.concat(parts, ignore_index=True)
        .sort_values("source_row", kind="stable")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(_in_row_order(parts), want)


@pytest.mark.parametrize("seed", range(12))
def test_review_rows_status_equals_first_reconciliation_row(seed):
    """``_status_of_rows`` equals the map through the first row of each source row."""
    from smartstreet_geo.campaign.reconcile import _status_of_rows

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    recon = pd.DataFrame(
        {
            "source_row": np.sort(rng.integers(1, 25, n)),
            "status": pd.Series([f"s{v}" for v in rng.integers(0, 5, n)], dtype="str"),
        }
    )
    asked = pd.array(
        [None if v == 0 else int(v) for v in rng.integers(0, 30, int(rng.integers(0, 20)))],
        dtype="Int64",
    )
    asked = pd.Series(asked)
    first = recon.drop_duplicates("source_row").set_index("source_row")["status"]
    want = asked.map(first).astype(object).to_numpy()
    got = _status_of_rows(recon, asked)
    assert got.dtype == object
    assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in want]


@pytest.mark.parametrize("pattern", ["run", "start", "end", "gaps", "none", "all"])
def test_rows_where_is_the_mask(pattern):
    """``export._rows_where`` equals ``table.loc[mask]`` (a slice when the rows are one run)."""
    from smartstreet_geo.export import _rows_where

    n = 12
    mask = {
        "run": np.r_[[False] * 3, [True] * 5, [False] * 4],
        "start": np.r_[[True] * 4, [False] * 8],
        "end": np.r_[[False] * 8, [True] * 4],
        "gaps": np.array([True, False] * 6),
        "none": np.zeros(n, dtype=bool),
        "all": np.ones(n, dtype=bool),
    }[pattern]
    table = pd.DataFrame(
        {"a": pd.Series([f"t{i}" for i in range(n)], dtype="str"), "b": np.arange(n) * 1.5}
    )
    got = _rows_where(table, mask)
    pd.testing.assert_frame_equal(got, table.loc[mask])


def test_membership_from_codes_is_membership_from_the_members_frame(tmp_path, monkeypatch):
    """The fast path (integer codes, customers in attached order) against the general one.

    The general path (a frame of members with their ids, matched back to the customers by
    id) is what a reordered customer table takes; forcing it gives the oracle.
    """
    import smartstreet_geo as ssg
    from smartstreet_geo.campaign import _circuits, run_campaign

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    fast_ring = _ring(tmp_path / "a", ["F1", "F2", "F3"])
    fast = run_campaign(ssg.demo.path("campaign"), new_register=True)
    monkeypatch.setattr(_circuits, "same_values", lambda *args: False)
    pd.testing.assert_frame_equal(_ring(tmp_path / "b", ["F1", "F2", "F3"]), fast_ring)
    general = run_campaign(ssg.demo.path("campaign"), new_register=True)
    pd.testing.assert_frame_equal(general.contacts, fast.contacts)
    pd.testing.assert_frame_equal(general.reconciliation, fast.reconciliation)
    assert (fast.contacts["campaign"] == "leaflet").sum() > 60_000
