"""Public map builders: campaign, equipment, circuits, customers; and saving.

Every builder collects what the map shows into one plain dict (the page's
data) and hands it to :class:`~smartstreet_geo.maps._elements.DataIsland`; the
folium part of the page (the map object, the embedded assets, the
``SSG.setup`` call) is the same for every map and holds no data. See
:mod:`smartstreet_geo.maps._elements` for why data never passes through folium.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ..crs import require_bng
from ..errors import ParameterError
from ..export import atomic_write_bytes
from ..schema import (
    ADDRESS_LINES,
    CIRCUIT_ID,
    DEFAULT_RADII_M,
    EDGE_ID,
    EQUIPMENT_ID,
    INSTALL_DATE,
    KIND,
    NAME,
    NORMALLY_OPEN,
    OUTAGE_REQUIRED,
    POST_TOWN,
    POSTCODE,
    SUBSTATION_ID,
)
from ._assets import EXTERNAL_RESOURCE, InlineAssets
from ._elements import DataIsland, MapSetup
from ._encode import SCALE, Encoder, line_parts, quantise
from ._style import (
    CATEGORIES,
    CIRCUIT_IN_SCOPE,
    CIRCUIT_OUT_OF_SCOPE,
    CIRCUIT_UNKNOWN,
    EQUIPMENT_STYLES,
    OPEN_POINT,
    SHARED_CATEGORIES,
    SUBSTATION,
    UNCATEGORISED,
    Style,
    equipment_style,
    icon_uri,
)

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = [
    "CATEGORY_COLUMN",
    "EQUIPMENT_MAP_COLUMNS",
    "INTERNAL_CUSTOMER_COLUMNS",
    "PSEUDONYMOUS_CUSTOMER_COLUMNS",
    "SHARED_CATEGORY_COLUMN",
    "campaign_map",
    "check_tiles",
    "circuits_map",
    "customers_map",
    "equipment_map",
    "inputs_map",
    "save_map",
]

log = logging.getLogger(__name__)

#: Column of ``result.customers`` holding each customer's highest-priority contact.
CATEGORY_COLUMN = "map_category"
#: The same as if nobody were on the PSR (no ``phone_call``): what a shared map draws.
SHARED_CATEGORY_COLUMN = "map_category_shared"
RADIUS_COLUMN = "radius_m"
N_WITHIN_COLUMN = "n_customers_within"
IN_SCOPE_COLUMN = "in_scope"

#: The only customer columns a default (pseudonymous) map reads, besides the location.
PSEUDONYMOUS_CUSTOMER_COLUMNS = (CATEGORY_COLUMN, SHARED_CATEGORY_COLUMN)
#: Added by ``internal=True``: they make the address label of each point.
INTERNAL_CUSTOMER_COLUMNS = (*ADDRESS_LINES, POST_TOWN, POSTCODE)
#: Equipment columns a map reads (none of them personal).
EQUIPMENT_MAP_COLUMNS = (
    EQUIPMENT_ID,
    KIND,
    INSTALL_DATE,
    CIRCUIT_ID,
    SUBSTATION_ID,
    OUTAGE_REQUIRED,
    RADIUS_COLUMN,
    N_WITHIN_COLUMN,
)

_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# RFC 3986 URL characters plus the braces of Leaflet's placeholders; no quotes,
# spaces, backslashes, angle brackets or anything outside ASCII
_TILE_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%{}]+")
_TILE_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# what Leaflet's TileLayer fills in; any other {name} makes it throw at every tile
_TILE_PLACEHOLDERS = frozenset({"{z}", "{x}", "{y}", "{-y}", "{s}", "{r}"})
_SIMPLIFY_M = 0.5  # circuit lines: Douglas-Peucker tolerance, metres
_GB_CENTRE = (54.0, -2.5)
#: Customers not contacted recede: smaller, paler, no outline.
_POINT_LOOK: dict[str, dict[str, Any]] = {
    "not_contacted": {"outline": False, "size": 0.75, "alpha": 0.55}
}


# --------------------------------------------------------------------------- options
def _tile_url_ok(url: str) -> bool:
    if not _TILE_URL_CHARS.fullmatch(url):
        return False
    try:
        parts = urlsplit(url)
        host, user = parts.hostname, parts.username
    except ValueError:  # e.g. an unbalanced [ in the host
        return False
    if parts.scheme != "https" or not host or user is not None or "{" in parts.scheme:
        return False
    holes = set(_TILE_PLACEHOLDER.findall(url))
    if holes - _TILE_PLACEHOLDERS or re.search(r"[{}]", _TILE_PLACEHOLDER.sub("", url)):
        return False
    return {"{z}", "{x}"} <= holes and bool(holes & {"{y}", "{-y}"})


def check_tiles(tiles: str | None) -> str:
    """Check a background-tiles setting and return it normalised.

    The map builders call this first (before any work); a campaign file or a
    command line can call it as soon as it reads the setting, so that a bad
    value is refused before anything is computed or written.

    Parameters
    ----------
    tiles : str or None
        ``"osm"`` (OpenStreetMap), ``"none"`` or ``None`` (no background), or an
        ``https://`` tile URL template with ``{z}``, ``{x}`` and ``{y}`` (or
        ``{-y}``), optionally ``{s}`` and ``{r}``, e.g.
        ``"https://tiles.example.org/{z}/{x}/{y}.png"``.

    Returns
    -------
    str
        ``"osm"``, ``"none"`` (either case accepted) or the URL unchanged.

    Raises
    ------
    ParameterError
        Anything else: another scheme (``http:``, ``javascript:``, ``data:``
        ...), no host, a user name or password in the URL, spaces, quotes or
        other characters outside a URL, placeholders Leaflet does not fill
        (``{foo}``, ``{{...}}``), or a template without ``{z}``/``{x}``/``{y}``.

    Examples
    --------
    >>> check_tiles(None), check_tiles("OSM")
    ('none', 'osm')
    >>> check_tiles("https://tiles.example.org/{z}/{x}/{y}.png")
    'https://tiles.example.org/{z}/{x}/{y}.png'
    >>> check_tiles("javascript:alert(1)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    smartstreet_geo.errors.ParameterError: tiles='javascript:alert(1)': give 'osm', ...
    """
    if tiles is None:
        return "none"
    if isinstance(tiles, str):
        if tiles.lower() in {"none", "osm"}:
            return tiles.lower()
        if _tile_url_ok(tiles):
            return tiles
    shown = repr(tiles)
    shown = shown if len(shown) <= 100 else shown[:96] + "...'"
    raise ParameterError(
        f"tiles={shown}: give 'osm', 'none', or an https:// tile URL template such as "
        "'https://tiles.example.org/{z}/{x}/{y}.png' (with {z}, {x} and {y}; {s}, {r} and "
        "{-y} are also filled in; no other braces, spaces or quotes)."
    )


@dataclass(frozen=True)
class _Options:
    tiles: str  # as returned by check_tiles: "none", "osm" or an https URL template
    tile_attribution: str | None
    internal: bool
    aggregate_m: float | None
    min_group: int
    title: str

    def __post_init__(self) -> None:
        check_tiles(self.tiles)  # the builders pass it through check_tiles first
        for name in ("title", "tile_attribution"):
            value = getattr(self, name)
            if not (isinstance(value, str) or (value is None and name == "tile_attribution")):
                raise ParameterError(f"{name}: give text (a str), not {type(value).__name__}.")
        if self.aggregate_m is not None:
            if not (math.isfinite(self.aggregate_m) and self.aggregate_m > 0):
                raise ParameterError(
                    f"aggregate_m={self.aggregate_m!r}: give the grid square size in metres "
                    "(> 0, e.g. 100), or None to show each customer."
                )
            if self.internal:
                raise ParameterError(
                    "internal=True labels each customer with their address, which needs "
                    "individual points: use aggregate_m=None with internal=True."
                )
        if isinstance(self.min_group, bool) or not isinstance(self.min_group, int):
            raise ParameterError(f"min_group={self.min_group!r}: give a whole number >= 1.")
        if self.min_group < 1:
            raise ParameterError(f"min_group={self.min_group!r}: give a whole number >= 1.")


def _tiles_data(tiles: str, attribution: str | None) -> dict[str, Any] | None:
    """Return the background for the page's data: URL, whether it is OSM, attribution.

    The OpenStreetMap attribution (with its link) is a constant of the page
    script; ``attribution`` is plain text, shown after it (with ``textContent``).
    """
    if tiles == "none":
        return None
    if tiles == "osm":
        return {"url": _OSM_URL, "osm": True, "attribution": attribution or None}
    host = urlsplit(tiles).netloc
    return {"url": tiles, "osm": False, "attribution": attribution or f"Tiles: {host}"}


# --------------------------------------------------------------------------- inputs
def _frame(obj: Any, what: str) -> gpd.GeoDataFrame:
    """Accept a GeoDataFrame or a reader result (``.data``); check it is BNG."""
    import geopandas as gpd

    frame = obj.data if hasattr(obj, "data") and not isinstance(obj, gpd.GeoDataFrame) else obj
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ParameterError(
            f"{what}: expected a GeoDataFrame (e.g. from smartstreet_geo.read_{what}), "
            f"got {type(obj).__name__}."
        )
    require_bng(frame, what=what)
    return frame


def _text(values: pd.Series) -> list[str | None]:
    """Values as text, missing as None (no personal columns ever pass here by default)."""
    out: list[str | None] = []
    for v in values.tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


def _xy(frame: gpd.GeoDataFrame, what: str) -> tuple[npt.NDArray[np.float64], ...]:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms[present])
    if what == "customers" and np.any(types != 0):
        raise ParameterError("customers: every location must be a Point (EPSG:27700).")
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    pts = geoms[present]
    if pts.size:
        pts = np.where(types == 0, pts, shapely.point_on_surface(pts))
        x[present] = shapely.get_x(pts)
        y[present] = shapely.get_y(pts)
    return x, y


# --------------------------------------------------------------------------- pieces
@dataclass
class _Page:
    """Everything the builder collects before it makes the folium map."""

    # (factory, spec, layer-control name {label, count, key}, shown when the map opens)
    layers: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = field(default_factory=list)
    lon: list[npt.NDArray[np.int64]] = field(default_factory=list)  # for origin and bounds
    lat: list[npt.NDArray[np.int64]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    icons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def extent(self, qlon: npt.NDArray[np.int64], qlat: npt.NDArray[np.int64]) -> None:
        if qlon.size:
            self.lon.append(np.array([qlon.min(), qlon.max()]))
            self.lat.append(np.array([qlat.min(), qlat.max()]))


def _customer_points(
    page: _Page, customers: gpd.GeoDataFrame, opts: _Options, *, categorised: bool
) -> list[tuple[Style, npt.NDArray[np.int64], npt.NDArray[np.int64], Any, Any]]:
    """Select the allowlisted columns, place, group and label customer points."""
    columns = [c for c in PSEUDONYMOUS_CUSTOMER_COLUMNS if c in customers.columns]
    if opts.internal:
        columns += [c for c in INTERNAL_CUSTOMER_COLUMNS if c in customers.columns]
    view = pd.DataFrame(customers[columns].reset_index(drop=True))  # nothing else is read
    x, y = _xy(customers, "customers")
    if categorised:
        if CATEGORY_COLUMN not in view.columns:
            raise ParameterError(
                f"result.customers has no {CATEGORY_COLUMN!r} column: the campaign map colours "
                f"customers by it ({', '.join(CATEGORIES)}). Use customers_map(...) for "
                "customers without a campaign."
            )
        cats = view[CATEGORY_COLUMN].astype("object").to_numpy()
        bad = ~pd.Series(cats).isin(list(CATEGORIES)).to_numpy()
        if bad.any():
            shown = sorted({repr(v) for v in cats[bad]})[:5]
            raise ParameterError(
                f"result.customers[{CATEGORY_COLUMN!r}] has {int(bad.sum())} values outside "
                f"{', '.join(CATEGORIES)}: {', '.join(shown)}."
            )
        styles = [CATEGORIES[k] for k in CATEGORIES]
        if not opts.internal:
            # a shared map never places a PSR household: phone calls (PSR customers
            # in an outage) are drawn as they would be if nobody were on the PSR
            cats, styles = _shared_categories(page, view, cats)
    else:
        cats = np.full(len(view), UNCATEGORISED.key, dtype=object)
        styles = [UNCATEGORISED]
    located = np.isfinite(x) & np.isfinite(y)
    qlon, qlat, ok = quantise(np.where(located, x, 0.0), np.where(located, y, 0.0))
    ok &= located
    if (~ok).any():
        page.notes.append(f"{int((~ok).sum()):,} customers without a usable location not shown.")
    labels = _address_labels(view) if opts.internal else None

    out: list[tuple[Style, npt.NDArray[np.int64], npt.NDArray[np.int64], Any, Any]] = []
    suppressed = 0
    for style in styles:
        sel = np.flatnonzero(ok & (cats == style.key))
        if opts.aggregate_m is None:
            lab = None if labels is None else [labels[i] for i in sel.tolist()]
            out.append((style, qlon[sel], qlat[sel], None, lab))
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
        out.append((style, glon[gok], glat[gok], size[keep][gok], None))
    if opts.aggregate_m is not None:
        page.notes.append(
            f"Customers grouped into {opts.aggregate_m:g} m squares per contact type; "
            f"{suppressed:,} customers in groups of fewer than {opts.min_group} not shown."
        )
    return out


def _shared_categories(
    page: _Page, view: pd.DataFrame, cats: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], list[Style]]:
    """Return the categories and styles of a shared map (no ``phone_call``).

    With :data:`SHARED_CATEGORY_COLUMN` (a campaign result has it) every
    customer is drawn in that category; without it, ``phone_call`` customers
    are left out (their number is stated in the legend), never placed.
    """
    styles = [SHARED_CATEGORIES[k] for k in SHARED_CATEGORIES]
    page.notes.append(
        "Outage notices to Priority Services customers are not shown: on this map every "
        "customer shows the leaflet or installation letter they get (internal map only)."
    )
    if SHARED_CATEGORY_COLUMN in view.columns:
        shared = view[SHARED_CATEGORY_COLUMN].astype("object").to_numpy()
        bad = ~pd.Series(shared).isin(list(SHARED_CATEGORIES)).to_numpy()
        if bad.any():
            shown = sorted({repr(v) for v in shared[bad]})[:5]
            raise ParameterError(
                f"result.customers[{SHARED_CATEGORY_COLUMN!r}] has {int(bad.sum())} values "
                f"outside {', '.join(SHARED_CATEGORIES)}: {', '.join(shown)}."
            )
        return shared, styles
    called = cats == "phone_call"
    if called.any():
        page.notes.append(
            f"{int(called.sum()):,} customers with an outage call not shown (internal map only)."
        )
    return np.where(called, "", cats), styles


def _address_labels(view: pd.DataFrame) -> list[tuple[str, str]]:
    """Address label of each customer as (first line, rest); the rest repeats a lot."""
    cols = [c for c in INTERNAL_CUSTOMER_COLUMNS if c in view.columns]
    if not cols:
        return [("", "")] * len(view)
    texts = [_text(view[c]) for c in cols]
    out = []
    for row in zip(*texts, strict=True):
        parts = [t for t in row if t]
        out.append((parts[0], ", ".join(parts[1:])) if parts else ("", ""))
    return out


def _add_customers(
    page: _Page, customers: gpd.GeoDataFrame, opts: _Options, *, categorised: bool
) -> None:
    groups = _customer_points(page, customers, opts, categorised=categorised)
    rows = []
    for style, qlon, qlat, counts, labels in groups:
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
        page.layers.append(("points", spec, row, True))
    title = (
        "Customers by contact (one dot per customer; letters go one per premise)"
        if categorised
        else "Customers"
    )
    page.sections.append({"title": title, "rows": rows})


def _cell_label(opts: _Options) -> str:
    """Return the grid square size as shown in popups (e.g. ``"100"``)."""
    return f"{opts.aggregate_m:g}"


def _radii(equipment: pd.DataFrame, radii: float | Mapping[str, float] | None) -> Any:
    """Radius of each item in metres (NaN: none): ``radii``, else ``radius_m``, else defaults."""
    n = len(equipment)
    kinds = _text(equipment[KIND]) if KIND in equipment.columns else [None] * n
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


def _parts_by_owner(
    geoms: npt.NDArray[np.object_],
    owners: npt.NDArray[np.intp],
    *,
    tolerance: float,
    min_vertices: int = 2,
) -> dict[int, list[tuple[Any, Any]]]:
    own, plon, plat = line_parts(geoms, tolerance=tolerance, min_vertices=min_vertices)
    out: dict[int, list[tuple[Any, Any]]] = {}
    for o, lo, la in zip(own, plon, plat, strict=True):
        out.setdefault(int(owners[o]), []).append((lo, la))
    return out


def _add_equipment(
    page: _Page, equipment: gpd.GeoDataFrame, radii: float | Mapping[str, float] | None
) -> None:
    eq = pd.DataFrame(
        equipment[[c for c in EQUIPMENT_MAP_COLUMNS if c in equipment.columns]]
    ).reset_index(drop=True)
    if EQUIPMENT_ID not in eq.columns:
        raise ParameterError(f"equipment has no {EQUIPMENT_ID!r} column.")
    n = len(eq)
    x, y = _xy(equipment, "equipment")
    qlon, qlat, ok = quantise(np.nan_to_num(x), np.nan_to_num(y))
    ok &= np.isfinite(x) & np.isfinite(y)
    page.extent(qlon[ok], qlat[ok])
    r = _radii(eq, radii)
    kinds = _text(eq[KIND]) if KIND in eq.columns else [None] * n
    ids = _text(eq[EQUIPMENT_ID])
    circuits = _text(eq[CIRCUIT_ID]) if CIRCUIT_ID in eq.columns else [None] * n
    subs = _text(eq[SUBSTATION_ID]) if SUBSTATION_ID in eq.columns else [None] * n
    dates: list[str | None] = [None] * n
    if INSTALL_DATE in eq.columns:
        col = eq[INSTALL_DATE]
        if pd.api.types.is_datetime64_any_dtype(col):
            dates = [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in col]
        else:
            dates = _text(col)
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
        shapes = _parts_by_owner(lines, extended, tolerance=0)
        sel = extended[np.isfinite(r[extended])]
        if sel.size:
            zone_rings = shapely.boundary(shapely.buffer(geoms[sel], r[sel], quad_segs=16))
            zones = _parts_by_owner(zone_rings, sel, tolerance=0.2)
            for rings in zones.values():
                for lo, la in rings:
                    page.extent(lo, la)

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
        spec = {
            "key": f"equipment_{index}",
            "label": style.label,
            "color": style.color,
            "index": index,
            "icon": icon_uri(style),
            "items": items,
        }
        row = {"icon": icon, "label": style.label, "count": len(items)}
        page.layers.append(("equipment", spec, row, True))
        rows.append(row)
    if (~ok).any():
        page.notes.append(f"{int((~ok).sum()):,} equipment items without a usable location.")
    page.sections.append({"title": "New equipment (with radius)", "rows": rows})


def _add_network(
    page: _Page,
    edges: gpd.GeoDataFrame | None,
    substations: gpd.GeoDataFrame | None,
    in_scope: Iterable[str] | None,
) -> None:
    rows: list[dict[str, Any]] = []
    if edges is not None and len(edges):
        _add_edges(page, edges, in_scope, rows)
    if substations is not None and len(substations):
        s = pd.DataFrame(
            substations[[c for c in (SUBSTATION_ID, NAME) if c in substations.columns]]
        ).reset_index(drop=True)
        x, y = _xy(substations, "substations")
        qlon, qlat, ok = quantise(np.nan_to_num(x), np.nan_to_num(y))
        ok &= np.isfinite(x) & np.isfinite(y)
        ids = _text(s[SUBSTATION_ID]) if SUBSTATION_ID in s else [None] * len(s)
        names = _text(s[NAME]) if NAME in s else [None] * len(s)
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
        row = {"color": SUBSTATION.color, "square": True, "label": SUBSTATION.label}
        row["count"] = len(items)
        page.layers.append(("substations", {"key": SUBSTATION.key, "items": items}, row, True))
        rows.append(row)
    if rows:
        page.sections.append({"title": "Network", "rows": rows})


def _add_edges(
    page: _Page,
    edges: gpd.GeoDataFrame,
    in_scope: Iterable[str] | None,
    rows: list[dict[str, Any]],
) -> None:
    e = pd.DataFrame(
        edges[[c for c in (EDGE_ID, CIRCUIT_ID, NORMALLY_OPEN, IN_SCOPE_COLUMN) if c in edges]]
    ).reset_index(drop=True)
    n = len(e)
    circuit = pd.Series(_text(e[CIRCUIT_ID]) if CIRCUIT_ID in e else [None] * n, dtype=object)
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
        parts = _parts_by_owner(merged, np.arange(len(names)), tolerance=_SIMPLIFY_M)
        items = [{"label": str(names[k]), "_parts": parts[k]} for k in sorted(parts)]
        for k in parts:
            for lo, la in parts[k]:
                page.extent(lo, la)
        spec = {
            "key": style.key,
            "color": style.color,
            "weight": weight,
            "opacity": 0.9,
            "note": note,
            "items": items,
        }
        row = {"line": True, "color": style.color, "label": style.label, "count": len(items)}
        page.layers.append(("lines", spec, row, True))
        rows.append(row)
    idx = np.flatnonzero(usable & is_open)
    if idx.size:
        ids = _text(e[EDGE_ID]) if EDGE_ID in e.columns else [None] * n
        # open points are short links (about a metre): drawn as rings at their middle
        mid = shapely.line_interpolate_point(geoms[idx], 0.5, normalized=True)
        parts = _parts_by_owner(mid, idx, tolerance=0, min_vertices=1)
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
        row["count"] = len(items)
        page.layers.append(("lines", spec, row, True))
        rows.append(row)


# --------------------------------------------------------------------------- assembly
def _encode_layers(page: _Page) -> tuple[Encoder, list[list[float]] | None]:
    """Replace raw arrays (keys starting ``_``) by delta-encoded lists; return bounds."""
    if page.lon:
        lon = np.concatenate(page.lon)
        lat = np.concatenate(page.lat)
        enc = Encoder((int(lon.min()), int(lat.min())))
        bounds = [
            [int(lat.min()) / SCALE, int(lon.min()) / SCALE],
            [int(lat.max()) / SCALE, int(lon.max()) / SCALE],
        ]
    else:
        enc, bounds = Encoder((0, 0)), None
    for factory, spec, _name, _show in page.layers:
        if factory in {"points", "lines", "equipment"}:
            spec.update(enc.spec())
        if factory == "points":
            qlon, qlat = spec.pop("_q")
            spec["xy"], order = enc.points(qlon, qlat)
            if "_n" in spec:
                spec["n"] = spec.pop("_n")[order].tolist()
            if "_labels" in spec:  # first lines, plus an index into the shared rest
                labels = spec.pop("_labels")
                ordered = [labels[i] for i in order.tolist()]
                codes, rest = pd.factorize(pd.Series([r for _, r in ordered], dtype=object))
                spec["labels"] = [head for head, _ in ordered]
                spec["rest"] = [str(r) for r in rest]
                spec["ri"] = codes.tolist()
        elif factory == "lines":
            for item in spec["items"]:
                item["parts"] = [enc.line(lo, la) for lo, la in item.pop("_parts")]
        elif factory == "equipment":
            for item in spec["items"]:
                for raw, key in (("_zone", "zone"), ("_shape", "shape")):
                    rings = item.pop(raw)
                    if rings:
                        item[key] = [enc.line(lo, la) for lo, la in rings]
    return enc, bounds


def _assemble(page: _Page, opts: _Options) -> folium.Map:
    import folium

    _enc, bounds = _encode_layers(page)
    # the same folium map for every page (SSG.setup fits it to the data): nothing
    # that depends on the data is rendered by folium/branca, which use Jinja
    m = folium.Map(location=list(_GB_CENTRE), zoom_start=6, tiles=None, control_scale=True)
    m.default_js = []  # no CDN links: the figure header embeds everything instead
    m.default_css = []
    figure: Any = m.get_root()
    figure.title = None  # SSG.setup sets document.title from the data
    figure.header.add_child(InlineAssets(), name="ssg_assets")

    notes = list(page.notes)
    if opts.internal:
        notes.insert(0, "INTERNAL: shows customer addresses. Do not send outside the team.")
    else:
        notes.insert(
            0,
            "Pseudonymous: no names, addresses, phone numbers or PSR details. "
            "Click a dot for the contact type.",
        )
    if opts.tiles in (None, "none"):
        notes.append("No background map (offline mode).")
    data = {
        "title": opts.title,
        "bounds": bounds,
        "maxZoom": 20,
        "tiles": _tiles_data(opts.tiles, opts.tile_attribution),
        "legend": {
            "title": opts.title,
            "sections": page.sections,
            "icons": page.icons,
            "notes": notes,
        },
        "layers": [
            {"factory": factory, "show": show, "name": name, "spec": spec}
            for factory, spec, name, show in page.layers
        ],
    }
    figure.html.add_child(DataIsland(data), name="ssg_data")
    m.add_child(MapSetup(), name="ssg_setup")
    _stable_ids(m)
    return m


def _stable_ids(root: Any) -> None:
    """Give every element a sequential id so the same input renders the same bytes."""
    elements: list[Any] = []

    def walk(node: Any) -> None:
        elements.append(node)
        for child in list(node._children.values()):
            walk(child)

    walk(root)
    old = {id(el): el.get_name() for el in elements}
    for n, el in enumerate(elements):
        el._id = f"{n:04d}"
    for el in elements:
        el._children = type(el._children)(
            (child.get_name() if key == old[id(child)] else key, child)
            for key, child in el._children.items()
        )


def _build(
    *,
    customers: Any = None,
    equipment: Any = None,
    edges: Any = None,
    substations: Any = None,
    in_scope: Iterable[str] | None = None,
    radii: float | Mapping[str, float] | None = None,
    categorised: bool,
    opts: _Options,
) -> folium.Map:
    page = _Page()
    if equipment is not None:
        _add_equipment(page, _frame(equipment, "equipment"), radii)
    if customers is not None:
        _add_customers(page, _frame(customers, "customers"), opts, categorised=categorised)
    _add_network(
        page,
        None if edges is None else _frame(edges, "network"),
        None if substations is None else _frame(substations, "substations"),
        in_scope,
    )
    return _assemble(page, opts)


# --------------------------------------------------------------------------- public API
_COMMON_PARAMETERS = """
    tiles : {"osm", "none"} or str, default "osm"
        Background: OpenStreetMap tiles, none (the map still shows circuits,
        substations and a scale bar), or an ``https://`` tile URL template
        ``https://.../{z}/{x}/{y}.png`` (see :func:`check_tiles`; anything
        else raises ParameterError before any work). Tiles are the only thing a
        saved map fetches from the network; without network the map works,
        minus tiles.
    tile_attribution : str, optional
        Attribution text for the tiles (for OpenStreetMap it follows the OSM
        credit). Shown as plain text: markup or template syntax in it shows
        literally.
    title : str, optional
        Title of the page and the legend, shown as plain text. Every text from
        the data and the options reaches the page only in its JSON data island
        (never through folium's Jinja2 templates, never parsed as HTML), so
        ``{{ }}``, ``{% %}``, ``<script>`` or ``${}`` in it show literally."""


def campaign_map(
    result: Any,
    *,
    tiles: str | None = "osm",
    tile_attribution: str | None = None,
    internal: bool = False,
    aggregate_m: float | None = None,
    min_group: int = 5,
    title: str | None = None,
) -> folium.Map:
    """Map a campaign: new equipment and radii, circuits in scope, who gets which contact.

    Parameters
    ----------
    result : campaign result
        Any object with these attributes (all GeoDataFrames in EPSG:27700):

        - ``customers``: valid customers with a ``map_category`` column, one of
          ``phone_call``, ``installation_letter``, ``leaflet``, ``manual_review``,
          ``not_contacted`` (each customer's highest-priority contact), and
          ``map_category_shared`` (the same without ``phone_call``: the
          customer as if nobody were on the Priority Services Register). Only
          these and the location are read (plus the address columns with
          ``internal=True``).
        - ``equipment``: ``equipment_id``, ``kind``, ``install_date``,
          ``circuit_id``, ``substation_id``, ``outage_required``, ``radius_m``
          (metres) and ``n_customers_within``.
        - ``edges`` (optional): network edges with ``circuit_id``,
          ``normally_open`` and ``in_scope`` (bool: the circuit is in the campaign).
        - ``substations`` (optional): ``substation_id``, ``name``.
    internal : bool, default False
        Add each customer's address (address lines, post town, postcode) to
        the click popup, and draw ``phone_call`` customers (PSR households in
        a planned outage) as a layer of their own. Off by default: the map is
        pseudonymous and shares no PSR information: every customer is drawn
        in ``map_category_shared`` (without that column, ``phone_call``
        customers are left out and counted in the legend).
    aggregate_m : float, optional
        Group customers into squares of this size (metres, British National
        Grid) per contact type, drawn at the square's centre with the count;
        groups of fewer than ``min_group`` customers are left out (their number
        is stated in the legend). For maps that travel beyond the campaign team.
    min_group : int, default 5
        Smallest group shown when ``aggregate_m`` is set.
    {common}

    Returns
    -------
    folium.Map
        Layers: equipment by kind (icon, colour and radius circle; popup with
        id, kind, install date, radius, customers within radius, circuit,
        substation, outage), customers by contact type (canvas layers), circuits
        in / not in scope, normally-open points, substations; a layer control, a
        legend, a scale bar; fitted to the data. Save it with :func:`save_map`.

    Raises
    ------
    ParameterError
        ``customers`` lacks ``map_category`` or has other values; a bad option.
    CRSError
        A frame is not in EPSG:27700.

    See Also
    --------
    save_map, inputs_map

    Notes
    -----
    Privacy: only allowlisted columns are read (see
    :data:`PSEUDONYMOUS_CUSTOMER_COLUMNS`, :data:`INTERNAL_CUSTOMER_COLUMNS`,
    :data:`EQUIPMENT_MAP_COLUMNS`); names, phone numbers, PSR flags and needs
    and customer or premise ids never reach the page. A customer point still
    marks a home to within about a metre; use ``aggregate_m`` when that is too
    much for the audience. Positions are converted to ETRS89 with OSTN15.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> customers = gpd.GeoDataFrame(
    ...     {{"map_category": ["leaflet", "phone_call"]}},
    ...     geometry=[Point(383_990, 398_250), Point(384_010, 398_260)], crs="EPSG:27700")
    >>> equipment = gpd.GeoDataFrame(
    ...     {{"equipment_id": ["EQ1"], "kind": ["lv_capacitor"], "radius_m": [30.0],
    ...      "n_customers_within": [2]}},
    ...     geometry=[Point(384_000, 398_256)], crs="EPSG:27700")
    >>> m = campaign_map(SimpleNamespace(customers=customers, equipment=equipment), tiles="none")
    >>> type(m).__name__
    'Map'
    """
    opts = _Options(
        check_tiles(tiles),
        tile_attribution,
        internal,
        aggregate_m,
        min_group,
        title or "Campaign map",
    )
    for attr in ("customers", "equipment"):
        if not hasattr(result, attr):
            raise ParameterError(
                f"campaign_map: the result has no .{attr}; pass a campaign result "
                "(customers, equipment, and optionally edges and substations)."
            )
    return _build(
        customers=result.customers,
        equipment=result.equipment,
        edges=getattr(result, "edges", None),
        substations=getattr(result, "substations", None),
        categorised=True,
        opts=opts,
    )


def inputs_map(
    *,
    customers: Any = None,
    equipment: Any = None,
    edges: Any = None,
    substations: Any = None,
    in_scope: Iterable[str] | None = None,
    radii: float | Mapping[str, float] | None = None,
    tiles: str | None = "osm",
    tile_attribution: str | None = None,
    internal: bool = False,
    aggregate_m: float | None = None,
    min_group: int = 5,
    title: str | None = None,
) -> folium.Map:
    """Map raw inputs together: any of customers, equipment, network edges, substations.

    Parameters
    ----------
    customers, equipment, edges, substations : GeoDataFrame or reader result, optional
        As returned by :func:`~smartstreet_geo.read_customers`,
        :func:`~smartstreet_geo.read_equipment` and
        :func:`~smartstreet_geo.read_network` (EPSG:27700). Customers are coloured
        by ``map_category`` when they have it, otherwise drawn in one colour.
    in_scope : iterable of str, optional
        Circuit ids in scope (e.g. the trial circuits); splits the circuits into
        two layers. Without it an ``in_scope`` column of ``edges`` is used, if any.
    radii : float or mapping, optional
        Equipment radius in metres, one for all or per kind. Default: the
        ``radius_m`` column, else :data:`~smartstreet_geo.DEFAULT_RADII_M`.
    internal, aggregate_m, min_group
        As for :func:`campaign_map`.
    {common}

    Returns
    -------
    folium.Map

    See Also
    --------
    campaign_map, equipment_map, circuits_map, customers_map, save_map

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> equipment, _ = ssg.read_equipment(ssg.demo.path("equipment"))
    >>> m = inputs_map(equipment=equipment, tiles="none")
    >>> type(m).__name__
    'Map'
    """
    opts = _Options(
        check_tiles(tiles), tile_attribution, internal, aggregate_m, min_group, title or "Inputs"
    )
    categorised = False
    if customers is not None:
        frame = _frame(customers, "customers")
        categorised = CATEGORY_COLUMN in frame.columns
        customers = frame
    return _build(
        customers=customers,
        equipment=equipment,
        edges=edges,
        substations=substations,
        in_scope=in_scope,
        radii=radii,
        categorised=categorised,
        opts=opts,
    )


def equipment_map(
    equipment: Any,
    *,
    radii: float | Mapping[str, float] | None = None,
    tiles: str | None = "osm",
    tile_attribution: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """Map new equipment by kind, each with its radius circle and a popup.

    Parameters
    ----------
    equipment : GeoDataFrame or ReadResult
        From :func:`~smartstreet_geo.read_equipment` (EPSG:27700). Lines and
        polygons (cable routes, works areas) are drawn with their radius zone.
    radii : float or mapping, optional
        Radius in metres, one for all or per kind; default the ``radius_m``
        column if present, else :data:`~smartstreet_geo.DEFAULT_RADII_M`.
    {common}

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> equipment, _ = ssg.read_equipment(ssg.demo.path("equipment"))
    >>> m = equipment_map(equipment, radii={{"oltc_transformer": 60, "lv_capacitor": 30,
    ...                                     "link_box_switch": 20, "circuit_breaker": 30}})
    >>> type(m).__name__
    'Map'
    """
    return inputs_map(
        equipment=equipment,
        radii=radii,
        tiles=tiles,
        tile_attribution=tile_attribution,
        title=title or "New equipment",
    )


def circuits_map(
    edges: Any,
    substations: Any = None,
    *,
    in_scope: Iterable[str] | None = None,
    tiles: str | None = "osm",
    tile_attribution: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """Map the LV network: circuits in and not in scope, open points, substations.

    Parameters
    ----------
    edges : GeoDataFrame or NetworkReadResult
        Network edges from :func:`~smartstreet_geo.read_network` (a
        ``NetworkReadResult`` brings its substations along).
    substations : GeoDataFrame, optional
    in_scope : iterable of str, optional
        Circuit ids in scope (e.g. trial circuits). Default: the ``in_scope``
        column of ``edges`` if present, otherwise no split.
    {common}

    Returns
    -------
    folium.Map
        One line per circuit (hover for its id), normally-open points as rings,
        substation squares (hover for name and id).

    Examples
    --------
    >>> import pandas as pd
    >>> import smartstreet_geo as ssg
    >>> net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    >>> circuits = pd.read_csv(ssg.demo.path("circuits"))
    >>> m = circuits_map(net, in_scope=circuits.loc[circuits["trial"], "circuit_id"], tiles="none")
    >>> type(m).__name__
    'Map'
    """
    if hasattr(edges, "edges") and hasattr(edges, "substations"):
        if substations is None:
            substations = edges.substations
        edges = edges.edges
    return inputs_map(
        edges=edges,
        substations=substations,
        in_scope=in_scope,
        tiles=tiles,
        tile_attribution=tile_attribution,
        title=title or "Circuits",
    )


def customers_map(
    customers: Any,
    *,
    tiles: str | None = "osm",
    tile_attribution: str | None = None,
    internal: bool = False,
    aggregate_m: float | None = None,
    min_group: int = 5,
    title: str | None = None,
) -> folium.Map:
    """Map customers as canvas points (pseudonymous unless ``internal=True``).

    Parameters
    ----------
    customers : GeoDataFrame or ReadResult
        From :func:`~smartstreet_geo.read_customers` (EPSG:27700), coloured by
        ``map_category`` when present.
    internal, aggregate_m, min_group
        As for :func:`campaign_map`.
    {common}

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> customers = gpd.GeoDataFrame({{"name": ["A Person"]}},
    ...     geometry=[Point(383_990, 398_250)], crs="EPSG:27700")
    >>> m = customers_map(customers, tiles="none")
    >>> "A Person" in m.get_root().render()
    False
    """
    return inputs_map(
        customers=customers,
        tiles=tiles,
        tile_attribution=tile_attribution,
        internal=internal,
        aggregate_m=aggregate_m,
        min_group=min_group,
        title=title or "Customers",
    )


for _fn in (campaign_map, inputs_map, equipment_map, circuits_map, customers_map):
    _fn.__doc__ = (_fn.__doc__ or "").format(common=_COMMON_PARAMETERS.strip("\n"))


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write a map as one self-contained HTML file, atomically (owner-only permissions).

    Parameters
    ----------
    m : folium.Map
        A map from this module (or any folium map whose resources are all inline).
    path : str or Path
        The HTML file to write; its folder must exist.

    Returns
    -------
    Path

    Raises
    ------
    ParameterError
        The page would load a script or style sheet from the network (e.g. a
        folium plugin added to the map): a saved map must open offline.

    Notes
    -----
    The page embeds Leaflet and the layer code (see
    :mod:`smartstreet_geo.maps._assets`), so it opens from a file on a laptop
    without internet; only background tiles, if any, need the network.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import smartstreet_geo as ssg
    >>> equipment, _ = ssg.read_equipment(ssg.demo.path("equipment"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_map(equipment_map(equipment, tiles="none"), pathlib.Path(tmp, "map.html"))
    ...     out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    True
    """
    html = m.get_root().render()
    found = EXTERNAL_RESOURCE.search(html)
    if found:
        raise ParameterError(
            f"the map would load {found.group(0)[:120]!r} from outside the page, so it would "
            "not open offline; build maps with smartstreet_geo.maps (which embeds its "
            "scripts) and do not add folium plugins that load from a CDN."
        )
    return atomic_write_bytes(path, html.encode("utf-8"))
