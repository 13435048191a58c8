r"""Escaping every text that reaches a map page.

Two routes, one rule: data never becomes markup or code.

* :func:`script_json` serialises data for a ``<script>`` block: JSON with
  ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\uXXXX`` escapes, so no
  value can close the script element or start an HTML comment. The page's own
  JavaScript shows such values with ``textContent`` only (never ``innerHTML``).
* :func:`escape_text` is for the few strings folium or Leaflet insert as HTML
  (layer-control names, the legend, the page title): HTML-escaped, and with the
  characters that matter inside a JavaScript template literal (backtick,
  ``$``, backslash) replaced by character references, so the result is inert
  both as HTML and inside a `` `...` `` string (folium puts tooltip and popup
  HTML in backtick strings: ``${...}`` in a value would run, a lone backtick
  would end the string and break the whole map).
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["escape_text", "script_json"]

_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})
_SCRIPT = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def escape_text(value: object) -> str:
    r"""Return ``value`` as text that is inert in HTML and in a JS template literal.

    Parameters
    ----------
    value : object
        Anything; ``None`` and NaN become the empty string.

    Returns
    -------
    str
        HTML-escaped (``& < > " '``) with ``` ` ``` ``$`` ``\`` as character
        references (``&#96;`` ``&#36;`` ``&#92;``). A browser shows the original
        characters; no tag, attribute, ``${...}`` substitution or string end can
        come out of it.

    Examples
    --------
    >>> escape_text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> escape_text("Smith ${alert(2)}")
    'Smith &#36;{alert(2)}'
    >>> escape_text("O`Brien")
    'O&#96;Brien'
    >>> escape_text(None)
    ''
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).translate(_HTML).translate(_TEMPLATE_LITERAL)


def script_json(value: Any) -> str:
    r"""Serialise ``value`` as compact JSON that is safe inside a ``<script>`` element.

    Parameters
    ----------
    value : JSON-serialisable object
        NaN and infinities are refused (they are not JSON).

    Returns
    -------
    str
        JSON text in which ``<``, ``>``, ``&``, U+2028 and U+2029 appear only as
        ``\u`` escapes (the parsed values are unchanged).

    Examples
    --------
    >>> script_json({"label": "</script><b>&"})
    '{"label":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_SCRIPT)
