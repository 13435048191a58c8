"""Colours, labels and icons of the map layers (constants; no data)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..schema import EquipmentKind

__all__ = [
    "CATEGORIES",
    "EQUIPMENT_STYLES",
    "SHARED_CATEGORIES",
    "UNCATEGORISED",
    "Style",
    "equipment_style",
    "icon_svg",
    "icon_uri",
]

_HEX = re.compile(r"^#[0-9a-f]{6}$")


@dataclass(frozen=True)
class Style:
    """How one kind of feature is drawn and named."""

    key: str
    label: str
    color: str
    z: int = 1
    glyph: str = ""

    def __post_init__(self) -> None:
        if not _HEX.match(self.color):  # colours reach CSS: constants only, checked
            raise ValueError(f"colour {self.color!r} is not #rrggbb")


#: Customer contact categories (``map_category``), most urgent first; ``z`` is the
#: drawing order (higher on top). Colours are from the Okabe-Ito palette, chosen so
#: that every pair stays apart (CIELAB difference of at least 30) for people with
#: protanopia, deuteranopia or tritanopia (Machado et al. 2009; a test checks it):
#: phone call black, manual review yellow (also a square, with a dark edge),
#: installation letter vermillion, leaflet blue, not contacted grey.
CATEGORIES: Final = MappingProxyType(
    {
        s.key: s
        for s in (
            Style("phone_call", "Phone call (PSR outage)", "#000000", 4),
            Style("manual_review", "Manual review, nothing sent", "#f0e442", 5),
            Style("installation_letter", "Installation or outage letter", "#d55e00", 3),
            Style("leaflet", "Leaflet", "#0072b2", 2),
            Style("not_contacted", "Not contacted", "#999999", 1),
        )
    }
)
#: The categories of a shared (default) map (``map_category_shared``): each
#: customer as if nobody were on the PSR, so no point marks a PSR household.
SHARED_CATEGORIES: Final = MappingProxyType(
    {
        s.key: s
        for s in (
            Style("manual_review", "Manual review, nothing sent", "#f0e442", 5),
            Style("installation_letter", "Installation letter", "#d55e00", 3),
            Style("leaflet", "Leaflet", "#0072b2", 2),
            Style("not_contacted", "No leaflet or installation letter", "#999999", 1),
        )
    }
)
#: Customers of a map without contact categories (raw input).
UNCATEGORISED: Final = Style("customer", "Customer", "#4a5a78", 1)

# icon glyphs as SVG path data in a 22 x 22 box: the legend draws them in an SVG
# <img>, the page's canvas layers with Path2D (the same strings, constants only)
_GLYPHS = {
    # two overlapping windings and a tap arrow
    EquipmentKind.OLTC_TRANSFORMER.value: (
        "M4.2 11a4.4 4.4 0 1 0 8.8 0a4.4 4.4 0 1 0 -8.8 0"
        "M9 11a4.4 4.4 0 1 0 8.8 0a4.4 4.4 0 1 0 -8.8 0M5 17.5 17 4.5M14.2 4.5h2.8v2.8"
    ),
    # capacitor plates
    EquipmentKind.LV_CAPACITOR.value: "M3.5 11h5M13.5 11h5M8.5 5v12M13.5 5v12",
    # an open switch
    EquipmentKind.LINK_BOX_SWITCH.value: (
        "M3.5 14.5h4l7-6.5M14.5 14.5h4M6.3 14.5a1.2 1.2 0 1 0 2.4 0a1.2 1.2 0 1 0 -2.4 0"
    ),
    # breaker: a box with a cross
    EquipmentKind.CIRCUIT_BREAKER.value: "M6 6h10v10h-10zM6 6l10 10M16 6 6 16",
}

#: Equipment kinds: label, colour and icon glyph.
EQUIPMENT_STYLES: Final = MappingProxyType(
    {
        s.key: s
        for s in (
            Style(
                EquipmentKind.OLTC_TRANSFORMER.value,
                "OLTC transformer",
                "#4b2991",
                glyph=_GLYPHS[EquipmentKind.OLTC_TRANSFORMER.value],
            ),
            Style(
                EquipmentKind.LV_CAPACITOR.value,
                "LV capacitor",
                "#007a5e",
                glyph=_GLYPHS[EquipmentKind.LV_CAPACITOR.value],
            ),
            Style(
                EquipmentKind.LINK_BOX_SWITCH.value,
                "Link box switch",
                "#a14f00",
                glyph=_GLYPHS[EquipmentKind.LINK_BOX_SWITCH.value],
            ),
            Style(
                EquipmentKind.CIRCUIT_BREAKER.value,
                "Circuit breaker",
                "#1a1a1a",
                glyph=_GLYPHS[EquipmentKind.CIRCUIT_BREAKER.value],
            ),
        )
    }
)
_OTHER_COLOURS = ("#5f6b7a", "#7a5f6b", "#6b7a5f", "#3d6f8f")
_OTHER_GLYPH = "M7 11a4 4 0 1 0 8 0a4 4 0 1 0 -8 0"

#: Network styles: circuits by scope, normally-open points, substations.
CIRCUIT_IN_SCOPE: Final = Style("circuits_in_scope", "Circuits in scope (trial)", "#009e73")
CIRCUIT_OUT_OF_SCOPE: Final = Style("circuits_out_of_scope", "Circuits not in scope", "#8a8f99")
CIRCUIT_UNKNOWN: Final = Style("circuits", "Circuits", "#5b7fa6")
OPEN_POINT: Final = Style("open_points", "Normally-open points", "#111111")
SUBSTATION: Final = Style("substations", "Substations", "#222222")


def equipment_style(kind: str, other_index: int = 0) -> Style:
    """Return the style of an equipment kind (a neutral one for an unknown kind).

    Examples
    --------
    >>> equipment_style("lv_capacitor").label
    'LV capacitor'
    >>> equipment_style("heat_pump").label
    'heat_pump'
    """
    if kind in EQUIPMENT_STYLES:
        return EQUIPMENT_STYLES[kind]
    colour = _OTHER_COLOURS[other_index % len(_OTHER_COLOURS)]
    return Style(kind, kind, colour, glyph=_OTHER_GLYPH)


def icon_svg(style: Style, *, size: int = 22) -> str:
    """Return the SVG icon of an equipment style (markup from constants only).

    Examples
    --------
    >>> icon_svg(equipment_style("circuit_breaker")).startswith("<svg")
    True
    """
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 22 22"><rect x="1" y="1" width="20" height="20" rx="4" fill="#fff" '
        f'stroke="{style.color}" stroke-width="2"/><g fill="none" stroke="{style.color}" '
        f'stroke-width="1.7" stroke-linecap="round"><path d="{style.glyph}"/></g></svg>'
    )


def icon_uri(style: Style, *, size: int = 22) -> str:
    """Return the icon as a ``data:image/svg+xml`` URI, for an ``<img>`` element.

    The page shows icons as images (``L.icon``, ``img.src``), never as inserted
    markup: an SVG loaded as an image cannot run script or load anything.

    Examples
    --------
    >>> icon_uri(equipment_style("lv_capacitor")).startswith("data:image/svg+xml;base64,")
    True
    """
    svg = icon_svg(style, size=size).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


#: Outage-plan layers (a campaign with ``[outage] plan = "backfeed"``): isolated
#: nodes and cables (vermillion-red), de-energised parts (orange), the
#: normally-open points the plan closes (a large, thick bluish-green ring, unlike
#: the small black ring of every normally-open point), and the customers still
#: interrupted (reddish purple with a dark edge, above the contact dots).
PLAN_ISOLATED_NODE: Final = Style("plan_isolated_nodes", "Isolated nodes (work sites)", "#b2182b")
PLAN_ISOLATED_CABLE: Final = Style("plan_isolated_cables", "Isolated cables", "#b2182b")
PLAN_PART: Final = Style("plan_parts", "De-energised parts (without the plan)", "#e69f00")
PLAN_CLOSE: Final = Style("plan_points_to_close", "Normally-open points to close", "#00735a")
PLAN_INTERRUPTED: Final = Style(
    "plan_interrupted", "Customers still interrupted under the plan", "#cc79a7", 6
)
