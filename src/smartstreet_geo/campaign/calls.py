"""Outage calls a call handler can work: who to call, on which number, in which order.

Three steps, each a function a campaign run composes:

1. :func:`plan_calls` decides per PSR customer whom to call (the customer or
   their nominee, from the needs codes), on which dialable number, and shows
   the other number as the alternative; a customer with neither number
   dialable goes to review.
2. :func:`earliest_outage` and :func:`order_calls` give each call its outage
   date, notice deadline and days left, order the list by deadline, then
   medical dependency, then postcode, and set aside calls whose outage is
   already past.
3. :func:`late_notice_warnings` says which outages can no longer be given
   their notice, or are already past, only for equipment that interrupts at
   least one customer of the campaign's inputs.

No function here logs or returns a name, an address or a phone number in a
message: review details and warnings carry ids and dates only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..schema import CUSTOMER_ID, NOMINEE_NAME, NOMINEE_PHONE, PHONE, POSTCODE, PSR_NEEDS
from ._keys import known
from .phones import normalise_uk_phones
from .psr import NeedsTable, assess_needs_many

__all__ = [
    "CALL_COLUMNS",
    "REVIEW_COLUMNS",
    "CallList",
    "CallPlan",
    "earliest_outage",
    "late_notice_warnings",
    "order_calls",
    "plan_calls",
]

#: Columns :func:`plan_calls` adds to each call.
CALL_COLUMNS = [
    "call_who",
    "call_number",
    "alternative_number",
    "call_note",
    "needs",
    "medically_dependent",
    "call_nominee_first",
    "accessible_format",
]
#: Columns of the review rows :func:`plan_calls` returns.
REVIEW_COLUMNS = [CUSTOMER_ID, "issue", "detail"]


class CallPlan(NamedTuple):
    """What :func:`plan_calls` returns."""

    calls: pd.DataFrame  #: the input rows that can be called, with :data:`CALL_COLUMNS`
    review: pd.DataFrame  #: :data:`REVIEW_COLUMNS`: ``psr_needs_code``, ``psr_no_phone``


class CallList(NamedTuple):
    """What :func:`order_calls` returns."""

    calls: pd.DataFrame  #: in the order a call handler works them
    past: pd.DataFrame  #: calls whose outage date is before the run date (not to be made)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def plan_calls(
    psr: pd.DataFrame,
    table: NeedsTable | None,
    *,
    on: date,
    accept_drama: bool = True,
) -> CallPlan:
    """Decide whom to call for each PSR customer, on which number, with the other as alternative.

    The nominee is called first when a valid needs code of the customer has
    ``call_nominee_first`` in the needs table (by default 17 no English,
    20 dementia, 35 hearing impairment, 36 speech impairment) and the
    nominee's number is dialable; the customer otherwise. When the chosen
    party has no dialable number the other is called. ``alternative_number``
    is the other party's dialable number (None when there is none), so both
    are shown. A customer with neither number dialable is not called and
    gets a ``psr_no_phone`` review row; unknown or expired needs codes give a
    ``psr_needs_code`` review row (the call is still made).

    Parameters
    ----------
    psr : DataFrame
        One row per customer to call: ``customer_id`` and, where known,
        ``phone``, ``nominee_phone``, ``nominee_name``, ``psr_needs``
        (a missing column counts as blank).
    table : NeedsTable or None
        The needs table. Without one, ``needs`` and ``medically_dependent``
        are None and the nominee/accessible-format decisions use
        :data:`~smartstreet_geo.campaign.psr.DEFAULT_CALL_NOMINEE_FIRST` and
        :data:`~smartstreet_geo.campaign.psr.DEFAULT_ACCESSIBLE_FORMAT` on
        the codes as written.
    on : datetime.date
        The run date (temporary codes expired before it do not count).
    accept_drama : bool, default True
        Passed to :func:`~smartstreet_geo.campaign.phones.normalise_uk_phones`.

    Returns
    -------
    CallPlan
        ``calls``: the callable rows of ``psr`` (input order) with
        :data:`CALL_COLUMNS`: ``call_who`` (``customer``/``nominee``),
        ``call_number``, ``alternative_number``, ``call_note`` (why the
        choice differs from what the needs ask for, or that a number on
        record is not dialable; None otherwise), ``needs``,
        ``medically_dependent``, ``call_nominee_first``, ``accessible_format``.
        ``review``: :data:`REVIEW_COLUMNS`.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> from smartstreet_geo import demo
    >>> from smartstreet_geo.campaign.psr import load_needs_table
    >>> t = load_needs_table(demo.path("psr_needs_codes"))
    >>> psr = pd.DataFrame({"customer_id": ["A", "B", "C"],
    ...                     "phone": ["0161 496 0123", "0161 496 0124", "12"],
    ...                     "nominee_phone": ["020 7946 0018", "020 7946 0019", ""],
    ...                     "psr_needs": ["14", "35", "04"]})
    >>> plan = plan_calls(psr, t, on=date(2027, 1, 4))
    >>> plan.calls[["customer_id", "call_who", "call_number", "alternative_number"]]
      customer_id  call_who    call_number alternative_number
    0           A  customer  0161 496 0123      020 7946 0018
    1           B   nominee  020 7946 0019      0161 496 0124
    >>> plan.review[["customer_id", "issue"]]
      customer_id         issue
    0           C  psr_no_phone
    """
    codes = _column(psr, PSR_NEEDS)
    needs = assess_needs_many(codes, table, on=on)
    own_raw = _column(psr, PHONE)
    nom_raw = _column(psr, NOMINEE_PHONE)
    own = normalise_uk_phones(own_raw, accept_drama=accept_drama)
    nom = normalise_uk_phones(nom_raw, accept_drama=accept_drama)
    has_own = own.notna().to_numpy()
    has_nom = nom.notna().to_numpy()
    first = needs["call_nominee_first"].to_numpy(dtype=bool)
    to_nominee = has_nom & (first | ~has_own)
    own_v = own.to_numpy(dtype=object)
    nom_v = nom.to_numpy(dtype=object)

    own_given = known(own_raw).to_numpy()
    nom_given = known(nom_raw).to_numpy()
    notes: list[str | None] = []
    for wants_nominee, own_ok, nom_ok, own_in, nom_in in zip(
        first, has_own, has_nom, own_given, nom_given, strict=True
    ):
        parts = []
        if wants_nominee and not nom_ok and own_ok:
            parts.append(
                "the needs ask for the nominee to take the call, but no nominee number is "
                "dialable: calling the customer (Relay UK or an interpreter may be needed)"
            )
        if not wants_nominee and nom_ok and not own_ok:
            parts.append("the customer has no dialable number: calling the nominee")
        if own_in and not own_ok:
            parts.append("the customer's number on record is not dialable")
        if nom_in and not nom_ok:
            parts.append("the nominee's number on record is not dialable")
        notes.append("; ".join(parts) if parts and (own_ok or nom_ok) else None)

    who = [
        "nominee" if n else ("customer" if o else None)
        for n, o in zip(to_nominee, has_own, strict=True)
    ]
    number = np.where(to_nominee, nom_v, own_v)
    alternative = [
        (o if n else (m if o is not None else None))
        for n, o, m in zip(to_nominee, own_v, nom_v, strict=True)
    ]
    out = psr.copy()
    # object columns: pandas would turn None into NaN in a string column
    for col, values in (
        ("call_who", who),
        ("call_number", list(number)),
        ("alternative_number", alternative),
        ("call_note", notes),
        ("needs", list(needs["needs"])),
        ("medically_dependent", list(needs["medically_dependent"])),
    ):
        out[col] = pd.Series(values, index=out.index, dtype=object)
    out["call_nominee_first"] = needs["call_nominee_first"].to_numpy(dtype=bool)
    out["accessible_format"] = needs["accessible_format"].astype(str).to_numpy()

    review: list[tuple[object, str, str]] = []
    ids = _column(psr, CUSTOMER_ID).astype(object).to_numpy()
    nominee_named = known(_column(psr, NOMINEE_NAME)).to_numpy()
    needs_review = needs["needs_review"].to_numpy(dtype=object)  # (not .iat per customer)
    for i, cid in enumerate(ids):
        reason = needs_review[i]
        if isinstance(reason, str):
            review.append((cid, "psr_needs_code", reason))
        if not (has_own[i] or has_nom[i]):
            own_text = "not dialable" if own_given[i] else "missing"
            if nom_given[i]:
                nom_text = "nominee's number not dialable"
            elif nominee_named[i]:
                nom_text = "nominee's number missing"
            else:
                nom_text = "no nominee"
            review.append(
                (
                    cid,
                    "psr_no_phone",
                    f"no dialable number: customer's number {own_text}; {nom_text}",
                )
            )
    calls = out[has_own | has_nom]
    # object: review text may quote a needs code as held, which Arrow strings cannot always hold
    return CallPlan(calls, pd.DataFrame(review, columns=REVIEW_COLUMNS, dtype=object))


def _as_date(value: object) -> date | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    if isinstance(value, str):
        return date.fromisoformat(value.strip()) if value.strip() else None
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    raise TypeError(f"not a date: {type(value).__name__}")


def earliest_outage(
    equipment_ids: pd.Series, outage_dates: Mapping[str, date | None], *, on: date
) -> pd.Series:
    """Return, per call, the date of the next outage among its equipment.

    A customer cut off by several installations is called about the first of
    them still to come (on or after ``on``). When every dated outage of the
    call is already past, the latest of them is returned, so that
    :func:`order_calls` sets the call aside as past. Equipment without a date,
    or not in ``outage_dates`` (a missing key matches nothing), is ignored;
    a call with no dated equipment gets None.

    Parameters
    ----------
    equipment_ids : Series
        ``;``-separated equipment ids per call.
    outage_dates : Mapping of str to date or None
        Outage date per equipment id.
    on : datetime.date
        The run date.

    Returns
    -------
    Series
        ``datetime.date`` or None, same index.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> d = {"E1": date(2027, 1, 2), "E2": date(2027, 2, 1), "E3": date(2027, 3, 1)}
    >>> earliest_outage(pd.Series(["E1;E3;E2", "E1", "E9", ""]), d, on=date(2027, 1, 10)).tolist()
    [datetime.date(2027, 2, 1), datetime.date(2027, 1, 2), None, None]
    """
    out: list[date | None] = []
    for value in equipment_ids:
        text = value if isinstance(value, str) else ""
        dates = [d for d in (_as_date(outage_dates.get(e.strip())) for e in text.split(";")) if d]
        future = [d for d in dates if d >= on]
        out.append(min(future) if future else (max(dates) if dates else None))
    return pd.Series(out, index=equipment_ids.index, dtype=object)


def order_calls(calls: pd.DataFrame, *, notice_days: int, run_date: date) -> CallList:
    """Give each call its deadline and days left, and order the list for a call handler.

    ``notice_deadline`` is the outage date minus ``notice_days`` (the last day
    the customer can be told with full notice); ``days_left`` is the deadline
    minus the run date, negative when the notice can no longer be given in
    full (these calls are the most urgent and come first). Calls are ordered
    by deadline, then medically dependent customers first, then postcode,
    then customer id (for a stable order); calls without an outage date come
    last. Calls whose outage date is before the run date are not in the list:
    they are returned in ``past`` for a warning.

    Parameters
    ----------
    calls : DataFrame
        One row per call with ``outage_date`` (date, Timestamp, ISO text or
        None; see :func:`earliest_outage`), ``customer_id`` and optionally
        ``medically_dependent`` and ``postcode``.
    notice_days : int
        Days of notice a planned interruption needs.
    run_date : datetime.date
        The date the list is produced for.

    Returns
    -------
    CallList
        ``calls`` (index reset) and ``past`` (in the same order), both with
        ``outage_date`` and ``notice_deadline`` as ``datetime.date`` (or
        None) and ``days_left`` (nullable integer).

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> calls = pd.DataFrame({
    ...     "customer_id": ["A", "B", "C", "D"],
    ...     "medically_dependent": [True, False, False, True],
    ...     "postcode": ["M1 1AA", "M1 1AA", "M2 2BB", "M3 3CC"],
    ...     "outage_date": [date(2027, 3, 1), date(2027, 1, 6), date(2027, 1, 1), None]})
    >>> cl = order_calls(calls, notice_days=2, run_date=date(2027, 1, 4))
    >>> cl.calls[["customer_id", "notice_deadline", "days_left"]]
      customer_id notice_deadline  days_left
    0           B      2027-01-04          0
    1           A      2027-02-27         54
    2           D            None       <NA>
    >>> cl.past["customer_id"].tolist()
    ['C']
    """
    out = calls.copy()
    outage = [_as_date(v) for v in _column(out, "outage_date")]
    deadline = [d - timedelta(days=notice_days) if d else None for d in outage]
    out["outage_date"] = pd.Series(outage, index=out.index, dtype=object)
    out["notice_deadline"] = pd.Series(deadline, index=out.index, dtype=object)
    out["days_left"] = pd.array(
        [(d - run_date).days if d else None for d in deadline], dtype="Int64"
    )
    past = np.array([d is not None and d < run_date for d in outage], dtype=bool)
    pos = call_order(
        out["notice_deadline"],
        _column(out, "medically_dependent"),
        _column(out, POSTCODE),
        _column(out, CUSTOMER_ID),
    )
    ordered = out.iloc[pos]
    is_past = past[pos]
    return CallList(
        ordered[~is_past].reset_index(drop=True), ordered[is_past].reset_index(drop=True)
    )


def call_order(
    deadline: pd.Series, medically_dependent: pd.Series, postcode: pd.Series, customer_id: pd.Series
) -> np.ndarray:
    """Return the positions of calls in working order.

    Earliest notice deadline first (none last), medically dependent customers first
    on a day, then by postcode and customer id; stable (equal keys keep their order).
    """
    key = pd.DataFrame(
        {
            "_deadline": [d.toordinal() if isinstance(d, date) else np.nan for d in deadline],
            "_medical": np.where(medically_dependent.eq(True).to_numpy(), 0, 1),
            "_postcode": postcode.astype(object).to_numpy(),
            "_id": customer_id.astype(object).to_numpy(),
        }
    )  # positional: the caller's index may repeat
    return key.sort_values(
        ["_deadline", "_medical", "_postcode", "_id"], kind="stable", na_position="last"
    ).index.to_numpy()


def late_notice_warnings(
    outage_eq: pd.DataFrame,
    affected: Collection[str] | Mapping[str, int],
    *,
    notice_days: int,
    run_date: date,
) -> list[str]:
    """Warnings for outages that are past, too late for full notice, or undated.

    Only equipment that interrupts at least one customer of the campaign's
    inputs (``affected``) is warned about: an outage that cuts off nobody
    needs no notice, and equipment outside the inputs cannot be in
    ``outage_eq``. Lines name the equipment id and dates (and the number of
    customers when ``affected`` is a mapping), never a customer.

    Parameters
    ----------
    outage_eq : DataFrame
        Equipment whose installation needs an outage: ``equipment_id`` and
        ``outage_date`` (date or None).
    affected : collection of str, or mapping of str to int
        Ids of the equipment that interrupts at least one customer; a
        mapping gives the number of customers per id.
    notice_days : int
        Days of notice a planned interruption needs.
    run_date : datetime.date
        The date the lists are produced for.

    Returns
    -------
    list of str
        One line per equipment concerned, in ``equipment_id`` order.

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> eq = pd.DataFrame({"equipment_id": ["T1", "T2", "T3"],
    ...                    "outage_date": [date(2027, 1, 6), date(2027, 1, 6), date(2027, 3, 1)]})
    >>> for line in late_notice_warnings(eq, {"T1": 12, "T3": 4}, notice_days=5,
    ...                                  run_date=date(2027, 1, 4)):
    ...     print(line)
    T1: outage on 2027-01-06 needs notice sent by 2027-01-01 (5 days); this list is produced on 2027-01-04, too late to give that notice - phone the 12 customers affected and agree a new date
    """  # noqa: E501
    counts = affected if isinstance(affected, Mapping) else None
    ids = set(affected)
    lines: list[tuple[str, str]] = []
    for eid, value in zip(outage_eq["equipment_id"], outage_eq["outage_date"], strict=True):
        if eid not in ids:
            continue
        who, are = "the customers affected", "are"
        if counts is not None:
            n = int(counts[eid])
            who = f"the {n} customer{'s' if n != 1 else ''} affected"
            are = "are" if n != 1 else "is"
        odate = _as_date(value)
        if odate is None:
            lines.append(
                (
                    eid,
                    f"{eid}: needs an outage but has no date; give [outage] dates or default_date",
                )
            )
        elif odate < run_date:
            lines.append(
                (
                    eid,
                    f"{eid}: outage on {odate.isoformat()} is before the run date "
                    f"{run_date.isoformat()}; {who} {are} left out of the call list - "
                    "correct the date in [outage] or remove the equipment from the inputs",
                )
            )
        else:
            latest = odate - timedelta(days=notice_days)
            if run_date > latest:
                lines.append(
                    (
                        eid,
                        f"{eid}: outage on {odate.isoformat()} needs notice sent by "
                        f"{latest.isoformat()} ({notice_days} days); this list is produced on "
                        f"{run_date.isoformat()}, too late to give that notice - phone {who} "
                        "and agree a new date",
                    )
                )
    return [text for _, text in sorted(lines, key=lambda t: t[0])]
