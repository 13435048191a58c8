"""Side files of a campaign: opted-out customers and the contact history of earlier runs.

Their ``customer_id`` values are matched against the customer file's after the
same normalisation (:func:`smartstreet_geo.io._fields.clean_text`: outer
whitespace stripped, inner runs made one space, blanks missing) and the same
header matching (``MPAN`` means ``customer_id``). A spreadsheet that saved the
ids as numbers is repaired where that is exact and refused where it is not:

* ``1652199544894.0`` is the integer 1652199544894 -> ``"1652199544894"``;
* ``1.652199544894E+12`` shows every digit -> ``"1652199544894"``;
* ``1.652200E+12`` shows 7 of 13 digits: the others are lost, so the row is
  *unusable* and reported, never silently matching nobody.

An id that matches a customer exactly as written is never changed. Ids that
match no customer are returned so that the run can say how many there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import InputFileError, MissingColumnError
from ..io._columns import resolve_columns
from ..io._fields import clean_text
from ..io._files import Source, load_table
from ..schema import CUSTOMER_ID

__all__ = ["SideIds", "normalise_side_ids", "read_history", "read_opted_out", "read_side_ids"]

# A number as a spreadsheet writes it: digits with a ".0..." fraction, or scientific notation.
_WHOLE_WITH_FRACTION = re.compile(r"(\d+)\.0+")
_SCIENTIFIC = re.compile(r"(\d+)(?:\.(\d*))?[eE][+]?(\d+)")
#: Unusable rows named in a message (the rest are counted).
_SHOW_ROWS = 10


@dataclass(frozen=True)
class SideIds:
    """Ids read from a side file, normalised like the customer file's.

    Attributes
    ----------
    path : Path
        The file read.
    what : str
        What the file is, for messages ("opted-out", "contact history").
    table : DataFrame
        The usable rows: ``customer_id`` (normalised) and the other columns
        asked for, as text ("" where blank), in file order.
    n_rows : int
        Data rows in the file.
    n_blank : int
        Rows without an id (not in :attr:`table`).
    unusable_rows : tuple of int
        1-based data rows whose id a spreadsheet shortened (``1.652200E+12``)
        or wrote as a number that is not a whole number (not in :attr:`table`).
    n_repaired : int
        Ids written as numbers that were repaired exactly (``1652199544894.0``).
    unmatched : tuple of str
        Distinct normalised ids that match no customer, sorted.
    """

    path: Path | Source
    what: str
    table: pd.DataFrame = field(repr=False)
    n_rows: int
    n_blank: int
    unusable_rows: tuple[int, ...]
    n_repaired: int
    unmatched: tuple[str, ...] = field(repr=False)

    @property
    def ids(self) -> frozenset[str]:
        """Return the distinct usable ids."""
        return frozenset(self.table[CUSTOMER_ID])

    @property
    def n_unusable(self) -> int:
        """Return the number of rows whose id is unusable."""
        return len(self.unusable_rows)

    def warnings(self) -> list[str]:
        """Return one line per thing the analyst should know (counts and row numbers only)."""
        out = []
        name = self.path.name
        if self.unusable_rows:
            out.append(f"{name}: {self._unusable_text()}")
        if self.n_blank:
            out.append(f"{name}: {self.n_blank} {self.what} rows have no customer_id (ignored)")
        if self.unmatched:
            out.append(
                f"{len(self.unmatched)} {self.what} ids match no customer in the customer file"
            )
        return out

    def _unusable_text(self) -> str:
        rows = ", ".join(str(r) for r in self.unusable_rows[:_SHOW_ROWS])
        more = f" and {self.n_unusable - _SHOW_ROWS} more" if self.n_unusable > _SHOW_ROWS else ""
        return (
            f"{self.n_unusable} {self.what} ids were saved by a spreadsheet as shortened numbers "
            f"(like 1.652200E+12) and cannot be matched to a customer: rows {rows}{more}. "
            "Re-export the file with the customer_id column formatted as text"
        )


def normalise_side_ids(
    ids: pd.Series, customer_ids: Iterable[str]
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Normalise side-file ids like the customer file's; repair spreadsheet numbers when exact.

    Parameters
    ----------
    ids : Series
        Raw ids as read (text or numbers).
    customer_ids : iterable of str
        The customer file's ids: an id equal to one of them is kept as written.

    Returns
    -------
    (ids, unusable, repaired) : Series of str, Series of bool, Series of bool
        Normalised ids (missing where blank or unusable); where a number lost
        digits or is not whole; where a number was repaired.

    Examples
    --------
    >>> raw = pd.Series(["1652199544894.0", " 1.652199544894E+12", "1.652200E+12", "A-7", ""])
    >>> ids, unusable, repaired = normalise_side_ids(raw, [])
    >>> ids.tolist()
    ['1652199544894', '1652199544894', nan, 'A-7', nan]
    >>> unusable.tolist(), repaired.tolist()
    ([False, False, True, False, False], [True, True, False, False, False])
    """
    text = clean_text(ids.reset_index(drop=True))
    known = set(customer_ids)
    looks_numeric = text.str.fullmatch(r"\d+(?:\.\d*)?(?:[eE]\+?\d+)?", na=False)
    digits_only = text.str.fullmatch(r"\d+", na=False)
    candidates = pd.unique(text[(looks_numeric & ~digits_only).to_numpy()])
    # one call per distinct value (a handful in a real file), then one vectorised map
    fixes = {str(v): _exact_integer(str(v)) for v in candidates if v not in known}
    hit = text.isin(list(fixes)).fillna(False).to_numpy()
    fixed = pd.Series(pd.array([fixes[v] for v in text[hit]], dtype="str"), index=text.index[hit])
    unusable = pd.Series(False, index=text.index)
    unusable[hit] = fixed.isna().to_numpy()
    repaired = pd.Series(False, index=text.index)
    repaired[hit] = fixed.notna().to_numpy()
    out = text.copy()
    out[hit] = fixed
    return out, unusable, repaired


