"""Priority Services Register needs codes: the table is data, the rules are here.

``psr_needs`` holds ``;``-separated codes; a temporary code carries its expiry
as ``code@YYYY-MM-DD`` (e.g. ``32@2027-06-25``). A code not in the table, or a
temporary code expired on the run date, sends the customer to manual review:
a person checks the register before anyone relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from ..errors import InputFileError

__all__ = ["NeedsAssessment", "NeedsTable", "assess_needs", "load_needs_table"]


@dataclass(frozen=True)
class NeedsTable:
    """The PSR needs-code table: code -> description, temporary, medically dependent."""

    table: pd.DataFrame  # indexed by two-digit code

    def describe(self, code: str) -> str:
        """Return the description of a known code."""
        return str(self.table.at[code, "description"])


def load_needs_table(path: str | Path) -> NeedsTable:
    """Read a PSR needs-code table.

    The CSV has ``code``, ``description``, ``temporary`` and ``medically_dependent``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    NeedsTable

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> t = load_needs_table(demo.path("psr_needs_codes"))
    >>> t.describe("04")
    'Oxygen concentrator'
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
    for col in ("temporary", "medically_dependent"):
        df[col] = (
            df.get(col, pd.Series("false", index=df.index))
            .str.strip()
            .str.lower()
            .isin({"true", "yes", "y", "1"})
        )
    if df["code"].duplicated().any():
        dup = df.loc[df["code"].duplicated(), "code"].iloc[0]
        raise InputFileError(f"{p}: PSR needs code {dup!r} appears twice.")
    return NeedsTable(df.set_index("code"))


@dataclass(frozen=True)
class NeedsAssessment:
    """What the register says about one customer, for a call handler."""

    valid: tuple[str, ...]
    unknown: tuple[str, ...]
    expired: tuple[str, ...]
    medically_dependent: bool
    summary: str  # descriptions of the valid codes, for the call handler

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
    """
    valid: list[str] = []
    unknown: list[str] = []
    expired: list[str] = []
    # a blank cell arrives as None, NaN or pd.NA: no codes, not an error
    text = codes if isinstance(codes, str) else ""
    for raw in text.split(";"):
        raw = raw.strip()
        if not raw:
            continue
        code, _, until = raw.partition("@")
        code = code.strip().zfill(2)
        if code not in table.table.index:
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
    med = any(bool(table.table.at[c, "medically_dependent"]) for c in valid)
    summary = "; ".join(table.describe(c) for c in valid)
    return NeedsAssessment(tuple(valid), tuple(unknown), tuple(expired), med, summary)
