"""Campaign files (TOML): what to read, who is in scope, which contacts to produce.

A campaign file is meant to be read and edited by a DNO analyst. Every key is
checked against a schema (pydantic models in :mod:`._schema`): an unknown
section or key at any level, a wrong type (``true`` is not a number of days,
``"5"`` is not 5), a value out of range, an unknown campaign, addressee or
equipment kind, a repeated list entry, a bad date, a missing or unreadable
input file or a map background other than ``osm``, ``none`` or an ``https://``
tile template is an error. All errors are reported at once, one line each,
naming the file and the key, e.g.::

    campaign.toml: [outage] notice_days: must be a whole number of days, got true

Paths are relative to the campaign file. See the README's "Campaign file
reference" for every key with its meaning. The same schema is published for
editors as JSON Schema in ``docs/campaign.schema.json`` (generated from the
models; a first line ``#:schema`` followed by that file's path or URL lets
Taplo / Even Better TOML check and complete a campaign file as you type).

Checks that need the inputs' contents are in :func:`check_against_inputs`:
``[outage] dates`` must name equipment ids that exist in the equipment file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from ..errors import ConfigError
from ..locate._reread import LocateSettings
from . import _schema
from ._schema import CampaignFile, resolve_path

__all__ = [
    "CAMPAIGNS",
    "BackfeedSettings",
    "CampaignConfig",
    "LocateSettings",
    "check_against_inputs",
    "load_config",
]

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

#: A campaign file larger than this is not a campaign file (a data file named by mistake).
_MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class TemplateConfig:
    """Letter template id and how to address the letter."""

    template_id: str
    addressee: str  # "occupier" or "name"


@dataclass(frozen=True)
class BackfeedSettings:
    """``[outage.backfeed]``: how outage plans choose normally-open points to close."""

    max_customers_per_circuit: int | None = None
    admd_kva: float = 2.0
    circuit_ratings_kva: dict[str, float] = field(default_factory=dict)
    enforce_limit: bool = False
    customer_weight: float = 1.0
    psr_weight: float = 10.0
    medically_dependent_weight: float = 100.0

    def weights(self) -> Any:
        """Return the :class:`~smartstreet_geo.network.PlanWeights` these settings give."""
        from ..network import PlanWeights

        return PlanWeights(
            customer=self.customer_weight,
            psr=self.psr_weight,
            medically_dependent=self.medically_dependent_weight,
        )

    def loading(self) -> Any:
        """Return the :class:`~smartstreet_geo.network.LoadingLimit` these settings give."""
        from ..network import LoadingLimit

        return LoadingLimit(
            max_customers=self.max_customers_per_circuit,
            admd_kva=self.admd_kva,
            rating_kva=dict(self.circuit_ratings_kva),
            enforce=self.enforce_limit,
        )


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
    register: Path | None
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
    one_envelope_per_premise: bool = False
    internal_details: bool = False
    outage_plan: str = "none"  # "none" or "backfeed"
    backfeed: BackfeedSettings = field(default_factory=BackfeedSettings)
    locate: LocateSettings | None = None
    scheduler: str | None = None
    workers: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


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
        The file cannot be read or is not UTF-8 TOML; or, all listed at once: an
        unknown section or key, a wrong type, a value out of range, an unknown
        equipment kind, campaign or addressee, a repeated list entry, a bad
        date, a missing, unreadable or folder input path, a bad ``map_tiles``.

    See Also
    --------
    check_against_inputs : the checks that need the equipment file's ids.

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
        raw = _read_toml(source)
    where = str(source) if source is not None else "campaign config"
    problems: list[str] = []
    model: CampaignFile | None = None
    try:
        model = CampaignFile.model_validate(raw, context={"root": root})
    except ValidationError as exc:
        problems += [_describe(err, where) for err in exc.errors(include_url=False)]
    problems = list(dict.fromkeys(problems + _cross_checks(raw, where)))
    if problems or model is None:
        raise ConfigError(_join(where, problems))
    return _to_config(model, raw, source, root)


def check_against_inputs(
    cfg: CampaignConfig,
    equipment_ids: Iterable[str],
    *,
    circuit_ids: Iterable[str] | None = None,
) -> None:
    """Check the campaign file against the equipment (and network) that were read.

    Every ``[outage] dates`` key must be the id of an item in the equipment file
    (a date for an id that is not there would silently apply to nothing); with
    ``circuit_ids``, every ``[outage.backfeed] circuit_ratings_kva`` key must be
    a circuit of the network (a rating for a misspelt circuit would check nothing).

    Parameters
    ----------
    cfg : CampaignConfig
    equipment_ids : iterable of str
        Every ``equipment_id`` in the equipment file as read, valid and rejected
        rows alike (a date for a rejected item is not a typo: its row is in the
        rejects with the reason).
    circuit_ids : iterable of str, optional
        The circuits of the network (``Network.circuit_ids``).

    Raises
    ------
    ConfigError
        Naming every unknown id at once, one line each.

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> cfg = load_config(demo.path("campaign"))
    >>> check_against_inputs(cfg, ["EQ0001"])  # the demo gives no dates: nothing to check
    """
    known = set(equipment_ids)
    where = str(cfg.source) if cfg.source is not None else "campaign config"
    problems = [
        f"{where}: [outage] dates.{_key(k)}: no equipment with this id in "
        f"{cfg.equipment.name}; correct the id or remove the date"
        for k in cfg.outage_dates
        if k not in known
    ]
    if circuit_ids is not None:
        circuits = set(circuit_ids)
        edges = cfg.network_edges.name if cfg.network_edges is not None else "the network"
        problems += [
            f"{where}: [outage.backfeed] circuit_ratings_kva.{_key(k)}: no circuit with this id "
            f"in {edges}; correct the id or remove the rating"
            for k in cfg.backfeed.circuit_ratings_kva
            if k not in circuits
        ]
    if problems:
        raise ConfigError(_join(where, problems))


# --------------------------------------------------------------------------- reading
def _read_toml(source: Path) -> dict[str, Any]:
    """Read the file as UTF-8 TOML; every way it can fail is a ConfigError naming it."""
    try:
        if source.is_dir():
            raise ConfigError(f"{source}: is a folder, not a campaign file.")
        if source.exists() and not source.is_file():
            raise ConfigError(f"{source}: is not a regular file.")
        if source.stat().st_size > _MAX_FILE_BYTES:
            raise ConfigError(
                f"{source}: is larger than {_MAX_FILE_BYTES >> 20} MB; a campaign file is a few "
                "lines of TOML - check that you named the right file."
            )
        data = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such campaign file.") from None
    except PermissionError:
        raise ConfigError(f"{source}: cannot be read (permission denied).") from None
    except (OSError, ValueError) as exc:  # name too long, NUL in the name, I/O error
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{source}: cannot be read ({reason}).") from None
    try:
        text = data.decode("utf-8-sig")  # TOML is UTF-8; Notepad may add a BOM
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
            "campaign file as UTF-8."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}.") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML: lists nested too deeply.") from None


# --------------------------------------------------------------------------- to the config
def _to_config(
    m: CampaignFile, raw: dict[str, Any], source: Path | None, root: Path
) -> CampaignConfig:
    def path(value: str | None) -> Path | None:
        return None if value is None else resolve_path(root, value)

    produce = tuple(m.campaigns.produce)
    if "outage_phone_call" in produce and "outage_letter" not in produce:
        produce = (*produce, "outage_letter")  # PSR customers called also get the letter
    templates: dict[str, TemplateConfig] = {}
    for name in CAMPAIGNS:
        t = getattr(m.templates, name) or _schema.Template()
        templates[name] = TemplateConfig(
            t.template_id or name.upper(),
            t.addressee or _ADDRESSEE_DEFAULT.get(name, "name"),
        )
    columns = m.inputs.columns
    b = m.outage.backfeed
    customers, equipment = path(m.inputs.customers), path(m.inputs.equipment)
    if customers is None or equipment is None:  # pragma: no cover - required by the schema
        raise ConfigError("[inputs] customers and equipment are required")
    return CampaignConfig(
        source=source,
        name=m.campaign.name,
        reference=m.campaign.reference,
        run_date=m.campaign.run_date or date.today(),
        customers=customers,
        equipment=equipment,
        network_edges=path(m.inputs.network_edges),
        substations=path(m.inputs.substations),
        circuits_file=path(m.inputs.circuits),
        column_maps={
            kind: dict(mapping)
            for kind in ("customers", "equipment", "edges", "substations")
            if (mapping := getattr(columns, kind)) is not None
        },
        encoding=m.inputs.encoding,
        scope_circuits=tuple(m.scope.circuits) if m.scope.circuits is not None else None,
        scope_circuits_column=m.scope.circuits_column,
        radii={k: float(v) for k, v in m.radii.model_dump().items() if v is not None},
        produce=produce,
        templates=templates,
        opted_out=path(m.suppression.opted_out),
        register=path(m.suppression.register_file),
        outage_dates=dict(m.outage.dates),
        outage_default_date=m.outage.default_date,
        outage_use_install_date=m.outage.use_install_date,
        notice_days=m.outage.notice_days,
        needs_codes=path(m.psr.needs_codes),
        max_inference_distance_m=float(m.membership.max_inference_distance_m),
        delete_after_days=m.output.delete_after_days,
        pseudonymise_ids=m.output.pseudonymise_ids,
        pseudonym_key_env=m.output.pseudonym_key_env,
        write_map=m.output.map,
        map_tiles=m.output.map_tiles,
        one_envelope_per_premise=m.output.one_envelope_per_premise,
        internal_details=m.output.internal_details,
        outage_plan=m.outage.plan,
        scheduler=m.distributed.scheduler,
        workers=m.distributed.workers,
        locate=LocateSettings(
            uprn_gazetteer=path(m.locate.uprn_gazetteer),
            addresses=path(m.locate.addresses),
            address_columns=dict(m.locate.address_columns or {}),
            codepoint=path(m.locate.codepoint),
            accept_score=float(m.locate.accept_score),
            min_gap=float(m.locate.min_gap),
        )
        if (m.locate.uprn_gazetteer or m.locate.addresses or m.locate.codepoint)
        else None,
        backfeed=BackfeedSettings(
            max_customers_per_circuit=b.max_customers_per_circuit,
            admd_kva=float(b.admd_kva),
            circuit_ratings_kva={k: float(v) for k, v in b.circuit_ratings_kva.items()},
            enforce_limit=b.enforce_limit,
            customer_weight=float(b.customer_weight),
            psr_weight=float(b.psr_weight),
            medically_dependent_weight=float(b.medically_dependent_weight),
        ),
        raw=raw,
    )


def _cross_checks(raw: dict[str, Any], where: str) -> list[str]:
    """Check across keys, on the raw values (so they are reported with the type errors)."""

    def get(section: str, key: str) -> Any:
        table = raw.get(section)
        return table.get(key) if isinstance(table, dict) else None

    out = []
    # repeats are found by the schema only when every item is valid; looked for here too so that
    # they are reported with a bad item (the same line twice is reported once)
    for section, key in (("campaigns", "produce"), ("scope", "circuits")):
        items = get(section, key)
        if isinstance(items, list):
            try:
                _schema.no_repeats([i for i in items if isinstance(i, str)])
            except PydanticCustomError as exc:
                out.append(f"{where}: {_path((section, key))}: {exc.message()}")
    if get("scope", "circuits_column") is not None and get("inputs", "circuits") is None:
        out.append(
            f"{where}: [scope] circuits_column: needs the circuits table, "
            '[inputs] circuits = "circuits.csv"'
        )
    if (
        get("suppression", "register") is not None
        and not str(get("campaign", "reference") or "").strip()
    ):
        out.append(
            f"{where}: [suppression] register: needs a [campaign] reference (e.g. "
            'reference = "SS-WIGAN-2027"): contact references are numbered under it and '
            "leaflets are matched per reference"
        )
    outage = raw.get("outage")
    backfeed = outage.get("backfeed") if isinstance(outage, dict) else None
    if get("outage", "plan") == "backfeed" and get("inputs", "network_edges") is None:
        out.append(
            f'{where}: [outage] plan: "backfeed" needs the network (normally-open points are '
            "in it): give [inputs] network_edges and substations, or remove the plan"
        )
    if backfeed is not None and get("outage", "plan") != "backfeed":
        out.append(
            f"{where}: [outage.backfeed]: is used only with [outage] plan = "
            '"backfeed"; add it or remove the table'
        )
    if get("inputs", "substations") is not None and get("inputs", "network_edges") is None:
        out.append(
            f"{where}: [inputs] substations: is used only with [inputs] network_edges; "
            "give the network edges too or remove it"
        )
    return out


# --------------------------------------------------------------------------- messages
#: Plain words for pydantic's error types; ``{of}`` is " of days" for a key counted in days.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "string_type": "must be text in quotes",
    "int_type": "must be a whole number{of}",
    "float_type": "must be a number{of}",
    "bool_type": "must be true or false (without quotes)",
    "list_type": 'must be a list, like ["a", "b"]',
    "dict_type": "must be a table of keys and values, like {{ a = 1 }}",
    "model_type": "must be a table of keys and values, like {{ a = 1 }}",
    "finite_number": "must be a finite number{of}",
    "string_too_short": "must not be empty",
    "string_too_long": "is longer than {max_length} characters",
    "string_pattern_mismatch": "must be letters, digits and underscores, not starting with a digit",
    "too_short": "must list at least one value",
    "greater_than": "must be more than {gt}{unit}",
    "greater_than_equal": "must be at least {ge}{unit}",
    "less_than": "must be less than {lt}{unit}",
    "less_than_equal": "must be at most {le}{unit}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
}
#: Errors whose message names the value or where showing it adds nothing: no ", got ...".
_NO_GOT = frozenset(
    {
        "missing",
        "string_too_short",
        "blank",
        "duplicate",
        "two_sources",
        "no_file",
        "folder",
        "not_regular",
        "unreadable",
        "bad_path",
    }
)
#: Keys (or tables) counted in a unit.
_UNITS = {
    "notice_days": "days",
    "delete_after_days": "days",
    "max_inference_distance_m": "metres",
    "admd_kva": "kVA",
    "circuit_ratings_kva": "kVA",
    "radii": "metres",
}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _describe(err: Any, where: str) -> str:
    """One line for one pydantic error: file, [section] key, what is wrong, the value."""
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc, where)
    if loc and loc[-1] == "[key]":  # a table key itself is wrong
        loc = loc[:-1]
    ctx = {k: _number(v) for k, v in (err.get("ctx") or {}).items()}
    unit = next((u for part in loc if isinstance(part, str) and (u := _UNITS.get(part))), "")
    words = {"unit": f" {unit}" if unit else "", "of": f" of {unit}" if unit else "", **ctx}
    # our own checks (PydanticCustomError) are written in plain words already
    msg = _MESSAGES[kind].format(**words) if kind in _MESSAGES else str(err["msg"])
    if kind not in _NO_GOT and "input" in err:
        msg += f", got {_show(err['input'])}"
    if kind == "missing" and len(loc) == 1:
        msg = "is required (a [" + str(loc[0]) + "] table with at least its required keys)"
    return f"{where}: {_path(loc)}: {msg}"


def _unknown_key(loc: tuple[Any, ...], where: str) -> str:
    known = ", ".join(_known_keys(loc[:-1]))
    part = str(loc[-1])
    name = repr(part) if _BARE_KEY.fullmatch(part) else _quoted(part)
    if len(loc) == 1:
        return f"{where}: unknown section [{_key(part)}]; known: {known}"
    if loc[:-1] == ("radii",):
        what = f"unknown equipment kind {name}"
    elif loc[:-1] == ("templates",):
        what = f"unknown campaign {name}"
    elif loc[:-1] == ("inputs", "columns"):
        what = f"unknown file kind {name}"
    else:
        what = f"unknown key {name}"
    sep = ": " if len(loc) > 2 else " "  # "[output] unknown key" / "[templates] leaflet: ..."
    return f"{where}: {_path(loc[:-1])}{sep}{what}; known: {known}"


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """Return the keys allowed in the table at ``loc`` (walking the models)."""
    model: type[BaseModel] = CampaignFile
    for part in loc:
        if isinstance(part, int):
            continue
        fld = model.model_fields.get(str(part))
        if fld is None:
            return []
        nested = _model_in(fld.annotation)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _path(loc: tuple[Any, ...]) -> str:
    """``("outage", "dates", "EQ1")`` -> ``[outage] dates.EQ1``; list items by number."""
    if not loc:
        return "(whole file)"
    out = f"[{_key(loc[0])}]"
    rest = ""
    for part in loc[1:]:
        if isinstance(part, int):
            rest += f" (item {part + 1})"
        else:
            rest += ("." if rest else "") + _key(part)
    return f"{out} {rest}" if rest else out


def _key(part: object) -> str:
    text = str(part)
    return text if _BARE_KEY.fullmatch(text) else _quoted(text)


def _quoted(text: str, limit: int = 60) -> str:
    """Text in double quotes, cut to ``limit``, with every unseen character escaped."""
    cut = text[:limit]
    shown = "".join(
        ch
        if ch.isprintable() and ch not in '"\\'
        else json.dumps(ch)[1:-1]
        if ch in '"\\'
        else f"\\u{ord(ch):04x}"
        for ch in cut
    )
    return f'"{shown}"' + ("..." if len(text) > limit else "")


def _show(value: object) -> str:
    """Show the value as the analyst wrote it in TOML (short, nothing hidden)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _number(value: object) -> object:
    """1000.0 -> 1000 in messages."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _join(where: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    lines = "\n".join(f"  {p}" for p in problems)
    return f"{where}: {len(problems)} problems in the campaign file:\n{lines}"
