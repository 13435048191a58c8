"""Campaign files (TOML): what to read, who is in scope, which contacts to produce.

A campaign file is meant to be read and edited by a DNO analyst. Every key is
checked: an unknown key, a wrong type, an equipment kind without a radius or a
radius for a kind that does not exist is an error naming the file and the key.
Paths are relative to the campaign file. See the README's "Campaign file
reference" for every key with its meaning.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..schema import EquipmentKind

__all__ = ["CAMPAIGNS", "CampaignConfig", "load_config"]

#: The contact campaigns smartstreet-geo can produce, with their channel.
CAMPAIGNS: dict[str, str] = {
    "leaflet": "letter",
    "installation_letter": "letter",
    "outage_letter": "letter",
    "outage_phone_call": "phone",
}

_ADDRESSEE_DEFAULT = {
    "leaflet": "occupier",
    "installation_letter": "occupier",
    "outage_letter": "name",
}

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "campaign": {"name": str, "reference": str, "run_date": (str, date)},
    "inputs": {
        "customers": str,
        "equipment": str,
        "network_edges": str,
        "substations": str,
        "circuits": str,
        "columns": dict,
        "encoding": str,
    },
    "scope": {"circuits": list, "circuits_column": str},
    "radii": {},
    "campaigns": {"produce": list},
    "templates": {},
    "suppression": {"opted_out": str, "history": str},
    "outage": {
        "dates": dict,
        "default_date": (str, date),
        "notice_days": int,
        "use_install_date": bool,
    },
    "psr": {"needs_codes": str},
    "membership": {"max_inference_distance_m": (int, float)},
    "output": {
        "delete_after_days": int,
        "pseudonymise_ids": bool,
        "pseudonym_key_env": str,
        "map": bool,
        "map_tiles": str,
    },
}


@dataclass(frozen=True)
class TemplateConfig:
    """Letter template id and how to address the letter."""

    template_id: str
    addressee: str  # "occupier" or "name"


@dataclass(frozen=True)
class CampaignConfig:
    """A parsed, checked campaign file. Build one with :func:`load_config`."""

    source: Path | None
    name: str
    reference: str
    run_date: date
    customers: Path
    equipment: Path
    network_edges: Path | None
    substations: Path | None
    circuits_file: Path | None
    column_maps: dict[str, dict[str, str]]
    encoding: str | None
    scope_circuits: tuple[str, ...] | None
    scope_circuits_column: str | None
    radii: dict[str, float]
    produce: tuple[str, ...]
    templates: dict[str, TemplateConfig]
    opted_out: Path | None
    history: Path | None
    outage_dates: dict[str, date]
    outage_default_date: date | None
    outage_use_install_date: bool
    notice_days: int
    needs_codes: Path | None
    max_inference_distance_m: float
    delete_after_days: int
    pseudonymise_ids: bool
    pseudonym_key_env: str
    write_map: bool
    map_tiles: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _fail(source: Path | None, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{source or 'campaign config'}: [{where}] {msg}")


def _date(value: Any, source: Path | None, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(source, where, f"{value!r} is not a date like 2027-03-01") from None


def load_config(
    path_or_dict: str | Path | dict[str, Any], *, base: Path | None = None
) -> CampaignConfig:
    """Read and check a campaign file.

    Parameters
    ----------
    path_or_dict : str, Path or dict
        A TOML file, or the same structure as a dict (paths then relative to ``base``).
    base : Path, optional
        Folder for relative paths when a dict is given (default: the current folder).

    Returns
    -------
    CampaignConfig

    Raises
    ------
    ConfigError
        Unknown section or key, wrong type, unknown equipment kind or campaign,
        a kind without a radius, a missing input file.

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> cfg = load_config(demo.path("campaign"))
    >>> cfg.radii["oltc_transformer"], cfg.produce[:2]
    (50.0, ('leaflet', 'installation_letter'))
    """
    if isinstance(path_or_dict, dict):
        raw, source, root = path_or_dict, None, (base or Path.cwd())
    else:
        source = Path(path_or_dict)
        root = source.parent
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such campaign file.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc}).") from exc

    for section, value in raw.items():
        if section not in _SCHEMA:
            raise _fail(source, section, f"unknown section; known: {', '.join(_SCHEMA)}")
        if not isinstance(value, dict):
            raise _fail(source, section, "must be a table (a [section] with keys)")
        allowed = _SCHEMA[section]
        if not allowed:  # free-form tables checked below
            continue
        for key, v in value.items():
            if key not in allowed:
                raise _fail(source, section, f"unknown key {key!r}; known: {', '.join(allowed)}")
            if not isinstance(v, allowed[key]):
                raise _fail(source, section, f"{key} has the wrong type ({type(v).__name__})")

    def sec(name: str) -> dict[str, Any]:
        return dict(raw.get(name, {}))

    def path(value: str | None, where: str, *, required: bool = False) -> Path | None:
        if value is None:
            if required:
                raise _fail(source, where, "is required")
            return None
        p = Path(value)
        p = p if p.is_absolute() else root / p
        if not p.exists():
            raise _fail(source, where, f"file {p} does not exist")
        return p

    campaign = sec("campaign")
    inputs = sec("inputs")
    customers = path(inputs.get("customers"), "inputs.customers", required=True)
    equipment = path(inputs.get("equipment"), "inputs.equipment", required=True)
    if customers is None or equipment is None:  # pragma: no cover - path(required=True)
        raise _fail(source, "inputs", "customers and equipment are required")
    column_maps = {k: dict(v) for k, v in dict(inputs.get("columns", {})).items()}
    for k in column_maps:
        if k not in {"customers", "equipment", "edges", "substations"}:
            raise _fail(source, "inputs.columns", f"unknown file kind {k!r}")

    kinds = {k.value for k in EquipmentKind}
    radii_raw = sec("radii")
    radii: dict[str, float] = {}
    for kind, metres in radii_raw.items():
        if kind not in kinds:
            raise _fail(
                source,
                "radii",
                f"unknown equipment kind {kind!r}; known: {', '.join(sorted(kinds))}",
            )
        if not isinstance(metres, int | float) or isinstance(metres, bool) or metres < 0:
            raise _fail(source, "radii", f"{kind} must be a number of metres >= 0")
        radii[kind] = float(metres)

    produce = tuple(
        sec("campaigns").get("produce", ["leaflet", "installation_letter", "outage_phone_call"])
    )
    for name in produce:
        if name not in CAMPAIGNS:
            raise _fail(
                source, "campaigns", f"unknown campaign {name!r}; known: {', '.join(CAMPAIGNS)}"
            )
    if "outage_phone_call" in produce and "outage_letter" not in produce:
        produce = (*produce, "outage_letter")  # PSR customers called also get the letter

    templates: dict[str, TemplateConfig] = {}
    tpl_raw = sec("templates")
    for name in tpl_raw:
        if name not in CAMPAIGNS:
            raise _fail(source, "templates", f"unknown campaign {name!r}")
    for name in CAMPAIGNS:
        t = tpl_raw.get(name, {})
        if isinstance(t, str):
            t = {"template_id": t}
        addressee = t.get("addressee", _ADDRESSEE_DEFAULT.get(name, "name"))
        if addressee not in {"occupier", "name"}:
            raise _fail(source, f"templates.{name}", "addressee must be 'occupier' or 'name'")
        templates[name] = TemplateConfig(str(t.get("template_id", name.upper())), addressee)

    scope = sec("scope")
    outage = sec("outage")
    output = sec("output")
    membership = sec("membership")
    return CampaignConfig(
        source=source,
        name=str(campaign.get("name", "campaign")),
        reference=str(campaign.get("reference", "")),
        run_date=_date(campaign["run_date"], source, "campaign.run_date")
        if "run_date" in campaign
        else date.today(),
        customers=customers,
        equipment=equipment,
        network_edges=path(inputs.get("network_edges"), "inputs.network_edges"),
        substations=path(inputs.get("substations"), "inputs.substations"),
        circuits_file=path(inputs.get("circuits"), "inputs.circuits"),
        column_maps=column_maps,
        encoding=inputs.get("encoding"),
        scope_circuits=tuple(str(c) for c in scope["circuits"]) if "circuits" in scope else None,
        scope_circuits_column=scope.get("circuits_column"),
        radii=radii,
        produce=produce,
        templates=templates,
        opted_out=path(sec("suppression").get("opted_out"), "suppression.opted_out"),
        history=path(sec("suppression").get("history"), "suppression.history"),
        outage_dates={
            str(k): _date(v, source, "outage.dates")
            for k, v in dict(outage.get("dates", {})).items()
        },
        outage_default_date=_date(outage["default_date"], source, "outage.default_date")
        if "default_date" in outage
        else None,
        outage_use_install_date=bool(outage.get("use_install_date", True)),
        notice_days=int(outage.get("notice_days", 5)),
        needs_codes=path(sec("psr").get("needs_codes"), "psr.needs_codes"),
        max_inference_distance_m=float(membership.get("max_inference_distance_m", 60.0)),
        delete_after_days=int(output.get("delete_after_days", 90)),
        pseudonymise_ids=bool(output.get("pseudonymise_ids", False)),
        pseudonym_key_env=str(output.get("pseudonym_key_env", "SMARTSTREET_PSEUDONYM_KEY")),
        write_map=bool(output.get("map", True)),
        map_tiles=str(output.get("map_tiles", "osm")),
        raw=raw,
    )
