"""Equipment layers: one canvas layer per kind (icons, radius circles, zones), searchable ids.

Equipment is drawn like the customers: straight onto canvas tiles by the
page script (``SSG.equipment``), not as one DOM marker and one circle per
item, so that a licence area's 10,000 items pan and zoom as fast as a town's.
Icons that would overlap at low zoom are drawn once per 28-pixel square with
the number they stand for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import ParameterError
from ..schema import (
    CIRCUIT_ID,
    DEFAULT_RADII_M,
    EQUIPMENT_ID,
    INSTALL_DATE,
    KIND,
    OUTAGE_REQUIRED,
    SUBSTATION_ID,
)
from ._encode import SCALE, quantise
from ._page import (
    EQUIPMENT_MAP_COLUMNS,
    N_WITHIN_COLUMN,
    RADIUS_COLUMN,
    Page,
    as_text,
    parts_by_owner,
    positions,
)
from ._style import EQUIPMENT_STYLES, equipment_style, icon_uri

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["add_equipment"]


def _radii(equipment: pd.DataFrame, radii: float | Mapping[str, float] | None) -> Any:
    """Radius of each item in metres (NaN: none): ``radii``, else ``radius_m``, else defaults."""
    n = len(equipment)
    kinds = as_text(equipment[KIND]) if KIND in equipment.columns else [None] * n
    if radii is None and RADIUS_COLUMN in equipment.columns:
        r = pd.to_numeric(equipment[RADIUS_COLUMN], errors="coerce").to_numpy(dtype=float)
    elif radii is None or isinstance(radii, Mapping):
        table: Mapping[str, float] = DEFAULT_RADII_M if radii is None else radii
        r = np.array(
            [float(table[k]) if k is not None and k in table else np.nan for k in kinds],
            dtype=float,
        )
    else:
        r = np.full(n, float(radii))
    bad = np.isinf(r) | (np.isfinite(r) & (r < 0))
    if bad.any():
        raise ParameterError(f"equipment radii must be metres >= 0; got {r[bad][0]!r}.")
    return r


def add_equipment(
    page: Page, equipment: gpd.GeoDataFrame, radii: float | Mapping[str, float] | None
) -> None:
    """Add one layer per equipment kind, its legend rows, search entries and places."""
    eq = pd.DataFrame(
        equipment[[c for c in EQUIPMENT_MAP_COLUMNS if c in equipment.columns]]
    ).reset_index(drop=True)
    if EQUIPMENT_ID not in eq.columns:
        raise ParameterError(f"equipment has no {EQUIPMENT_ID!r} column.")
    n = len(eq)
    x, y = positions(equipment, "equipment")
    qlon, qlat, ok = quantise(np.nan_to_num(x), np.nan_to_num(y))
    ok &= np.isfinite(x) & np.isfinite(y)
    page.extent(qlon[ok], qlat[ok])
    r = _radii(eq, radii)
    kinds = as_text(eq[KIND]) if KIND in eq.columns else [None] * n
    ids = as_text(eq[EQUIPMENT_ID])
    circuits = as_text(eq[CIRCUIT_ID]) if CIRCUIT_ID in eq.columns else [None] * n
    subs = as_text(eq[SUBSTATION_ID]) if SUBSTATION_ID in eq.columns else [None] * n
    dates: list[str | None] = [None] * n
    if INSTALL_DATE in eq.columns:
        col = eq[INSTALL_DATE]
        if pd.api.types.is_datetime64_any_dtype(col):
            dates = [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in col]
        else:
            dates = as_text(col)
    outage: list[bool | None] = [None] * n
    if OUTAGE_REQUIRED in eq.columns:
        outage = [None if pd.isna(v) else bool(v) for v in eq[OUTAGE_REQUIRED].tolist()]
    within: list[int | None] = [None] * n
    if N_WITHIN_COLUMN in eq.columns:
        within = [None if pd.isna(v) else int(v) for v in eq[N_WITHIN_COLUMN].tolist()]

    # lines and areas (cable routes, works areas): the shape itself and its radius zone
    geoms = np.asarray(equipment.geometry.values, dtype=object)
    extended = np.flatnonzero(ok & (shapely.get_type_id(geoms) != 0))
    shapes: dict[int, list[tuple[Any, Any]]] = {}
    zones: dict[int, list[tuple[Any, Any]]] = {}
    if extended.size:
        g = geoms[extended]
        lines = np.where(np.isin(shapely.get_type_id(g), (1, 5)), g, shapely.boundary(g))
        shapes = parts_by_owner(lines, extended, tolerance=0)
        sel = extended[np.isfinite(r[extended])]
        if sel.size:
            zone_rings = shapely.boundary(shapely.buffer(geoms[sel], r[sel], quad_segs=16))
            zones = parts_by_owner(zone_rings, sel, tolerance=0.2)
            for rings in zones.values():
                for lo, la in rings:
                    page.extent(lo, la)

    labels = np.full(n, None, dtype=object)
    page.places["equipment"] = (np.where(ok, x, np.nan), y, labels)
    by_kind: dict[str, list[int]] = {}
    for i in np.flatnonzero(ok).tolist():
        by_kind.setdefault(kinds[i] or "(no kind)", []).append(i)
    known = list(EQUIPMENT_STYLES)
    order = [k for k in known if k in by_kind] + sorted(k for k in by_kind if k not in known)
    rows = []
    n_other = 0
    for index, kind in enumerate(order):
        style = equipment_style(kind, n_other)
        n_other += kind not in known
        items = [
            {
                "id": ids[i] or "(no id)",
                "lat": int(qlat[i]) / SCALE,
                "lon": int(qlon[i]) / SCALE,
                "r": None if not np.isfinite(r[i]) else round(float(r[i]), 2),
                "date": dates[i],
                "n": within[i],
                "circuit": circuits[i],
                "substation": subs[i],
                "outage": outage[i],
                "_zone": zones.get(i),
                "_shape": shapes.get(i),
            }
            for i in by_kind[kind]
        ]
        icon = f"i{index}"
        page.icons[icon] = icon_uri(style, size=16)
        key = f"equipment_{index}"
        for j, i in enumerate(by_kind[kind]):
            lat, lon = int(qlat[i]) / SCALE, int(qlon[i]) / SCALE
            page.search.append(["equipment", ids[i] or "(no id)", lat, lon, key, j])
        spec = {
            "key": key,
            "label": style.label,
            "color": style.color,
            "index": index,
            "glyph": style.glyph,
            "items": items,
        }
        row = {"icon": icon, "label": style.label, "count": len(items), "key": key}
        labels[by_kind[kind]] = style.label
        page.layers.append(("equipment", spec, row, True))
        rows.append(row)
    if (~ok).any():
        page.notes.append(f"{int((~ok).sum()):,} equipment items without a usable location.")
    page.sections.append({"title": "New equipment (with radius)", "rows": rows})
