"""Interactive maps (Folium/Leaflet) that open offline and carry no personal data by default.

A saved map is one HTML file: Leaflet and the layer code are embedded (vendored
from npm at pinned versions, see ``vendor/MANIFEST.json``), customers,
equipment and circuits are drawn on canvas tiles from compact coordinate arrays
(the demo tiled to 2.4 million customers builds in about 10 s, is 20 MB and
pans and zooms without one DOM element per item), and only allowlisted columns
reach the page. It opens on something useful without background tiles: a
summary per area, the network, equipment icons that merge instead of piling up;
its legend is the layer control; it has search (postcodes, equipment ids,
circuits), bookmarks (areas, substations), full screen and a measuring tool.

Modules: ``_api`` (the public builders and :func:`save_map`), one per kind of
layer (``_customers``, ``_equipment``, ``_network``, ``_plan`` for an outage
plan's layers), ``_areas`` (area
summaries), ``_page`` (what they share and the page assembly), ``_options``
(tile settings), ``_encode``, ``_escape``, ``_style``, ``_elements``,
``_assets``.

- :func:`campaign_map` -- a campaign result: equipment, radii, circuits in
  scope, customers by contact type; with ``[outage] plan = "backfeed"`` also
  the plan (isolated nodes and cables, de-energised parts, the normally-open
  points to close, the customers still interrupted), off when the map opens.
- :func:`equipment_map`, :func:`circuits_map`, :func:`customers_map`,
  :func:`inputs_map` -- raw inputs from the readers.
- :func:`save_map` -- write the HTML atomically, refusing anything that would
  load from the network.
- :func:`check_tiles` -- check a background setting (``osm``, ``none`` or an
  ``https://`` tile URL template) early, before any work.

Data never passes through a template: folium/branca render their elements as
Jinja2 templates (twice, for macros), so every text from the inputs and options
goes into one JSON data island that the page's own script reads and shows with
``textContent`` (see ``_elements.py``).
"""

from __future__ import annotations

from ._api import (
    CATEGORY_COLUMN,
    EQUIPMENT_MAP_COLUMNS,
    INTERNAL_CUSTOMER_COLUMNS,
    PSEUDONYMOUS_CUSTOMER_COLUMNS,
    SECTOR_CUSTOMER_COLUMNS,
    SHARED_CATEGORY_COLUMN,
    campaign_map,
    check_tiles,
    circuits_map,
    customers_map,
    equipment_map,
    inputs_map,
    save_map,
)
from ._escape import escape_text, script_json
from ._style import CATEGORIES, SHARED_CATEGORIES

__all__ = [
    "CATEGORIES",
    "CATEGORY_COLUMN",
    "EQUIPMENT_MAP_COLUMNS",
    "INTERNAL_CUSTOMER_COLUMNS",
    "PSEUDONYMOUS_CUSTOMER_COLUMNS",
    "SECTOR_CUSTOMER_COLUMNS",
    "SHARED_CATEGORIES",
    "SHARED_CATEGORY_COLUMN",
    "campaign_map",
    "check_tiles",
    "circuits_map",
    "customers_map",
    "equipment_map",
    "escape_text",
    "inputs_map",
    "save_map",
    "script_json",
]
