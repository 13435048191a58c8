"""UK telephone numbers: parse with ``phonenumbers``, format as a call handler dials them.

Numbers are parsed by Google's libphonenumber (the ``phonenumbers`` port), which
knows the UK numbering plan (area codes of 2 to 5 digits such as 016977
Brampton, 08xx freephone, mobiles, the Crown Dependencies that share +44) and
which ranges are allocated. Only the checks the library cannot make are written
here, each for a stated reason:

* letters are refused. The library reads ``0800 FLOWERS`` as a vanity number;
  in a customer record letters mean a note or a mistake (``n/a``, ``ask son``),
  and a call handler cannot dial a guess. The only words allowed are an
  extension marker (``ext``, ``extn``, ``extension``, ``x``, ``#``, ``;ext=``).
* a number must start with ``0`` (national), ``00`` or ``+`` (international).
  A number without its leading zero is what a spreadsheet makes of
  ``07700 900123``; restoring the zero would be a guess.
* only numbers of the UK plan (country code 44: Great Britain, Northern
  Ireland, the Isle of Man and the Channel Islands) are kept: the call list is
  dialled from a UK call centre in national format.
* Ofcom's drama ranges (:data:`DRAMA_PREFIXES`) are reserved for fiction and
  testing and never reach a subscriber. The library treats some of them as
  unallocated (07700 900xxx, 01632 960xxx) and the others (0161 496 0xxx,
  020 7946 0xxx, ...) as ordinary numbers. They are accepted by default, all
  alike, because test data and the bundled demo use nothing else; pass
  ``accept_drama=False`` on real data to treat them as not dialable.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa

from ._phones_plain import plain_uk_numbers

__all__ = ["DRAMA_PREFIXES", "is_drama_number", "normalise_uk_phone", "normalise_uk_phones"]

#: Ofcom's numbers for drama purposes: the first 7 digits of the 10-digit national
#: significant number (after the leading 0); each prefix covers 1,000 numbers.
#: Source: Ofcom, "Telephone numbers for drama purposes".
DRAMA_PREFIXES: frozenset[str] = frozenset(
    {
        "1134960",  # 0113 496 0xxx Leeds
        "1144960",  # 0114 496 0xxx Sheffield
        "1154960",  # 0115 496 0xxx Nottingham
        "1164960",  # 0116 496 0xxx Leicester
        "1174960",  # 0117 496 0xxx Bristol
        "1184960",  # 0118 496 0xxx Reading
        "1214960",  # 0121 496 0xxx Birmingham
        "1314960",  # 0131 496 0xxx Edinburgh
        "1414960",  # 0141 496 0xxx Glasgow
        "1514960",  # 0151 496 0xxx Liverpool
        "1614960",  # 0161 496 0xxx Manchester
        "1914980",  # 0191 498 0xxx Tyneside
        "2079460",  # 020 7946 0xxx London
        "2896496",  # 028 9649 6xxx Northern Ireland
        "2920180",  # 029 2018 0xxx Cardiff
        "1632960",  # 01632 960xxx no area
        "7700900",  # 07700 900xxx mobile
        "8081570",  # 08081 570xxx freephone
        "9098790",  # 0909 879 0xxx premium rate
        "3069990",  # 03069 990xxx UK-wide
    }
)

# What a number may hold besides digits: spaces, brackets, hyphens, dots, slashes,
# one leading "+" (see the module docstring for why letters are refused).
_NUMBER = re.compile(r"\s*\(?\+?[0-9()\-./\s]*[0-9][0-9()\-./\s]*")
# An extension at the end: "ext 23", "ext. 23", "extn 23", "extension 23", "x23", "#23", ";ext=23"
_EXTENSION = re.compile(
    r"(?:\s*(?:ext(?:n|ension)?\.?|x|#|;\s*ext\s*=)\s*)(?P<ext>[0-9]{1,7})\s*#?\s*",
    re.IGNORECASE,
)


# Longer text (after trimming the padding of fixed-width exports) is no phone number:
# the longest written form with an extension is about 40 characters. The cap also
# keeps the patterns below from backtracking over long text.
_MAX_LENGTH = 64


def _split(text: str) -> tuple[str, str | None] | None:
    """Split ``text`` into number and extension, or None when it holds anything else."""
    text = text.strip()
    if len(text) > _MAX_LENGTH:
        return None
    if _NUMBER.fullmatch(text):
        return text, None
    for m in _EXTENSION.finditer(text):
        if m.end() == len(text) and _NUMBER.fullmatch(text[: m.start()]):
            return text[: m.start()], m.group("ext")
    return None


def _parse(text: str, accept_drama: bool) -> str | None:
    split = _split(text)
    if split is None:
        return None
    number, extension = split
    digits = re.sub(r"[^0-9+]", "", number)
    if not (digits.startswith("+") or digits.startswith("0")):
        return None  # a national number without its 0 (spreadsheet damage): no guessing
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 44:
        return None
    drama = _is_drama(parsed)
    if drama and not accept_drama:
        return None
    if not drama and not phonenumbers.is_valid_number(parsed):
        return None
    parsed.extension = None
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return f"{national} ext. {extension}" if extension else national


def _is_drama(parsed: phonenumbers.PhoneNumber) -> bool:
    nsn = phonenumbers.national_significant_number(parsed)
    return parsed.country_code == 44 and len(nsn) == 10 and nsn[:7] in DRAMA_PREFIXES


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False  # a list or array is not a missing value (and not a number either)


def normalise_uk_phone(value: object, *, accept_drama: bool = True) -> str | None:
    """Return a UK number in national format (``0161 496 0123``), or None if not dialable.

    Parsed with ``phonenumbers`` as a GB number; kept only when the number is
    valid in the UK numbering plan. Accepts spaces, hyphens, dots, brackets,
    ``+44``/``0044`` prefixes, a ``(0)`` after the country code, and an
    extension at the end (``ext 23``, ``x23``, ``#23``), which is kept as
    ``ext. 23``. Letters, numbers without a leading ``0``/``+``, numbers of
    other countries and unallocated ranges give None: a call handler cannot
    dial a guess, and the caller sends the customer to review.

    Parameters
    ----------
    value : object
        The number as held (text); missing values (None, NaN, pd.NA, blank) give None.
    accept_drama : bool, default True
        Accept Ofcom's drama numbers (:data:`DRAMA_PREFIXES`). They reach no
        subscriber; test data and the demo use them. Pass False on real data.

    Returns
    -------
    str or None

    Examples
    --------
    >>> normalise_uk_phone("+44 (0)161-496-0123")
    '0161 496 0123'
    >>> normalise_uk_phone("0044 20 7946 0018")
    '020 7946 0018'
    >>> normalise_uk_phone("016977 3456")
    '016977 3456'
    >>> normalise_uk_phone("08001234567")
    '0800 123 4567'
    >>> normalise_uk_phone("0161 496 0000 ext 23")
    '0161 496 0000 ext. 23'
    >>> normalise_uk_phone("07700900123")
    '07700 900123'
    >>> normalise_uk_phone("07700900123", accept_drama=False) is None
    True
    >>> [normalise_uk_phone(v) for v in ("00000000000", "0161 496 012", "0800 FLOWERS")]
    [None, None, None]
    """
    if _missing(value):
        return None
    text = str(value)
    if not text.strip():
        return None
    return _parse(text, accept_drama)


def is_drama_number(value: object) -> bool:
    """Return True when ``value`` is one of Ofcom's drama numbers (reserved, never in service).

    Useful for a warning such as "N phone numbers are Ofcom drama numbers: is
    this test data?" (a count, never the numbers).

    Parameters
    ----------
    value : object
        The number as held.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_drama_number("01632 960957"), is_drama_number("020 7946 0999")
    (True, True)
    >>> is_drama_number("020 7946 1000")
    False
    """
    if _missing(value):
        return False
    split = _split(str(value))
    if split is None:
        return False
    try:
        return _is_drama(phonenumbers.parse(split[0], "GB"))
    except phonenumbers.NumberParseException:
        return False


def normalise_uk_phones(values: pd.Series, *, accept_drama: bool = True) -> pd.Series:
    """Vectorised :func:`normalise_uk_phone`: each distinct value is decided once.

    Plainly written numbers (digits and the separators space ``( ) - . /``, with
    ``0``, ``+44`` or ``0044`` in front) are decided together, by the library's own
    metadata and rules applied to the whole column with Arrow's regular expressions
    (:mod:`smartstreet_geo.campaign._phones_plain`); every other distinct value
    (extensions, ``(0)``, other countries, text) by :func:`normalise_uk_phone`. The
    answers are the same either way.

    Parameters
    ----------
    values : Series
        Numbers as held.
    accept_drama : bool, default True
        See :func:`normalise_uk_phone`.

    Returns
    -------
    Series
        Object dtype, same index; None where the number is not dialable.

    Examples
    --------
    >>> import pandas as pd
    >>> normalise_uk_phones(pd.Series(["+441614960123", None, "0161 496 012"])).tolist()
    ['0161 496 0123', None, None]
    """
    codes, uniques = pd.factorize(values)  # missing values: code -1
    distinct = np.asarray(uniques, dtype=object)
    answers = np.full(len(distinct) + 1, None, dtype=object)  # the last one: missing
    # plain forms are ASCII (and only text Arrow can hold goes there: no lone surrogates)
    text = np.fromiter(
        (isinstance(v, str) and v.isascii() for v in distinct), dtype=bool, count=len(distinct)
    )
    decided = np.zeros(len(distinct), dtype=bool)
    if text.any():
        rows = np.flatnonzero(text)
        plain, found = plain_uk_numbers(
            pa.array(distinct[rows], type=pa.string()), DRAMA_PREFIXES, accept_drama=accept_drama
        )
        answers[rows[plain]] = found[plain]
        decided[rows[plain]] = True
    for i in np.flatnonzero(~decided).tolist():  # the rest: one library call per value
        answers[i] = normalise_uk_phone(distinct[i], accept_drama=accept_drama)
    out = answers[codes]  # code -1 takes the last entry, None
    return pd.Series(out, index=values.index, dtype=object, name=values.name)
