"""Many plainly written UK numbers at once: phonenumbers' own metadata and rules, run by RE2.

``phonenumbers`` parses, validates and formats one number per Python call, about
45 µs each: nothing on the demo, but 1.6 s for the 34,000 distinct numbers of the
PSR customers an outage affects in a licence area of 2.4 million customers, and
twice that at 5 million. No maintained library formats a column of numbers at
once, so this module applies the library's own algorithm to a whole array:

* the same metadata, read from ``phonenumbers`` at run time (so a new release of
  the numbering plan reaches both paths alike): the regions that share +44 in the
  library's order, each number type's pattern and possible lengths, and the
  national formats with their leading-digit patterns and national-prefix rule;
* the same steps as ``parse``, ``is_valid_number`` (``_region_code_for_number_from_list``,
  ``_number_type_helper``) and ``format_number(..., NATIONAL)``;
* each regular expression evaluated over the whole array by Arrow's RE2, the
  engine libphonenumber's C++ uses (the metadata's patterns are written for it).

It decides only the plain written forms: digits with the separators space, ``(``,
``)``, ``-``, ``.`` and ``/``, being a national number with its ``0``, or ``+44`` or
``0044`` before a national number without it, of a length the UK plan allows.
Anything else (extensions, ``(0)`` after the country code, other countries,
Unicode spaces, text) is left undecided, for ``phonenumbers`` one value at a time.
``tests/test_phones_calls.py`` checks this path against the library on every
four-digit prefix of the UK plan, in the written forms above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata

__all__ = ["plain_uk_numbers"]

_COUNTRY_CODE = 44
# phones._NUMBER restricted to ASCII spaces (no tabs, no Unicode spaces: those are
# left to the library, whose stripping of them this module does not copy)
_PLAIN = r"^\(?\+?[0-9()\-./ ]*[0-9][0-9()\-./ ]*$"
# the national number: after the national prefix 0, or after +44 / 0044 (then no 0)
_NATIONAL = r"^(?:0|\+44|0044)([1-9][0-9]*)$"
# the number-type descriptions _number_type_helper reads, in its order
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
# phonenumbers' _FIRST_GROUP_PATTERN: the first "\1" of a format, where the national
# prefix formatting rule goes
_FIRST_GROUP = re.compile(r"(\\\d)")


@dataclass(frozen=True)
class _Desc:
    """One number description: a pattern and the lengths it allows (empty: any)."""

    pattern: str
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class _Region:
    """What ``_region_code_for_number_from_list`` and ``_number_type_helper`` read."""

    leading_digits: str | None
    general: _Desc | None
    types: tuple[_Desc | None, ...]  # in _TYPES order
    same_mobile_and_fixed_line: bool


@dataclass(frozen=True)
class _Format:
    """One national format: leading digits, the pattern and its replacement."""

    leading_digits: str | None
    pattern: str
    rule: str


@dataclass(frozen=True)
class _Plan:
    regions: tuple[_Region, ...]
    formats: tuple[_Format, ...]
    national_prefix_for_parsing: str | None
    national_lengths: tuple[int, ...]


def _desc(d: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
    if d is None or not d.national_number_pattern:
        return None  # _match_national_number: no pattern matches nothing
    return _Desc(d.national_number_pattern, tuple(d.possible_length or ()))


@cache
def _plan() -> _Plan | None:
    """Read the library's metadata for +44 once; None if it is not as this module expects."""
    regions = []
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[_COUNTRY_CODE]:
        m = PhoneMetadata.metadata_for_region(code.upper(), None)
        if m is None:
            continue
        regions.append(
            _Region(
                m.leading_digits,
                _desc(m.general_desc),
                tuple(_desc(getattr(m, t)) for t in _TYPES),
                bool(m.same_mobile_and_fixed_line_pattern),
            )
        )
    main = PhoneMetadata.metadata_for_region(
        phonenumbers.region_code_for_country_code(_COUNTRY_CODE), None
    )
    if main is None:
        return None
    formats = []
    for f in main.number_format:
        if f.pattern is None or f.format is None:
            return None  # the library would fail on such a format: leave every number to it
        rule = f.format
        if f.national_prefix_formatting_rule:  # as _format_nsn_using_pattern for NATIONAL
            rule = _FIRST_GROUP.sub(f.national_prefix_formatting_rule, rule, count=1)
        lead = f.leading_digits_pattern[-1] if f.leading_digits_pattern else None
        formats.append(_Format(lead, f.pattern, rule))
    general = main.general_desc
    return _Plan(
        tuple(regions),
        tuple(formats),
        main.national_prefix_for_parsing,
        tuple(general.possible_length or ()) if general is not None else (),
    )


def _full(nsn: pa.Array, pattern: str) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.match_substring_regex(nsn, f"^(?:{pattern})$"), dtype=bool)


def _starts(nsn: pa.Array, pattern: str) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.match_substring_regex(nsn, f"^(?:{pattern})"), dtype=bool)


