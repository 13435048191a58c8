"""Repository-level pytest configuration: doctests of the package run with the tests."""

collect_ignore = ["src/smartstreet_geo/cli/__main__.py", "data", "benchmarks", "notebooks"]
