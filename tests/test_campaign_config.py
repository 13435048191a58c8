"""Campaign files: every bad file is one ConfigError naming the file and the key, never a traceback.

Also: all errors of a file at once, the demo loads exactly as before, the published JSON Schema
is current (and agrees with the loader), and side files (opt-outs, history) match ids after the
customer file's normalisation.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import smartstreet_geo as ssg
from hostile import CONTROL, HOSTILE, UNENCODABLE, hostile_ids
from smartstreet_geo import cli
from smartstreet_geo.campaign import CAMPAIGNS
from smartstreet_geo.campaign import _schema as schema_mod
from smartstreet_geo.campaign._sidefiles import (
    normalise_side_ids,
    read_history,
    read_opted_out,
)
from smartstreet_geo.campaign.config import TemplateConfig, check_against_inputs, load_config
from smartstreet_geo.errors import ConfigError, InputFileError, MissingColumnError
from smartstreet_geo.schema import EquipmentKind

DEMO = ssg.demo.path("campaign")
DEMO_TEXT = DEMO.read_text(encoding="utf-8")
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "campaign.schema.json"
INPUT_NAMES = [
    "customers.parquet",
    "equipment.csv",
    "network_edges.parquet",
    "substations.parquet",
    "circuits.csv",
    "psr_needs_codes.csv",
    "osopenuprn_demo.zip",
    "addressbase_plus_demo.zip",
    "codepo_demo.zip",
]


# --------------------------------------------------------------------------- helpers
def set_key(text: str, section: str, key: str, value: str | None) -> str:
    """Set (or with None remove) ``key = value`` in ``[section]`` of TOML text."""
    lines = text.splitlines()
    header = f"[{section}]"
    start = next((i for i, ln in enumerate(lines) if ln.split("#")[0].strip() == header), None)
    if start is None:
        return text.rstrip("\n") + f"\n\n{header}\n{key} = {value}\n" if value is not None else text
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    at = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
    new = [] if value is None else [f"{key} = {value}"]
    if at is None:
        lines[start + 1 : start + 1] = new
    else:
        lines[at : at + 1] = new
    return "\n".join(lines) + "\n"


def drop_section(text: str, section: str) -> str:
    out, skipping = [], False
    for ln in text.splitlines():
        if ln.startswith("["):
            skipping = ln.split("#")[0].strip() == f"[{section}]"
        if not skipping:
            out.append(ln)
    return "\n".join(out) + "\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with the demo campaign and placeholder inputs (the loader only checks they exist)."""
    for name in INPUT_NAMES:
        (tmp_path / name).write_text("placeholder\n")
    (tmp_path / "campaign.toml").write_text(DEMO_TEXT, encoding="utf-8")
    return tmp_path


def write(folder: Path, text: str | bytes, name: str = "campaign.toml") -> Path:
    p = folder / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def run_cli(campaign: Path, out: Path, capsys) -> tuple[int, str]:
    code = cli.main(["run", str(campaign), "--out", str(out), "--quiet"])
    return code, capsys.readouterr().err


def problems(exc: ConfigError) -> list[str]:
    """The lines that each name one problem."""
    lines = str(exc).splitlines()
    return [ln.strip() for ln in lines[1:]] if len(lines) > 1 else lines


# --------------------------------------------------------------------------- the demo
def test_demo_loads_exactly_as_before():
    """The demo's values as the hand-written checker gave them before the schema (oracle)."""
    cfg = load_config(DEMO)
    d = DEMO.parent
    assert cfg.source == DEMO
    assert (cfg.name, cfg.reference, cfg.run_date) == (
        "Smart Street demo",
        "SS-DEMO-2027",
        date(2027, 1, 4),
    )
    assert (cfg.customers, cfg.equipment) == (d / "customers.parquet", d / "equipment.csv")
    assert (cfg.network_edges, cfg.substations, cfg.circuits_file) == (
        d / "network_edges.parquet",
        d / "substations.parquet",
        d / "circuits.csv",
    )
    assert cfg.column_maps == {} and cfg.encoding is None
    assert cfg.scope_circuits is None and cfg.scope_circuits_column == "trial"
    assert cfg.radii == {
        "oltc_transformer": 50.0,
        "lv_capacitor": 30.0,
        "link_box_switch": 20.0,
        "circuit_breaker": 30.0,
    }
    assert all(type(v) is float for v in cfg.radii.values())
    assert cfg.produce == ("leaflet", "installation_letter", "outage_phone_call", "outage_letter")
    assert cfg.templates == {
        "leaflet": TemplateConfig("SS-LEAFLET-01", "occupier"),
        "installation_letter": TemplateConfig("SS-INSTALL-01", "occupier"),
        "outage_letter": TemplateConfig("SS-OUTAGE-PSR-01", "name"),
        "outage_phone_call": TemplateConfig("SS-CALL-SCRIPT-01", "name"),
    }
    assert (cfg.opted_out, cfg.register) == (None, None)
    assert (cfg.outage_dates, cfg.outage_default_date, cfg.outage_use_install_date) == (
        {},
        None,
        True,
    )
    assert cfg.notice_days == 5 and type(cfg.notice_days) is int
    assert cfg.needs_codes == d / "psr_needs_codes.csv"
    assert cfg.max_inference_distance_m == 60.0 and type(cfg.max_inference_distance_m) is float
    assert (cfg.delete_after_days, cfg.pseudonymise_ids, cfg.pseudonym_key_env) == (
        90,
        False,
        "SMARTSTREET_PSEUDONYM_KEY",
    )
    assert (cfg.write_map, cfg.map_tiles) == (True, "osm")
    assert cfg.raw["radii"]["oltc_transformer"] == 50


