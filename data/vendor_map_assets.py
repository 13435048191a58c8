#!/usr/bin/env python
"""Re-fetch the JavaScript/CSS that smartstreet-geo maps embed, at pinned npm versions.

Run from the repository root::

    python data/vendor_map_assets.py            # fetch with `npm pack`, write the files
    python data/vendor_map_assets.py --check    # verify the vendored files (no network)

What it does: ``npm pack leaflet@<version>`` downloads the package tarball from the
npm registry, the tarball's ``integrity`` (sha512, as npm reports it) is compared
with the pinned value below, and the few files the maps need are copied into
``src/smartstreet_geo/maps/vendor/<package>/`` together with the package's
LICENSE. ``vendor/MANIFEST.json`` records the version, the npm integrity and
the SHA-256 of every copied file; :mod:`smartstreet_geo.maps` refuses to embed a
file whose hash differs from the manifest.

To upgrade Leaflet: change ``version`` below, set ``integrity`` to ``None``, run
this script (it prints the new integrity), paste it in, run again, and run the
browser tests (``pytest -m browser tests/test_maps_browser.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "smartstreet_geo" / "maps" / "vendor"

#: npm package -> pinned version, tarball integrity and the files the maps embed
#: (paths inside the tarball, relative to ``package/``; copied without ``dist/``).
PACKAGES: dict[str, dict[str, object]] = {
    "leaflet": {
        "version": "1.9.3",
        "integrity": (
            "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D"
            "/uSIzhZgGMfQ=="
        ),
        "license": "BSD-2-Clause",
        "files": [
            "LICENSE",
            "dist/leaflet.js",
            "dist/leaflet.css",
            # the three images leaflet.css refers to (inlined as data: URIs when embedded)
            "dist/images/layers.png",
            "dist/images/layers-2x.png",
            "dist/images/marker-icon.png",
        ],
    },
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _target(member: str) -> str:
    return member.removeprefix("dist/")


def fetch() -> dict[str, object]:
    manifest: dict[str, object] = {}
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not on PATH (apt-get install npm, or install Node.js)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in PACKAGES.items():
            version = spec["version"]
            out = subprocess.run(
                [npm, "pack", f"{name}@{version}", "--json", "--pack-destination", tmp],
                check=True,
                capture_output=True,
                text=True,
                cwd=tmp,
            )
            info = json.loads(out.stdout)[0]
            if spec["integrity"] is None:
                print(f"{name}@{version}: integrity {info['integrity']} (pin it in PACKAGES)")
            elif info["integrity"] != spec["integrity"]:
                sys.exit(
                    f"{name}@{version}: npm integrity {info['integrity']} differs from the pinned "
                    f"{spec['integrity']}; refusing to vendor it."
                )
            dest = VENDOR / name
            if dest.exists():
                shutil.rmtree(dest)
            files: dict[str, str] = {}
            with tarfile.open(Path(tmp) / info["filename"]) as tar:
                for member in spec["files"]:  # type: ignore[attr-defined]
                    handle = tar.extractfile(f"package/{member}")
                    if handle is None:
                        sys.exit(f"{name}@{version}: {member} is not a file in the tarball")
                    target = dest / _target(member)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(handle.read())
                    files[_target(member)] = _sha256(target)
            manifest[name] = {
                "version": version,
                "npm_integrity": info["integrity"],
                "license": spec["license"],
                "source": f"npm pack {name}@{version}",
                "files": dict(sorted(files.items())),
            }
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def check() -> int:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text(encoding="utf-8"))
    bad = 0
    for name, spec in PACKAGES.items():
        entry = manifest.get(name)
        if entry is None or entry["version"] != spec["version"]:
            print(f"{name}: manifest does not record version {spec['version']}")
            bad += 1
            continue
        for member in spec["files"]:  # type: ignore[attr-defined]
            rel = _target(member)
            path = VENDOR / name / rel
            if not path.is_file() or _sha256(path) != entry["files"].get(rel):
                print(f"{name}: {rel} is missing or differs from MANIFEST.json")
                bad += 1
    print("vendored map assets OK" if not bad else f"{bad} problems")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only; no network")
    args = parser.parse_args()
    if args.check:
        return check()
    manifest = fetch()
    for name, entry in manifest.items():
        size = sum((VENDOR / name / f).stat().st_size for f in entry["files"])  # type: ignore[index]
        print(f"{name}@{entry['version']}: {len(entry['files'])} files, {size:,} bytes")  # type: ignore[index]
    return check()


if __name__ == "__main__":
    sys.exit(main())
