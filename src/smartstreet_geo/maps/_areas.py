"""Areas of a map: groups of nearby features, each with a summary shown at low zoom.

A licence-area map (or the demo's four towns) opens zoomed out, where every
customer dot and equipment icon is a pixel. So the opening view shows one card
per area instead: its name and counts (customers by contact, equipment by
kind, substations), and the bookmark menu lists the areas. An area is a group
of 5 km grid squares holding features that touch (diagonals included), found
with shapely (the union of the occupied squares, then which union part each
square lies in), so it needs no area column in the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._encode import SCALE, quantise

if TYPE_CHECKING:
    from ._options import Options
    from ._page import Page

__all__ = ["AREA_CELL_M", "areas_data"]

#: Size of the grid squares that make areas (metres): features in touching
#: squares are one area.
AREA_CELL_M = 5000.0
_WHAT = (("customers", "customers"), ("equipment", "equipment items"), ("substations", ""))


def _area_of_cells(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Return an area number per grid square: touching squares share one."""
    # squares grown by a tenth of a square so that corner neighbours overlap
    grow = 0.1
    boxes = shapely.box(cx - grow, cy - grow, cx + 1 + grow, cy + 1 + grow)
    merged = shapely.get_parts(shapely.union_all(boxes))
    tree = shapely.STRtree(merged)
    centres = shapely.points(cx + 0.5, cy + 0.5)
    square, area = tree.query(centres, predicate="intersects")
    out = np.empty(cx.size, dtype=np.int64)
    out[square] = area
    return out


