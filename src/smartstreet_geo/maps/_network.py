"""Network layers: circuits in and not in scope, normally-open points, substations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ..schema import CIRCUIT_ID, EDGE_ID, NAME, NORMALLY_OPEN, SUBSTATION_ID
from ._encode import SCALE, quantise
from ._page import IN_SCOPE_COLUMN, Page, as_text, parts_by_owner, positions
from ._style import (
    CIRCUIT_IN_SCOPE,
    CIRCUIT_OUT_OF_SCOPE,
    CIRCUIT_UNKNOWN,
    OPEN_POINT,
    SUBSTATION,
    Style,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["add_network"]

_SIMPLIFY_M = 0.5  # circuit lines: Douglas-Peucker tolerance, metres


def add_network(
    page: Page,
    edges: gpd.GeoDataFrame | None,
    substations: gpd.GeoDataFrame | None,
    in_scope: Iterable[str] | None,
) -> None:
    """Add circuit, open-point and substation layers, legend rows, bookmarks and search."""
    rows: list[dict[str, Any]] = []
    if edges is not None and len(edges):
        _add_edges(page, edges, in_scope, rows)
    if substations is not None and len(substations):
        s = pd.DataFrame(
            substations[[c for c in (SUBSTATION_ID, NAME) if c in substations.columns]]
        ).reset_index(drop=True)
        x, y = positions(substations, "substations")
        qlon, qlat, ok = quantise(np.nan_to_num(x), np.nan_to_num(y))
        ok &= np.isfinite(x) & np.isfinite(y)
        ids = as_text(s[SUBSTATION_ID]) if SUBSTATION_ID in s else [None] * len(s)
        names = as_text(s[NAME]) if NAME in s else [None] * len(s)
        items = [
            {
                "id": ids[i] or "",
                "name": names[i],
                "lat": int(qlat[i]) / SCALE,
                "lon": int(qlon[i]) / SCALE,
            }
            for i in np.flatnonzero(ok).tolist()
        ]
        page.extent(qlon[ok], qlat[ok])
        page.places["substations"] = (np.where(ok, x, np.nan), y, np.array(ids, dtype=object))
        for item in items:
            label = f"{item['id']}" + (f" \u2014 {item['name']}" if item["name"] else "")
            page.bookmarks.append({"label": label, "lat": item["lat"], "lon": item["lon"]})
            page.search.append(["substation", label, item["lat"], item["lon"]])
        row = {"color": SUBSTATION.color, "square": True, "label": SUBSTATION.label}
        row["key"] = SUBSTATION.key
        row["count"] = len(items)
        page.layers.append(("substations", {"key": SUBSTATION.key, "items": items}, row, True))
        rows.append(row)
    if rows:
        page.sections.append({"title": "Network", "rows": rows})


def _add_edges(
    page: Page,
    edges: gpd.GeoDataFrame,
    in_scope: Iterable[str] | None,
    rows: list[dict[str, Any]],
) -> None:
    e = pd.DataFrame(
        edges[[c for c in (EDGE_ID, CIRCUIT_ID, NORMALLY_OPEN, IN_SCOPE_COLUMN) if c in edges]]
    ).reset_index(drop=True)
    n = len(e)
    if CIRCUIT_ID in e:
        # each distinct id as text once (a circuit has hundreds of edges)
        codes, uniques = pd.factorize(e[CIRCUIT_ID], use_na_sentinel=True)
        texts = np.array([*as_text(pd.Series(uniques, dtype=object)), None], dtype=object)
        circuit = pd.Series(texts[codes], dtype=object)  # code -1 (missing): the None
    else:
        circuit = pd.Series([None] * n, dtype=object)
    circuit = circuit.fillna("(no circuit)")
    scope: npt.NDArray[np.bool_] | None = None
    if in_scope is not None:
        # compared as shown: both sides trimmed of surrounding whitespace
        scope = circuit.isin({str(c).strip() for c in in_scope}).to_numpy(dtype=bool)
    elif IN_SCOPE_COLUMN in e.columns:
        scope = e[IN_SCOPE_COLUMN].astype("boolean").fillna(False).to_numpy(dtype=bool)
    is_open = (
        e[NORMALLY_OPEN].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if NORMALLY_OPEN in e.columns
        else np.zeros(n, dtype=bool)
    )
    geoms = np.asarray(edges.geometry.values, dtype=object)
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    groups: list[tuple[Style, npt.NDArray[np.bool_], str, float]] = []
    if scope is None:
        groups.append((CIRCUIT_UNKNOWN, usable & ~is_open, "", 1.8))
    else:
        groups.append((CIRCUIT_IN_SCOPE, usable & ~is_open & scope, "in scope (trial)", 2.6))
        groups.append((CIRCUIT_OUT_OF_SCOPE, usable & ~is_open & ~scope, "not in scope", 1.3))
    for style, mask, note, weight in groups:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        codes, names = pd.factorize(circuit.iloc[idx], sort=True)
        by_code = np.argsort(codes, kind="stable")
        merged = shapely.line_merge(
            shapely.multilinestrings(geoms[idx][by_code], indices=codes[by_code].astype(np.intp))
        )
        parts = parts_by_owner(merged, np.arange(len(names)), tolerance=_SIMPLIFY_M)
        items = [{"label": str(names[k]), "_parts": parts[k]} for k in sorted(parts)]
        for k in sorted(parts):
            lo = np.concatenate([p[0] for p in parts[k]])
            la = np.concatenate([p[1] for p in parts[k]])
            page.extent(lo, la)
            bounds = [
                [int(la.min()) / SCALE, int(lo.min()) / SCALE],
                [int(la.max()) / SCALE, int(lo.max()) / SCALE],
            ]
            page.search.append(["circuit", str(names[k]), *bounds[0], bounds])
        spec = {
            "key": style.key,
            "color": style.color,
            "weight": weight,
            "opacity": 0.9,
            "note": note,
            "items": items,
        }
        row = {"line": True, "color": style.color, "label": style.label, "count": len(items)}
        row["key"] = style.key
        page.layers.append(("lines", spec, row, True))
        rows.append(row)
    idx = np.flatnonzero(usable & is_open)
    if idx.size:
        # only the open points' ids are shown
        open_ids = as_text(e[EDGE_ID].iloc[idx]) if EDGE_ID in e.columns else [None] * idx.size
        ids = dict(zip(idx.tolist(), open_ids, strict=True))
        # open points are short links (about a metre): drawn as rings at their middle
        mid = shapely.line_interpolate_point(geoms[idx], 0.5, normalized=True)
        parts = parts_by_owner(mid, idx, tolerance=0, min_vertices=1)
        items = [
            {"label": f"Normally-open point {ids[i] or ''}".strip(), "_parts": parts[i]}
            for i in sorted(parts)
        ]
        spec = {
            "key": OPEN_POINT.key,
            "color": OPEN_POINT.color,
            "weight": 1.6,
            "opacity": 0.9,
            "ring": 3.5,
            "note": "normally open",
            "items": items,
        }
        row = {"ring": True, "color": OPEN_POINT.color, "label": OPEN_POINT.label}
        row["key"] = OPEN_POINT.key
        row["count"] = len(items)
        page.layers.append(("lines", spec, row, True))
        rows.append(row)
