"""Customer layers: canvas points by contact type, postcode search, reasons (internal)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import ParameterError
from ._encode import SCALE, quantise
from ._options import Options
from ._page import (
    CATEGORY_COLUMN,
    INTERNAL_CUSTOMER_COLUMNS,
    PSEUDONYMOUS_CUSTOMER_COLUMNS,
    SECTOR_CUSTOMER_COLUMNS,
    SHARED_CATEGORY_COLUMN,
    Page,
    as_text,
    positions,
)
from ._style import CATEGORIES, SHARED_CATEGORIES, UNCATEGORISED, Style

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["add_customers"]

#: Customers not contacted recede: smaller, paler, no outline; manual review is a
#: square (told apart from a phone call by shape as well as colour).
_POINT_LOOK: dict[str, dict[str, Any]] = {
    "not_contacted": {"outline": False, "size": 0.75, "alpha": 0.55},
    "manual_review": {"shape": "square", "edge": "#333333"},
}
_POSTCODE_SPACE = r"\s+"


def _customer_points(
    page: Page,
    customers: gpd.GeoDataFrame,
    opts: Options,
    *,
    categorised: bool,
    reasons: pd.Series | None = None,
    xy: tuple[npt.NDArray[np.float64], ...] | None = None,
) -> list[tuple[Style, npt.NDArray[np.int64], npt.NDArray[np.int64], Any, Any, Any]]:
    """Select the allowlisted columns, place, group and label customer points.

    ``xy``: each customer's BNG x, y when known (else taken from the geometry).
    """
    columns = [c for c in PSEUDONYMOUS_CUSTOMER_COLUMNS if c in customers.columns]
    if opts.internal:
        columns += [c for c in INTERNAL_CUSTOMER_COLUMNS if c in customers.columns]
    view = pd.DataFrame(customers[columns].reset_index(drop=True))  # nothing else is read
    x, y = positions(customers, "customers") if xy is None else xy
    if categorised:
        if CATEGORY_COLUMN not in view.columns:
            raise ParameterError(
                f"result.customers has no {CATEGORY_COLUMN!r} column: the campaign map colours "
                f"customers by it ({', '.join(CATEGORIES)}). Use customers_map(...) for "
                "customers without a campaign."
            )
        # each customer's style as a small integer, hashed by Arrow (no str object per row)
        code = _category_codes(view, CATEGORY_COLUMN, list(CATEGORIES))
        styles = [CATEGORIES[k] for k in CATEGORIES]
        if not opts.internal:
            # a shared map never places a PSR household: phone calls (PSR customers
            # in an outage) are drawn as they would be if nobody were on the PSR
            code, styles = _shared_categories(page, view, code)
    else:
        code = np.zeros(len(view), dtype=np.int64)
        styles = [UNCATEGORISED]
    located = np.isfinite(x) & np.isfinite(y)
    qlon, qlat, ok = quantise(np.where(located, x, 0.0), np.where(located, y, 0.0))
    ok &= located
    if (~ok).any():
        page.notes.append(f"{int((~ok).sum()):,} customers without a usable location not shown.")
    labels = _address_labels(view) if opts.internal else None
    why = None
    if opts.internal and reasons is not None and len(reasons) == len(view):
        why = np.asarray(as_text(reasons.reset_index(drop=True)), dtype=object)
    for style in styles:
        if style.key in ("not_contacted", UNCATEGORISED.key):
            page.quiet_labels.add(style.label)
    drawn_as = pd.Categorical.from_codes(code, categories=pd.Index([st.label for st in styles]))
    page.places["customers"] = (np.where(ok & (code >= 0), x, np.nan), y, drawn_as)
    _postcode_search(page, customers, x, y, ok, opts)

    out: list[tuple[Style, npt.NDArray[np.int64], npt.NDArray[np.int64], Any, Any, Any]] = []
    suppressed = 0
    for index, style in enumerate(styles):
        sel = np.flatnonzero(ok & (code == index))
        if opts.aggregate_m is None:
            lab = None if labels is None else [labels[i] for i in sel.tolist()]
            out.append((style, qlon[sel], qlat[sel], None, lab, None if why is None else why[sel]))
            continue
        cell = float(opts.aggregate_m)
        cx = np.floor(x[sel] / cell).astype(np.int64)
        cy = np.floor(y[sel] / cell).astype(np.int64)
        groups = pd.DataFrame({"cx": cx, "cy": cy}).groupby(["cx", "cy"], sort=True).size()
        size = groups.to_numpy()
        keep = size >= opts.min_group
        suppressed += int(size[~keep].sum())
        gx = (groups.index.get_level_values("cx").to_numpy()[keep] + 0.5) * cell
        gy = (groups.index.get_level_values("cy").to_numpy()[keep] + 0.5) * cell
        glon, glat, gok = quantise(gx, gy)
        out.append((style, glon[gok], glat[gok], size[keep][gok], None, None))
    if opts.aggregate_m is not None:
        page.notes.append(
            f"Customers grouped into {opts.aggregate_m:g} m squares per contact type; "
            f"{suppressed:,} customers in groups of fewer than {opts.min_group} not shown."
        )
    return out


def _category_codes(view: pd.DataFrame, column: str, keys: list[str]) -> npt.NDArray[np.int64]:
    """Return each row's position in ``keys`` of its ``column`` value; refuse any other value.

    Arrow hashes the text against the few keys: the column is not made a Python ``str``
    per customer first (two columns of 2.4 million were 0.35 GB while the map was drawn).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = view[column]
    try:
        text = pa.array(values, pa.large_string(), from_pandas=True)
        at = pc.index_in(text, value_set=pa.array(keys, pa.large_string()))
        code = pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    except (pa.ArrowException, UnicodeError, TypeError):  # values Arrow cannot hold as text
        code = pd.Index(keys, dtype=object).get_indexer(pd.Index(values.to_numpy(dtype=object)))
    bad = code < 0
    if bad.any():
        shown = sorted({repr(v) for v in values.to_numpy(dtype=object)[bad]})[:5]
        raise ParameterError(
            f"result.customers[{column!r}] has {int(bad.sum())} values outside "
            f"{', '.join(keys)}: {', '.join(shown)}."
        )
    return np.asarray(code, dtype=np.int64)


