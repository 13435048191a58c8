"""Match a file's column names to the canonical ones."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ColumnMappingError

__all__ = ["resolve_columns"]

#: Unambiguous alternative names seen in DNO and CRM exports (after normalising).
ALIASES: Mapping[str, str] = {
    "mpan": "customer_id",
    "mpan_core": "customer_id",
    "uprn": "premise_id",
    "premise": "premise_id",
    "postcode": "postcode",
    "post_code": "postcode",
    "town": "post_town",
    "address_1": "address_line_1",
    "address_2": "address_line_2",
    "address_3": "address_line_3",
    "address1": "address_line_1",
    "address2": "address_line_2",
    "address3": "address_line_3",
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


def _normalise(name: str) -> str:
    return _NON_WORD.sub("_", name.strip().lstrip("\ufeff").lower()).strip("_")


def resolve_columns(
    present: Iterable[str],
    wanted: Iterable[str],
    mapping: Mapping[str, str] | None,
    *,
    source: Path,
) -> dict[str, str]:
    """Return ``{file column: canonical column}`` for the columns we use.

    An explicit ``mapping`` (file column -> canonical) wins; other columns match
    their canonical name case-insensitively (spaces, hyphens and dots counting
    as underscores) or a well-known alias (``MPAN`` -> ``customer_id``).
    Columns that match nothing are not read.
    """
    present = list(present)
    wanted_set = set(wanted)
    result: dict[str, str] = {}
    if mapping:
        for src, dst in mapping.items():
            if src not in present:
                raise ColumnMappingError(
                    f"{source}: the column mapping names {src!r}, which is not in the file. "
                    f"Columns in the file: {', '.join(map(repr, present))}."
                )
            if dst not in wanted_set:
                raise ColumnMappingError(
                    f"{source}: the column mapping maps {src!r} to {dst!r}, which is not a "
                    "column smartstreet-geo uses here. Use one of: "
                    f"{', '.join(sorted(wanted_set))}."
                )
            result[src] = dst
    taken = set(result.values())
    for col in present:
        if col in result:
            continue
        norm = _normalise(col)
        target = norm if norm in wanted_set else ALIASES.get(norm)
        if target is None or target not in wanted_set or target in taken:
            if target is not None and target in taken and target not in (mapping or {}).values():
                others = [s for s, d in result.items() if d == target]
                raise ColumnMappingError(
                    f"{source}: columns {others[0]!r} and {col!r} both mean {target!r}. "
                    f"Say which to use with a column mapping, e.g. columns={{{col!r}: {target!r}}} "
                    "(or drop one)."
                )
            continue
        result[col] = target
        taken.add(target)
    return result
