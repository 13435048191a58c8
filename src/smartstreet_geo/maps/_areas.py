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
    names: list[Any] = []
    xs: list[Any] = []
    ys: list[Any] = []
    labels: list[Any] = []
    for what, (x, y, label) in page.places.items():
        ok = np.isfinite(x) & np.isfinite(y)
        xs.append(np.asarray(x)[ok])
        ys.append(np.asarray(y)[ok])
        labels.append(np.asarray(label, dtype=object)[ok])
        names.append(np.full(int(ok.sum()), what, dtype=object))
    if not xs or sum(a.size for a in xs) == 0:
        return []
    x, y = np.concatenate(xs), np.concatenate(ys)
    cx = np.floor(x / AREA_CELL_M).astype(np.int64)
    cy = np.floor(y / AREA_CELL_M).astype(np.int64)
    cells, inverse = np.unique(np.column_stack([cx, cy]), axis=0, return_inverse=True)
    area = _area_of_cells(cells[:, 0].astype(float), cells[:, 1].astype(float))[inverse.ravel()]
    kinds = np.concatenate(names)
    label = np.concatenate(labels)
    # object columns: labels may hold any Python text (Arrow strings cannot hold them all)
    frame = pd.DataFrame(
        {
            "area": area,
            "what": pd.Series(kinds, dtype=object),
            "label": pd.Series(label, dtype=object),
            "x": x,
            "y": y,
        }
    )
    out: list[dict[str, Any]] = []
    for a, group in frame.groupby("area", sort=True):
        lon, lat, ok = quantise(
            np.array([group["x"].min(), group["x"].max(), group["x"].min(), group["x"].max()]),
            np.array([group["y"].min(), group["y"].min(), group["y"].max(), group["y"].max()]),
        )
        if not ok.all():
            continue
        subs = sorted(str(s) for s in group.loc[group["what"] == "substations", "label"])
        rows: list[list[Any]] = []
        for key, noun in _WHAT:
            part = group[group["what"] == key]
            if part.empty:
                continue
            if key == "substations":
                rows.append(["Substations", len(part)])
                continue
            rows.append([noun.capitalize(), _count(len(part), key, opts)])
            if key == "customers":  # each contact, not those nobody writes to
                for lab, n in part["label"].value_counts(sort=False).sort_index().items():
                    if lab not in page.quiet_labels:
                        rows.append([f"\u2003{lab}", _count(int(str(n)), key, opts)])
        out.append(
            {
                "_n": -int(lat.max()),
                "_id": int(str(a)),
                "subs": subs,
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


def _count(n: int, what: str, opts: Options) -> int | str:
    if what == "customers" and opts.aggregate_m is not None and n < opts.min_group:
        return f"fewer than {opts.min_group}"
    return n
