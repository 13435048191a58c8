"""CLI conventions on every command, run as a shell script would run them.

``-q/-v/--debug`` before or after the sub-command; ``--out -`` for a single
table on stdout (with the counts on stderr); warnings on stderr; ``run
--strict`` exits 1 on warnings and writes nothing; an example in every
``--help``; ``--out`` formats follow the extension or are refused.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from smartstreet_geo.cli import EXAMPLES, build_parser

COMMANDS = ["validate", "near", "circuits", "run", "map", "demo", "purge"]

CUSTOMERS = """customer_id,name,easting,northing,postcode
1600000000003,Ann Example,354600,404100,WN5 9XP
1600000000001,Bob Example,354500,404100,WN5 9XP
1600000000002,Cat Example,354530,404140,WN5 9XP
1600000000004,Dan Example,354500.5,404100.25,WN5 9XP
1600000000005,Eve Example,,404100,WN5 9XP
"""
EQUIPMENT = """equipment_id,kind,easting,northing
T1,oltc_transformer,354500,404100
C1,lv_capacitor,354530,404100
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "c.csv").write_text(CUSTOMERS)
    (tmp_path / "e.csv").write_text(EQUIPMENT)
    return tmp_path


def _near(tmp: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "near",
        "--customers",
        str(tmp / "c.csv"),
        "--equipment",
        str(tmp / "e.csv"),
        "--radius",
        "oltc_transformer=50,lv_capacitor=30",
        "--out",
        out,
        *extra,
    )


# ------------------------------------------------------------------ -q / -v / --debug
@pytest.mark.parametrize("command", COMMANDS)
def test_common_options_parse_before_and_after_every_command(command):
    parser = build_parser()
    assert command in parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    for flag in ("-q", "--quiet", "-v", "--verbose", "--debug"):
        assert flag in sub._option_string_actions, (command, flag)
        assert flag in parser._option_string_actions, flag


def test_debug_after_the_subcommand_is_the_same_as_before(inputs):
    bad = inputs / "missing.csv"
    before = cli("--debug", "validate", "--customers", str(bad))
    after = cli("validate", "--customers", str(bad), "--debug")
    plain = cli("validate", "--customers", str(bad))
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    for r in (before, after):
        assert r.returncode == 1  # the traceback, not a one-line error
        assert "Traceback" in r.stderr and "InputFileError" in r.stderr
    # before the fix: "near --debug" exited 2 (unrecognised arguments)
    r = _near(inputs, str(inputs / "p.csv"), "--debug")
    assert r.returncode == 0, r.stderr


