"""The JavaScript and CSS every map embeds, so that a saved map works offline.

Leaflet is vendored from the npm registry at a pinned version
(``vendor/leaflet/``, fetched by ``data/vendor_map_assets.py``; versions,
npm integrity and SHA-256 of each file in ``vendor/MANIFEST.json``). The
images ``leaflet.css`` refers to are inlined as ``data:`` URIs and the
source-map comment is dropped, so the page makes no request of its own. Our
own layer code (``static/ssg_map.js``, ``static/ssg_map.css``) is embedded
next to it, and the licence texts go into the page as an HTML comment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from branca.element import Element

from ..errors import SmartStreetGeoError

__all__ = ["EXTERNAL_RESOURCE", "InlineAssets", "manifest", "offline_head"]

_ROOT = files("smartstreet_geo.maps")
_VENDOR = _ROOT.joinpath("vendor")
_STATIC = _ROOT.joinpath("static")

#: ``<script src=...>``, ``<link href=...>``, CSS ``url(...)``/``@import`` that point off the page.
EXTERNAL_RESOURCE = re.compile(
    r"""<script[^>]*\ssrc\s*=\s*["']?(?!data:)[^"'\s>]+"""
    r"""|<link[^>]*\shref\s*=\s*["']?(?!data:)[^"'\s>]+"""
    r"""|url\(\s*["']?(?:https?:)?//"""
    r"""|@import\s""",
    re.IGNORECASE,
)


@cache
def manifest() -> dict[str, Any]:
    """Return the vendored-asset manifest (versions, npm integrity, SHA-256 per file).

    Examples
    --------
    >>> manifest()["leaflet"]["version"]
    '1.9.3'
    """
    data: dict[str, Any] = json.loads(_VENDOR.joinpath("MANIFEST.json").read_text("utf-8"))
    return data


def _vendored(package: str, name: str) -> bytes:
    entry = manifest()[package]
    data = _VENDOR.joinpath(package, name).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["files"].get(name):
        raise SmartStreetGeoError(
            f"the vendored map asset {package}/{name} differs from vendor/MANIFEST.json; "
            "reinstall smartstreet-geo or run data/vendor_map_assets.py."
        )
    return data


def _inline_images(css: str, package: str) -> str:
    def data_uri(match: re.Match[str]) -> str:
        png = _vendored(package, match.group(1))
        return f"url(data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)


def _guard(text: str, closing: str, what: str) -> str:
    if closing in text.lower():
        raise SmartStreetGeoError(f"{what} contains {closing!r} and cannot be inlined")
    return text


@cache
def offline_head() -> str:
    """Return the ``<head>`` markup that embeds Leaflet and the map layer code.

    Returns
    -------
    str
        Licence comment, ``<style>`` and ``<script>`` elements; no reference
        to anything outside the page.

    Examples
    --------
    >>> head = offline_head()
    >>> "Leaflet 1.9.3" in head and EXTERNAL_RESOURCE.search(head) is None
    True
    """
    lf = manifest()["leaflet"]
    leaflet_js = _vendored("leaflet", "leaflet.js").decode("utf-8")
    leaflet_js = re.sub(r"\n?//# sourceMappingURL=\S+\s*$", "\n", leaflet_js)
    leaflet_css = _inline_images(_vendored("leaflet", "leaflet.css").decode("utf-8"), "leaflet")
    own_js = _STATIC.joinpath("ssg_map.js").read_text("utf-8")
    own_css = _STATIC.joinpath("ssg_map.css").read_text("utf-8")
    licence = _vendored("leaflet", "LICENSE").decode("utf-8").replace("--", "- -")
    parts = [
        "<!--\n"
        f"Embedded: Leaflet {lf['version']} (npm {lf['npm_integrity']}), licence {lf['license']}:\n"
        f"{licence}\n"
        "Map layer code: smartstreet-geo (MIT).\n-->",
        f"<style>\n{_guard(leaflet_css, '</style', 'leaflet.css')}\n</style>",
        f"<style>\n{_guard(own_css, '</style', 'ssg_map.css')}\n</style>",
        f"<script>\n{_guard(leaflet_js, '</script', 'leaflet.js')}\n</script>",
        f"<script>\n{_guard(own_js, '</script', 'ssg_map.js')}\n</script>",
    ]
    return "\n".join(parts)


class InlineAssets(Element):
    """A figure-header element that writes :func:`offline_head` verbatim.

    Rendered as is (not through Jinja), so nothing in the embedded code is
    taken for template syntax.
    """

    def __init__(self) -> None:
        super().__init__()
        self._name = "InlineAssets"

    def render(self, **kwargs: Any) -> str:
        """Return the embedded assets."""
        return offline_head()