def _shared_categories(
    page: Page, view: pd.DataFrame, code: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], list[Style]]:
    """Return the style codes and styles of a shared map (no ``phone_call``).

    ``code``: each customer's position in :data:`CATEGORIES`. With
    :data:`SHARED_CATEGORY_COLUMN` (a campaign result has it) every customer is
    drawn in that category; without it, ``phone_call`` customers are left out
    (their number is stated in the legend), never placed (code -1).
    """
    styles = [SHARED_CATEGORIES[k] for k in SHARED_CATEGORIES]
    page.notes.append(
        "Outage notices to Priority Services customers are not shown: on this map every "
        "customer shows the leaflet or installation letter they get (internal map only)."
    )
    if SHARED_CATEGORY_COLUMN in view.columns:
        return _category_codes(view, SHARED_CATEGORY_COLUMN, list(SHARED_CATEGORIES)), styles
    called = code == list(CATEGORIES).index("phone_call")
    if called.any():
        page.notes.append(
            f"{int(called.sum()):,} customers with an outage call not shown (internal map only)."
        )
    shared = list(SHARED_CATEGORIES)
    to_shared = np.array([shared.index(k) if k in shared else -1 for k in CATEGORIES] + [-1])
    return to_shared[code], styles


def _address_labels(view: pd.DataFrame) -> list[tuple[str, str]]:
    """Address label of each customer as (first line, rest); the rest repeats a lot."""
    cols = [c for c in INTERNAL_CUSTOMER_COLUMNS if c in view.columns]
    if not cols:
        return [("", "")] * len(view)
    texts = [as_text(view[c]) for c in cols]
    out = []
    for row in zip(*texts, strict=True):
        parts = [t for t in row if t]
        out.append((parts[0], ", ".join(parts[1:])) if parts else ("", ""))
    return out


