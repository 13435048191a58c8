"""``run --geo`` / ``write_campaign(geo=...)``: QGIS layers in the output folder, all or nothing."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import geopandas as gpd
import pyogrio
import pytest

from smartstreet_geo import demo, run_campaign
from smartstreet_geo.export import write_campaign
from smartstreet_geo.geo_outputs import geo_output_names

PERSONAL = {"customer_id", "name", "address_line_1", "address_line_2", "address_line_3", "phone"}


@pytest.fixture(scope="module")
def result():
    return run_campaign(demo.path("campaign"))


def test_gpkg_layers_are_written_listed_and_owner_only(result, tmp_path):
    paths = write_campaign(result, tmp_path / "out", geo="gpkg")
    gpkg = paths["layers.gpkg"]
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"premises", "equipment", "equipment_radius"} <= layers
    for name in layers:
        layer = gpd.read_file(gpkg, layer=name)
        assert layer.crs.to_epsg() == 27700
        if name in ("premises", "outage_impact"):  # customers' layers: pseudonymous by default
            assert not PERSONAL & set(layer.columns), name
    eq = gpd.read_file(gpkg, layer="equipment")
    assert sorted(eq["equipment_id"]) == sorted(result.equipment["equipment_id"])
    assert stat.S_IMODE(gpkg.stat().st_mode) == 0o600
    manifest = json.loads(paths["manifest.json"].read_text())
    assert "layers.gpkg" in {o["file"] for o in manifest["outputs"]}


def test_cli_parquet_layers(tmp_path):
    out = tmp_path / "o"
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "run", str(demo.path("campaign")),
         "--out", str(out), "--geo", "parquet", "--no-map", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for name in geo_output_names("parquet"):
        if (out / name).exists():
            assert gpd.read_parquet(out / name).crs.to_epsg() == 27700
    assert (out / "premises.parquet").exists() and (out / "equipment.parquet").exists()


def test_cli_refuses_an_unknown_geo_format(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "run", str(demo.path("campaign")),
         "--out", str(tmp_path / "o"), "--geo", "shp"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 2 and not (tmp_path / "o").exists()
