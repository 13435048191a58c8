"""What every map kind shares: allowed columns, the page being collected, and its assembly.

Each layer module (``_customers``, ``_equipment``, ``_network``) adds its
layers, legend rows, search entries and places to a :class:`Page`;
:func:`assemble` turns the page into one folium map whose only data is the
JSON data island (see :mod:`smartstreet_geo.maps._elements`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ..crs import require_bng
from ..errors import ParameterError
from ..schema import (
    ADDRESS_LINES,
    CIRCUIT_ID,
    EQUIPMENT_ID,
    INSTALL_DATE,
    KIND,
    OUTAGE_REQUIRED,
    POST_TOWN,
    POSTCODE,
    SUBSTATION_ID,
)
from ._areas import areas_data
from ._assets import InlineAssets
from ._elements import DataIsland, MapSetup
from ._encode import SCALE, Encoder, line_parts
from ._escape import JSONInts
from ._options import Options, tiles_data

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

_GB_CENTRE = (54.0, -2.5)

#: Column of ``result.customers`` holding each customer's highest-priority contact.
CATEGORY_COLUMN = "map_category"
#: The same as if nobody were on the PSR (no ``phone_call``): what a shared map draws.
SHARED_CATEGORY_COLUMN = "map_category_shared"
RADIUS_COLUMN = "radius_m"
N_WITHIN_COLUMN = "n_customers_within"
IN_SCOPE_COLUMN = "in_scope"

#: The only customer columns a default (pseudonymous) map reads, besides the location.
PSEUDONYMOUS_CUSTOMER_COLUMNS = (CATEGORY_COLUMN, SHARED_CATEGORY_COLUMN)
#: Read by a default map only to list postcode *sectors* ("M14 5", thousands of
#: addresses each) in its search box; no full postcode reaches a shared page.
SECTOR_CUSTOMER_COLUMNS = (POSTCODE,)
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


# --------------------------------------------------------------------------- inputs
def as_frame(obj: Any, what: str) -> gpd.GeoDataFrame:
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


def customer_frame(obj: Any) -> tuple[pd.DataFrame, tuple[npt.NDArray[np.float64], ...]]:
    """Return the customers' columns and each one's BNG x, y.

    From a GeoDataFrame (or a reader result), or from a campaign's customers held as
    coordinates (:class:`~smartstreet_geo.campaign._points.CustomerTable`), whose
    points are then never made.
    """
    import geopandas as gpd

    from ..campaign._points import CustomerTable

    if isinstance(obj, CustomerTable):
        require_bng(gpd.GeoSeries([], crs=obj.crs), what="customers")
        return obj.frame, (obj.x, obj.y)
    frame = as_frame(obj, "customers")
    return frame, positions(frame, "customers")


def as_text(values: pd.Series) -> list[str | None]:
    """Values as text, missing as None (no personal columns ever pass here by default)."""
    out: list[str | None] = []
    for v in values.tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


def positions(frame: gpd.GeoDataFrame, what: str) -> tuple[npt.NDArray[np.float64], ...]:
    """Return BNG x, y of each feature (a point on the surface of lines and areas; NaN: none)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms[present])
    if what == "customers" and np.any(types != 0):
        raise ParameterError("customers: every location must be a Point (EPSG:27700).")
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    pts = geoms[present]
    if pts.size:
        other = types != 0
        if other.any():  # lines and areas: a point on them (points as they are)
            pts = pts.copy()
            pts[other] = shapely.point_on_surface(pts[other])
        x[present] = shapely.get_x(pts)
        y[present] = shapely.get_y(pts)
    return x, y


# --------------------------------------------------------------------------- pieces
@dataclass
class Page:
    """Everything the builder collects before it makes the folium map.

    ``layers`` holds (factory, spec, legend row, shown when the map opens); the
    legend row (``label``, ``count``, key look) is also the layer's entry in
    the layer control, which is the legend. ``places`` are located features
    by what they are (``customers``/``equipment``/``substations``: BNG x, y
    and a label per feature) from which the per-area summaries are made;
    ``search`` are entries of the search box; ``bookmarks`` the places the
    bookmark menu goes to (besides the areas).
    """

    layers: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = field(default_factory=list)
    lon: list[npt.NDArray[np.int64]] = field(default_factory=list)  # for origin and bounds
    lat: list[npt.NDArray[np.int64]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    icons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    places: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)
    search: list[list[Any]] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    quiet_labels: set[str] = field(default_factory=set)  # not itemised in area summaries

    def extent(self, qlon: npt.NDArray[np.int64], qlat: npt.NDArray[np.int64]) -> None:
        """Widen the map's extent to these positions (integer 1e-5 degrees)."""
        if qlon.size:
            self.lon.append(np.array([qlon.min(), qlon.max()]))
            self.lat.append(np.array([qlat.min(), qlat.max()]))


def parts_by_owner(
    geoms: npt.NDArray[np.object_],
    owners: npt.NDArray[np.intp],
    *,
    tolerance: float,
    min_vertices: int = 2,
) -> dict[int, list[tuple[Any, Any]]]:
    """Return each owner's simple line parts as (qlon, qlat) arrays (see ``line_parts``)."""
    own, plon, plat = line_parts(geoms, tolerance=tolerance, min_vertices=min_vertices)
    out: dict[int, list[tuple[Any, Any]]] = {}
    for o, lo, la in zip(own, plon, plat, strict=True):
        out.setdefault(int(owners[o]), []).append((lo, la))
    return out


# --------------------------------------------------------------------------- assembly
def _encode_layers(page: Page) -> tuple[Encoder, list[list[float]] | None]:
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
            # long integer arrays go to the page's JSON as they are (JSONInts), not as a
            # Python int each
            xy, order = enc.points(qlon, qlat)
            spec["xy"] = JSONInts(xy)
            if "_n" in spec:
                n = np.asarray(spec.pop("_n"))[order]
                spec["n"] = JSONInts(n) if n.dtype.kind in "iu" else n.tolist()
            if "_labels" in spec:  # first lines, plus an index into the shared rest
                labels = spec.pop("_labels")
                ordered = [labels[i] for i in order.tolist()]
                codes, rest = pd.factorize(pd.Series([r for _, r in ordered], dtype=object))
                spec["labels"] = [head for head, _ in ordered]
                spec["rest"] = [str(r) for r in rest]
                spec["ri"] = JSONInts(codes)
            if "_reasons" in spec:  # reasons repeat: each text once, an index per point
                why = pd.Series(spec.pop("_reasons")[order], dtype=object)
                codes, texts = pd.factorize(why)
                spec["reasons"] = [str(t) for t in texts]
                spec["wi"] = JSONInts(codes)
        elif factory == "lines":
            raw = [item.pop("_parts") for item in spec["items"]]
            flat = iter(enc.lines([part for parts in raw for part in parts]))
            for item, parts in zip(spec["items"], raw, strict=True):
                item["parts"] = [next(flat) for _ in parts]
        elif factory == "equipment":
            for item in spec["items"]:
                for raw_key, key in (("_zone", "zone"), ("_shape", "shape")):
                    rings = item.pop(raw_key)
                    if rings:
                        item[key] = enc.lines(rings)
    return enc, bounds


def assemble(page: Page, opts: Options) -> folium.Map:
    """Make the folium map of a collected page: assets, data island, ``SSG.setup``."""
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
        "tiles": tiles_data(opts.tiles, opts.tile_attribution),
        "areas": areas_data(page, opts),
        "search": page.search,
        "bookmarks": page.bookmarks,
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
