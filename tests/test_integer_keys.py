"""The campaign's integer shortcuts give what the pandas operation they replace gives (issue 14).

Each helper is compared with the plain pandas call it stands in for (the oracle) on random
data with the awkward cases: missing values, repeated keys, non-ASCII text, keys that are not
among the customers, tables smaller and larger than the customers.
"""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hostile import HOSTILE
from smartstreet_geo import _ids
from smartstreet_geo._ids import coded_ids, id_codes, repeated
from smartstreet_geo.campaign._join import (
    _repeats,
    arrow,
    dense_rank,
    from_codes,
    no_rows,
    take_rows,
    text_of,
)
from smartstreet_geo.campaign.reconcile import (
    _CAMPAIGN_WORDS,
    _PSR_WORDS,
    _WITHHELD,
    SHAREABLE_OUTAGE_CAMPAIGN,
    _Ids,
    _joined_few,
    _may_name_word,
    _may_name_words,
    _shareable_text,
)
from smartstreet_geo.campaign.register import _ref_numbers, load_register
from smartstreet_geo.campaign.rules import _merge_on_customers, _with_members
from smartstreet_geo.campaign.run import _digest_column, _one_key
from smartstreet_geo.io import _fields

ALPHABET = list("abAZ09 é漢-~")


def _plain(values: pd.Series) -> list[str | None]:
    """Return values as a list with every kind of missing value as None."""
    return [v if isinstance(v, str) else None for v in values.tolist()]


def _words(
    rng: np.random.Generator, n: int, missing: float = 0.0, longest: int = 4
) -> list[str | None]:
    return [
        None
        if rng.random() < missing
        else "".join(rng.choice(ALPHABET, size=int(rng.integers(0, longest + 1))))
        for _ in range(n)
    ]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("longest", [4, 12])  # text that repeats; mostly distinct text
def test_dense_rank_is_the_sorted_factorize(seed, longest):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3_000))
    values = pd.Series(_words(rng, n, missing=0.2, longest=longest), dtype="str")
    codes, uniques = pd.factorize(values, sort=True)
    expected = np.where(codes < 0, len(uniques), codes)
    np.testing.assert_array_equal(dense_rank(values), expected)
    # object columns take pandas' own path: the same ranks
    np.testing.assert_array_equal(dense_rank(values.astype(object)), expected)


def test_dense_rank_takes_each_path_on_the_text_it_is_for():
    rng = np.random.default_rng(7)
    repeating = pd.Series(_words(rng, 5_000, longest=2), dtype="str")
    distinct = pd.Series([f"id-{i}" for i in rng.permutation(5_000)], dtype="str")
    assert _repeats(arrow(repeating)) and not _repeats(arrow(distinct))
    for values in (repeating, distinct, pd.Series([None, None, None], dtype="str")):
        codes, uniques = pd.factorize(values, sort=True)
        expected = np.where(codes < 0, len(uniques), codes)
        np.testing.assert_array_equal(dense_rank(values), expected)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", ["str", object])
def test_id_codes_are_equal_exactly_where_pandas_factorize_codes_are(seed, dtype):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 2_000))
    values = pd.Series(_words(rng, n, missing=0.1, longest=3), dtype=dtype)
    got = id_codes(values)
    expected, _ = pd.factorize(values)  # the oracle: the same partition of the rows
    assert got.dtype == np.int64 and got.shape == (n,)
    np.testing.assert_array_equal(got < 0, expected < 0)
    pairs = pd.DataFrame({"got": got, "expected": expected}).drop_duplicates()
    assert pairs["got"].is_unique and pairs["expected"].is_unique  # one code for one id
    # text in several chunks (as a file is read): the same codes
    cuts = np.sort(rng.integers(0, n + 1, 3))
    words = pa.array(values.astype("str").array)
    chunked = pa.chunked_array(
        [words[a:b] for a, b in itertools.pairwise([0, *cuts.tolist(), n])], pa.large_string()
    )
    np.testing.assert_array_equal(id_codes(pd.Series(pd.array(chunked, dtype="str"))), got)
    # digit ids of one width take the integer path: the numbers themselves
    digits = pd.Series([f"{v:013d}" for v in rng.integers(0, 10**13, size=n)], dtype=dtype)
    np.testing.assert_array_equal(id_codes(digits), digits.astype("int64").to_numpy())