def test_quiet_and_verbose_after_the_subcommand(inputs):
    quiet = _near(inputs, str(inputs / "q.csv"), "-q")
    assert quiet.returncode == 0, quiet.stderr
    verbose = _near(inputs, str(inputs / "v.csv"), "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO" in verbose.stderr and "INFO" not in quiet.stderr
    both = cli("-v", "validate", "--customers", str(inputs / "c.csv"), "-q")
    assert both.returncode == 0, both.stderr


# ------------------------------------------------------------------ - for stdout
def test_near_dash_writes_the_csv_to_stdout_and_counts_to_stderr(inputs):
    file_run = _near(inputs, str(inputs / "pairs.csv"))
    assert file_run.returncode == 0, file_run.stderr
    piped = _near(inputs, "-")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == (inputs / "pairs.csv").read_text()  # byte for byte the same table
    pairs = pd.read_csv(io.StringIO(piped.stdout), dtype=str)
    assert pairs.columns.tolist() == ["customer_id", "equipment_id", "kind", "distance_m"]
    assert "pairs:" in piped.stderr and "pairs:" not in piped.stdout
    assert not (inputs / "-").exists()


def test_validate_dash_writes_rejects_to_stdout(inputs):
    folder = cli("validate", "--customers", str(inputs / "c.csv"), "--out", str(inputs / "o"))
    assert folder.returncode == 0, folder.stderr
    piped = cli("validate", "--customers", str(inputs / "c.csv"), "--out", "-")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == (inputs / "o" / "rejects.csv").read_text()
    rejects = pd.read_csv(io.StringIO(piped.stdout), dtype=str)
    assert rejects["record_id"].tolist() == ["1600000000005"]
    assert "inputs usable" in piped.stderr and "inputs usable" not in piped.stdout


# ------------------------------------------------------------------ --out formats
def test_near_out_format_follows_the_extension_or_is_refused(inputs):
    pyogrio = pytest.importorskip("pyogrio")
    csv = _near(inputs, str(inputs / "pairs.csv"))
    assert csv.returncode == 0, csv.stderr
    table = pd.read_csv(inputs / "pairs.csv", dtype={"customer_id": str})
    gpkg = _near(inputs, str(inputs / "pairs.gpkg"))
    assert gpkg.returncode == 0, gpkg.stderr
    assert (inputs / "pairs.gpkg").read_bytes()[:16] == b"SQLite format 3\x00"
    layer = pyogrio.read_dataframe(inputs / "pairs.gpkg", layer="pairs")
    assert layer.crs.to_epsg() == 27700
    pd.testing.assert_frame_equal(
        pd.DataFrame(layer[table.columns]).astype({"customer_id": str}), table, check_dtype=False
    )
    pq = _near(inputs, str(inputs / "pairs.parquet"))
    assert pq.returncode == 0, pq.stderr
    import geopandas as gpd

    geo = gpd.read_parquet(inputs / "pairs.parquet")
    assert geo.crs.to_epsg() == 27700 and len(geo) == len(table)
    assert (geo["customer_id"].tolist(), geo["distance_m"].tolist()) == (
        table["customer_id"].tolist(),
        table["distance_m"].tolist(),
    )
    # anything else is refused before any work, and nothing is written
    for name in ("pairs.shp", "pairs.txt", "pairs"):
        r = _near(inputs, str(inputs / name))
        assert r.returncode == 2, r.stderr
        assert "the format follows the extension" in r.stderr
        assert not (inputs / name).exists()


def test_near_geo_layers_are_pseudonymous_unless_internal(inputs, monkeypatch):
    pyogrio = pytest.importorskip("pyogrio")
    r = _near(inputs, str(inputs / "pairs.csv"), "--geo", "gpkg")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(inputs / "pairs.csv", dtype=str)
    layers = inputs / "pairs_layers.gpkg"
    names = [str(n) for n in pyogrio.list_layers(layers)[:, 0]]
    assert names == ["customers_near", "equipment", "equipment_radius"]
    near = pyogrio.read_dataframe(layers, layer="customers_near")
    assert len(near) == len(table) and near.crs.to_epsg() == 27700
    assert "customer_id" not in near.columns
    text = layers.read_bytes()
    assert not any(cid.encode() in text for cid in table["customer_id"])
    radius = pyogrio.read_dataframe(layers, layer="equipment_radius")
    assert radius.geom_type.unique().tolist() == ["Polygon"]
    assert sorted(radius["radius_m"]) == [30.0, 50.0]
    internal = _near(inputs, str(inputs / "i.csv"), "--geo", "parquet", "--internal")
    assert internal.returncode == 0, internal.stderr
    import geopandas as gpd

    got = gpd.read_parquet(inputs / "i_customers_near.parquet")
    assert sorted(got["customer_id"]) == sorted(table["customer_id"])


# ------------------------------------------------------------------ --help examples
@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_ends_with_an_example(command):
    r = cli(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "examples:" in r.stdout
    example = r.stdout.split("examples:")[1]
    assert f"smartstreet-geo {command}" in example
    assert EXAMPLES[command].splitlines()[1].strip() in example  # kept as written, not rewrapped


# ------------------------------------------------------------------ warnings, --strict
def _late_campaign(tmp: Path, install_date: str = "2027-01-04", psr: str = "N") -> Path:
    """A campaign whose outage is on the run date: a late-notice warning."""
    pd.DataFrame(
        [
            {
                "customer_id": f"16000000000{k}",
                "name": f"Person {k}",
                "address_line_1": f"{k} Oak Street",
                "postcode": "WN5 9XP",
                "easting": 354500.0 + k,
                "northing": 404100.0,
                "psr": psr,
                "phone": "0161 496 0000",
                "circuit_id": "C1",
                "connection_node": "a",
            }
            for k in range(3)
        ]
    ).to_csv(tmp / "customers.csv", index=False)
    pd.DataFrame(
        [
            {
                "equipment_id": "E1",
                "kind": "lv_capacitor",
                "circuit_id": "C1",
                "install_date": install_date,
                "outage_required": "true",
                "easting": 354500.0,
                "northing": 404100.0,
            }
        ]
    ).to_csv(tmp / "equipment.csv", index=False)
    import geopandas as gpd
    from shapely import LineString, Point

    gpd.GeoDataFrame(
        {"edge_id": ["e1"], "from_node": ["S"], "to_node": ["a"], "circuit_id": ["C1"]},
        geometry=[LineString([(354490.0, 404100.0), (354510.0, 404100.0)])],
        crs="EPSG:27700",
    ).to_parquet(tmp / "edges.parquet")
    gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["S"]},
        geometry=[Point(354490.0, 404100.0)],
        crs="EPSG:27700",
    ).to_parquet(tmp / "substations.parquet")
    campaign = tmp / "campaign.toml"
    campaign.write_text(
        f"""
[campaign]
name = "late"
reference = "L-1"
run_date = "2027-01-04"
[inputs]
customers = "customers.csv"
equipment = "equipment.csv"
network_edges = "edges.parquet"
substations = "substations.parquet"
[scope]
circuits = ["C1"]
[radii]
lv_capacitor = 30
[campaigns]
produce = ["leaflet", "installation_letter", "outage_phone_call"]
[psr]
needs_codes = "{ssg.demo.path("psr_needs_codes").as_posix()}"
[outage]
use_install_date = true
""",
        encoding="utf-8",
    )
    return campaign