def _exact_integer(text: str) -> str | None:
    """Return the whole number a spreadsheet wrote, when every digit is there; else None.

    Hand-written because no library says whether a number in scientific notation
    still carries all its digits: ``1.652199544894E+12`` does (13 digits shown
    for a 13-digit number), ``1.652200E+12`` does not.

    Examples
    --------
    >>> _exact_integer("1652199544894.0"), _exact_integer("1.652199544894E+12")
    ('1652199544894', '1652199544894')
    >>> _exact_integer("1.652200E+12") is None, _exact_integer("12.5") is None
    (True, True)
    """
    m = _WHOLE_WITH_FRACTION.fullmatch(text)
    if m:
        return m.group(1)
    m = _SCIENTIFIC.fullmatch(text)
    if not m:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        return None
    if value != value.to_integral_value():
        return None
    whole = str(int(value))
    shown = (m.group(1) + (m.group(2) or "")).lstrip("0")
    return whole if len(shown) >= len(whole) else None


def read_side_ids(
    path: str | Path,
    what: str,
    customer_ids: Iterable[str],
    *,
    required: Sequence[str] = (CUSTOMER_ID,),
    optional: Sequence[str] = (),
    encoding: str | None = None,
    on_unusable: Literal["error", "warn"] = "error",
) -> SideIds:
    """Read a side file's ids, normalised like the customer file's.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or any format :mod:`smartstreet_geo.io` reads.
    what : str
        What the file is, for messages ("opted-out").
    customer_ids : iterable of str
        Every customer id of the customer file (valid and rejected rows), as read.
    required, optional : sequence of str
        Columns to return (``customer_id`` first); headers are matched like the
        customer file's (case, spaces, aliases such as ``MPAN``).
    encoding : str, optional
        Text encoding of a CSV file.
    on_unusable : {"error", "warn"}
        What an unusable id does: raise, or be counted in :meth:`SideIds.warnings`.

    Returns
    -------
    SideIds

    Raises
    ------
    InputFileError
        The file cannot be read, lacks a required column, or (``on_unusable="error"``)
        holds ids that cannot be matched.
    """
    raw = load_table(path, encoding=encoding)
    wanted = [*required, *[c for c in optional if c not in required]]
    plan = resolve_columns(raw.frame.columns, wanted, None, source=raw.path)
    names = {canon: src for src, canon in plan.used.items()}
    missing = [c for c in required if c not in names]
    if missing:
        raise MissingColumnError(
            f"{raw.path}: the {what} file needs column(s) {', '.join(missing)}. Columns in the "
            f"file: {', '.join(map(repr, raw.frame.columns))}."
        )
    customers = customer_ids if isinstance(customer_ids, set) else set(customer_ids)
    n = len(raw.frame)
    ids, unusable, repaired = normalise_side_ids(raw.frame[names[CUSTOMER_ID]], customers)
    table = pd.DataFrame({CUSTOMER_ID: ids})
    for col in wanted[1:]:
        if col in names:
            table[col] = clean_text(raw.frame[names[col]].reset_index(drop=True)).fillna("")
    blank = ids.isna() & ~unusable
    usable = table[ids.notna()].reset_index(drop=True)
    unmatched = sorted(set(usable[CUSTOMER_ID]) - customers)
    result = SideIds(
        path=raw.path,
        what=what,
        table=usable,
        n_rows=n,
        n_blank=int(blank.sum()),
        unusable_rows=tuple(int(i) + 1 for i in unusable[unusable].index),
        n_repaired=int(repaired.sum()),
        unmatched=tuple(unmatched),
    )
    if result.unusable_rows and on_unusable == "error":
        raise InputFileError(f"{raw.path}: {result._unusable_text()}.")
    return result


def read_opted_out(
    path: str | Path, customer_ids: Iterable[str], *, encoding: str | None = None
) -> SideIds:
    """Read the opted-out customers (``[suppression] opted_out``).

    An unusable id is an error: the customer behind it could not be kept off
    the letters they opted out of.
    """
    return read_side_ids(path, "opted-out", customer_ids, encoding=encoding, on_unusable="error")


def read_history(
    path: str | Path, customer_ids: Iterable[str], *, encoding: str | None = None
) -> SideIds:
    """Read the contact history of an earlier run (``[suppression] history``).

    Columns ``customer_id`` and ``campaign`` are required, ``equipment_ids``
    is kept when present. An unusable id is a warning (at worst a letter is
    sent again), listed in :meth:`SideIds.warnings`.
    """
    return read_side_ids(
        path,
        "contact history",
        customer_ids,
        required=(CUSTOMER_ID, "campaign"),
        optional=("equipment_ids",),
        encoding=encoding,
        on_unusable="warn",
    )