def test_dict_and_file_give_the_same_config(folder):
    import tomllib

    from_file = load_config(folder / "campaign.toml")
    from_dict = load_config(tomllib.loads(DEMO_TEXT), base=folder)
    assert from_dict == dataclasses.replace(from_file, source=None)
    assert from_dict.customers == folder / "customers.parquet"


def test_defaults_and_shorthand(folder):
    text = "\n".join(
        [
            "[inputs]",
            'customers = "customers.parquet"',
            'equipment = "equipment.csv"',
            "[templates]",
            'leaflet = "L-1"',
            "[outage]",
            'dates = { EQ0002 = 2027-03-15, EQ0003 = "2027-03-16" }',
        ]
    )
    cfg = load_config(write(folder, text))
    assert cfg.produce == ("leaflet", "installation_letter", "outage_phone_call", "outage_letter")
    assert cfg.templates["leaflet"] == TemplateConfig("L-1", "occupier")
    assert cfg.templates["installation_letter"] == TemplateConfig("INSTALLATION_LETTER", "occupier")
    assert cfg.outage_dates == {"EQ0002": date(2027, 3, 15), "EQ0003": date(2027, 3, 16)}
    assert cfg.run_date == date.today() and cfg.radii == {} and cfg.notice_days == 5
    assert cfg.map_tiles == "osm" and cfg.name == "campaign" and cfg.reference == ""


@pytest.mark.parametrize(
    "tiles",
    [
        "none",
        "osm",
        "https://tiles.example.org/{z}/{x}/{y}.png",
        "https://{s}.t.example/{z}/{x}/{y}{r}.png?key=ab-9",
    ],
)
def test_good_map_tiles(folder, tiles):
    text = set_key(DEMO_TEXT, "output", "map_tiles", json.dumps(tiles))
    assert load_config(write(folder, text)).map_tiles == tiles


