r"""Escaping every text that reaches a map page.

One rule: data never becomes markup, code or a template.

* :func:`script_json` serialises data for the page's JSON data island
  (``<script type="application/json">``): JSON with ``<``, ``>``, ``&``,
  U+2028, U+2029 and lone surrogates written as ``\uXXXX`` escapes, so no
  value can close the script element or start an HTML comment, and the page is
  always valid UTF-8. The maps send every value from the inputs this way only;
  the page's own JavaScript reads it with ``JSON.parse`` and shows it with
  ``textContent`` (never ``innerHTML``).
* :func:`escape_text` is for callers who put text into folium elements of their
  own (folium inserts tooltip and popup text as HTML): HTML-escaped, and with the
  characters that matter inside a JavaScript template literal (backtick,
  ``$``, backslash) and to Jinja2 (``{``, ``}``) replaced by character
  references, so the result is inert as HTML, inside a `` `...` `` string
  (folium puts tooltip and popup HTML in backtick strings: ``${...}`` in a
  value would run, a lone backtick would end the string and break the whole
  map) and in the templates branca renders (twice, for macro output).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["JSONInts", "escape_text", "script_json"]


class JSONInts:
    """A long array of integers for :func:`script_json`, written by Arrow in C.

    The map of a licence area holds millions of integers (positions, categories): as
    Python ints, each is an object for ``json.dumps`` to visit (about 0.3 GB and a second
    for 2.4 million customers). The text is the same as ``json.dumps`` of the list.

    Examples
    --------
    >>> script_json({"xy": JSONInts(np.array([3, -12, 0]))})
    '{"xy":[3,-12,0]}'
    """

    __slots__ = ("values",)

    def __init__(self, values: npt.ArrayLike) -> None:
        self.values = np.ascontiguousarray(values, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.values)

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        return self.values if dtype is None else self.values.astype(dtype)

    def json(self) -> str:
        """Return the JSON array text (``[1,2,3]``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(self.values):
            return "[]"
        text = pc.cast(pa.array(self.values), pa.string())
        one = pa.ListArray.from_arrays(pa.array([0, len(text)], pa.int32()), text)
        return "[" + str(pc.binary_join(one, ",")[0].as_py()) + "]"


_TEMPLATE_LITERAL = str.maketrans(
    {"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}
)
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
_SCRIPT_CHARS = tuple((chr(k), v) for k, v in _SCRIPT.items())
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_text(value: object) -> str:
    r"""Return ``value`` as text that is inert in HTML, a JS template literal and Jinja2.

    Parameters
    ----------
    value : object
        Anything; ``None`` and NaN become the empty string.

    Returns
    -------
    str
        HTML-escaped (``& < > " '``) with ``` ` ``` ``$`` ``\`` ``{`` ``}`` as
        character references (``&#96;`` ``&#36;`` ``&#92;`` ``&#123;``
        ``&#125;``). A browser shows the original characters; no tag,
        attribute, ``${...}`` substitution, string end or template tag can come
        out of it.

    Examples
    --------
    >>> escape_text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    >>> escape_text("Smith ${alert(2)}")
    'Smith &#36;&#123;alert(2)&#125;'
    >>> escape_text("3 {{7*7}} Road")
    '3 &#123;&#123;7*7&#125;&#125; Road'
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
        JSON text in which ``<``, ``>``, ``&``, U+2028, U+2029 and surrogate
        code points appear only as ``\u`` escapes (the parsed values are
        unchanged). A lone surrogate (which UTF-8 cannot encode) thus reaches
        the page intact as a JavaScript string; the browser draws it as U+FFFD.

    Examples
    --------
    >>> script_json({"label": "</script><b>&"})
    '{"label":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}'
    >>> script_json("a\ud800b")
    '"a\\ud800b"'
    """
    # JSONInts are written as placeholders (a random token: no data can hold it), then
    # replaced by their text; the text of integers needs no escaping
    arrays: list[JSONInts] = []
    token = secrets.token_hex(16)

    def placeholder(obj: Any) -> str:
        if not isinstance(obj, JSONInts):
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
        arrays.append(obj)
        return f"{token}:{len(arrays) - 1}"

    text = json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=placeholder
    )
    if arrays:
        pieces = re.split(f'"{token}:([0-9]+)"', text)
        if len(pieces) != 2 * len(arrays) + 1:  # pragma: no cover - a 128-bit random token
            raise RuntimeError("script_json: a placeholder was found in the data")
        pieces[1::2] = [arrays[int(k)].json() for k in pieces[1::2]]
        text = "".join(pieces)
    # str.replace per character (a fast search) rather than str.translate, which
    # maps every character of a page that can be tens of megabytes
    for char, escaped in _SCRIPT_CHARS:
        if char in text:
            text = text.replace(char, escaped)
    # json.dumps(ensure_ascii=False) leaves surrogates raw; a regex pass only when present
    return _SURROGATE.sub(_surrogate_escape, text)
