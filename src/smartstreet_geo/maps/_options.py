"""Map options: the background tiles setting and the options every builder shares."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ParameterError

__all__ = ["Options", "check_tiles", "tiles_data"]

_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# RFC 3986 URL characters plus the braces of Leaflet's placeholders; no quotes,
# spaces, backslashes, angle brackets or anything outside ASCII
_TILE_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%{}]+")
_TILE_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# what Leaflet's TileLayer fills in; any other {name} makes it throw at every tile
_TILE_PLACEHOLDERS = frozenset({"{z}", "{x}", "{y}", "{-y}", "{s}", "{r}"})


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
class Options:
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


def tiles_data(tiles: str, attribution: str | None) -> dict[str, Any] | None:
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
