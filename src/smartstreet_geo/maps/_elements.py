"""folium elements that hand compact data to the embedded map code (``SSG.*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from ._escape import script_json

__all__ = ["DataLayer", "MapSetup"]


class DataLayer(Layer):
    """An overlay built in the browser by ``SSG.<factory>(spec)``.

    It is a folium :class:`~folium.map.Layer`, so :class:`folium.LayerControl`
    lists it under ``name`` and folium adds it to the map when ``show``.

    Parameters
    ----------
    factory : str
        ``"points"``, ``"lines"``, ``"equipment"`` or ``"substations"``.
    spec : mapping
        The layer's data; serialised with :func:`script_json`.
    name : str
        The layer-control label, already HTML-escaped (Leaflet inserts it as HTML).
    show : bool
        Whether the layer is on when the map opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = SSG.{{ this.factory }}({{ this.spec_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self, factory: str, spec: Mapping[str, Any], *, name: str, show: bool = True
    ) -> None:
        if factory not in {"points", "lines", "equipment", "substations"}:
            raise ValueError(f"unknown layer factory {factory!r}")
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "SsgLayer"
        self.factory = factory
        self.spec_json = script_json(dict(spec))


class MapSetup(MacroElement):
    """Create the panes, the legend and the customer click handler (``SSG.setup``).

    Must be the map's first child so that the panes exist before any layer
    is added.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            SSG.setup({{ this._parent.get_name() }}, {{ this.spec_json }});
        {% endmacro %}
        """
    )

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "SsgSetup"
        self.spec_json = script_json(dict(spec))
