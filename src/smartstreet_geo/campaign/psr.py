"""Priority Services Register needs codes: the table is data, the rules are here.

``psr_needs`` holds ``;``-separated codes; a temporary code carries its expiry
as ``code@YYYY-MM-DD`` (e.g. ``32@2027-06-25``). A code not in the table, or a
temporary code expired on the run date, sends the customer to manual review:
a person checks the register before anyone relies on it.

The table says, per code, what the need means for contact (see
:func:`load_needs_table`): whether the customer is medically dependent on
electricity, whether a call should go to the nominee first (the customer
cannot take the call), and which accessible formats a letter needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputFileError
from ._join import from_codes, lookup_few
from ._keys import known

__all__ = [
    "ACCESSIBLE_FORMATS",
    "DEFAULT_ACCESSIBLE_FORMAT",
    "DEFAULT_CALL_NOMINEE_FIRST",
    "NOMINEE_ADDRESS_COLUMNS",
    "NeedsAssessment",
    "NeedsTable",
    "accessible_format_by_premise",
    "assess_needs",
    "assess_needs_many",
    "load_needs_table",
    "nominee_copies",
]

#: The accessible formats a letter can be asked for, in the order they are listed.
ACCESSIBLE_FORMATS: tuple[str, ...] = ("large_print", "braille", "audio")

#: Used only when the table has no ``call_nominee_first`` column: the industry codes
#: whose holders cannot take a phone call themselves (17 unable to communicate in
#: English, 20 dementia/cognitive impairment, 35 hearing impairment including deaf,
#: 36 speech impairment).
DEFAULT_CALL_NOMINEE_FIRST: frozenset[str] = frozenset({"17", "20", "35", "36"})

#: Used only when the table has no ``accessible_format`` column: 08 blind (braille or
#: audio), 09 partially sighted (large print).
DEFAULT_ACCESSIBLE_FORMAT: dict[str, str] = {"08": "braille;audio", "09": "large_print"}

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


@dataclass(frozen=True)
class NeedsTable:
    """The PSR needs-code table.

    Attributes
    ----------
    table : DataFrame
        Indexed by two-digit code: ``description``, ``temporary``,
        ``medically_dependent``, ``call_nominee_first`` (bool) and
        ``accessible_format`` (tuple of :data:`ACCESSIBLE_FORMATS`).
    defaulted : tuple of str
        Columns the file did not have and that were filled from the documented
        defaults (:data:`DEFAULT_CALL_NOMINEE_FIRST`,
        :data:`DEFAULT_ACCESSIBLE_FORMAT`); worth a warning in the run.
    """

    table: pd.DataFrame  # indexed by two-digit code
    defaulted: tuple[str, ...] = ()

    def describe(self, code: str) -> str:
        """Return the description of a known code."""
        return self._rows()[code][0]

    def _rows(self) -> dict[str, tuple[str, bool, bool, tuple[str, ...]]]:
        """Per code: description, medically dependent, call nominee first, formats.

        Built once per table (a dict look-up instead of a ``DataFrame.at`` per code
        and column: 19,000 of them on the demo campaign, 0.3 s).
        """
        rows = self.__dict__.get("_rows_cache")
        if rows is None:
            t = self.table
            rows = {
                code: (str(d), bool(m), bool(n), tuple(f))
                for code, d, m, n, f in zip(
                    t.index,
                    t["description"],
                    t["medically_dependent"],
                    t["call_nominee_first"],
                    t["accessible_format"],
                    strict=True,
                )
            }
            object.__setattr__(self, "_rows_cache", rows)  # frozen: cached beside the fields
        return rows


def load_needs_table(path: str | Path) -> NeedsTable:
    """Read a PSR needs-code table.

    The CSV has ``code`` and ``description``, and optionally:

    * ``temporary``, ``medically_dependent``: true/false (blank is false);
    * ``call_nominee_first``: true when a holder of the code cannot take a
      phone call (the call goes to the nominee when one has a dialable
      number). Without the column, :data:`DEFAULT_CALL_NOMINEE_FIRST` applies;
    * ``accessible_format``: ``;``-separated :data:`ACCESSIBLE_FORMATS` a
      letter to a holder of the code needs (blank for none). Without the
      column, :data:`DEFAULT_ACCESSIBLE_FORMAT` applies.

    A true/false cell that is neither (``ture``) or an unknown format is an
    error naming the code: a typo must not silently drop a need.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    NeedsTable

    Raises
    ------
    InputFileError
        Unreadable file, missing ``code``/``description``, a duplicated code,
        or a cell that is not a recognised value.

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> t = load_needs_table(demo.path("psr_needs_codes"))
    >>> t.describe("04")
    'Oxygen concentrator'
    >>> bool(t.table.at["35", "call_nominee_first"]), t.table.at["08", "accessible_format"]
    (True, ('braille', 'audio'))
    """
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise InputFileError(f"{p}: cannot read the PSR needs-code table ({exc}).") from exc
    missing = {"code", "description"} - set(df.columns)
    if missing:
        raise InputFileError(f"{p}: the PSR needs-code table lacks column(s) {sorted(missing)}.")
    df["code"] = df["code"].str.strip().str.zfill(2)
    if df["code"].duplicated().any():
        dup = df.loc[df["code"].duplicated(), "code"].iloc[0]
        raise InputFileError(f"{p}: PSR needs code {dup!r} appears twice.")
    defaulted: list[str] = []
    if "call_nominee_first" not in df.columns:
        defaulted.append("call_nominee_first")
        df["call_nominee_first"] = np.where(
            df["code"].isin(DEFAULT_CALL_NOMINEE_FIRST), "true", "false"
        )
    if "accessible_format" not in df.columns:
        defaulted.append("accessible_format")
        df["accessible_format"] = df["code"].map(DEFAULT_ACCESSIBLE_FORMAT).fillna("")
    for col in ("temporary", "medically_dependent", "call_nominee_first"):
        df[col] = [
            _flag(p, code, col, v)
            for code, v in zip(df["code"], df.get(col, pd.Series("", index=df.index)), strict=True)
        ]
    df["accessible_format"] = [
        _formats(p, code, v) for code, v in zip(df["code"], df["accessible_format"], strict=True)
    ]
    return NeedsTable(df.set_index("code"), tuple(defaulted))


def _flag(path: Path, code: str, column: str, value: object) -> bool:
    # a short row leaves NaN in its last cells: blank, like an empty cell
    v = value.strip().lower() if isinstance(value, str) else ""
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InputFileError(
        f"{path}: PSR needs code {code!r}: column {column} must be true or false, "
        f"not {str(value)[:40]!r}."
    )


def _formats(path: Path, code: str, value: object) -> tuple[str, ...]:
    text = value if isinstance(value, str) else ""
    items = {v.strip().lower() for v in text.split(";") if v.strip()}
    unknown = sorted(items - set(ACCESSIBLE_FORMATS))
    if unknown:
        raise InputFileError(
            f"{path}: PSR needs code {code!r}: accessible_format {unknown[0][:40]!r} is not one "
            f"of {', '.join(ACCESSIBLE_FORMATS)} (separate several with ';')."
        )
    return tuple(f for f in ACCESSIBLE_FORMATS if f in items)


@dataclass(frozen=True)
class NeedsAssessment:
    """What the register says about one customer, for a call handler."""

    valid: tuple[str, ...]
    unknown: tuple[str, ...]
    expired: tuple[str, ...]
    medically_dependent: bool
    summary: str  # descriptions of the valid codes, for the call handler
    call_nominee_first: bool = False  # a valid code says the customer cannot take a call
    accessible_format: tuple[str, ...] = ()  # formats a letter needs (ACCESSIBLE_FORMATS order)

    @property
    def needs_review(self) -> bool:
        """True when a code is unknown or expired."""
        return bool(self.unknown or self.expired)

    def review_reason(self) -> str:
        """Explain why a person must check the register entry."""
        parts = []
        if self.unknown:
            parts.append(f"unknown PSR needs code(s) {', '.join(self.unknown)}")
        if self.expired:
            parts.append(f"expired temporary PSR code(s) {', '.join(self.expired)}")
        return "; ".join(parts)


def assess_needs(codes: str | None, table: NeedsTable, *, on: date) -> NeedsAssessment:
    """Split a customer's ``psr_needs`` into valid, unknown and expired codes.

    Parameters
    ----------
    codes : str or None
        ``;``-separated codes, temporary ones as ``code@YYYY-MM-DD``.
    table : NeedsTable
    on : datetime.date
        The date the codes must be valid on (the run date).

    Returns
    -------
    NeedsAssessment

    Examples
    --------
    >>> from datetime import date
    >>> from smartstreet_geo import demo
    >>> t = load_needs_table(demo.path("psr_needs_codes"))
    >>> a = assess_needs("04;99;33@2026-04-21", t, on=date(2027, 1, 4))
    >>> a.valid, a.unknown, a.expired, a.medically_dependent
    (('04',), ('99',), ('33',), True)
    >>> a.summary
    'Oxygen concentrator'
    >>> b = assess_needs("09;35;08", t, on=date(2027, 1, 4))
    >>> b.call_nominee_first, b.accessible_format
    (True, ('large_print', 'braille', 'audio'))
    """
    valid: list[str] = []
    unknown: list[str] = []
    expired: list[str] = []
    # a blank cell arrives as None, NaN or pd.NA: no codes, not an error
    text = codes if isinstance(codes, str) else ""
    rows = table._rows()
    for raw in text.split(";"):
        raw = raw.strip()
        if not raw:
            continue
        code, _, until = raw.partition("@")
        code = code.strip().zfill(2)
        if code not in rows:
            unknown.append(code)
            continue
        if until:
            try:
                expires = date.fromisoformat(until.strip())
            except ValueError:
                unknown.append(raw)
                continue
            if expires < on:
                expired.append(code)
                continue
        valid.append(code)
    med = any(rows[c][1] for c in valid)
    nominee_first = any(rows[c][2] for c in valid)
    wanted = {f for c in valid for f in rows[c][3]}
    formats = tuple(f for f in ACCESSIBLE_FORMATS if f in wanted)
    summary = "; ".join(table.describe(c) for c in valid)
    return NeedsAssessment(
        tuple(valid), tuple(unknown), tuple(expired), med, summary, nominee_first, formats
    )


def assess_needs_many(codes: pd.Series, table: NeedsTable | None, *, on: date) -> pd.DataFrame:
    """:func:`assess_needs` over a Series, each distinct value assessed once.

    Parameters
    ----------
    codes : Series
        ``psr_needs`` values (``;``-separated codes; blank or missing for none).
    table : NeedsTable or None
        Without a table, ``needs`` and ``medically_dependent`` are None, no
        review is asked for, and ``call_nominee_first``/``accessible_format``
        come from :data:`DEFAULT_CALL_NOMINEE_FIRST` and
        :data:`DEFAULT_ACCESSIBLE_FORMAT` applied to the codes as written
        (expiry dates ignored).
    on : datetime.date
        The run date.

    Returns
    -------
    DataFrame
        Same index as ``codes``: ``needs`` (descriptions, None when there are
        none), ``medically_dependent``, ``call_nominee_first`` (bool),
        ``accessible_format`` (``;``-separated formats, "" for none) and
        ``needs_review`` (the review reason, None when the entry is fine).

    Examples
    --------
    >>> from datetime import date
    >>> import pandas as pd
    >>> from smartstreet_geo import demo
    >>> t = load_needs_table(demo.path("psr_needs_codes"))
    >>> a = assess_needs_many(pd.Series(["09;14", None, "99"]), t, on=date(2027, 1, 4))
    >>> a["accessible_format"].tolist(), a["needs_review"].tolist()
    (['large_print', '', ''], [None, None, 'unknown PSR needs code(s) 99'])
    """
    # each distinct entry assessed once, then taken per row (vectorised: millions of rows,
    # a few thousand distinct entries)
    text = codes.astype(object).where(codes.notna(), "").to_numpy(dtype=object)
    which, distinct = pd.factorize(text, use_na_sentinel=False)
    if table is None:
        per = _needs_without_table(pd.Series(distinct, dtype=object))
        return pd.DataFrame(
            {c: per[c].to_numpy(dtype=object)[which] for c in per.columns}, index=codes.index
        ).astype({"call_nominee_first": bool})
    done = [assess_needs(k if isinstance(k, str) else "", table, on=on) for k in distinct]

    def take(values: list[Any]) -> npt.NDArray[Any]:
        return np.asarray([*values, None], dtype=object)[:-1][which]

    return pd.DataFrame(
        {
            # object: pandas would make None NaN in a string column
            "needs": pd.Series(
                take([a.summary or None for a in done]), index=codes.index, dtype=object
            ),
            "medically_dependent": take([a.medically_dependent for a in done]).tolist(),
            "call_nominee_first": take([a.call_nominee_first for a in done]).tolist(),
            "accessible_format": take([";".join(a.accessible_format) for a in done]).tolist(),
            "needs_review": pd.Series(
                take([a.review_reason() if a.needs_review else None for a in done]),
                index=codes.index,
                dtype=object,
            ),
        },
        index=codes.index,
    )


def _needs_without_table(codes: pd.Series) -> pd.DataFrame:
    first: list[bool] = []
    formats: list[str] = []
    for value in codes:
        items = {
            c.partition("@")[0].strip().zfill(2)
            for c in (value if isinstance(value, str) else "").split(";")
            if c.strip()
        }
        first.append(bool(items & DEFAULT_CALL_NOMINEE_FIRST))
        wanted = {f for c in items for f in DEFAULT_ACCESSIBLE_FORMAT.get(c, "").split(";") if f}
        formats.append(";".join(f for f in ACCESSIBLE_FORMATS if f in wanted))
    none = pd.Series([None] * len(codes), index=codes.index, dtype=object)
    return pd.DataFrame(
        {
            "needs": none,
            "medically_dependent": none,
            "call_nominee_first": pd.Series(first, index=codes.index, dtype=bool),
            "accessible_format": pd.Series(formats, index=codes.index, dtype=object),
            "needs_review": none,
        }
    )


def accessible_format_by_premise(keys: pd.Series, formats: pd.Series) -> pd.Series:
    """Return, per row, the accessible formats anyone at the same premise needs.

    One letter goes to a premise; when anyone living there needs braille or
    large print, the letter to that premise comes in that format too.

    Parameters
    ----------
    keys : Series
        Premise key per customer (blank or missing keys match nothing: such a
        row keeps its own formats).
    formats : Series
        ``;``-separated formats per customer (as from :func:`assess_needs_many`).

    Returns
    -------
    Series
        Same index: the premise's formats in :data:`ACCESSIBLE_FORMATS` order.

    Examples
    --------
    >>> import pandas as pd
    >>> accessible_format_by_premise(
    ...     pd.Series(["P1", "P1", "P2", None]),
    ...     pd.Series(["braille", "large_print", "", "audio"])).tolist()
    ['large_print;braille', 'large_print;braille', '', 'audio']
    """
    # Few customers need a format: sets are built for those rows only, and every row then
    # looks its premise up in one vectorised map (a missing or blank key matches nothing).
    text = formats.astype("str").fillna("")  # (Arrow text throughout: no object copy)
    needs = (text != "").to_numpy()
    # each row's formats as a code into a few distinct texts ("" for most rows), decoded
    # by Arrow at the end: a text column, not a Python string per customer
    code = np.zeros(len(keys), dtype=np.int64)
    words: dict[str, int] = {"": 0}

    def codes_of(values: Any) -> list[int]:
        return [words.setdefault(v, len(words)) for v in values]

    if needs.any():
        need_keys = keys[needs].astype(object)
        usable = np.array([isinstance(k, str) and bool(k.strip()) for k in need_keys])
        own = [{f for f in v.split(";") if f} for v in text[needs]]
        per: dict[str, set[str]] = {}
        for k, fs, ok in zip(need_keys.tolist(), own, usable.tolist(), strict=True):
            if ok:
                per.setdefault(k, set()).update(fs)

        def ordered(fs: set[str]) -> str:
            return ";".join(f for f in ACCESSIBLE_FORMATS if f in fs)

        # rows without a usable key keep their own formats
        code[np.flatnonzero(needs)[~usable]] = codes_of(
            ordered(fs) for fs, ok in zip(own, usable.tolist(), strict=True) if not ok
        )
        premise = pd.Series({k: ordered(fs) for k, fs in per.items()}, dtype=object)
        found = lookup_few(keys, premise)
        hit = np.flatnonzero(pd.notna(found))
        code[hit] = codes_of(found[hit])
    out = from_codes(code, list(words))
    out.index = keys.index
    return out


#: Nominee address columns a copy of a letter to the nominee is sent to (the
#: customer file must give them; the letter's own address columns are replaced).
NOMINEE_ADDRESS_COLUMNS: dict[str, str] = {
    "nominee_address_line_1": "address_line_1",
    "nominee_address_line_2": "address_line_2",
    "nominee_address_line_3": "address_line_3",
    "nominee_post_town": "post_town",
    "nominee_postcode": "postcode",
}


def nominee_copies(letters: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copy letters for the customers' nominees; list the customers whose nominee cannot have one.

    Each letter whose customer has a ``nominee_name`` gets a copy addressed
    to the nominee at the nominee's address (:data:`NOMINEE_ADDRESS_COLUMNS`).
    A nominee without an address line cannot be sent a copy; sending it to the
    customer's address would be a guess, so the customer goes to review
    (``nominee_no_address``).

    Parameters
    ----------
    letters : DataFrame
        One row per letter (e.g. the outage letters), with ``customer_id``,
        ``nominee_name`` and the letter's address columns; optionally
        ``letter_ref`` and the nominee address columns.

    Returns
    -------
    copies : DataFrame
        The letter rows copied, with ``addressee`` = the nominee's name, the
        address columns taken from the nominee's, ``copy_for`` = ``nominee``
        and ``copy_of`` = the original ``letter_ref`` (None without one).
    review : DataFrame
        ``customer_id``, ``issue``, ``detail`` (ids and fixed text only).

    Examples
    --------
    >>> import pandas as pd
    >>> letters = pd.DataFrame({"letter_ref": ["OL-1", "OL-2", "OL-3"],
    ...     "customer_id": ["A", "B", "C"], "nominee_name": ["N. One", "", "N. Three"],
    ...     "address_line_1": ["1 High St", "2 High St", "3 High St"],
    ...     "nominee_address_line_1": ["9 Low Rd", "", ""]})
    >>> copies, review = nominee_copies(letters)
    >>> copies[["copy_of", "addressee", "address_line_1"]]
      copy_of addressee address_line_1
    0    OL-1    N. One       9 Low Rd
    >>> review[["customer_id", "issue"]]
      customer_id               issue
    0           C  nominee_no_address
    """

    def given(col: str) -> pd.Series:
        if col not in letters:
            return pd.Series(False, index=letters.index)
        return known(letters[col])

    named = given("nominee_name")
    has_address = given("nominee_address_line_1")
    copies = letters[named & has_address].copy()
    copies["copy_of"] = pd.Series(
        list(copies["letter_ref"]) if "letter_ref" in copies else [None] * len(copies),
        index=copies.index,
        dtype=object,
    )
    copies["addressee"] = copies["nominee_name"]
    copies["copy_for"] = "nominee"
    for src, dst in NOMINEE_ADDRESS_COLUMNS.items():
        copies[dst] = (
            copies[src] if src in copies else pd.Series(None, index=copies.index, dtype=object)
        )
    review = pd.DataFrame(
        {
            "customer_id": letters.loc[named & ~has_address, "customer_id"],
            "issue": "nominee_no_address",
            "detail": "a nominee is registered but has no address: the copy of the letter "
            "for the nominee cannot be sent",
        },
        columns=["customer_id", "issue", "detail"],
    )
    return copies.reset_index(drop=True), review.reset_index(drop=True)
