"""Reconciliation: every input customer row once, with its final status and reason.

One table of statuses comes out of :func:`reconcile`: the reconciliation (one
row per input customer row, :data:`~smartstreet_geo.campaign.result.RECONCILIATION_STATUSES`),
the manual-review table (one row per issue, with the status of the customer
it is about) and one map category per valid customer. The console, the
manifest counts and the map legend are all counted from these
(:meth:`~smartstreet_geo.campaign.result.CampaignResult.status_table`).

Two vocabularies
----------------
The files ``reconciliation.csv`` and ``manual_review.csv`` go to people
outside the campaign team, so by default they are *shareable*: they carry no
Priority Services Register (PSR) or health information. Outage letters and
calls (which only PSR customers get) appear as the one campaign
``outage_notice``; review issues about the register have neutral names and
fixed details without needs codes (:data:`ISSUES`); reader messages, which can
quote values, are replaced by the reason code and column. ``internal=True``
(``[output] internal_details = true``) keeps every campaign name, issue and
detail as the rules wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import CUSTOMER_ID
from ._join import arrow, from_codes, lookup_few, same_values

__all__ = [
    "ISSUES",
    "MAP_COLUMNS",
    "PSR_CAMPAIGNS",
    "SHAREABLE_OUTAGE_CAMPAIGN",
    "IssueWords",
    "Reconciled",
    "manual_review_table",
    "reconcile",
]

#: Campaigns only Priority Services Register customers get.
PSR_CAMPAIGNS = frozenset({"outage_letter", "outage_phone_call"})
#: Their name in shareable files.
SHAREABLE_OUTAGE_CAMPAIGN = "outage_notice"
#: Columns :meth:`Reconciled.map_columns` returns (``result.customers`` carries them).
MAP_COLUMNS = ("map_category", "map_category_shared")

_REVIEW_COLUMNS = [CUSTOMER_ID, "issue", "detail"]
_NOTHING = "not on a circuit in scope, not within any radius, not in a planned outage"


class IssueWords(NamedTuple):
    """How a manual-review issue reads in shareable files, and whether it comes from PSR facts."""

    shareable: str  #: the issue's name in shareable files
    detail: str | None  #: fixed shareable detail; None: the rule's detail is kept (sanitised)
    psr: bool  #: only PSR customers can have it (the shared map ignores it)


#: Manual-review issues: internal name -> :class:`IssueWords`. An issue not
#: listed here is shown as ``other_check`` with a fixed detail in shareable files.
ISSUES: dict[str, IssueWords] = {
    "ambiguous_circuit": IssueWords("ambiguous_circuit", None, psr=False),
    "no_address": IssueWords("no_address", None, psr=False),  # PSR when for an outage notice
    "conflicting_duplicate": IssueWords("conflicting_duplicate", None, psr=False),
    "outage_impact_unknown": IssueWords("outage_impact_unknown", None, psr=True),
    "psr_no_phone": IssueWords(
        "no_usable_phone", "no dialable number on record for a call that is due", psr=True
    ),
    "psr_needs_code": IssueWords(
        "record_code_check",
        "a code on the customer's record is unknown or expired: check the record",
        psr=True,
    ),
    "location_check": IssueWords(
        "location_check",
        "placed from the address or postcode, not from coordinates: check the location",
        psr=False,
    ),
    "location_uncertain": IssueWords(
        "location_uncertain",
        "placed only roughly (address or postcode), at the edge of an equipment radius: "
        "check whether an installation letter is due",
        psr=False,
    ),
    "nominee_no_address": IssueWords(
        "copy_address_missing",
        "a copy of a letter is due but its second addressee has no address",
        psr=True,
    ),
}
_OTHER = IssueWords(
    "other_check",
    "a person must check this customer (the reason is shown with internal details)",
    psr=True,
)
# our own wording of the PSR campaigns, as rules, the register and run write it
_CAMPAIGN_WORDS = re.compile(
    r"\b(?:an? )?(?:outage_phone_call|outage_letter|outage phone call|outage letter)s?\b"
)
# last line of defence for text this module did not write: anything that still
# names the register, a nominee or needs is withheld rather than shared
_PSR_WORDS = re.compile(
    r"(?i)\bpsr\b|priority services|nominee|needs?[ _]codes?|medical|vulnerab|disab"
)
_WITHHELD = "details withheld (shown with internal details)"

_CATEGORY_OF_CAMPAIGN = {
    "outage_phone_call": "phone_call",
    "installation_letter": "installation_letter",
    "outage_letter": "installation_letter",
    "leaflet": "leaflet",
}
_CATEGORY_ORDER = ("phone_call", "installation_letter", "leaflet")


def _as_text(values: pd.Series) -> pd.Series:
    """Return ``values`` as Python text, missing as empty (object: Arrow cannot hold every str)."""
    return values.astype(object).where(values.notna(), "")


def _per_distinct(
    text: pd.Series, fn: Callable[[pd.Series, pa.Array | None], pd.Series]
) -> pd.Series:
    """Return ``fn(text)``, computed once per distinct text (reasons repeat a great deal).

    Text is dictionary-encoded by Arrow (missing as empty), and ``fn`` gets the
    distinct texts as Arrow text too: Arrow text as it is, Python text copied to Arrow
    (hashing a Python str per row is slower: 2.3 s against 0.4 s for the 1.9 million
    distinct reasons of a later wave at 2.4 million customers). Text Arrow cannot hold
    (a lone surrogate, not text at all) is factorized by pandas, and ``fn`` gets None.
    """
    dictionary = None
    as_arrow = None
    objects = None
    if isinstance(text.dtype, pd.StringDtype):
        as_arrow = pc.fill_null(arrow(text), "")
    else:
        objects = text.to_numpy(dtype=object)
        try:
            as_arrow = pa.array(objects, type=pa.large_string())
        except (pa.ArrowException, UnicodeError, TypeError):
            as_arrow = None
        else:
            if as_arrow.null_count:  # missing text: factorized as its own value below
                as_arrow = None
    if as_arrow is not None:
        coded = pc.dictionary_encode(as_arrow)
        del as_arrow
        codes = coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        dictionary = coded.dictionary
        # Arrow numbers the distinct texts in order of first appearance: Python text keeps
        # its own objects (the first row of each), not a second copy of every distinct text
        # (1.9 million of them, some 360 MB, in a later wave at 2.4 million customers)
        seen = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]])) if len(codes) else codes
        first = np.flatnonzero(codes > seen)
        if objects is not None and len(first) == len(dictionary):
            uniques = objects[first]
        else:
            uniques = np.asarray(dictionary.to_pylist(), dtype=object)
    else:
        codes, uniques = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=False)
    done = fn(pd.Series(uniques, dtype=object), dictionary).to_numpy(dtype=object)
    return pd.Series(done[codes], index=text.index, dtype=object)


def _may_name_words(
    texts: npt.NDArray[np.object_], as_arrow: pa.Array | None
) -> npt.NDArray[np.bool_]:
    """Whether each text might hold campaign or PSR words (False: it certainly does not).

    A superset of what :data:`_CAMPAIGN_WORDS` and :data:`_PSR_WORDS` match, checked
    with plain substrings: both need one of these words in ASCII text (case aside),
    and any other text is checked by the expressions themselves. One Arrow scan of
    all the texts (a wave after the first has a distinct reason per customer, each
    naming its earlier reference: 1.9 million at 2.4 million customers); text Arrow
    cannot hold (a lone surrogate, not text at all) is checked in Python.
    """
    if as_arrow is None:
        try:
            as_arrow = pa.array(texts, type=pa.string())
        except (pa.ArrowException, UnicodeError, TypeError):
            return np.array([_may_name_word(t) for t in texts], dtype=bool)
    hint = pc.match_substring_regex(as_arrow, "|".join(_WORD_HINTS), ignore_case=True)
    maybe = pc.or_(pc.invert(pc.string_is_ascii(as_arrow)), hint)
    return np.asarray(pc.fill_null(maybe, True), dtype=bool)


def _may_name_word(text: Any) -> bool:
    """:func:`_may_name_words` for one value, in Python."""
    if not isinstance(text, str) or not text.isascii():
        return True
    low = text.lower()
    return any(word in low for word in _WORD_HINTS)


#: Substrings that every match of :data:`_CAMPAIGN_WORDS` or :data:`_PSR_WORDS` holds
#: (plain letters and spaces: the same as a regular expression of alternatives).
_WORD_HINTS = ("outage", "psr", "priority services", "nominee", "need", "medical", "vulnerab",
               "disab")  # fmt: skip


def _shareable_text(text: pd.Series) -> pd.Series:
    """Return ``text`` in shareable words: outage campaigns as outage notices, no PSR words."""

    def outage_notice(m: re.Match[str]) -> str:
        word = m.group(0)
        article = "an " if word.startswith(("a ", "an ")) else ""
        plural = "s" if word.endswith("s") and not word.endswith("ss") else ""
        joined = "_" in word.split(" ")[-1]
        name = SHAREABLE_OUTAGE_CAMPAIGN if joined else "outage notice"
        return f"{article}{name}{plural}"

    def shareable(distinct: pd.Series, as_arrow: pa.Array | None) -> pd.Series:
        # only the texts that may name such words go through the expressions (most
        # distinct reasons, one per circuit or per equipment item, do not)
        out = distinct.to_numpy(dtype=object).copy()
        maybe = np.flatnonzero(_may_name_words(out, as_arrow))
        words = distinct.iloc[maybe].str.replace(_CAMPAIGN_WORDS, outage_notice, regex=True)
        words = words.where(~words.str.contains(_PSR_WORDS, regex=True), _WITHHELD)
        out[maybe] = words.to_numpy(dtype=object)
        return pd.Series(out, dtype=object)

    arrow_text = isinstance(text.dtype, pd.StringDtype)
    return _per_distinct(text if arrow_text else _as_text(text), shareable)


class _Ids:
    """The valid customers' ids, and where other tables' customer ids are among them.

    Valid ids are unique (the reader sets duplicates aside), so one hash lookup per
    table row replaces ``isin`` and group-by joins on the customer axis; each table's
    positions are looked up once and reused. Tables that come from the customers
    themselves carry their positions already (``run_campaign``'s contacts), and are not
    looked up at all. A lookup hashes with Arrow (``index_in``): a table much smaller
    than the customers is looked up the other way round (each customer id among the
    table's few distinct ids), which hashes the customers once but builds no table of
    millions of entries.
    """

    def __init__(self, ids: pd.Series) -> None:
        self.ids = ids
        self._arrow: pa.Array | None = None
        self._index: pd.Index | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _as_arrow(self) -> pa.Array | None:
        if self._arrow is None:
            try:
                self._arrow = arrow(self.ids, pa.large_string())
            except (pa.ArrowException, UnicodeError):  # text Arrow cannot hold
                return None
        return self._arrow

    def positions(self, keys: pd.Series) -> npt.NDArray[np.intp]:
        """Return the position of each key among the ids (-1: not a valid customer)."""
        if len(keys) == 0:
            return np.zeros(0, dtype=np.intp)
        ids = self._as_arrow()
        try:
            wanted = arrow(keys, pa.large_string()) if ids is not None else None
        except (pa.ArrowException, UnicodeError, TypeError):
            wanted = None
        if ids is None or wanted is None:
            return self._positions_by_index(keys)
        if len(keys) * 8 >= len(self):
            at = pc.index_in(wanted, value_set=ids)
            return np.asarray(pc.fill_null(at, -1).to_numpy(), dtype=np.intp)
        # few keys: find each customer among the keys' distinct values, then map back
        distinct = pc.unique(wanted.drop_null())
        where = pc.fill_null(pc.index_in(ids, value_set=distinct), -1).to_numpy()
        found = np.flatnonzero(where >= 0)
        at_distinct = np.full(len(distinct), -1, dtype=np.intp)
        at_distinct[where[found]] = found
        k = pc.fill_null(pc.index_in(wanted, value_set=distinct), -1).to_numpy()
        return np.where(k >= 0, at_distinct[np.maximum(k, 0)], -1).astype(np.intp)

    def _positions_by_index(self, keys: pd.Series) -> npt.NDArray[np.intp]:
        if self._index is None:
            self._index = pd.Index(self.ids.to_numpy(dtype=object))
            if not self._index.is_unique:  # pragma: no cover - the reader guarantees it
                raise ValueError("reconcile: valid customer ids must be unique")
        wanted = pd.Index(keys.to_numpy(dtype=object), dtype=object)
        return np.asarray(self._index.get_indexer(wanted), dtype=np.intp)

    def lookup(self, values: pd.Series) -> pd.Series:
        """Return ``values[id]`` for each valid customer (missing: NaN), as Python objects.

        Object dtype: a missing value must stay NaN (not turn the column into
        floats text cannot be added to), and Arrow strings cannot hold every str.
        """
        return pd.Series(lookup_few(self.ids, values), index=self.ids.index, dtype=object)

    def has(self, pos: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        """Return, per valid customer, whether it is among ``pos`` (from :meth:`positions`)."""
        out = np.zeros(len(self), dtype=bool)
        out[pos[pos >= 0]] = True
        return out

    def joined(
        self,
        frame: pd.DataFrame,
        column: str,
        sep: str,
        *,
        sort: bool,
        pos: npt.NDArray[np.intp] | None = None,
    ) -> pd.Series:
        """Return, per valid customer, the distinct values of ``column`` joined by ``sep``.

        Aligned with the ids; missing (NaN) where a customer has none. Values keep their
        order in ``frame`` (``sort=False``) or are sorted. Only customers with several
        values are joined (and their repeats dropped) in Python: a string join per group
        has no vectorised form that holds every Python str, and most customers have one
        value, a vectorised take. ``pos``: the positions of ``frame``'s customer ids,
        when already known.
        """
        if pos is None:
            pos = self.positions(frame[CUSTOMER_ID])
        vals = frame[column].to_numpy(dtype=object)
        keep = (pos >= 0) & (_as_text(frame[column]) != "").to_numpy(dtype=bool)
        pos, vals = pos[keep], vals[keep]
        order = np.argsort(pos, kind="stable")
        pos, vals = pos[order], vals[order]
        out = np.full(len(self), np.nan, dtype=object)
        if len(pos):
            starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
            counts = np.diff(np.r_[starts, len(pos)])
            one = counts == 1
            out[pos[starts[one]]] = vals[starts[one]]
            for start, count in zip(starts[~one].tolist(), counts[~one].tolist(), strict=True):
                distinct = list(dict.fromkeys(vals[start : start + count]))  # first seen
                out[pos[start]] = sep.join(sorted(distinct) if sort else distinct)
        return pd.Series(out, index=self.ids.index, dtype=object)


def manual_review_table(
    reviews: list[pd.DataFrame], rejects: pd.DataFrame, cust: pd.DataFrame
) -> pd.DataFrame:
    """Return one row per reason a person must look at a customer (internal words).

    Parameters
    ----------
    reviews : list of DataFrame
        ``customer_id``, ``issue``, ``detail`` (and optionally ``campaign``,
        the campaign the issue stops) as the rules propose them.
    rejects : DataFrame
        The customer reader's rejects: conflicting duplicates are an issue too.
    cust : DataFrame
        Valid customers with ``source_row``.

    Returns
    -------
    DataFrame
        ``source_row``, ``customer_id``, ``issue``, ``detail``, ``campaign``
        (empty where not known), sorted by issue and row.
    """
    cols = [*_REVIEW_COLUMNS, "campaign"]
    parts = [r.reindex(columns=cols) for r in reviews if len(r)]
    rows = (
        pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
        if parts
        else pd.DataFrame(columns=cols)
    )
    # each row's customer row (a left merge on the id, by position: no join over every id)
    at = _Ids(cust[CUSTOMER_ID]).positions(rows[CUSTOMER_ID])
    source = cust["source_row"].to_numpy()
    found = pd.array(np.where(at >= 0, source[np.maximum(at, 0)], 0), dtype="Int64")
    found[at < 0] = pd.NA
    rows["source_row"] = found
    conflicts = rejects[rejects["reason_code"] == "conflicting_duplicate"]
    dup = pd.DataFrame(
        {
            CUSTOMER_ID: conflicts["record_id"],
            "issue": "conflicting_duplicate",
            "detail": "the same customer id on rows with different data; decide which is right",
            "campaign": None,
            "source_row": conflicts["row_number"],
        }
    )
    out = pd.concat([rows, dup], ignore_index=True) if len(dup) else rows
    out["source_row"] = out["source_row"].astype("Int64")
    out["campaign"] = _as_text(out["campaign"])
    return out.sort_values(["issue", "source_row", CUSTOMER_ID], kind="stable").reset_index(
        drop=True
    )[["source_row", CUSTOMER_ID, "issue", "detail", "campaign"]]


@dataclass(frozen=True)
class Reconciled:
    """The one table of statuses of a run, in the vocabulary asked for.

    Attributes
    ----------
    reconciliation : DataFrame
        One row per input customer row: ``source_row``, ``customer_id``,
        ``status``, ``campaigns``, ``reason``.
    manual_review : DataFrame
        One row per issue: ``source_row``, ``customer_id``, ``status`` (of
        the customer row in the reconciliation), ``issue``, ``detail``.
    categories : DataFrame
        One row per valid customer: ``customer_id``, ``map_category`` (every
        contact, PSR calls included) and ``map_category_shared`` (the same
        customer as if nobody were on the PSR: outage notices and PSR issues
        ignored; what a shared map shows).
    internal : bool
        The files say what the rules said (PSR campaigns, issues, needs codes).
    """

    reconciliation: pd.DataFrame
    manual_review: pd.DataFrame
    categories: pd.DataFrame
    internal: bool

    def map_columns(self, ids: pd.Series) -> pd.DataFrame:
        """Return :data:`MAP_COLUMNS` for customers ``ids``, aligned with ``ids``."""
        mine = self.categories[CUSTOMER_ID]
        if len(ids) == len(mine) and same_values(ids, mine):  # the run's own customers
            # the columns as they are (Arrow text): no Python object per customer
            return pd.DataFrame({c: self.categories[c].array for c in MAP_COLUMNS}, index=ids.index)
        cat = self.categories.set_index(CUSTOMER_ID)
        return pd.DataFrame(
            {c: ids.map(cat[c]).to_numpy(dtype=object) for c in MAP_COLUMNS}, index=ids.index
        )


#: Status codes of valid customers (:func:`_status`), and their words.
_NOT_CONTACTED, _CONTACTED, _MANUAL_REVIEW = 0, 1, 2
_STATUS_WORDS = np.array(["not_contacted", "contacted", "manual_review"], dtype=object)
#: Map category codes (:func:`_category`), and their words.
_CATEGORY_WORDS = np.array(["manual_review", "not_contacted", *_CATEGORY_ORDER], dtype=object)


def _category(
    camps: pd.Series, pos: npt.NDArray[np.intp], status: npt.NDArray[np.int8], ids: _Ids
) -> npt.NDArray[np.int8]:
    """Return the map category code of each customer: its status, else its most urgent contact.

    ``camps``: campaign names, one per row of ``pos``; the words are
    ``_CATEGORY_WORDS[code]``.
    """
    code, names = pd.factorize(camps)
    of_name = np.array(
        [_CATEGORY_ORDER.index(_CATEGORY_OF_CAMPAIGN.get(n, "installation_letter")) for n in names]
        + [_CATEGORY_ORDER.index("installation_letter")],  # code -1: a missing campaign
        dtype=np.int8,
    )
    cat = of_name[code]
    has = [ids.has(pos[cat == i]) for i in range(len(_CATEGORY_ORDER))]
    return np.select(
        [status == _MANUAL_REVIEW, status == _NOT_CONTACTED, *has],
        [0, 1, *range(2, 2 + len(_CATEGORY_ORDER))],
        1,
    ).astype(np.int8)


def _status(
    ids: _Ids,
    direct: npt.NDArray[np.intp],
    any_contact: npt.NDArray[np.intp],
    review: npt.NDArray[np.intp],
) -> npt.NDArray[np.int8]:
    """Return each valid customer's status code (``_STATUS_WORDS[code]``)."""
    d, a, r = (ids.has(x) for x in (direct, any_contact, review))
    return np.select([r & ~d, a], [_MANUAL_REVIEW, _CONTACTED], _NOT_CONTACTED).astype(np.int8)


def _joined_few(
    ids: _Ids, values: pd.Series, pos: npt.NDArray[np.intp], sep: str
) -> pd.Series | None:
    """Return :meth:`_Ids.joined` (``sort=True``) for a column of a few distinct values.

    Each customer's set of values as the bits of one integer (a bitwise or per row),
    and the text once per distinct set; None when there are too many values for bits.
    """
    code, names = pd.factorize(values)
    if len(names) > 30:
        return None
    text = pd.Series(names, dtype=object)
    usable = ~(text.isna() | (_as_text(text) == "")).to_numpy(dtype=bool)
    ok = (code >= 0) & (pos >= 0)
    ok[ok] = usable[code[ok]]
    bits = np.zeros(len(ids), dtype=np.int64)
    np.bitwise_or.at(bits, pos[ok], np.left_shift(1, code[ok].astype(np.int64)))
    out = np.full(len(ids), np.nan, dtype=object)
    inverse, sets = pd.factorize(bits)  # a hash of integers: no sort of every customer
    words = np.array(
        [
            sep.join(sorted(names[i] for i in range(len(names)) if (int(b) >> i) & 1))
            if b
            else np.nan
            for b in sets
        ],
        dtype=object,
    )
    out[:] = words[inverse]
    return pd.Series(out, index=ids.ids.index, dtype=object)


def reconcile(
    cust_r: Any,
    cust: pd.DataFrame,
    contacts: pd.DataFrame,
    covered: pd.DataFrame,
    reviews: list[pd.DataFrame],
    not_reasons: Mapping[str, str] | npt.NDArray[np.object_],
    *,
    internal: bool = False,
    notes: pd.Series | None = None,
    positions: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None,
) -> Reconciled:
    """Return the reconciliation, the manual-review table and the map categories of a run.

    Parameters
    ----------
    cust_r : reader result
        The customer file as read (``rejects``).
    cust : DataFrame
        Valid customers with ``source_row``.
    contacts : DataFrame
        The contacts made (after suppression and one letter per premise):
        ``customer_id``, ``campaign``, ``reason``, ``equipment_ids``.
    covered : DataFrame
        ``customer_id``, ``campaign``: customers covered by the letter to their premise.
    reviews : list of DataFrame
        Manual-review proposals (see :func:`manual_review_table`).
    not_reasons : dict or ndarray
        Customer id -> why nothing is sent (opted out, already sent, ...); or an object
        array aligned with ``cust``, None where nothing is said (what ``run_campaign``
        passes: no lookup by id).
    internal : bool, default False
        Keep PSR campaigns, issues and details in the tables (see the module notes).
    notes : Series, optional
        Customer id -> a note added to a contacted customer's reason (e.g. "supply
        maintained by backfeed through ..." for a customer no longer phoned).
    positions : (ndarray, ndarray), optional
        The row in ``cust`` of each contact's and each covered row's customer, when the
        caller knows them (they are then not looked up by id).

    Returns
    -------
    Reconciled

    Notes
    -----
    A valid customer is ``manual_review`` when a person must look at them and
    nothing is addressed to them directly, ``contacted`` when a contact is
    addressed to them or a letter to their premise covers them (a contacted
    customer can also have review issues: their ``manual_review`` rows say
    ``contacted``), else ``not_contacted``. Rows the reader set aside are
    ``exact_duplicate`` (kept once: the first row stands for the customer),
    ``conflicting_duplicate`` (no row of that id is used until a person
    decides) or ``rejected``.
    """
    manual = manual_review_table(reviews, cust_r.rejects, cust)
    ids = cust[CUSTOMER_ID]
    valid = _Ids(ids)
    valid_review = manual[manual["issue"] != "conflicting_duplicate"]
    words = valid_review["issue"].map(lambda i: ISSUES.get(i, _OTHER))
    psr_issue = words.map(lambda w: w.psr).astype(bool) | (
        (valid_review["issue"] == "no_address")
        & (
            valid_review["campaign"].isin(PSR_CAMPAIGNS)
            | _as_text(valid_review["detail"]).str.contains(_CAMPAIGN_WORDS, regex=True)
        )
    )
    if positions is None:
        at_contacts = valid.positions(contacts[CUSTOMER_ID])
        at_covered = valid.positions(covered[CUSTOMER_ID])
    else:
        at_contacts, at_covered = (np.asarray(p, dtype=np.intp) for p in positions)
    # each (customer, campaign) once, in first-seen order (as drop_duplicates), on integers
    camp_all = pd.concat([contacts["campaign"], covered["campaign"]], ignore_index=True)
    at_all = np.concatenate([at_contacts, at_covered])
    code = pd.factorize(camp_all)[0].astype(np.int64)
    key = at_all.astype(np.int64) * (int(code.max(initial=0)) + 2) + (code + 1)
    first = np.sort(np.unique(key, return_index=True)[1])
    camps = pd.DataFrame({"campaign": camp_all.iloc[first].reset_index(drop=True)})
    at_camps = at_all[first]
    # (per-contact and per-customer intermediates are let go as soon as they are used: at
    # 2.4 M customers each is 15-40 MB, and a dozen of them made the run's peak)
    del camp_all, at_all, code, key, first

    # ---------------------------------------------------------------- statuses
    at_review = valid.positions(valid_review[CUSTOMER_ID])
    status = _status(valid, at_contacts, at_camps, at_review)
    psr_camp = camps["campaign"].isin(PSR_CAMPAIGNS).to_numpy()
    psr_contact = contacts["campaign"].isin(PSR_CAMPAIGNS).to_numpy()
    shared_status = _status(
        valid, at_contacts[~psr_contact], at_camps[~psr_camp], at_review[~psr_issue.to_numpy()]
    )
    categories = pd.DataFrame(
        {
            CUSTOMER_ID: _ids_column(ids),
            "map_category": from_codes(
                _category(camps["campaign"], at_camps, status, valid), _CATEGORY_WORDS
            ).array,
            "map_category_shared": from_codes(
                _category(camps["campaign"][~psr_camp], at_camps[~psr_camp], shared_status, valid),
                _CATEGORY_WORDS,
            ).array,
        }
    )

    # ---------------------------------------------------------------- words
    at_said: npt.NDArray[np.intp] | None = None
    if isinstance(not_reasons, np.ndarray):  # aligned with the customers: rows with a reason
        at_said = np.flatnonzero(pd.notna(not_reasons))
        said_texts = pd.Series(not_reasons[at_said], dtype=object)
    else:
        said_texts = pd.Series(dict(not_reasons), dtype=object)
    direct = contacts[[CUSTOMER_ID, "campaign", "reason"]].copy()
    review = valid_review[[CUSTOMER_ID, "issue", "detail"]].copy()
    if internal:
        camp_names = camps
        via = covered[[CUSTOMER_ID, "campaign"]]
        reject_reason = (
            _as_text(cust_r.rejects["reason_code"]) + ": " + _as_text(cust_r.rejects["message"])
        )
    else:
        psr_contact = direct["campaign"].isin(PSR_CAMPAIGNS).to_numpy()
        shared_reason = _shareable_text(direct["reason"]).to_numpy(dtype=object).copy()
        if psr_contact.any():  # a few rows: their text only
            eq = _as_text(contacts["equipment_ids"].iloc[psr_contact]).str.replace(";", ", ")
            shared_reason[psr_contact] = (
                "planned supply interruption for installing " + eq
            ).to_numpy(dtype=object)
        direct["reason"] = pd.Series(shared_reason, index=direct.index, dtype=object)
        camp_names = camps.assign(campaign=_shareable_campaigns(camps["campaign"]))
        via = covered[[CUSTOMER_ID]].assign(campaign=_shareable_campaigns(covered["campaign"]))
        w = words.loc[review.index]
        review["issue"] = w.map(lambda x: x.shareable)
        fixed = w.map(lambda x: x.detail)
        review["detail"] = fixed.where(fixed.notna(), _shareable_text(review["detail"]))
        rej = cust_r.rejects
        reject_reason = (
            _shareable_text(_as_text(rej["reason_code"]) + ": column " + _as_text(rej["column"]))
            + " (see rejects.csv)"
        )
        said = _shareable_text(pd.Series(said_texts.to_numpy(dtype=object), dtype=object))
        said_texts = pd.Series(said.to_numpy(dtype=object), index=said_texts.index, dtype=object)
    campaigns = _joined_few(valid, camp_names["campaign"], at_camps, ";")
    if campaigns is None:
        campaigns = valid.joined(camp_names, "campaign", ";", sort=True, pos=at_camps)
    campaigns = campaigns.fillna("")
    said = valid.joined(direct, "reason", " | ", sort=False, pos=at_contacts)
    via_text = _joined_few(valid, via["campaign"], at_covered, ";")
    if via_text is None:
        via_text = valid.joined(via, "campaign", ";", sort=True, pos=at_covered)
    via_text = _wrap("covered by the letter to the same premise (", via_text, ")")
    details = valid.joined(review, "detail", " | ", sort=False, pos=at_review)
    also = _wrap("also for manual review: ", details, "")
    contacted_reason = _then(_then(said, via_text), also)
    del said, via_text, also
    if notes is not None and len(notes):
        contacted_reason = _then(contacted_reason, valid.lookup(notes.astype(object)))
    if at_said is not None:
        said_by_row = np.full(len(valid), np.nan, dtype=object)
        said_by_row[at_said] = said_texts.to_numpy(dtype=object)
        said_not = pd.Series(said_by_row, index=ids.index, dtype=object)
    else:
        said_not = valid.lookup(said_texts)
    # not contacted: why nothing is sent, else that nothing concerns them
    # (the one text object in every row without a reason: np.where would make a str per row)
    reason = said_not.to_numpy(dtype=object).copy()
    reason[said_not.isna().to_numpy()] = _NOTHING
    contacted = status == _CONTACTED
    reason[contacted] = contacted_reason.to_numpy(dtype=object)[contacted]
    # a customer held for review whose letter was also suppressed (sent in an earlier wave,
    # opted out) says both, so a follow-up wave does not hide what was already sent
    review_rows = status == _MANUAL_REVIEW  # a few rows: the text only there
    reason[review_rows] = _then(details.iloc[review_rows], said_not.iloc[review_rows]).to_numpy(
        dtype=object
    )
    del contacted_reason, said_not, details, direct
    s = from_codes(status, _STATUS_WORDS).array
    valid_rows = pd.DataFrame(
        {
            "source_row": cust["source_row"].astype(int).to_numpy(),
            CUSTOMER_ID: _ids_column(ids),
            "status": s,
            # object: Arrow strings cannot hold every Python str (lone surrogates)
            "campaigns": pd.Series(campaigns.to_numpy(dtype=object), dtype=object),
            "reason": pd.Series(reason, dtype=object),
        }
    )
    del campaigns, reason, s
    rej = cust_r.rejects
    code = rej["reason_code"]
    rej_rows = pd.DataFrame(
        {
            "source_row": rej["row_number"].astype(int),
            CUSTOMER_ID: rej["record_id"],
            "status": np.where(
                code.isin(["exact_duplicate", "conflicting_duplicate"]), code, "rejected"
            ),
            "campaigns": "",
            "reason": pd.Series(
                reject_reason.to_numpy(dtype=object), index=rej.index, dtype=object
            ),
        }
    )
    parts = [p for p in (valid_rows, rej_rows) if len(p)]
    recon = _in_row_order(parts) if parts else valid_rows
    del valid_rows, rej_rows, parts

    # ---------------------------------------------------------------- the review table
    if not internal:
        manual = manual.copy()
        manual.loc[review.index, ["issue", "detail"]] = review[["issue", "detail"]]
    manual = manual.assign(status=_status_of_rows(recon, manual["source_row"]))
    manual = manual.sort_values(["issue", "source_row", CUSTOMER_ID], kind="stable")
    manual = manual.reset_index(drop=True)[["source_row", CUSTOMER_ID, "status", "issue", "detail"]]
    return Reconciled(recon, manual, categories, internal)


def _in_row_order(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Return ``pd.concat(parts).sort_values("source_row", kind="stable")``, index 0..n-1.

    Column by column: the concatenation and the sorted copy of a whole 2.4-million-row
    table are never held at once, only one column's.
    """
    rows = np.concatenate([p["source_row"].to_numpy(dtype=np.int64) for p in parts])
    order = np.argsort(rows, kind="stable")
    in_order = bool((order == np.arange(len(order))).all())
    out = {}
    for column in parts[0].columns:
        joined = pd.concat([p[column] for p in parts], ignore_index=True)
        out[column] = joined if in_order else joined.take(order).reset_index(drop=True)
    return pd.DataFrame(out)


def _status_of_rows(recon: pd.DataFrame, rows: pd.Series) -> npt.NDArray[np.object_]:
    """Return the status of the first reconciliation row of each of ``rows`` (NaN: none).

    ``recon`` is sorted by ``source_row``: a binary search per asked row, no index of
    every customer's row for the few rows of the review table.
    """
    sorted_rows = recon["source_row"].to_numpy(dtype=np.int64)
    given = rows.notna().to_numpy()
    wanted = rows.to_numpy(dtype=np.int64, na_value=-1)
    at = np.minimum(np.searchsorted(sorted_rows, wanted), max(len(sorted_rows) - 1, 0))
    found = given & (len(sorted_rows) > 0)
    found[found] = sorted_rows[at[found]] == wanted[found]
    out = np.full(len(rows), np.nan, dtype=object)
    out[found] = recon["status"].iloc[at[found]].to_numpy(dtype=object)
    return out


def _ids_column(ids: pd.Series) -> Any:
    """Return ids as a new frame's column: Arrow text as it is, anything else as an array."""
    return ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.to_numpy()


def _then(a: pd.Series, b: pd.Series) -> pd.Series:
    """Return ``a | b`` per row, or whichever is there (missing where neither is).

    Object text; the joined text is made only on the rows that have both.
    """
    has_a, has_b = a.notna().to_numpy(), b.notna().to_numpy()
    out = np.where(has_a, a.to_numpy(dtype=object), b.to_numpy(dtype=object))
    both = has_a & has_b
    if both.any():
        out[both] = (a.iloc[both] + " | " + b.iloc[both]).to_numpy(dtype=object)
    return pd.Series(out, index=a.index, dtype=object)


def _wrap(head: str, text: pd.Series, tail: str) -> pd.Series:
    """Return ``head + text + tail`` where ``text`` is there, missing elsewhere (object)."""
    out = text.to_numpy(dtype=object).copy()
    there = text.notna().to_numpy()
    if there.any():
        out[there] = (head + text.iloc[there] + tail).to_numpy(dtype=object)
    return pd.Series(out, index=text.index, dtype=object)


def _shareable_campaigns(campaigns: pd.Series) -> pd.Series:
    """Return campaign names with the PSR-only ones as :data:`SHAREABLE_OUTAGE_CAMPAIGN`."""
    return campaigns.where(~campaigns.isin(PSR_CAMPAIGNS), SHAREABLE_OUTAGE_CAMPAIGN)
