"""Interactive maps (Folium/Leaflet) that open offline and carry no personal data by default.

A saved map is one HTML file: Leaflet and the layer code are embedded (vendored
from npm at pinned versions, see ``vendor/MANIFEST.json``), customers are drawn
on canvas tiles from compact coordinate arrays (tens of thousands of points
load in about a second), and only allowlisted columns reach the page.

- :func:`campaign_map` -- a campaign result: equipment, radii, circuits in
  scope, customers by contact type.
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