def areas_data(page: Page, opts: Options) -> list[dict[str, Any]]:
    """Return the areas of a page: name, bounds, centre and summary rows (north first).

    Parameters
    ----------
    page : Page
        With ``places`` filled in by the layer modules.
    opts : Options
        With ``aggregate_m`` set, customer counts below ``min_group`` show as
        "fewer than k" (an area can be small).

    Returns
    -------
    list of dict
        ``name``, ``bounds`` (``[[south, west], [north, east]]``), ``centre``
        (``[lat, lon]``) and ``rows`` (``[label, count]``; count an int or a
        text).
    """
    kinds = [k for k, _ in _WHAT if k in page.places]
    if not kinds:
        return []
    # (at 2.4 million customers each per-point array is 19 MB: they are let go as soon as
    # used, and the sizes of the kinds are kept rather than an array of kind per point)
    xs, ys, codes, tables = [], [], [], []
    sizes: list[int] = []
    ordered: list[bool] = []
    for kind in kinds:
        x, y, label = page.places[kind]
        ok = np.isfinite(x) & np.isfinite(y)
        # labels as codes (object values: any Python text, and a million repeats are cheap)
        ordered.append(isinstance(label, pd.Categorical))
        if isinstance(label, pd.Categorical):
            code, table = np.asarray(label.codes)[ok], label.categories
        else:
            code, table = pd.factorize(pd.Series(np.asarray(label, dtype=object)[ok], dtype=object))
        xs.append(np.asarray(x, dtype=float)[ok])
        ys.append(np.asarray(y, dtype=float)[ok])
        sizes.append(int(ok.sum()))
        codes.append(code.astype(np.int64))
        tables.append(table)
    x, y = np.concatenate(xs), np.concatenate(ys)
    del xs, ys
    if x.size == 0:
        return []
    cx = np.floor(x / AREA_CELL_M).astype(np.int64)
    cy = np.floor(y / AREA_CELL_M).astype(np.int64)
    x_min, y_min, height = cx.min(), cy.min(), int(cy.max() - cy.min()) + 1
    key = (cx - x_min) * height + (cy - y_min)  # one int key per square
    del cx, cy
    cell, cells = pd.factorize(key)
    del key
    cells = np.asarray(cells, dtype=np.int64)
    col, row = np.divmod(cells, height)
    area_of_cell = _area_of_cells((col + x_min).astype(float), (row + y_min).astype(float))
    area = area_of_cell[cell]
    del cell
    n_areas = int(area.max()) + 1
    box = _bounds(area, x, y, n_areas)
    del x, y
    counts = []  # per kind: (areas x labels) counts
    start = 0
    for w, _kind in enumerate(kinds):
        k = sizes[w]
        a_w = area[start : start + k]
        n_labels = max(len(tables[w]), 1)
        counts.append(
            np.bincount(a_w * n_labels + codes[w], minlength=n_areas * n_labels).reshape(
                n_areas, n_labels
            )
        )
        start += k
    sub_ids: dict[int, list[str]] = {}
    if "substations" in kinds:
        w = kinds.index("substations")
        begin = sum(sizes[:w])
        names = [str(v) for v in tables[w]]
        for a_i, c in zip(area[begin : begin + sizes[w]].tolist(), codes[w].tolist(), strict=True):
            sub_ids.setdefault(a_i, []).append(names[c])
    out: list[dict[str, Any]] = []
    for a_i, x0, x1, y0, y1 in box:
        lon, lat, ok = quantise(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
        if not ok.all():
            continue
        rows: list[list[Any]] = []
        for w, kind in enumerate(kinds):
            row_counts = counts[w][a_i]
            total = int(row_counts.sum())
            if total == 0:
                continue
            if kind == "substations":
                rows.append(["Substations", total])
                continue
            noun = dict(_WHAT)[kind]
            rows.append([noun.capitalize(), _count(total, kind, opts)])
            if kind == "customers":  # each contact, not those nobody writes to
                labels = [str(v) for v in tables[w]]
                # in the order of the layers (most urgent first) when the labels come
                # as a Categorical of the drawn styles, else alphabetical
                order: list[int] = list(range(len(labels)))
                if not ordered[w]:
                    order = sorted(order, key=labels.__getitem__)
                for c in order:
                    lab = labels[c]
                    if row_counts[c] and lab not in page.quiet_labels:
                        rows.append([f"\u2003{lab}", _count(int(row_counts[c]), kind, opts)])
        out.append(
            {
                "_n": -int(lat.max()),
                "_id": a_i,
                "subs": sorted(sub_ids.get(a_i, [])),
                "bounds": [
                    [int(lat.min()) / SCALE, int(lon.min()) / SCALE],
                    [int(lat.max()) / SCALE, int(lon.max()) / SCALE],
                ],
                "centre": [
                    (int(lat.min()) + int(lat.max())) / (2 * SCALE),
                    (int(lon.min()) + int(lon.max())) / (2 * SCALE),
                ],
                "rows": rows,
            }
        )
    out.sort(key=lambda a: (a.pop("_n"), a.pop("_id")))
    for k, item in enumerate(out, start=1):
        subs = list(item.pop("subs"))
        if not subs:
            item["name"] = f"Area {k}"
        elif len(subs) == 1:
            item["name"] = f"Area {k}: substation {subs[0]}"
        else:
            item["name"] = f"Area {k}: substations {subs[0]} \u2013 {subs[-1]}"
    return out


def _bounds(
    area: npt.NDArray[np.int64], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], n: int
) -> list[tuple[int, float, float, float, float]]:
    """Return ``(area, x min, x max, y min, y max)`` of each area with a point, in area order.

    The extremes by unbuffered ``ufunc.at`` reductions, without a frame and a group-by of
    every point (each a copy of the points' arrays).
    """
    x0, y0 = np.full(n, np.inf), np.full(n, np.inf)
    x1, y1 = np.full(n, -np.inf), np.full(n, -np.inf)
    np.minimum.at(x0, area, x)
    np.maximum.at(x1, area, x)
    np.minimum.at(y0, area, y)
    np.maximum.at(y1, area, y)
    present = np.flatnonzero(np.bincount(area, minlength=n) > 0)
    return [
        (int(a), float(x0[a]), float(x1[a]), float(y0[a]), float(y1[a])) for a in present.tolist()
    ]


def _count(n: int, what: str, opts: Options) -> int | str:
    if what == "customers" and opts.aggregate_m is not None and n < opts.min_group:
        return f"fewer than {opts.min_group}"
    return n
