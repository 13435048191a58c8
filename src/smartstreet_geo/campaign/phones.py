"""UK telephone numbers: normalise to the national format a call handler dials."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["normalise_uk_phone", "normalise_uk_phones"]

_STRIP = re.compile(r"[\s\-().]")


def normalise_uk_phone(value: object) -> str | None:
    """Return a UK number in national format (``0161 496 0123``), or None if unusable.

    Accepts the forms seen in customer systems: spaces, hyphens, brackets,
    ``+44``/``0044`` prefixes, a ``(0)`` after the country code. Numbers that
    are not 10 or 11 national digits starting with 0 (after the prefix) are
    unusable: a call handler cannot dial a guess.

    Parameters
    ----------
    value : object
        The number as held (text); missing values give None.

    Returns
    -------
    str or None

    Examples
    --------
    >>> normalise_uk_phone("+44 (0)161-496-0123")
    '0161 496 0123'
    >>> normalise_uk_phone("07700900123")
    '07700 900123'
    >>> normalise_uk_phone("020 7946 0018")
    '020 7946 0018'
    >>> normalise_uk_phone("01632 960 957")
    '01632 960957'
    >>> normalise_uk_phone("12345") is None
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = _STRIP.sub("", str(value))
    if not text:
        return None
    text = text.replace("+44(0)", "0").replace("+440", "0")
    if text.startswith("+44"):
        text = "0" + text[3:]
    elif text.startswith("0044"):
        text = "0" + text[4:]
    if not text.isdigit() or not text.startswith("0") or len(text) not in (10, 11):
        return None
    if text.startswith("02") and len(text) == 11:
        return f"{text[:3]} {text[3:7]} {text[7:]}"
    if (
        text.startswith("011") or text[:4] in {"0121", "0131", "0141", "0151", "0161", "0191"}
    ) and len(text) == 11:
        return f"{text[:4]} {text[4:7]} {text[7:]}"
    if len(text) == 11:
        return f"{text[:5]} {text[5:]}"
    return f"{text[:5]} {text[5:]}"  # 10-digit numbers (some small exchanges)


def normalise_uk_phones(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_uk_phone` over a Series (None where unusable)."""
    return (
        values.map(normalise_uk_phone, na_action="ignore")
        .astype(object)
        .where(values.notna(), None)
    )
