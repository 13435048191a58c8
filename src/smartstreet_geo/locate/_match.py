"""Address matching: candidate pairs blocked by postcode, scored with rapidfuzz, ranked.

Candidates of a customer are the gazetteer addresses of its postcode unit
(stage 1); a customer left without a clear match there is compared with the
units that share all but the last character of its postcode (stage 2: the
last character is the one most often mistyped, e.g. ``WN5 9XP`` / ``WN5 9XR``).
Wider blocks (a whole sector, ~300-3,000 addresses) would cost 100 times more
comparisons for errors the data rarely has.

Pairs are built with numpy (``searchsorted`` on the sorted postcodes, then
``repeat``), scored in one :func:`rapidfuzz.process.cpdist` call per batch
(multi-threaded C++), and ranked with one ``lexsort`` - no Python code runs per
customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from ._text import MAX_NUMBERS, arrow_text, normalise_address, split_numbers

__all__ = ["MatchResult", "PreparedAddresses", "match_addresses", "prepare_addresses"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Points taken off a candidate whose numbers include all of the customer's and more
#: (the customer gave no flat number, or no number at all): such a match is never clear.
MISSING_NUMBER_PENALTY = 20.0
#: Pairs scored per rapidfuzz call (bounds memory: ~60 bytes a pair).
BATCH_PAIRS = 4_000_000
#: Candidates kept per customer for review.
MAX_CANDIDATES = 5


@dataclass(frozen=True, eq=False)
class PreparedAddresses:
    """An address gazetteer made ready for matching (sorted by postcode)."""

    uprn: I64
    postcode: npt.NDArray[np.object_]
    easting: F64
    northing: F64
    words: npt.NDArray[np.object_]
    numbers: I64
    codes: dict[str, int]
    signature: I64
    count: I64
    #: distinct postcodes (sorted) and where each one's rows start (one more entry: the end)
    units: pa.Array
    unit_start: I64
    #: distinct postcodes less their last character, and where their rows start
    prefixes: pa.Array
    prefix_start: I64
    #: locality and town words that are in no street or building name: left out of a
    #: customer's words (customers write them in any line; they would hide a typo's score)
    place_words: pa.Array


def _runs(values: pa.Array) -> tuple[pa.Array, I64]:
    """Distinct values of a sorted array and the row where each run starts (plus the end)."""
    codes, _ = pd.factorize(pd.Series(pd.array(values, dtype="str")), sort=False)
    starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1].astype(np.int64)
    return values.take(pa.array(starts)), np.r_[starts, len(values)].astype(np.int64)


def prepare_addresses(frame: pd.DataFrame, *, blocks: pa.Array | None = None) -> PreparedAddresses:
    """Normalise a gazetteer frame (from ``read_address_gazetteer``) once.

    ``blocks``: postcodes less their last character; only the gazetteer rows in them are
    prepared (a national gazetteer holds ~40 million addresses, a DNO's customers touch a
    fraction of its units).
    """
    if blocks is not None:
        pcs = arrow_text(frame["postcode"])
        prefix = pc.utf8_slice_codeunits(pcs, start=0, stop=-1)
        keep = np.asarray(pc.is_in(prefix, value_set=blocks).to_numpy(zero_copy_only=False))
        frame = frame.loc[keep]
    frame = frame.sort_values(["postcode", "uprn"], kind="stable", ignore_index=True)
    parts = [frame[c] for c in ("sub_building", "building_name", "building_number", "street")]
    # neither the locality nor the post town is compared: both are the same for most of a
    # block, so words they share would make different streets look alike ("9 KINGS TERRACE
    # RICHMONDTON" / "9 NEW TERRACE RICHMONDTON"); a customer who gives them has extra words,
    # which the set ratio ignores
    codes: dict[str, int] = {}
    words, numbers = split_numbers(normalise_address(parts), codes)
    # the vocabulary of place names, from each distinct locality and town (a few hundred)
    names = pd.concat([frame["locality"], frame["town"]]).dropna().drop_duplicates()
    places = pc.split_pattern(normalise_address([names]), " ")
    place_set = pc.unique(pc.list_flatten(places))
    name_set = pc.unique(
        pc.list_flatten(pc.split_pattern(pc.unique(pa.array(words, pa.string())), " "))
    )
    place_words = place_set.filter(pc.invert(pc.is_in(place_set, value_set=name_set)))
    sorted_pc = arrow_text(frame["postcode"])
    units, unit_start = _runs(sorted_pc)
    # postcodes sharing a prefix are next to each other once sorted
    prefixes, prefix_start = _runs(pc.utf8_slice_codeunits(sorted_pc, start=0, stop=-1))
    return PreparedAddresses(
        uprn=frame["uprn"].to_numpy(np.int64),
        postcode=frame["postcode"].to_numpy(object),
        easting=frame["easting"].to_numpy(np.float64),
        northing=frame["northing"].to_numpy(np.float64),
        words=words,
        numbers=numbers,
        codes=codes,
        signature=_signature(numbers),
        count=(numbers >= 0).sum(axis=1).astype(np.int64),
        units=units,
        unit_start=unit_start,
        prefixes=prefixes,
        prefix_start=prefix_start,
        place_words=place_words,
    )


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Per customer (of those asked): best candidate, its score, the runner-up's score."""

    best: I64  # gazetteer row, -1 none
    score: F64  # NaN when no candidate
    runner_up: F64  # 0 when one candidate only, NaN when none
    spread_m: F64  # farthest plausible alternative from the best, metres
    stage: npt.NDArray[np.int8]  # 1 own unit, 2 neighbouring units, 0 none
    cand_row: I64  # customer (position in the asked set) of each candidate kept
    cand_addr: I64  # gazetteer row
    cand_score: F64