def _same_partition(got: np.ndarray, expected: np.ndarray) -> None:
    """Assert that two code arrays group the rows alike (and agree on the missing)."""
    np.testing.assert_array_equal(got < 0, expected < 0)
    pairs = pd.DataFrame({"got": got, "expected": expected}).drop_duplicates()
    assert pairs["got"].is_unique and pairs["expected"].is_unique


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", ["str", object])
def test_hashed_id_codes_are_factorize_codes_and_repeats_are_duplicated(seed, dtype, monkeypatch):
    """From HASHED_ROWS rows text is hashed; codes and repeats are pandas' own."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3_000))
    longest = [2, 3, 12][seed % 3]  # mostly repeats; some; mostly distinct
    values = pd.Series(_words(rng, n, missing=0.1, longest=longest), dtype=dtype)
    expected, _ = pd.factorize(values)  # the oracle
    oracle_again = pd.Series(expected).duplicated(keep=False).to_numpy() & (expected >= 0)
    for threshold in (10**9, 0):  # dictionary-encoded; hashed
        monkeypatch.setattr(_ids, "HASHED_ROWS", threshold)
        codes, again = coded_ids(values)
        assert codes.dtype == np.int64 and codes.shape == (n,)
        _same_partition(codes, expected)
        np.testing.assert_array_equal(again, oracle_again)
        np.testing.assert_array_equal(id_codes(values), codes)
    # text in several chunks, with a slice offset: the same hashes
    words = pa.array(values.astype("str").array, pa.large_string())
    cuts = np.sort(rng.integers(0, n + 1, 3))
    chunked = pa.chunked_array(
        [words[a:b] for a, b in itertools.pairwise([0, *cuts.tolist(), n])], pa.large_string()
    )
    np.testing.assert_array_equal(
        coded_ids(pd.Series(pd.array(chunked, dtype="str")))[0], coded_ids(values)[0]
    )
    # 32-bit offsets (pa.string) hash as 64-bit ones
    small = pd.Series(pd.array(words.cast(pa.string()), dtype=pd.ArrowDtype(pa.string())))
    np.testing.assert_array_equal(coded_ids(small)[0], coded_ids(values)[0])


def test_hashed_id_codes_fall_back_when_different_ids_share_a_hash(monkeypatch):
    """A collision never joins two ids: the text is compared and encoded instead."""
    values = pd.Series(["b~1", "a~1", None, "b~1", "c~2", "a~1", "d~3"], dtype="str")
    expected, _ = pd.factorize(values)
    monkeypatch.setattr(_ids, "HASHED_ROWS", 0)

    def collide(arr: pa.ChunkedArray) -> np.ndarray:  # every present id hashes to 7
        return np.where(np.asarray(arr.is_null().to_numpy(zero_copy_only=False)), -1, 7)

    monkeypatch.setattr(_ids, "_hashes", collide)
    codes, again = coded_ids(values)
    _same_partition(codes, expected)
    assert again.tolist() == [True, True, False, True, False, True, False]
    # the same hash for the same text is no collision: the hashes are kept as codes
    same = pd.Series(["x~1", None, "x~1"], dtype="str")
    codes, again = coded_ids(same)
    assert codes.tolist() == [7, -1, 7] and again.tolist() == [True, False, True]


@pytest.mark.parametrize("seed", range(6))
def test_repeated_is_duplicated_keep_false_without_the_missing(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 2_000))
    codes = rng.integers(-1, [3, 50, 10**6, 2**62][seed % 4], size=n)
    expected = pd.Series(codes).duplicated(keep=False).to_numpy() & (codes != -1)
    np.testing.assert_array_equal(repeated(codes), expected)


def test_reader_finds_the_same_duplicates_with_hashed_ids(monkeypatch):
    """Exact and conflicting duplicates of text ids: the same reading either way."""
    from smartstreet_geo import demo
    from smartstreet_geo.io import read_customers

    frame = pd.read_parquet(demo.path("customers")).iloc[:3_000].reset_index(drop=True)
    frame["customer_id"] = frame["customer_id"].astype("str") + "~A"  # not digits
    extra = frame.iloc[[5, 9, 9, 40]].copy()
    extra.loc[extra.index[1], "address_line_1"] = "Somewhere else"  # conflicts with row 9
    frame = pd.concat([frame, extra], ignore_index=True)
    frame.loc[17, "customer_id"] = None
    readings = []
    for threshold in (10**9, 0):
        monkeypatch.setattr(_ids, "HASHED_ROWS", threshold)
        readings.append(read_customers(frame, check_postcodes=False))
    plain, hashed = readings
    pd.testing.assert_frame_equal(hashed.data, plain.data)
    pd.testing.assert_frame_equal(hashed.rejects, plain.rejects)
    reasons = plain.rejects["reason_code"].value_counts().to_dict()
    assert reasons.get("exact_duplicate") == 2 and reasons.get("conflicting_duplicate") == 3


@pytest.mark.parametrize("seed", range(4))
def test_no_rows_is_a_take_of_no_rows_holding_nothing(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    frame = pd.DataFrame(
        {
            "text": pd.Series(_words(rng, n, missing=0.2), dtype="str"),
            "objects": pd.Series(_words(rng, n, missing=0.5), dtype=object),
            "more_objects": pd.Series([None] * n, dtype=object),
            "number": rng.random(n),
            "flag": rng.random(n) < 0.5,
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "when": pd.to_datetime(rng.integers(0, 10**9, n), unit="s"),
            "kind": pd.Categorical(rng.choice(["a", "b"], n)),
            # Arrow columns in pieces (contacts joined from several lists), text and not
            "pieces": pd.array(
                pa.chunked_array(
                    [
                        pa.array(_words(rng, n // 2), pa.large_string()),
                        pa.array(["x"] * (n - n // 2), pa.large_string()),
                    ]
                ),
                dtype="str",
            ),
            "arrow_number": pd.array(
                pa.chunked_array([pa.array(rng.random(n // 3)), pa.array(rng.random(n - n // 3))]),
                dtype=pd.ArrowDtype(pa.float64()),
            ),
        },
        index=pd.Index(rng.permutation(n) + 3, name="row"),
    )
    frame.columns = [*frame.columns[:-1], "text"]  # a repeated name
    got = no_rows(frame)
    pd.testing.assert_frame_equal(got, frame.take(np.array([], dtype=np.intp)))  # the oracle
    held = sum(
        b.size
        for j in range(got.shape[1])
        if hasattr(got.iloc[:, j].array, "_pa_array")
        for chunk in got.iloc[:, j].array._pa_array.chunks
        for b in chunk.buffers()
        if b is not None
    )
    assert held <= 64  # (an offsets entry), not the column's text


@pytest.mark.parametrize("seed", range(6))
def test_one_key_sorts_as_its_two_ranks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3_000))
    high = rng.integers(0, int(rng.integers(1, 50)), n)
    low = rng.integers(0, int(rng.integers(1, 10**6)), n)
    tie = rng.integers(0, 3, n)
    key = _one_key(high, low)
    # the oracle: numpy's lexsort of the two keys (stable, ties kept in order)
    np.testing.assert_array_equal(np.lexsort((tie, key)), np.lexsort((tie, low, high)))
    assert _one_key(np.array([2**40]), np.array([2**30])) is None  # would overflow
    assert _one_key(np.array([-1]), np.array([0])) is None  # not ranks


@pytest.mark.parametrize("seed", range(4))
def test_from_codes_is_the_words_taken_by_code(seed):
    rng = np.random.default_rng(seed)
    words = np.array(["not_contacted", "contacted", "manual review é"], dtype=object)
    codes = rng.integers(0, len(words), size=int(rng.integers(0, 500))).astype(np.int8)
    got = from_codes(codes, words)
    expected = pd.Series(words[codes], dtype="str")
    pd.testing.assert_series_equal(got, expected)
    with pytest.raises(IndexError):
        from_codes(np.array([0, 3]), words)
    # a word None is a missing value; nothing but missing values: what pandas makes of them
    with_none = np.array([*words, None], dtype=object)
    pd.testing.assert_series_equal(
        from_codes(codes, with_none), pd.Series(with_none[codes], dtype="str")
    )
    only_none = np.full(len(codes), len(words))
    pd.testing.assert_series_equal(
        from_codes(only_none, with_none), pd.Series(with_none[only_none])
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", ["str", object])
def test_text_of_is_pandas_plus(seed, dtype):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    index = pd.Index(rng.permutation(n) + 7)
    a = pd.Series(_words(rng, n, missing=0.2), index=index, dtype="str")
    b = pd.Series(_words(rng, n, missing=0.2), index=index, dtype=dtype)
    got = text_of("served by circuit ", a, " (in scope; by ", b, ")")
    expected = "served by circuit " + a + " (in scope; by " + b.astype("str") + ")"
    pd.testing.assert_series_equal(got, expected)


@pytest.mark.parametrize("seed", range(4))
def test_take_rows_on_threads_is_dataframe_take(seed, monkeypatch):
    # every kind of column a contact list holds: Arrow text with nulls, object text and
    # None, dates, floats with NaN, nullable and plain integers, booleans; a named index
    monkeypatch.setattr(_fields, "THREADED_ROWS", 1)  # the threaded path on a small frame
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    frame = pd.DataFrame(
        {
            "text": pd.Series(_words(rng, n, missing=0.3), dtype="str"),
            "object": pd.Series(_words(rng, n, missing=0.5), dtype=object),
            "when": pd.Series([pd.Timestamp("2027-01-01").date()] * n, dtype=object),
            "metres": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "row": rng.integers(0, 10**9, n),
            "flag": rng.random(n) < 0.5,
        },
        index=pd.Index(rng.permutation(n) + 100, name="at"),
    )
    positions = rng.integers(0, n, size=int(rng.integers(0, 2 * n)))
    got = take_rows(frame, positions)
    pd.testing.assert_frame_equal(got, frame.take(positions))
    assert list(got.dtypes) == list(frame.dtypes)
    # repeated column names: DataFrame.take itself
    twice = pd.concat([frame["text"], frame["text"]], axis=1)
    pd.testing.assert_frame_equal(take_rows(twice, positions), twice.take(positions))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n_keys", [0, 3, 40, 2_000])
def test_positions_are_pandas_get_indexer(seed, n_keys):
    rng = np.random.default_rng(seed)
    ids = pd.Series(pd.unique(pd.Series([f"C{i}é" for i in rng.permutation(500)])), dtype="str")
    pool = [*ids.tolist(), "nobody", "C9999", None]
    keys = pd.Series(rng.choice(np.array(pool, dtype=object), size=n_keys), dtype="str")
    got = _Ids(ids).positions(keys)
    expected = pd.Index(ids.to_numpy(dtype=object)).get_indexer(keys.to_numpy(dtype=object))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(8))
def test_lookup_is_a_reindex(seed):
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{i}" for i in rng.permutation(300)], dtype="str")
    chosen = rng.choice(300, size=40, replace=False)
    values = pd.Series([f"why {i}" for i in chosen], index=[f"C{i}" for i in chosen], dtype=object)
    got = _Ids(ids).lookup(values)
    expected = values.reindex(ids.to_numpy())
    assert _plain(got) == _plain(expected)
    assert got.index.equals(ids.index)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("sort", [True, False])
def test_joined_is_a_groupby_join_of_distinct_values(seed, sort):
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{i}" for i in range(60)], dtype="str")
    n = int(rng.integers(0, 200))
    frame = pd.DataFrame(
        {
            "customer_id": rng.choice([*ids.tolist(), "stranger"], size=n),
            "campaign": pd.Series(
                rng.choice(np.array(["leaflet", "outage_letter", "", None], dtype=object), size=n),
                dtype=object,
            ),
        }
    )
    valid = _Ids(ids)
    got = valid.joined(frame, "campaign", ";", sort=sort)
    # the oracle: drop missing and empty, keep each customer's distinct values, join
    usable = frame[frame["campaign"].notna() & (frame["campaign"] != "")]
    usable = usable.drop_duplicates()
    expected = usable.groupby("customer_id", sort=False)["campaign"].agg(
        lambda v: ";".join(sorted(v) if sort else v)
    )
    want = ids.map(expected)
    assert _plain(got) == _plain(want)
    if sort:  # the bit-set join of a few values says the same
        few = _joined_few(valid, frame["campaign"], valid.positions(frame["customer_id"]), ";")
        assert few is not None
        assert _plain(few) == _plain(want)


PHRASES = [
    "served by circuit C1 (in scope; by network)", "an outage_letter", "outage letters",
    "2 outage_phone_calls", "an outage phone call", "PSR", "pSr code", "Priority Services",
    "nominee", "needs code", "need_codes", "Medical", "vulnerable", "DISABLED", "pſr",
    "\u212a", "psrx", "unneeded", "outages", "",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", ["str", object])
def test_shareable_text_is_the_expressions_applied_to_every_row(seed, dtype):
    rng = np.random.default_rng(seed)
    pool = PHRASES + [v for _, v in HOSTILE if isinstance(v, str)]
    rows = [
        None
        if rng.random() < 0.1
        else " ".join(pool[k] for k in rng.integers(len(pool), size=int(rng.integers(1, 4))))
        for _ in range(300)
    ]
    try:
        text = pd.Series(rows, dtype=dtype)
    except (UnicodeError, TypeError):  # text Arrow cannot hold stays object
        text = pd.Series(rows, dtype=object)

    def by_row(t: str) -> str:  # the oracle: both expressions on each row's text
        def notice(m: re.Match[str]) -> str:
            word = m.group(0)
            article = "an " if word.startswith(("a ", "an ")) else ""
            plural = "s" if word.endswith("s") and not word.endswith("ss") else ""
            joined = "_" in word.split(" ")[-1]
            return f"{article}{SHAREABLE_OUTAGE_CAMPAIGN if joined else 'outage notice'}{plural}"

        out = _CAMPAIGN_WORDS.sub(notice, t)
        return _WITHHELD if _PSR_WORDS.search(out) else out

    got = _shareable_text(text).tolist()
    assert got == [by_row(t if isinstance(t, str) else "") for t in rows]


@pytest.mark.parametrize("seed", range(4))
def test_word_hints_in_one_scan_are_the_per_text_check_and_cover_the_expressions(seed):
    rng = np.random.default_rng(seed)
    pool = PHRASES + [v for _, v in HOSTILE if isinstance(v, str)] + ["oUtAgE", "NEED"]
    texts = [
        " ".join(pool[k] for k in rng.integers(len(pool), size=int(rng.integers(1, 4))))
        for _ in range(400)
    ]
    values = np.array([*texts, None, 7], dtype=object)
    one_by_one = np.array([_may_name_word(t) for t in values])
    np.testing.assert_array_equal(_may_name_words(values, None), one_by_one)
    holdable = [
        t for t in texts if t.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == t
    ]
    as_arrow = pa.array(holdable, type=pa.string())
    got = _may_name_words(np.array(holdable, dtype=object), as_arrow)
    np.testing.assert_array_equal(got, [_may_name_word(t) for t in holdable])
    named = [bool(_CAMPAIGN_WORDS.search(t) or _PSR_WORDS.search(t)) for t in holdable]
    assert not (np.array(named) & ~got).any()  # a superset of what the expressions find
    assert got.sum() > sum(named) > 0 and not got.all()


@pytest.mark.parametrize("seed", range(6))
def test_reference_numbers_continue_per_kind_in_order(seed, tmp_path):
    rng = np.random.default_rng(seed)
    kinds = pd.Series(
        rng.choice(["leaflet", "installation_letter", "outage_letter"], size=500), dtype="str"
    )
    register = load_register(tmp_path / "r.parquet", campaign_reference="X")
    expected = kinds.groupby(kinds, sort=False).cumcount().to_numpy() + 1
    np.testing.assert_array_equal(_ref_numbers(kinds, register), expected)


@pytest.mark.parametrize("seed", range(6))
def test_merges_by_position_are_pandas_merges(seed):
    rng = np.random.default_rng(seed)
    n = 400
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i}" for i in rng.permutation(n)], dtype="str"),
            "name": pd.Series(_words(rng, n, missing=0.1), dtype="str"),
            "source_row": np.arange(n) + 2,
        }
    )
    near = pd.DataFrame(
        {
            "customer_id": rng.choice([*customers["customer_id"], "stranger"], size=50),
            "reason": [f"r{i}" for i in range(50)],
        }
    )
    assert _merge_on_customers(customers, near).equals(customers.merge(near, on="customer_id"))
    membership = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "member_circuit": [f"F{i % 7}" for i in range(n)],
            "in_scope": rng.random(n) < 0.7,
        }
    )
    members = membership[membership["in_scope"]][["customer_id", "member_circuit"]]
    assert _with_members(customers, membership, members).equals(
        customers.merge(members, on="customer_id")
    )


def _digest(frame: pd.DataFrame) -> str:
    d = hashlib.sha256()
    for c in frame.columns:
        _digest_column(d, frame[c])
    return d.hexdigest()


def test_run_id_digest_follows_content_not_memory():
    frame = pd.DataFrame(
        {
            "ref": pd.Series(["A-1", "A-2", None, "é"], dtype="str"),
            "n": [1, 2, 3, 4],
            "when": pd.Series([None, pd.Timestamp("2027-01-02").date(), None, "x"], dtype=object),
        }
    )
    same = pd.concat([frame.iloc[:2], frame.iloc[2:]]).reset_index(drop=True)
    assert _digest(frame) == _digest(same)  # other buffers, same content
    for changed in (
        frame.assign(ref=pd.Series(["A-1", "A-2", None, "e"], dtype="str")),
        frame.assign(ref=pd.Series(["A-1", "A-2", "", "é"], dtype="str")),  # missing != empty
        frame.assign(n=[1, 2, 3, 5]),
        frame.assign(when=pd.Series([None, None, None, "x"], dtype=object)),
        frame.iloc[[1, 0, 2, 3]].reset_index(drop=True),  # order matters
    ):
        assert _digest(changed) != _digest(frame)
    sliced = frame.iloc[1:].reset_index(drop=True)  # an Arrow slice with an offset
    rebuilt = pd.DataFrame(
        {c: pd.Series(sliced[c].tolist(), dtype=sliced[c].dtype) for c in sliced}
    )
    assert _digest(sliced) == _digest(rebuilt)


def test_run_id_digest_is_the_same_for_the_same_text_in_either_dtype():
    """A partitioned run's merged column may hold Python str where the in-process one is Arrow."""
    text = pd.Series(["served by F1", None, "é", ""], dtype="str")
    objects = pd.Series(["served by F1", None, "é", ""], dtype=object)
    assert _digest(pd.DataFrame({"reason": text})) == _digest(pd.DataFrame({"reason": objects}))
    other = pd.Series(["served by F1", None, "e", ""], dtype=object)
    assert _digest(pd.DataFrame({"reason": text})) != _digest(pd.DataFrame({"reason": other}))


