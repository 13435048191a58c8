"""Public map builders (campaign, inputs, equipment, circuits, customers) and ``save_map``.

Every builder collects what the map shows into a :class:`~._page.Page` (the
layer modules ``_customers``, ``_equipment`` and ``_network``, one per kind of
feature) and hands it to :func:`~._page.assemble`, which makes one folium map
whose only data is its JSON data island. See
:mod:`smartstreet_geo.maps._elements` for why data never passes through folium.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ParameterError
from ..export import atomic_write_bytes
from ..schema import CUSTOMER_ID
from ._assets import EXTERNAL_RESOURCE
from ._customers import add_customers
from ._equipment import add_equipment
from ._network import add_network
from ._options import Options, check_tiles
from ._page import (
    CATEGORY_COLUMN,
    EQUIPMENT_MAP_COLUMNS,
    INTERNAL_CUSTOMER_COLUMNS,
    PSEUDONYMOUS_CUSTOMER_COLUMNS,
    SECTOR_CUSTOMER_COLUMNS,
    SHARED_CATEGORY_COLUMN,
    Page,
    as_frame,
    assemble,
    customer_frame,
)
from ._plan import add_plan

if TYPE_CHECKING:
    import folium

__all__ = [
    "CATEGORY_COLUMN",
    "EQUIPMENT_MAP_COLUMNS",
    "INTERNAL_CUSTOMER_COLUMNS",
    "PSEUDONYMOUS_CUSTOMER_COLUMNS",
    "SECTOR_CUSTOMER_COLUMNS",
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


# --------------------------------------------------------------------------- building
def _build(
    *,
    customers: Any = None,
    equipment: Any = None,
    edges: Any = None,
    substations: Any = None,
    in_scope: Iterable[str] | None = None,
    radii: float | Mapping[str, float] | None = None,
    categorised: bool,
    opts: Options,
    reasons: Any = None,
    plans: Any = None,
) -> folium.Map:
    page = Page()
    frame = None
    if equipment is not None:
        add_equipment(page, as_frame(equipment, "equipment"), radii)
    xy = None
    if customers is not None:
        frame, xy = customer_frame(customers)
        why = _reasons(frame, reasons) if opts.internal else None
        add_customers(page, frame, opts, categorised=categorised, reasons=why, xy=xy)
    network = None if edges is None else as_frame(edges, "network")
    add_network(
        page,
        network,
        None if substations is None else as_frame(substations, "substations"),
        in_scope,
    )
    if plans:  # after the network: plan layers draw over the circuits
        add_plan(page, plans, network, frame, opts, customer_xy=xy)
    return assemble(page, opts)


def _reasons(customers: Any, reconciliation: Any) -> pd.Series | None:
    """Each customer's reason from the campaign's reconciliation (internal maps only).

    Joined on ``customer_id``, which never reaches the page itself; a customer
    without a row (or with a missing id) has no reason.
    """
    if not isinstance(reconciliation, pd.DataFrame):
        return None
    if not {CUSTOMER_ID, "reason"} <= set(reconciliation.columns) or CUSTOMER_ID not in customers:
        return None
    said = reconciliation.dropna(subset=[CUSTOMER_ID]).drop_duplicates(CUSTOMER_ID)
    lookup = pd.Series(said["reason"].to_numpy(dtype=object), index=said[CUSTOMER_ID].to_numpy())
    ids = customers[CUSTOMER_ID]
    found = ids.map(lookup).where(ids.notna())
    return pd.Series(found.to_numpy(dtype=object))


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
          these, the location and the postcode (for the postcode *sectors*
          of the search box) are read; ``internal=True`` adds the address
          columns, and ``customer_id`` to join the reasons.
        - ``equipment``: ``equipment_id``, ``kind``, ``install_date``,
          ``circuit_id``, ``substation_id``, ``outage_required``, ``radius_m``
          (metres) and ``n_customers_within``.
        - ``edges`` (optional): network edges with ``circuit_id``,
          ``normally_open`` and ``in_scope`` (bool: the circuit is in the campaign).
        - ``substations`` (optional): ``substation_id``, ``name``.
        - ``reconciliation`` (optional, read with ``internal=True`` only):
          ``customer_id`` and ``reason``, each customer's reason for its
          contact, shown in the click popup.
        - ``outage_plans`` (optional): a mapping of outage day to
          :class:`~smartstreet_geo.network.OutagePlan` (a campaign run with
          ``[outage] plan = "backfeed"``); adds the outage-plan layers. Read
          with ``customers.customer_id`` (to place the customers still
          interrupted; the id never reaches the page) and the ``edges``
          (``edge_id``, ``from_node``, ``to_node``, ``normally_open``).
    internal : bool, default False
        Add each customer's address (address lines, post town, postcode) and
        the reason for its contact to the click popup, let the search box find
        full postcodes, and draw ``phone_call`` customers (PSR households in a
        planned outage) as a layer of their own. Off by default: the map is
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
        Layers (all but the substations drawn on canvas tiles, so that
        millions of customers and thousands of equipment items pan and zoom
        smoothly): equipment by kind (icon and radius circle, icons closer
        than 28 px merged with their number; popup with id, kind, install
        date, radius, customers within radius, circuit, substation, outage),
        customers by contact type (Okabe-Ito colours, told apart with any
        common colour-vision deficiency; manual review also a square),
        circuits in / not in scope, normally-open points, substations, and a
        summary card per area (counts of customers by contact, equipment,
        substations) when zoomed out. With ``outage_plans``, an "Outage
        plan (backfeed)" legend section whose layers are all off when the map
        opens (the contact layers already show who is called or written to):
        isolated nodes (work sites) and cables, the de-energised parts (their
        cables, one item per part and day), the normally-open points the plan
        closes (a large green ring, at every zoom; a plain normally-open point
        is a small black ring from street zoom) and the customers still
        interrupted (one dot per customer, positions only; grouped into
        squares with ``aggregate_m``; on an internal map the popup adds the
        address, the day(s) and whether PSR). Each row counts its
        features; hover a line or ring for the day, the part and the donor.
        Controls: the legend, which is the
        layer control (check boxes; folds, folded on small screens); search
        (postcode sectors, or full postcodes with ``internal=True``,
        equipment ids, circuits, substations, areas); bookmarks (areas and
        substations); full screen; a measuring tool; a scale bar. Fitted to
        the data. Save it with :func:`save_map`.

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
    :data:`PSEUDONYMOUS_CUSTOMER_COLUMNS`, :data:`SECTOR_CUSTOMER_COLUMNS`,
    :data:`INTERNAL_CUSTOMER_COLUMNS`, :data:`EQUIPMENT_MAP_COLUMNS`); names,
    phone numbers, PSR flags and needs and customer or premise ids never reach
    the page, and a shared map names postcode sectors of at least
    ``min_group`` customers only, never a full postcode. A customer point still
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
    opts = Options(
        check_tiles(tiles),
        tile_attribution,
        internal,
        aggregate_m,
        min_group,
        title or "Campaign map",
    )
    from ..campaign._points import held_customers

    for attr in ("customers", "equipment"):
        # (looked up in the instance first: reading a result's customers makes their points)
        if attr not in getattr(result, "__dict__", {}) and not hasattr(result, attr):
            raise ParameterError(
                f"campaign_map: the result has no .{attr}; pass a campaign result "
                "(customers, equipment, and optionally edges and substations)."
            )
    return _build(
        customers=held_customers(result),  # coordinates when held so: no points made
        equipment=result.equipment,
        edges=getattr(result, "edges", None),
        substations=getattr(result, "substations", None),
        categorised=True,
        opts=opts,
        reasons=getattr(result, "reconciliation", None),
        plans=getattr(result, "outage_plans", None),
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
    opts = Options(
        check_tiles(tiles), tile_attribution, internal, aggregate_m, min_group, title or "Inputs"
    )
    categorised = False
    if customers is not None:
        frame = as_frame(customers, "customers")
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
    return atomic_write_bytes(path, page_bytes(m))


def page_bytes(m: folium.Map) -> bytes:
    """Return the HTML page :func:`save_map` writes, as UTF-8 bytes (checked the same way).

    For a caller that draws the map away from where it writes it (the CLI draws the
    campaign map on a second thread while the CSV files are written).
    """
    html = m.get_root().render()
    found = EXTERNAL_RESOURCE.search(html)
    if found:
        raise ParameterError(
            f"the map would load {found.group(0)[:120]!r} from outside the page, so it would "
            "not open offline; build maps with smartstreet_geo.maps (which embeds its "
            "scripts) and do not add folium plugins that load from a CDN."
        )
    return html.encode("utf-8")