def _matches_desc(
    nsn: pa.Array, length: npt.NDArray[np.int64], d: _Desc | None
) -> npt.NDArray[np.bool_]:
    """``_is_number_matching_desc`` for every number."""
    if d is None:
        return np.zeros(len(nsn), dtype=bool)
    ok = np.isin(length, d.lengths) if d.lengths else np.ones(len(nsn), dtype=bool)
    return ok & _full(nsn, d.pattern)


def _known_type(nsn: pa.Array, length: npt.NDArray[np.int64], r: _Region) -> npt.NDArray[np.bool_]:
    """``_number_type_helper(...) != UNKNOWN`` for every number."""
    known = np.zeros(len(nsn), dtype=bool)
    *others, fixed, mobile = r.types
    for d in others:
        known |= _matches_desc(nsn, length, d)
    known |= _matches_desc(nsn, length, fixed)
    if not r.same_mobile_and_fixed_line:
        known |= _matches_desc(nsn, length, mobile)
    return known & _matches_desc(nsn, length, r.general)


def _valid(nsn: pa.Array, length: npt.NDArray[np.int64], plan: _Plan) -> npt.NDArray[np.bool_]:
    """``is_valid_number``: the first region of the list that claims a number decides."""
    valid = np.zeros(len(nsn), dtype=bool)
    open_ = np.ones(len(nsn), dtype=bool)
    for r in plan.regions:
        if r.leading_digits is not None:
            claimed = open_ & _starts(nsn, r.leading_digits)
            valid |= claimed & _known_type(nsn, length, r)
        else:
            claimed = open_ & _known_type(nsn, length, r)
            valid |= claimed
        open_ &= ~claimed
    return valid


def _national_format(nsn: pa.Array, plan: _Plan) -> npt.NDArray[np.object_]:
    """``format_number(..., NATIONAL)``: the first format whose digits match, else the NSN."""
    out = np.asarray(nsn.to_pylist(), dtype=object)
    open_ = np.ones(len(nsn), dtype=bool)
    for f in plan.formats:
        hit = open_ & _full(nsn, f.pattern)
        if f.leading_digits is not None:
            hit &= _starts(nsn, f.leading_digits)
        if hit.any():
            rows = np.flatnonzero(hit)
            done = pc.replace_substring_regex(nsn.take(pa.array(rows)), f.pattern, f.rule)
            out[rows] = done.to_pylist()
        open_ &= ~hit
    return out


def plain_uk_numbers(
    texts: pa.Array, drama_prefixes: frozenset[str], *, accept_drama: bool
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Decide the plainly written numbers of ``texts`` as ``phones._parse`` would.

    Parameters
    ----------
    texts : pyarrow.Array
        Text values (string type), none missing.
    drama_prefixes : frozenset of str
        Ofcom's drama prefixes (``phones.DRAMA_PREFIXES``).
    accept_drama : bool
        As :func:`~smartstreet_geo.campaign.phones.normalise_uk_phone`.

    Returns
    -------
    decided : ndarray of bool
        Where this path gave the answer; the rest is for ``phonenumbers``.
    result : ndarray of object
        The number in national format, or None (not dialable), where decided.
    """
    n = len(texts)
    result = np.full(n, None, dtype=object)
    plan = _plan()
    if plan is None:
        return np.zeros(n, dtype=bool), result
    trimmed = pc.utf8_trim(texts, " ")
    plain = np.asarray(pc.match_substring_regex(trimmed, _PLAIN), dtype=bool)
    plain &= np.asarray(pc.utf8_length(trimmed), dtype=np.int64) <= 64  # phones._MAX_LENGTH
    digits = pc.replace_substring_regex(trimmed, r"[^0-9+]", "")
    plain &= np.asarray(pc.match_substring_regex(digits, _NATIONAL), dtype=bool)
    rows = np.flatnonzero(plain)
    nsn = pc.replace_substring_regex(digits.take(pa.array(rows)), _NATIONAL, r"\1")
    length = np.asarray(pc.utf8_length(nsn), dtype=np.int64)
    # parse keeps the national number as written only at a length the plan allows and
    # where the national prefix pattern (0|180020 for GB) finds nothing more to strip
    keep = np.isin(length, plan.national_lengths)
    if plan.national_prefix_for_parsing:
        keep &= ~_starts(nsn, plan.national_prefix_for_parsing)
    rows, nsn, length = rows[keep], nsn.filter(pa.array(keep)), length[keep]
    drama = (length == 10) & np.asarray(
        pc.is_in(pc.utf8_slice_codeunits(nsn, 0, 7), value_set=pa.array(sorted(drama_prefixes))),
        dtype=bool,
    )
    dialable = np.where(drama, accept_drama, _valid(nsn, length, plan))
    if dialable.any():
        formatted = _national_format(nsn.filter(pa.array(dialable)), plan)
        result[rows[dialable]] = formatted
    decided = np.zeros(n, dtype=bool)
    decided[rows] = True
    return decided, result
