"""A catalogue of hostile text values, shared by every output-path test.

Each value is something a real customer, equipment or circuit file can carry
by accident or by design. The rule every output path is tested against: the
value is *data*, never code. It must not run (no template evaluation, no
script, no formula, no dialog), must not break the output (no crash, no
shifted column), and must read back as the same text (except the documented
spreadsheet neutralising of formula triggers in CSV).

Import it as a plain module (``tests/conftest.py`` puts this folder on the path)::

    from hostile import HOSTILE, hostile_ids
"""

from __future__ import annotations

#: (id, value) pairs. Ids are stable: tests parametrise on them.
HOSTILE: list[tuple[str, str]] = [
    # spreadsheet formula triggers (OWASP CSV injection)
    ("formula_eq", '=HYPERLINK("http://example.invalid","click")'),
    ("formula_plus", "+1+1"),
    ("formula_minus", "-2+3"),
    ("formula_at", "@SUM(A1:A9)"),
    ("formula_tab", "\t=1+1"),
    ("formula_cr", "\r=1+1"),
    # HTML and script
    ("html_bold", "<b>bold</b>"),
    ("html_script", "<script>alert(1)</script>"),
    ("html_img", "<img src=x onerror=alert(1)>"),
    ("html_close_script", "</script><script>alert(2)</script>"),
    ("html_comment", "<!-- x"),
    ("html_entity", "&amp; &lt;b&gt;"),
    ("quotes", 'O\'Brien "the" house'),
    # URLs
    ("js_url", "javascript:alert(1)"),
    # JavaScript template literals
    ("js_template", "`${alert(3)}`"),
    ("backtick", "back`tick"),
    ("backslash", "C:\\path\\n"),
    # Jinja2 syntax (folium/branca render templates)
    ("jinja_expr", "3 {{7*7}} Road"),
    ("jinja_unterminated", "Unit {{ 3"),
    ("jinja_block", "{% if %}"),
    ("jinja_comment", "{# note"),
    ("jinja_rce", "{{ self.__init__.__globals__.__builtins__.__import__('os').mkdir('pwned') }}"),
    ("jinja_raw", "{% raw %}x{% endraw %}"),
    ("braces", "{ } }} {{"),
    # control and invisible characters
    ("control_bell", "a\x07b"),
    ("control_escape", "\x1b[31mred\x1b[0m"),
    ("rtl_override", "abc\u202edcba"),
    ("zero_width", "a\u200bb"),
    ("line_separator", "a\u2028b\u2029c"),
    ("nul", "a\x00b"),
    ("lone_surrogate", "a\ud800b"),
    # size
    ("long_10k", "x" * 10_000),
    # non-Latin text that must survive unchanged
    ("welsh_cjk_emoji", "Tŷ Gwyn 東京 🏠"),
]


def hostile_ids() -> list[str]:
    """Return the ids of :data:`HOSTILE`, for ``pytest.mark.parametrize(ids=...)``."""
    return [i for i, _ in HOSTILE]


def hostile_values() -> list[str]:
    """Return the values of :data:`HOSTILE` in catalogue order."""
    return [v for _, v in HOSTILE]


#: Values that cannot be encoded as UTF-8 (a file cannot carry them; writers must
#: refuse them with a clear error or replace them visibly, never crash).
UNENCODABLE = {"lone_surrogate"}

#: Values that a reader cleans (control characters are rejected or collapsed).
CONTROL = {"control_bell", "control_escape", "nul", "formula_tab", "formula_cr"}