def test_run_warnings_go_to_stderr_and_strict_exits_1_writing_nothing(tmp_path):
    campaign = _late_campaign(tmp_path)
    r = cli("run", str(campaign), "--out", str(tmp_path / "out"), "--no-map", "-q")
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "warning:" not in r.stdout
    assert "too late to give that notice" in r.stderr
    n_warnings = r.stderr.count("warning:")
    strict = cli("run", str(campaign), "--out", str(tmp_path / "strict"), "--no-map", "--strict")
    assert strict.returncode == 1
    assert strict.stderr.count("warning:") == n_warnings
    assert f"--strict: the campaign has {n_warnings} warning" in strict.stderr
    assert not (tmp_path / "strict").exists()  # all or nothing: nothing
    # the same campaign with enough notice has no warning: --strict passes and writes
    in_time = tmp_path / "in_time"
    in_time.mkdir()
    campaign = _late_campaign(in_time, install_date="2027-03-01")
    ok = cli("run", str(campaign), "--out", str(in_time / "out"), "--no-map", "--strict", "-q")
    assert ok.returncode == 0, ok.stderr
    assert "warning:" not in ok.stderr
    assert (in_time / "out" / "manifest.json").exists()


def test_near_geo_layers_with_a_key_name_customers_by_pseudonym(inputs):
    import os

    import geopandas as gpd

    from smartstreet_geo.export import pseudonym

    key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    env = {**os.environ, "SMARTSTREET_PSEUDONYM_KEY": key}
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "near", "--customers", str(inputs / "c.csv"),
         "--equipment", str(inputs / "e.csv"), "--radius", "50", "--out",
         str(inputs / "k.csv"), "--geo", "parquet", "--pseudonymise"],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(inputs / "k.csv", dtype=str)
    got = gpd.read_parquet(inputs / "k_customers_near.parquet")
    assert "customer_id" not in got.columns
    from smartstreet_geo.export import check_pseudonym_key

    want = pseudonym(table["customer_id"], check_pseudonym_key(key, "K"))
    assert got["customer_ref"].tolist() == want.tolist()


def test_circuits_geo_layers_equal_its_csv_files(tmp_path):
    """circuits --geo: the CSV tables as layers at the customers' points (pyogrio read-back)."""
    pyogrio = pytest.importorskip("pyogrio")
    from smartstreet_geo.cli import main
    from test_network import make_customers, make_network

    net = make_network()
    net.edges.to_parquet(tmp_path / "edges.parquet")
    net.substations.to_parquet(tmp_path / "substations.parquet")
    make_customers().to_parquet(tmp_path / "customers.parquet")
    out = tmp_path / "out"
    args = ["circuits", "--network", str(tmp_path / "edges.parquet"), "--substations",
            str(tmp_path / "substations.parquet"), "--customers",
            str(tmp_path / "customers.parquet"), "--circuit", "all", "--isolate", "g2",
            "--reconcile", "--out", str(out), "--geo", "gpkg", "-q"]  # fmt: skip
    assert main(args) == 0
    layers = out / "layers.gpkg"
    names = [str(n) for n in pyogrio.list_layers(layers)[:, 0]]
    assert names == ["network", "substations", "members", "outage", "reconciliation"]
    for name, csv in (("members", "members.csv"), ("outage", "outage.csv"),
                      ("reconciliation", "reconciliation.csv")):  # fmt: skip
        table = pd.read_csv(out / csv, dtype=str)
        layer = pyogrio.read_dataframe(layers, layer=name)
        assert len(layer) == len(table), name
        assert layer.crs.to_epsg() == 27700
        assert "customer_id" not in layer.columns
        assert layer.columns.tolist()[:-1] == [c for c in table.columns if c != "customer_id"]
    network = pyogrio.read_dataframe(layers, layer="network")
    assert len(network) == len(net.edges)
    # without --out there is nowhere to write the layers
    assert main([*args[: args.index("--out")], "--geo", "gpkg"]) == 1
