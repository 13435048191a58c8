"""The two page elements of a map: its JSON data island and the call that builds it.

Why not folium's own elements: branca renders every element as a Jinja2
template, and a ``MacroElement`` hands the *output* of its macros to a new
``Element(template=...)``, so that output is rendered as a template a second
time. Any value from the data inside a folium tooltip, popup, layer name,
tile attribution or macro would be evaluated there: ``{{7*7}}`` becomes ``49``,
``{{ ...__import__('os')... }}`` runs, ``Unit {{ 3`` raises TemplateSyntaxError.

So data never passes through Jinja. Both elements here render themselves as
plain strings (``render`` is overridden; there is no template at all):

- :class:`DataIsland` writes every value the map shows as one
  ``<script type="application/json" id="ssg-data">`` element, serialised by
  :func:`~smartstreet_geo.maps._escape.script_json` (nothing in it can end the
  element). The browser never runs it; ``SSG.setup`` reads it with
  ``JSON.parse`` and shows text with ``textContent`` only.
- :class:`MapSetup` adds ``SSG.setup(<map variable>);`` to the page script:
  constant code apart from folium's generated variable name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from branca.element import Element, Figure, MacroElement

from ._escape import script_json

__all__ = ["ISLAND_ID", "DataIsland", "MapSetup"]

#: ``id`` of the data island element; ``ssg_map.js`` reads it.
ISLAND_ID = "ssg-data"
_JS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Verbatim(Element):
    """An element that renders a fixed string as is (never as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self._text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self._text


class DataIsland(_Verbatim):
    """``<script type="application/json" id="ssg-data">`` holding everything the map shows.

    Parameters
    ----------
    data : mapping
        JSON-serialisable; serialised once, here, with :func:`script_json`.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(
            f'<script type="application/json" id="{ISLAND_ID}">{script_json(dict(data))}</script>'
        )
        self._name = "DataIsland"


class MapSetup(MacroElement):
    """Call ``SSG.setup(map)`` once the map exists: it builds everything from the island.

    Must be a child of the :class:`folium.Map`; it adds its line to the
    figure's script after the map's own (which creates the map variable).
    """

    def __init__(self) -> None:
        super().__init__()
        self._name = "SsgSetup"

    def render(self, **kwargs: Any) -> str:
        """Add the setup call to the page script (verbatim, not as a template)."""
        figure = self.get_root()
        if not isinstance(figure, Figure) or self._parent is None:
            raise TypeError("MapSetup must be added to a folium.Map inside a Figure")
        name = self._parent.get_name()
        if not _JS_NAME.match(name):  # folium's own generated name; never data
            raise ValueError(f"unexpected map variable name {name!r}")
        figure.script.add_child(_Verbatim(f"SSG.setup({name});"), name=self.get_name())
        return ""