@pytest.mark.parametrize("seed", range(4))
def test_sorted_unique_is_np_unique(seed):
    from smartstreet_geo._unique import sorted_unique

    rng = np.random.default_rng(seed)
    for values in (
        rng.integers(-(2**40), 2**40, size=5_000),  # mostly distinct
        rng.integers(-3, 3, size=5_000),  # few distinct
        rng.integers(0, 2, size=1_000).astype(bool),
        rng.integers(0, 300, size=2_000).astype(np.int32),
        np.array([7]),
        np.array([], dtype=np.int64),
        rng.normal(size=100).round(1),  # floats: np.unique itself
        np.array([np.nan, 1.0, np.nan]),
    ):
        got, want = sorted_unique(values), np.unique(values)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_arrow_numbers_distinct_texts_in_order_of_first_appearance():
    """_per_distinct relies on it to keep Python text's own objects (no second copy)."""
    from smartstreet_geo.campaign.reconcile import _per_distinct

    rng = np.random.default_rng(3)
    texts = [f"reason {k}" for k in rng.integers(0, 400, size=3_000)]
    coded = pc.dictionary_encode(pa.array(texts, type=pa.large_string()))
    assert coded.dictionary.to_pylist() == list(dict.fromkeys(texts))
    objects = pd.Series([str(t) for t in texts], dtype=object)  # each row its own object
    got = _per_distinct(objects, lambda uniques, as_arrow: uniques)
    assert got.tolist() == texts
    first = {}
    for i, t in enumerate(objects):
        first.setdefault(t, i)
    assert all(got[i] is objects[first[t]] for i, t in enumerate(objects))