def _postcode_search(
    page: Page,
    customers: gpd.GeoDataFrame,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    ok: npt.NDArray[np.bool_],
    opts: Options,
) -> None:
    """Add postcodes to the search box: full ones on an internal map, sectors otherwise.

    A shared map names no address, so it only knows postcode sectors (``M14 5``,
    a few thousand addresses each; public geography), and only sectors with at
    least ``min_group`` customers; a full postcode typed into it finds its
    sector. Each entry is placed at the mean position of its customers.
    """
    if SECTOR_CUSTOMER_COLUMNS[0] not in customers.columns:
        return
    # normalise each distinct postcode once (a postcode has about 15 customers)
    codes, uniques = pd.factorize(customers[SECTOR_CUSTOMER_COLUMNS[0]].reset_index(drop=True))
    names = pd.Series(as_text(pd.Series(uniques, dtype=object)), dtype=object)
    names = names.str.upper().str.replace(_POSTCODE_SPACE, " ", regex=True)
    if not opts.internal:
        # outward code and the inward code's first digit ("M14 5AB" -> "M14 5")
        parts = names.str.extract(r"^([A-Z0-9]{2,4}) ?([0-9])[A-Z]{2}$")
        names = (parts[0] + " " + parts[1]).where(parts[0].notna())
    names_codes, names_uniques = pd.factorize(names)
    keep = ok & (codes >= 0)
    group = np.full(len(codes), -1, dtype=np.int64)
    group[keep] = names_codes[codes[keep]]
    keep &= group >= 0
    if not keep.any():
        return
    g = group[keep]
    k = len(names_uniques)
    n = np.bincount(g, minlength=k)
    mx = np.bincount(g, weights=x[keep], minlength=k) / np.maximum(n, 1)
    my = np.bincount(g, weights=y[keep], minlength=k) / np.maximum(n, 1)
    chosen = n >= (1 if opts.internal else opts.min_group)
    qlon, qlat, good = quantise(mx, my)
    chosen &= good
    kind = "postcode" if opts.internal else "postcode sector"
    for i in sorted(np.flatnonzero(chosen).tolist(), key=lambda i: str(names_uniques[i])):
        page.search.append(
            [kind, str(names_uniques[i]), int(qlat[i]) / SCALE, int(qlon[i]) / SCALE, int(n[i])]
        )


def add_customers(
    page: Page,
    customers: gpd.GeoDataFrame,
    opts: Options,
    *,
    categorised: bool,
    reasons: pd.Series | None = None,
    xy: tuple[npt.NDArray[np.float64], ...] | None = None,
) -> None:
    """Add customer layers (one per contact type), their legend rows and search entries.

    ``reasons`` (internal maps only): why each customer gets its contact,
    aligned with ``customers`` by position; shown in the click popup. ``xy``: each
    customer's BNG x, y when known (else taken from the geometry).
    """
    groups = _customer_points(
        page, customers, opts, categorised=categorised, reasons=reasons, xy=xy
    )
    rows = []
    for style, qlon, qlat, counts, labels, why in groups:
        total = int(counts.sum()) if counts is not None else int(qlon.size)
        row = {"color": style.color, "label": style.label, "count": total}
        rows.append(row)
        page.extent(qlon, qlat)
        spec: dict[str, Any] = {
            "key": f"customers_{style.key}",
            "label": style.label,
            "color": style.color,
            "z": style.z,
            **_POINT_LOOK.get(style.key, {}),
            "_q": (qlon, qlat),
        }
        if counts is not None:
            spec["_n"] = counts
            spec["cell"] = _cell_label(opts)
        if labels is not None:
            spec["_labels"] = labels
        if why is not None:
            spec["_reasons"] = why
        row["key"] = spec["key"]
        page.layers.append(("points", spec, row, True))
    title = (
        "Customers by contact (one dot per customer; letters go one per premise)"
        if categorised
        else "Customers"
    )
    page.sections.append({"title": title, "rows": rows})


def _cell_label(opts: Options) -> str:
    """Return the grid square size as shown in popups (e.g. ``"100"``)."""
    return f"{opts.aggregate_m:g}"
