"""Every docstring example of the installed package runs and gives the output it shows.

Run through :mod:`doctest` on the imported modules (not pytest's --doctest-modules on src/),
so the examples are checked against the package as installed, the same one the CLI runs.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import smartstreet_geo

SKIP = {"smartstreet_geo.cli.__main__"}
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(smartstreet_geo.__path__, prefix="smartstreet_geo.")
    if m.name not in SKIP
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    for test in finder.find(module, name):  # globals: a copy of the module namespace
        runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)


def test_public_functions_have_examples():
    """The public API (re-exported names that are functions) documents an example each."""
    missing = []
    for name in smartstreet_geo.__all__:
        obj = getattr(smartstreet_geo, name)
        if callable(obj) and not isinstance(obj, type) and ">>>" not in (obj.__doc__ or ""):
            missing.append(name)
    assert not missing, missing
