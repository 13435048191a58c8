"""Match a file's column names to the canonical ones, and account for every column.

Column names are shown in messages, summaries and on the console. In a file
without a header line the "names" are the first customer's name, address and
phone number, so a name is shown only when the header does not look like a
data row (see :func:`header_looks_like_data`); otherwise a column is shown as
``column 3 (28 characters)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ColumnMappingError

if TYPE_CHECKING:
    from ._files import Source

__all__ = ["ALIASES", "ColumnPlan", "column_labels", "header_looks_like_data", "resolve_columns"]

#: Unambiguous alternative names seen in DNO and CRM exports (after normalising: lower
#: case, runs of anything but letters and digits as one underscore). An alias is added only
#: when the name cannot mean anything else: ``premise_ref``, ``mobile`` or ``contact_number``
#: are *not* aliases (a reference may not be the premise key; a second number may be a
#: nominee's) - they are listed as columns not used, for the analyst to map.
ALIASES: Mapping[str, str] = {
    "mpan": "customer_id",
    "mpan_core": "customer_id",
    "uprn": "premise_id",
    "premise": "premise_id",
    "postcode": "postcode",
    "post_code": "postcode",
    "town": "post_town",
    "postal_town": "post_town",
    "customer_name": "name",
    **{
        f"{stem}{sep}{i}": f"address_line_{i}"
        for i in (1, 2, 3)
        for stem in ("address", "address_line", "addr", "addr_line")
        for sep in ("", "_")
    },
    "telephone": "phone",
    "telephone_number": "phone",
    "tel": "phone",
    "tel_no": "phone",
    "phone_number": "phone",
    "phone_no": "phone",
    "eastings": "easting",
    "northings": "northing",
    "lat": "latitude",
    "lon": "longitude",
    "lng": "longitude",
    "long": "longitude",
    "feeder_id": "circuit_id",
    "asset_id": "equipment_id",
    "equipment_kind": "kind",
    "equipment_type": "kind",
    "wkt": "geometry",
    "geom": "geometry",
}

_NON_WORD = re.compile(r"[^0-9a-z]+")
# what a data value looks like, never a column name: a number, a UK postcode, an e-mail
# address, a run of digits (phone numbers, MPANs, UPRNs, dates), a control character
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}$", re.IGNORECASE)
_DIGITS = re.compile(r"\d")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LONGEST_NAME = 64


def normalise(name: str) -> str:
    """Return the form names are compared in: lower case, ``_`` for any other characters."""
    return _NON_WORD.sub("_", str(name).strip().lstrip("\ufeff").lower()).strip("_")


def _looks_like_value(name: str) -> bool:
    text = str(name).strip().lstrip("\ufeff")
    if not text:
        return False
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        pass
    return (
        bool(_POSTCODE.match(text))
        or "@" in text
        or len(_DIGITS.findall(text)) >= 4
        or len(text) > _LONGEST_NAME
        or bool(_CONTROL.search(text))
    )


def header_looks_like_data(names: Iterable[str]) -> bool:
    """Whether any name in a header line looks like a data value (a file without a header).

    Then none of its names is shown anywhere: the "names" are a customer's data.
    """
    return any(_looks_like_value(n) for n in names)


def column_labels(names: Sequence[str], known: Iterable[str] = ()) -> list[str]:
    """Return how to show each column in messages: its name, or its position and length.

    A name is shown (quoted) unless it, or any other name in the header, looks like
    a data value; names in ``known`` (names smartstreet-geo recognised, or that the
    caller mapped) are always shown. A column without a name is ``column N (no name)``.
    """
    hide = header_looks_like_data(names)
    known_set = set(known)
    out = []
    for i, name in enumerate(names):
        text = str(name)
        if not text.strip():
            out.append(f"column {i + 1} (no name)")
        elif (hide and text not in known_set) or _looks_like_value(text):
            out.append(f"column {i + 1} ({len(text)} character{'s' * (len(text) != 1)})")
        else:
            out.append(repr(text))
    return out


@dataclass(frozen=True)
class ColumnPlan:
    """Which file columns are read as which canonical columns, and which are not read.

    Attributes
    ----------
    present : tuple of str
        Every file column, in file order (a name may repeat if it is not read).
    used : dict
        ``{file column: canonical column}``, in file order.
    labels : tuple of str
        How to show each file column without showing data (see :func:`column_labels`).
    """

    present: tuple[str, ...]
    used: dict[str, str]
    labels: tuple[str, ...]

    @property
    def unused(self) -> tuple[str, ...]:
        """File columns not read, in file order."""
        return tuple(c for c in self.present if c not in self.used)

    @property
    def unused_labels(self) -> tuple[str, ...]:
        """How to show each of :attr:`unused`."""
        return tuple(
            lab for c, lab in zip(self.present, self.labels, strict=True) if c not in self.used
        )

    def without(self, names: Iterable[str]) -> ColumnPlan:
        """Return the plan with ``names`` moved from used to unused."""
        drop = set(names)
        used = {k: v for k, v in self.used.items() if k not in drop}
        return ColumnPlan(self.present, used, self.labels)


def resolve_columns(
    present: Iterable[str],
    wanted: Iterable[str],
    mapping: Mapping[str, str] | None,
    *,
    source: Path | Source,
) -> ColumnPlan:
    """Decide which file column is read as which canonical column.

    An explicit ``mapping`` (file column -> canonical) wins; other columns match
    their canonical name case-insensitively (spaces, hyphens and dots counting
    as underscores) or a well-known alias (``MPAN`` -> ``customer_id``). Every
    other column is listed in :attr:`ColumnPlan.unused`.

    Raises
    ------
    ColumnMappingError
        The mapping names a column the file lacks (or has twice) or a canonical
        name not read here, maps two columns to one name, or two file columns
        would both be read as one canonical column (``Phone`` and ``Telephone``,
        or the same name twice).
    """
    present = [str(c) for c in present]
    wanted_set = set(wanted)
    mapping = dict(mapping or {})
    targets: list[str | None] = []
    for col in present:
        if col in mapping:
            targets.append(None)  # decided below
            continue
        norm = normalise(col)
        target = norm if norm in wanted_set else ALIASES.get(norm)
        targets.append(target if target in wanted_set else None)
    known = [c for c, t in zip(present, targets, strict=True) if t is not None] + list(mapping)
    labels = column_labels(present, known)

    def shown(i: int) -> str:
        return labels[i] if labels[i].startswith("column ") else f"column {i + 1} ({labels[i]})"

    all_shown = ", ".join(labels)
    used: dict[str, str] = {}
    by_target: dict[str, int] = {}
    for src, dst in mapping.items():
        where = [i for i, c in enumerate(present) if c == src]
        if not where:
            raise ColumnMappingError(
                f"{source}: the column mapping names {src!r}, which is not in the file. "
                f"Columns in the file: {all_shown}."
            )
        if len(where) > 1:
            positions = ", ".join(str(i + 1) for i in where)
            raise ColumnMappingError(
                f"{source}: the column mapping names {src!r}, but the file has "
                f"{len(where)} columns of that name (columns {positions}); rename one of them "
                "and re-run."
            )
        if dst not in wanted_set:
            raise ColumnMappingError(
                f"{source}: the column mapping maps {src!r} to {dst!r}, which is not a "
                "column smartstreet-geo uses here. Use one of: "
                f"{', '.join(sorted(wanted_set))}."
            )
        if dst in by_target:
            other = present[by_target[dst]]
            raise ColumnMappingError(
                f"{source}: the column mapping maps both {other!r} and {src!r} to {dst!r}; "
                "map only one of them."
            )
        used[src] = dst
        by_target[dst] = where[0]
    mapped_targets = set(mapping.values())
    for i, (col, target) in enumerate(zip(present, targets, strict=True)):
        if target is None or col in mapping or target in mapped_targets:
            continue  # an explicit mapping chose another column for this name: not read
        if target in by_target:
            j = by_target[target]
            if normalise(present[j]) == normalise(col):
                what = f"have the same name ({target!r} once normalised)"
                fix = "Rename or drop one of them and re-run."
            else:
                what = f"both mean {target!r}"
                fix = (
                    "Rename or drop one, or say which to read with a column mapping, e.g. "
                    f"columns={{{col!r}: {target!r}}} (CLI: --map KIND:{col}={target})."
                )
            raise ColumnMappingError(
                f"{source}: {shown(j)} and {shown(i)} {what}; smartstreet-geo does not choose. "
                + fix
            )
        used[col] = target
        by_target[target] = i
    used = {c: used[c] for c in present if c in used}  # file order
    return ColumnPlan(tuple(present), used, tuple(labels))
