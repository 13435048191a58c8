"""The compiled kernels run from a read-only installation for a user without a writable home.

numba caches compiled kernels on disk and, finding no writable folder (not
the package's ``__pycache__``, not ``~/.cache``), would refuse to import the
kernel modules. ``smartstreet_geo._numba_cache`` then picks a private folder
in the temporary directory, or turns caching off with one log line. Each case
runs in a subprocess on a read-only copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smartstreet_geo

PROBE = r"""
import json, logging, os, sys
logging.basicConfig(level=logging.INFO, format="LOG %(name)s: %(message)s")
import numpy as np
import smartstreet_geo
from smartstreet_geo import _numba_cache
from smartstreet_geo.network import _kernels as nk
from smartstreet_geo.proximity import _kernels as pk

cell = pk._cell_of(2.5, 0.0, 1.0, 10)
indptr, nbr, eid = nk.build_csr(3, np.array([0, 1]), np.array([1, 2]), np.array([True, True]))
print(json.dumps({
    "file": smartstreet_geo.__file__,
    "cache": _numba_cache.CACHE,
    "cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
    "cell": int(cell),
    "indptr": indptr.tolist(),
    "hits": sum(pk._cell_of.stats.cache_hits.values()) + sum(nk.build_csr.stats.cache_hits.values()),
}))
"""


def _unprivileged() -> list[str]:
    """A command prefix under which file permissions apply (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.fixture(scope="module")
def read_only_site(tmp_path_factory):
    """A read-only copy of the package, and a read-only home."""
    base = tmp_path_factory.mktemp("ro")
    site = base / "site"
    shutil.copytree(
        Path(smartstreet_geo.__file__).parent,
        site / "smartstreet_geo",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    home = base / "home"
    home.mkdir()
    for folder in (site, home):
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
    yield base
    for p in [base, *base.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def probe(base: Path, tmpdir: Path) -> tuple[dict, str]:
    import json

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NUMBA_", "XDG_", "PYTHON")) and k not in ("HOME", "TMPDIR")
    }
    env |= {"HOME": str(base / "home"), "TMPDIR": str(tmpdir), "PYTHONPATH": str(base / "site")}
    r = subprocess.run(
        [*_unprivileged(), sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=base,
        timeout=600,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["file"] == str(base / "site" / "smartstreet_geo" / "__init__.py")
    assert (out["cell"], out["indptr"]) == (2, [0, 1, 3, 4])
    return out, r.stderr


def test_a_private_temporary_folder_is_used_and_reused(read_only_site, tmp_path):
    first, log = probe(read_only_site, tmp_path)
    folder = tmp_path / f"smartstreet-geo-numba-{os.getuid()}"
    assert first["cache"] is True and first["cache_dir"] == str(folder)
    assert f"read-only; using {folder}" in log
    assert folder.stat().st_mode & 0o777 == 0o700
    assert any(folder.rglob("*.nbi")), "the kernels were cached there"
    assert not any((read_only_site / "site").rglob("*.nbi"))
    second, _ = probe(read_only_site, tmp_path)
    assert second["hits"] == 2  # both kernels loaded from that cache, not compiled again


def test_a_folder_others_can_write_is_never_used(read_only_site, tmp_path):
    planted = tmp_path / f"smartstreet-geo-numba-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # anyone could plant a pickle there: caching goes off instead
    out, log = probe(read_only_site, tmp_path)
    assert out["cache"] is False and out["cache_dir"] is None
    lines = [line for line in log.splitlines() if "numba cache" in line]
    assert len(lines) == 1 and "compiled on every run" in lines[0], log
    assert list(planted.iterdir()) == []