def _ranges(keys: pa.Array, values: pa.Array, start: I64) -> tuple[I64, I64]:
    """Gazetteer row range ``[lo, hi)`` of each key (a hash lookup; empty when absent)."""
    at = np.asarray(
        pc.fill_null(pc.index_in(keys, value_set=values), -1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    found = at >= 0
    lo = np.where(found, start[np.maximum(at, 0)], 0)
    hi = np.where(found, start[np.maximum(at, 0) + 1], 0)
    return lo.astype(np.int64), hi.astype(np.int64)


def _pairs(lo: I64, hi: I64) -> tuple[I64, I64]:
    counts = hi - lo
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    start = np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts)
    return owner, start + np.arange(len(owner), dtype=np.int64)


def _signature(numbers: I64) -> I64:
    """Hash each row of number codes (equal rows, equal hashes; wraps around)."""
    out = np.zeros(len(numbers), dtype=np.uint64)
    for k in range(numbers.shape[1]):
        out = out * np.uint64(1_000_003) + (numbers[:, k] + 1).astype(np.uint64)
    return out.view(np.int64)


def _score(
    words: npt.NDArray[np.object_],
    numbers: I64,
    gaz: PreparedAddresses,
    owner: I64,
    addr: I64,
) -> F64:
    out = np.zeros(len(owner), dtype=np.float64)
    for s in range(0, len(owner), BATCH_PAIRS):
        o, a = owner[s : s + BATCH_PAIRS], addr[s : s + BATCH_PAIRS]
        # numbers first (cheap): the text of a candidate whose numbers disagree is not scored.
        # Numbers are sorted multisets: equal when the rows are equal; "fewer" when every
        # customer number is among the candidate's and the candidate has more (a flat number
        # left out). Rows are compared through a hash first, then exactly where it agrees.
        equal = _signature(numbers)[o] == gaz.signature[a]
        at = np.flatnonzero(equal)
        equal[at] = (numbers[o[at]] == gaz.numbers[a[at]]).all(axis=1)
        n_c = (numbers >= 0).sum(axis=1)[o]
        more = np.flatnonzero(n_c < gaz.count[a])
        fewer = np.zeros(len(o), dtype=bool)
        if more.size:
            cn, gn = numbers[o[more]], gaz.numbers[a[more]]
            ok = cn < 0
            for k in range(MAX_NUMBERS):
                ok[:, k] |= (cn[:, k, None] == gn).any(axis=1)
            fewer[more] = ok.all(axis=1)
        live = np.flatnonzero(equal | fewer)
        if not live.size:
            continue
        # token_set_ratio: 100 when one side's words are all in the other's (a locality or
        # town given, words in another order); token_sort_ratio: a typo in a short street
        # name costs less there than in the set ratio
        c_words, g_words = words[o[live]], gaz.words[a[live]]
        text = np.maximum(
            process.cpdist(
                c_words, g_words, scorer=fuzz.token_set_ratio, workers=-1, dtype=np.float32
            ),
            process.cpdist(
                c_words, g_words, scorer=fuzz.token_sort_ratio, workers=-1, dtype=np.float32
            ),
        ).astype(np.float64)
        text[~equal[live]] = np.maximum(text[~equal[live]] - MISSING_NUMBER_PENALTY, 0.0)
        out[s + live] = text
    return out


def _rank(
    owner: I64, addr: I64, score: F64, n: int, gaz: PreparedAddresses, band: float
) -> tuple[I64, F64, F64, F64, I64, I64, F64]:
    """Best, its score, the runner-up's score, spread, and the top candidates, per owner."""
    best = np.full(n, -1, np.int64)
    top = np.full(n, np.nan)
    second = np.full(n, np.nan)
    spread = np.full(n, np.nan)
    live = score > 0
    owner, addr, score = owner[live], addr[live], score[live]
    if not len(owner):
        e = np.zeros(0, np.int64)
        return best, top, second, spread, e, e, np.zeros(0)
    # ties broken by UPRN so that the answer does not depend on input order
    order = np.lexsort((gaz.uprn[addr], -score, owner))
    owner, addr, score = owner[order], addr[order], score[order]
    first = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    size = np.diff(np.r_[first, len(owner)])
    rank = np.arange(len(owner)) - np.repeat(first, size)
    who = owner[first]
    best[who] = addr[first]
    top[who] = score[first]
    second[who] = np.where(size > 1, score[np.minimum(first + 1, len(score) - 1)], 0.0)
    # spread: how far the plausible alternatives (within ``band`` of the best) lie from it
    b_rep = np.repeat(addr[first], size)
    near = score >= np.repeat(score[first], size) - band
    d = np.hypot(gaz.easting[addr] - gaz.easting[b_rep], gaz.northing[addr] - gaz.northing[b_rep])
    far = np.zeros(n)
    np.maximum.at(far, owner[near], d[near])
    spread[who] = far[who]
    keep = rank < MAX_CANDIDATES
    return best, top, second, spread, owner[keep], addr[keep], score[keep]


def match_addresses(
    lines: list[pd.Series],
    postcodes: npt.NDArray[np.object_],
    gaz: PreparedAddresses,
    *,
    accept_score: float,
    min_gap: float,
) -> MatchResult:
    """Match customers (address lines, normalised postcode or None) against ``gaz``.

    A match is *clear* when its score is at least ``accept_score`` and the
    runner-up's is at least ``min_gap`` lower; customers without a clear
    match in their own unit are tried against the neighbouring units.
    """
    n = len(postcodes)
    words, numbers = split_numbers(normalise_address(lines), gaz.codes, drop=gaz.place_words)
    keys = arrow_text(pd.Series(postcodes, dtype="str"))
    has_pc = np.asarray(
        pc.fill_null(pc.greater_equal(pc.utf8_length(keys), 5), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    stage = np.zeros(n, np.int8)
    # stage 1: own unit
    lo, hi = _ranges(keys, gaz.units, gaz.unit_start)
    lo[~has_pc] = hi[~has_pc] = 0
    o, a = _pairs(lo, hi)
    s = _score(words, numbers, gaz, o, a)
    band = min_gap * 2
    best, top, second, spread, c_row, c_addr, c_score = _rank(o, a, s, n, gaz, band)
    clear = (top >= accept_score) & (top - second >= min_gap)
    stage[best >= 0] = 1
    # stage 2: the units sharing all but the last character, for those whose own unit has
    # no plausible candidate (a plausible but unclear one - a flat number left out - is a
    # review: looking further could only find a look-alike elsewhere)
    plausible = top >= accept_score - band
    todo = np.flatnonzero(has_pc & ~clear & ~plausible)
    if todo.size:
        prefixes = pc.utf8_slice_codeunits(keys.take(pa.array(todo)), start=0, stop=-1)
        lo2, hi2 = _ranges(prefixes, gaz.prefixes, gaz.prefix_start)
        o2, a2 = _pairs(lo2, hi2)
        s2 = _score(words[todo], numbers[todo], gaz, o2, a2)
        b2, t2, sec2, sp2, r2, ad2, sc2 = _rank(o2, a2, s2, len(todo), gaz, band)
        # the wider block replaces the unit's answer when it found anything
        got = b2 >= 0
        at = todo[got]
        best[at], top[at], second[at], spread[at] = b2[got], t2[got], sec2[got], sp2[got]
        stage[at] = 2
        drop = np.isin(c_row, at)
        keep2 = got[r2]
        c_row = np.r_[c_row[~drop], todo[r2[keep2]]]
        c_addr = np.r_[c_addr[~drop], ad2[keep2]]
        c_score = np.r_[c_score[~drop], sc2[keep2]]
        order = np.lexsort((-c_score, c_row))
        c_row, c_addr, c_score = c_row[order], c_addr[order], c_score[order]
    return MatchResult(best, top, second, spread, stage, c_row, c_addr, c_score)