# --------------------------------------------------------------------------- bad files
# (id, TOML text made from the demo, key path the line must name, words it must contain)
def _bad_cases() -> list[tuple[str, str, str, str]]:
    t = DEMO_TEXT
    return [
        (
            "section_not_table",
            'campaign = "x"\n' + drop_section(t, "campaign"),
            "[campaign]",
            "must be a table",
        ),
        ("missing_section", drop_section(t, "inputs"), "[inputs]", "is required"),
        (
            "missing_key",
            set_key(t, "inputs", "equipment", None),
            "[inputs] equipment",
            "is required",
        ),
        (
            "unknown_section",
            t + "\n[campain]\nname = 'x'\n",
            "unknown section [campain]",
            "known: campaign, inputs",
        ),
        (
            "unknown_key",
            set_key(t, "output", "delete_afterdays", "3"),
            "[output] unknown key 'delete_afterdays'",
            "known: delete_after_days",
        ),
        (
            "unknown_key_in_template",
            t.replace(
                '{ template_id = "SS-CALL-SCRIPT-01" }',
                '{ template_id = "SS-CALL-SCRIPT-01", colour = "red" }',
            ),
            "[templates] outage_phone_call: unknown key 'colour'",
            "known: template_id, addressee",
        ),
        (
            "unknown_campaign_in_templates",
            set_key(t, "templates", "flyer", '"F-1"'),
            "[templates] unknown campaign 'flyer'",
            "known: leaflet",
        ),
        (
            "bool_as_int",
            set_key(t, "outage", "notice_days", "true"),
            "[outage] notice_days",
            "must be a whole number of days, got true",
        ),
        (
            "str_as_int",
            set_key(t, "output", "delete_after_days", '"90"'),
            "[output] delete_after_days",
            'must be a whole number of days, got "90"',
        ),
        (
            "float_as_int",
            set_key(t, "outage", "notice_days", "5.0"),
            "[outage] notice_days",
            "got 5.0",
        ),
        (
            "negative_days",
            set_key(t, "outage", "notice_days", "-1"),
            "[outage] notice_days",
            "at least 0 days, got -1",
        ),
        (
            "too_many_days",
            set_key(t, "output", "delete_after_days", "100000"),
            "[output] delete_after_days",
            "at most 2190 days",
        ),
        (
            "negative_radius",
            set_key(t, "radii", "lv_capacitor", "-30"),
            "[radii] lv_capacitor",
            "more than 0 metres, got -30",
        ),
        (
            "huge_radius",
            set_key(t, "radii", "lv_capacitor", "1e9"),
            "[radii] lv_capacitor",
            "at most 1000 metres",
        ),
        (
            "nan_radius",
            set_key(t, "radii", "lv_capacitor", "nan"),
            "[radii] lv_capacitor",
            "finite number of metres, got nan",
        ),
        (
            "bool_radius",
            set_key(t, "radii", "lv_capacitor", "true"),
            "[radii] lv_capacitor",
            "must be a number of metres, got true",
        ),
        (
            "negative_distance",
            set_key(t, "membership", "max_inference_distance_m", "-5"),
            "[membership] max_inference_distance_m",
            "more than 0 metres",
        ),
        (
            "unknown_kind",
            set_key(t, "radii", "flux_capacitor", "10"),
            "[radii] unknown equipment kind 'flux_capacitor'",
            "known: oltc_transformer",
        ),
        (
            "unknown_campaign",
            set_key(t, "campaigns", "produce", '["leaflets"]'),
            "[campaigns] produce (item 1)",
            "must be 'leaflet'",
        ),
        (
            "duplicate_produce",
            set_key(t, "campaigns", "produce", '["leaflet", "leaflet"]'),
            "[campaigns] produce",
            'lists "leaflet" more than once',
        ),
        (
            "empty_produce",
            set_key(t, "campaigns", "produce", "[]"),
            "[campaigns] produce",
            "at least one",
        ),
        (
            "produce_not_list",
            set_key(t, "campaigns", "produce", '"leaflet"'),
            "[campaigns] produce",
            "must be a list",
        ),
        (
            "list_of_lists",
            set_key(t, "campaigns", "produce", '[["leaflet"]]'),
            "[campaigns] produce (item 1)",
            "got a list",
        ),
        (
            "duplicate_scope_circuit",
            set_key(t, "scope", "circuits", '["C1", "C1"]'),
            "[scope] circuits",
            'lists "C1" more than once',
        ),
        (
            "bad_addressee",
            t.replace('addressee = "name"', 'addressee = "Mr"'),
            "[templates] outage_letter.addressee",
            "must be 'occupier' or 'name'",
        ),
        (
            "template_wrong_type",
            set_key(t, "templates", "leaflet", "5"),
            "[templates] leaflet",
            "must be a table",
        ),
        (
            "bad_date",
            set_key(t, "campaign", "run_date", '"2027-02-30"'),
            "[campaign] run_date",
            "not a real date",
        ),
        (
            "uk_date",
            set_key(t, "campaign", "run_date", '"04/01/2027"'),
            "[campaign] run_date",
            "like 2027-03-01",
        ),
        (
            "date_with_time",
            set_key(t, "campaign", "run_date", "2027-01-04T10:00:00"),
            "[campaign] run_date",
            "without a time of day",
        ),
        (
            "date_out_of_range",
            set_key(t, "campaign", "run_date", "9999-12-31"),
            "[campaign] run_date",
            "between 2000-01-01 and 2100-12-31",
        ),
        (
            "number_as_date",
            set_key(t, "outage", "default_date", "20270301"),
            "[outage] default_date",
            "got 20270301",
        ),
        (
            "bad_date_in_table",
            set_key(t, "outage", "dates", '{ EQ0002 = "soon" }'),
            "[outage] dates.EQ0002",
            "like 2027-03-01",
        ),
        (
            "dates_not_table",
            set_key(t, "outage", "dates", '["EQ0002"]'),
            "[outage] dates",
            "must be a table",
        ),
        (
            "empty_name",
            set_key(t, "campaign", "name", '""'),
            "[campaign] name",
            "must not be empty",
        ),
        (
            "blank_template_id",
            t.replace('"SS-LEAFLET-01"', '"   "'),
            "[templates] leaflet.template_id",
            "must not be blank",
        ),
        (
            "control_in_name",
            set_key(t, "campaign", "name", '"a\\u001bb"'),
            "[campaign] name",
            "U+001B",
        ),
        (
            "long_name",
            set_key(t, "campaign", "name", json.dumps("x" * 500)),
            "[campaign] name",
            "longer than 200",
        ),
        (
            "empty_path",
            set_key(t, "inputs", "customers", '""'),
            "[inputs] customers",
            "must not be empty",
        ),
        (
            "missing_file",
            set_key(t, "inputs", "equipment", '"nope.csv"'),
            "[inputs] equipment",
            "does not exist",
        ),
        (
            "folder_as_file",
            set_key(t, "inputs", "customers", '"."'),
            "[inputs] customers",
            "is a folder, not a file",
        ),
        (
            "nul_in_path",
            set_key(t, "psr", "needs_codes", '"a\\u0000b.csv"'),
            "[psr] needs_codes",
            "U+0000",
        ),
        (
            "name_too_long_for_os",
            set_key(t, "inputs", "circuits", json.dumps("c" * 300 + ".csv")),
            "[inputs] circuits",
            "not a usable path",
        ),
        (
            "path_not_text",
            set_key(t, "inputs", "customers", "5"),
            "[inputs] customers",
            "must be text in quotes, got 5",
        ),
        (
            "opted_out_folder",
            set_key(t, "suppression", "opted_out", '"."'),
            "[suppression] opted_out",
            "is a folder",
        ),
        (
            "map_tiles_javascript",
            set_key(t, "output", "map_tiles", '"javascript:alert(1)"'),
            "[output] map_tiles",
            'must be "osm", "none" or an https://',
        ),
        (
            "map_tiles_http",
            set_key(t, "output", "map_tiles", '"http://t.example/{z}/{x}/{y}.png"'),
            "[output] map_tiles",
            "https://",
        ),
        (
            "map_tiles_no_xyz",
            set_key(t, "output", "map_tiles", '"https://t.example/tiles.png"'),
            "[output] map_tiles",
            "{z}, {x} and {y}",
        ),
        (
            "map_tiles_quote",
            set_key(t, "output", "map_tiles", "'https://t.example/{z}/{x}/{y}.png\"><script>'"),
            "[output] map_tiles",
            "https://",
        ),
        (
            "map_tiles_jinja",
            set_key(t, "output", "map_tiles", '"https://t.example/{{z}}/{x}/{y}.png"'),
            "[output] map_tiles",
            "https://",
        ),
        (
            "bool_as_str",
            set_key(t, "outage", "use_install_date", '"yes"'),
            "[outage] use_install_date",
            'true or false (without quotes), got "yes"',
        ),
        ("int_as_bool", set_key(t, "output", "map", "1"), "[output] map", "true or false"),
        (
            "unknown_encoding",
            set_key(t, "inputs", "encoding", '"klingon"'),
            "[inputs] encoding",
            "not a text encoding",
        ),
        (
            "bad_env_name",
            set_key(t, "output", "pseudonym_key_env", '"MY KEY"'),
            "[output] pseudonym_key_env",
            "letters, digits and underscores",
        ),
        (
            "columns_not_table",
            set_key(t, "inputs", "columns", '"customers"'),
            "[inputs] columns",
            "must be a table",
        ),
        (
            "unknown_file_kind",
            t + '\n[inputs.columns.customer]\n"Account No" = "customer_id"\n',
            "[inputs] columns: unknown file kind 'customer'",
            "known: customers",
        ),
        (
            "column_map_not_text",
            t + '\n[inputs.columns.customers]\n"Account No" = 7\n',
            '[inputs] columns.customers."Account No"',
            "must be text in quotes",
        ),
        (
            "two_columns_one_name",
            t + '\n[inputs.columns.customers]\nA = "customer_id"\nB = "customer_id"\n',
            "[inputs] columns.customers",
            'maps both "A" and "B" to customer_id',
        ),
        (
            "circuits_column_without_table",
            set_key(t, "inputs", "circuits", None),
            "[scope] circuits_column",
            "needs the circuits table",
        ),
        (
            "substations_without_edges",
            set_key(t, "inputs", "network_edges", None),
            "[inputs] substations",
            "network_edges",
        ),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize(("case", "text", "key", "words"), BAD, ids=[c[0] for c in BAD])
def test_bad_campaign_file_is_one_error_naming_file_and_key(folder, case, text, key, words):
    path = write(folder, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = problems(info.value)
    assert all(ln.startswith(f"{path}: ") for ln in lines), lines
    assert [ln for ln in lines if key in ln and words in ln], lines
    assert not [ln for ln in lines if "pydantic" in ln or "Input should" in ln], lines


def test_bad_cases_are_many_distinct_kinds():
    assert len({c[0] for c in BAD}) >= 17


@pytest.mark.parametrize(("case", "text", "key", "words"), BAD[::3], ids=[c[0] for c in BAD[::3]])
def test_cli_run_bad_campaign_exits_1_with_one_error_line(folder, capsys, case, text, key, words):
    out = folder / "out"
    code, err = run_cli(write(folder, text), out, capsys)
    assert code == 1
    assert [ln for ln in err.splitlines() if ln.startswith("error:")] == [err.splitlines()[0]]
    assert key in err and words in err and "Traceback" not in err
    assert not out.exists()  # refused before any work


# file-level problems: (id, how to make the file, words)
def _unreadable(folder: Path, monkeypatch) -> Path:
    path = write(folder, DEMO_TEXT)
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    return path


FILE_CASES = {
    "no_such_file": (lambda f, m: f / "nope.toml", "no such campaign file"),
    "folder": (lambda f, m: (f / "dir.toml").mkdir() or f / "dir.toml", "is a folder"),
    "unreadable": (_unreadable, "permission denied"),
    "not_utf8": (lambda f, m: write(f, DEMO_TEXT.encode() + b'\nx = "caf\xe9"\n'), "not UTF-8"),
    "not_toml": (lambda f, m: write(f, "this is not toml\n"), "not valid TOML"),
    "duplicate_key": (
        lambda f, m: write(f, DEMO_TEXT + "\n[output]\nmap = true\n"),
        "not valid TOML",
    ),
    "deeply_nested": (
        lambda f, m: write(f, "x = " + "[" * 3000 + "]" * 3000 + "\n"),
        "nested too deeply",
    ),
    "too_large": (lambda f, m: write(f, DEMO_TEXT + "#" * (1 << 20)), "larger than 1 MB"),
    "empty": (lambda f, m: write(f, ""), "[inputs]: is required"),
    "binary": (
        lambda f, m: write(f, (DEMO.parent / "customers.parquet").read_bytes()[:4096]),
        ": not ",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_unusable_campaign_file_is_one_cli_error(folder, monkeypatch, capsys, case):
    make, words = FILE_CASES[case]
    path = make(folder, monkeypatch)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
    code, err = run_cli(path, folder / "out", capsys)
    assert code == 1 and err.startswith(f"error: {path}: ") and len(err.splitlines()) == 1
    assert not (folder / "out").exists()


def test_not_utf8_names_the_line(folder):
    path = write(folder, b'[campaign]\nname = "ok"\nreference = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"line 3: not UTF-8 text \(byte 0xe9\)"):
        load_config(path)


def test_utf8_bom_is_accepted(folder):
    path = write(folder, b"\xef\xbb\xbf" + DEMO_TEXT.encode())
    assert load_config(path).name == "Smart Street demo"


def test_all_errors_at_once(folder):
    text = DEMO_TEXT
    text = set_key(text, "outage", "notice_days", "true")
    text = set_key(text, "radii", "lv_capacitor", "-1")
    text = set_key(text, "campaigns", "produce", '["leaflet", "leaflet", "flyer"]')
    text = set_key(text, "output", "map_tiles", '"javascript:alert(1)"')
    text = set_key(text, "output", "colour", '"red"')
    text = set_key(text, "inputs", "equipment", '"missing.csv"')
    text = text.replace('addressee = "name"', "addressee = 3")
    text = set_key(text, "inputs", "circuits", None)  # and circuits_column now has no table
    path = write(folder, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    head, *lines = str(info.value).splitlines()
    assert head == f"{path}: 9 problems in the campaign file:"
    expected = [
        "[inputs] equipment: file",
        "[radii] lv_capacitor: must be more than 0 metres, got -1",
        "[campaigns] produce (item 3): must be 'leaflet'",
        '[campaigns] produce: lists "leaflet" more than once',
        "[templates] outage_letter.addressee: must be 'occupier' or 'name', got 3",
        "[outage] notice_days: must be a whole number of days, got true",
        "[output] unknown key 'colour'",
        "[output] map_tiles: must be",
        "[scope] circuits_column: needs the circuits table",
    ]
    assert len(lines) == len(expected)
    for want in expected:
        assert sum(want in ln for ln in lines) == 1, (want, lines)
    assert all(ln.startswith(f"  {path}: [") for ln in lines)


def test_cli_subprocess_reports_all_errors_without_traceback(folder):
    text = set_key(DEMO_TEXT, "outage", "notice_days", "true")
    text = set_key(text, "radii", "lv_capacitor", "1e9")
    path = write(folder, text)
    r = subprocess.run(
        [sys.executable, "-m", "smartstreet_geo.cli", "run", str(path), "--out", str(folder / "o")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == f"error: {path}: 2 problems in the campaign file:"
    assert lines[1:] == [
        f"  {path}: [radii] lv_capacitor: must be at most 1000 metres, got 1000000000.0",
        f"  {path}: [outage] notice_days: must be a whole number of days, got true",
    ]


def test_dict_config_names_the_source_and_the_key(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config({"inputs": {"customers": 1}}, base=tmp_path)
    assert problems(info.value) == [
        "campaign config: [inputs] customers: must be text in quotes, got 1",
        "campaign config: [inputs] equipment: is required",
    ]


@pytest.mark.parametrize(("name", "value"), HOSTILE, ids=hostile_ids())
def test_hostile_values_are_data_or_a_clean_error(folder, capsys, name, value):
    """As a campaign name, an outage date key and a map background: loaded as is, or refused
    with a message that shows no control character and can be printed."""
    import tomllib

    raw = tomllib.loads(DEMO_TEXT)
    raw["campaign"]["name"] = value
    raw["outage"]["dates"] = {value: "2027-03-01"}
    accepted_text = value.strip() != "" and value.isprintable() and len(value) <= 200
    try:
        cfg = load_config(raw, base=folder)
    except ConfigError as exc:
        assert not accepted_text
        msg = str(exc)
        assert all(ch.isprintable() for ln in msg.splitlines() for ch in ln)
        msg.encode("utf-8")  # printable on any UTF-8 console (no lone surrogate)
        assert "[campaign] name" in msg and "[outage] dates." in msg
    else:
        assert accepted_text
        assert cfg.name == value and list(cfg.outage_dates) == [value]
    raw["campaign"]["name"] = "ok"
    raw["outage"]["dates"] = {}
    raw["output"]["map_tiles"] = value
    with pytest.raises(ConfigError, match=r"\[output\] map_tiles"):
        load_config(raw, base=folder)


# --------------------------------------------------------------------------- cross-references
def test_outage_dates_must_name_existing_equipment(folder):
    text = set_key(
        DEMO_TEXT,
        "outage",
        "dates",
        '{ EQ0002 = 2027-03-15, EQ9999 = 2027-03-16, "EQ 7" = 2027-03-17 }',
    )
    cfg = load_config(write(folder, text))
    with pytest.raises(ConfigError) as info:
        check_against_inputs(cfg, ["EQ0002", "EQ0003"])
    lines = problems(info.value)
    assert len(lines) == 2
    assert lines[0].startswith(f"{folder / 'campaign.toml'}: [outage] dates.EQ9999: no equipment")
    assert '[outage] dates."EQ 7": no equipment with this id in equipment.csv' in lines[1]
    check_against_inputs(cfg, ["EQ0002", "EQ9999", "EQ 7"])


def test_outage_dates_check_passes_on_the_demo_equipment():
    eq = pd.read_csv(ssg.demo.path("equipment"), dtype=str)
    cfg = load_config(DEMO)
    check_against_inputs(cfg, eq["equipment_id"])


# --------------------------------------------------------------------------- the schema
def test_committed_json_schema_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_mod.json_schema_text(), (
        "docs/campaign.schema.json is stale: run python docs/make_campaign_schema.py"
    )


def test_schema_lists_the_library_enums():
    s = schema_mod.campaign_json_schema()
    defs = s["$defs"]
    assert list(defs["RadiiSection"]["properties"]) == [k.value for k in EquipmentKind]
    assert list(defs["TemplatesSection"]["properties"]) == list(CAMPAIGNS)
    assert defs["CampaignsSection"]["properties"]["produce"]["items"]["enum"] == list(CAMPAIGNS)
    assert defs["CampaignsSection"]["properties"]["produce"]["uniqueItems"] is True
    for name, d in defs.items():
        assert d.get("additionalProperties") is False, name
    assert s["additionalProperties"] is False and s["required"] == ["inputs"]


def test_json_schema_agrees_with_the_loader(folder):
    """An independent validator (jsonschema) on the published schema accepts the demo and refuses
    the type, enum, range and unknown-key cases."""
    import tomllib

    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))

    def as_json(text: str) -> object:
        return json.loads(json.dumps(tomllib.loads(text), default=str))

    assert list(validator.iter_errors(as_json(DEMO_TEXT))) == []
    refused = {
        "bool_as_int",
        "str_as_int",
        "negative_days",
        "huge_radius",
        "unknown_kind",
        "unknown_campaign",
        "unknown_key",
        "unknown_key_in_template",
        "bad_addressee",
        "empty_name",
        "empty_produce",
        "produce_not_list",
        "bool_as_str",
        "unknown_section",
        "duplicate_produce",
        "long_name",
    }
    for case, text, _key, _words in BAD:
        if case in refused:
            assert list(validator.iter_errors(as_json(text))), case


# --------------------------------------------------------------------------- side files
@pytest.fixture(scope="module")
def demo_ids() -> list[str]:
    return pq.read_table(ssg.demo.path("customers"), columns=["customer_id"]).column(0).to_pylist()


def test_spreadsheet_numbers_normalise_to_the_customer_ids(tmp_path, demo_ids):
    """Oracle: the customer file's own ids, written as a spreadsheet writes numbers, come back."""
    picked = demo_ids[::1700][:50]
    (tmp_path / "as_float_text.csv").write_text(
        "customer_id\n" + "".join(f"{float(i)}\n" for i in picked)
    )
    (tmp_path / "as_full_sci.csv").write_text(
        "MPAN\n" + "".join(f"{int(i):.12E}\n" for i in picked)
    )
    pd.DataFrame({"customer_id": [float(i) for i in picked]}).to_parquet(
        tmp_path / "as_float.parquet"
    )
    for name in ("as_float_text.csv", "as_full_sci.csv", "as_float.parquet"):
        s = read_opted_out(tmp_path / name, demo_ids)
        assert s.ids == frozenset(picked), name
        assert s.unmatched == () and s.unusable_rows == () and s.warnings() == []
        assert s.n_rows == len(picked)


def test_shortened_ids_are_unusable_never_silent(tmp_path, demo_ids):
    rows = [demo_ids[0], f"{int(demo_ids[1]):.6E}", "", f"{int(demo_ids[2]):.5E}", "  "]
    (tmp_path / "o.csv").write_text("customer_id\n" + "\n".join(f'"{r}"' for r in rows) + "\n")
    with pytest.raises(
        InputFileError, match=r"2 opted-out ids .* shortened numbers .* rows 2, 4\b"
    ):
        read_opted_out(tmp_path / "o.csv", demo_ids)
    (tmp_path / "h.csv").write_text(
        "customer_id,campaign\n" + "\n".join(f'"{r}",leaflet' for r in rows) + "\n"
    )
    h = read_history(tmp_path / "h.csv", demo_ids)
    assert h.ids == {demo_ids[0]} and h.unusable_rows == (2, 4) and h.n_blank == 2
    w = h.warnings()
    assert (
        len(w) == 2 and "rows 2, 4" in w[0] and "2 contact history rows have no customer_id" in w[1]
    )


@pytest.mark.parametrize(
    ("raw", "expected", "unusable"),
    [
        ("1652199544894", "1652199544894", False),
        (" 1652199544894 ", "1652199544894", False),
        ("1652199544894.0", "1652199544894", False),
        ("1652199544894.000", "1652199544894", False),
        ("1.652199544894E+12", "1652199544894", False),
        ("1.652199544894e12", "1652199544894", False),
        ("1.652200E+12", None, True),
        ("1.6522E+12", None, True),
        ("1652199544894.5", None, True),
        ("1.5E+0", None, True),
        ("00123", "00123", False),
        ("A1 B2", "A1 B2", False),
        ("A1  \n B2", "A1 B2", False),
        ("", None, False),
    ],
)
def test_side_id_normalisation_cases(raw, expected, unusable):
    ids, bad, _ = normalise_side_ids(pd.Series([raw], dtype="str"), [])
    got = ids.iloc[0]
    assert (None if pd.isna(got) else got) == expected
    assert bool(bad.iloc[0]) is unusable


def test_an_id_that_matches_as_written_is_not_repaired():
    ids, bad, repaired = normalise_side_ids(pd.Series(["12.0", "1.5E+3"]), ["12.0", "1.5E+3"])
    assert ids.tolist() == ["12.0", "1.5E+3"] and not bad.any() and not repaired.any()


def test_unmatched_ids_are_counted_and_returned(tmp_path, demo_ids):
    (tmp_path / "o.csv").write_text(
        "Customer ID,note\n" + f"{demo_ids[5]},x\n1600000000000,y\n1600000000000,z\nZZ9,\n"
    )
    s = read_opted_out(tmp_path / "o.csv", demo_ids)
    assert s.unmatched == ("1600000000000", "ZZ9")
    assert s.warnings() == ["2 opted-out ids match no customer in the customer file"]
    assert list(s.table.columns) == ["customer_id"] and len(s.table) == 4


def test_history_columns(tmp_path, demo_ids):
    (tmp_path / "h.csv").write_text(
        f"customer_id,campaign,equipment_ids\n{demo_ids[0]}.0, leaflet ,\n{demo_ids[1]},installation_letter,EQ1;EQ2\n"
    )
    h = read_history(tmp_path / "h.csv", demo_ids)
    assert h.table.to_dict("list") == {
        "customer_id": [demo_ids[0], demo_ids[1]],
        "campaign": ["leaflet", "installation_letter"],
        "equipment_ids": ["", "EQ1;EQ2"],
    }
    assert h.n_repaired == 1
    (tmp_path / "bad.csv").write_text("customer_id\n1\n")
    with pytest.raises(MissingColumnError, match="contact history file needs column"):
        read_history(tmp_path / "bad.csv", demo_ids)


@pytest.mark.parametrize(
    ("name", "value"),
    [(n, v) for n, v in HOSTILE if n not in UNENCODABLE | CONTROL | {"nul"}],
    ids=[n for n, _ in HOSTILE if n not in UNENCODABLE | CONTROL | {"nul"}],
)
def test_hostile_side_ids_are_data(tmp_path, demo_ids, name, value):
    pd.DataFrame({"customer_id": [value, demo_ids[0]]}).to_csv(tmp_path / "o.csv", index=False)
    s = read_opted_out(tmp_path / "o.csv", demo_ids)
    assert demo_ids[0] in s.ids and s.n_rows == 2
    shown = " ".join(s.warnings())
    assert value.strip() == "" or value not in shown


# --------------------------------------------------------------------------- outage plans
BACKFEED = "\n".join(
    [
        "",
        "[outage.backfeed]",
        "max_customers_per_circuit = 300",
        "admd_kva = 1.5",
        'circuit_ratings_kva = { "EGR01-F1" = 250, "EGR01-F2" = 312.5 }',
        "enforce_limit = true",
        "psr_weight = 20",
        "",
    ]
)


def test_backfeed_plan_loads(folder):
    from smartstreet_geo.network import LoadingLimit, PlanWeights

    assert load_config(DEMO).outage_plan == "none"  # off unless asked for
    text = set_key(DEMO_TEXT, "outage", "plan", '"backfeed"') + BACKFEED
    cfg = load_config(write(folder, text))
    assert cfg.outage_plan == "backfeed"
    b = cfg.backfeed
    assert (b.max_customers_per_circuit, b.admd_kva, b.enforce_limit) == (300, 1.5, True)
    assert b.circuit_ratings_kva == {"EGR01-F1": 250.0, "EGR01-F2": 312.5}
    assert b.weights() == PlanWeights(customer=1.0, psr=20.0, medically_dependent=100.0)
    assert b.loading() == LoadingLimit(
        max_customers=300,
        admd_kva=1.5,
        rating_kva={"EGR01-F1": 250.0, "EGR01-F2": 312.5},
        enforce=True,
    )
    # defaults
    cfg = load_config(write(folder, set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')))
    assert cfg.backfeed.loading() == LoadingLimit() and cfg.backfeed.weights() == PlanWeights()


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (
            set_key(DEMO_TEXT, "outage", "plan", '"bridge"'),
            "[outage] plan",
            "must be 'none' or 'backfeed'",
        ),
        (
            set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')
            + BACKFEED.replace("admd_kva = 1.5", "admd_kva = 0"),
            "[outage] backfeed.admd_kva",
            "must be more than 0 kVA",
        ),
        (
            set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')
            + BACKFEED.replace("= 250,", "= -5,"),
            "[outage] backfeed.circuit_ratings_kva.EGR01-F1",
            "must be more than 0 kVA",
        ),
        (
            set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')
            + BACKFEED.replace("psr_weight = 20", "psr_weight = true"),
            "[outage] backfeed.psr_weight",
            "must be a number",
        ),
        (
            set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')
            + BACKFEED.replace("max_customers_per_circuit = 300", "max_customers_per_circuit = 0"),
            "[outage] backfeed.max_customers_per_circuit",
            "must be at least 1",
        ),
        (
            set_key(DEMO_TEXT, "outage", "plan", '"backfeed"')
            + BACKFEED.replace("enforce_limit", "enforce"),
            "[outage] backfeed",
            "unknown key 'enforce'",
        ),
        (
            DEMO_TEXT + BACKFEED,
            "[outage.backfeed]",
            'is used only with [outage] plan = "backfeed"',
        ),
        (
            set_key(
                set_key(
                    set_key(DEMO_TEXT, "inputs", "network_edges", None),
                    "inputs",
                    "substations",
                    None,
                ),
                "outage",
                "plan",
                '"backfeed"',
            ),
            "[outage] plan",
            '"backfeed" needs the network',
        ),
    ],
    ids=[
        "unknown_plan",
        "zero_admd",
        "negative_rating",
        "bool_weight",
        "zero_limit",
        "unknown_key",
        "table_without_plan",
        "plan_without_network",
    ],
)
def test_backfeed_errors_name_the_key(folder, text, where, says):
    with pytest.raises(ConfigError) as exc:
        load_config(write(folder, text))
    lines = [ln for ln in problems(exc.value) if where in ln]
    assert lines, problems(exc.value)
    assert any(says in ln for ln in lines), lines


def test_backfeed_ratings_must_name_circuits_of_the_network(folder):
    text = set_key(DEMO_TEXT, "outage", "plan", '"backfeed"') + BACKFEED
    cfg = load_config(write(folder, text))
    check_against_inputs(cfg, [], circuit_ids=["EGR01-F1", "EGR01-F2"])  # fine
    check_against_inputs(cfg, [])  # without the network: nothing to check against
    with pytest.raises(ConfigError) as exc:
        check_against_inputs(cfg, [], circuit_ids=["EGR01-F1"])
    assert problems(exc.value) == [
        f"{folder / 'campaign.toml'}: [outage.backfeed] circuit_ratings_kva.EGR01-F2: no circuit "
        "with this id in network_edges.parquet; correct the id or remove the rating"
    ]
