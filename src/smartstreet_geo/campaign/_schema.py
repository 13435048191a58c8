"""The campaign file's schema: types, ranges, enums and unknown keys, as pydantic models.

Internal to :mod:`smartstreet_geo.campaign.config`, which turns a validated
:class:`CampaignFile` into the public :class:`~smartstreet_geo.campaign.CampaignConfig`
and pydantic's errors into lines an analyst can act on. Every table forbids
unknown keys, every value has a strict type (``true`` is not a number and
``"5"`` is not 5), numbers have ranges and lists have no repeats.

The JSON Schema that editors use to check and complete campaign files is
generated from these models by :func:`campaign_json_schema` and committed as
``docs/campaign.schema.json``; regenerate it after changing a model with::

    python docs/make_campaign_schema.py

(a test fails while the committed file differs from the generated one).
"""

from __future__ import annotations

import codecs
import json
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ..schema import MAX_FIELD_LENGTH

__all__ = [
    "CampaignFile",
    "CampaignName",
    "campaign_json_schema",
    "json_schema_text",
    "no_repeats",
    "resolve_path",
    "write_json_schema",
]

CampaignName = Literal["leaflet", "installation_letter", "outage_letter", "outage_phone_call"]
Addressee = Literal["occupier", "name"]
FileKind = Literal["customers", "equipment", "edges", "substations"]

#: Earliest and latest date accepted anywhere in a campaign file: a typo guard that also
#: keeps ``run_date + delete_after_days`` inside what Python's dates can hold.
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2100, 12, 31)

_T = TypeVar("_T")
#: Default of an optional key: None, typed Any so that the field keeps its value type. Optional
#: keys are not ``X | None`` because TOML has no null, and a union would report each error twice
#: (once per member) under pydantic's internal member names.
_ABSENT: Any = None


# --------------------------------------------------------------------------- value checks
def _plain_text(value: str) -> str:
    """Refuse blank text and characters that do not show (controls, bidi overrides, NUL)."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    # isprintable() is False exactly for the characters an analyst cannot see or that
    # change how text around them shows (Unicode categories C* and separators but space).
    hidden = next((ch for ch in value if not ch.isprintable()), None)
    if hidden is not None:
        raise PydanticCustomError(
            "hidden_character",
            "contains the invisible or control character U+{code}; remove it",
            {"code": f"{ord(hidden):04X}"},
        )
    return value


def _reference_text(value: str) -> str:
    return _plain_text(value) if value else value  # the reference may be empty (its default)


def no_repeats(values: list[_T]) -> list[_T]:
    """Refuse a list that holds an item twice."""
    seen: set[Any] = set()
    for item in values:
        if item in seen:
            raise PydanticCustomError(
                "duplicate", "lists {item} more than once", {"item": json.dumps(item)}
            )
        seen.add(item)
    return values


def _iso_date(value: object) -> object:
    """Accept a TOML date (2027-03-01) or the same as text ("2027-03-01"); nothing else."""
    if isinstance(value, datetime):
        raise PydanticCustomError(
            "date_with_time", "must be a date without a time of day, like 2027-03-01"
        )
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "bad_date", "is not a real date (year-month-day, like 2027-03-01)"
            ) from None
    if not isinstance(value, date):
        raise PydanticCustomError("not_a_date", "must be a date like 2027-03-01")
    if not FIRST_DATE <= value <= LAST_DATE:
        raise PydanticCustomError(
            "date_range",
            "must be between {first} and {last}",
            {"first": FIRST_DATE.isoformat(), "last": LAST_DATE.isoformat()},
        )
    return value


def resolve_path(root: Path, value: str) -> Path:
    """Return ``value`` as a path, relative to ``root`` unless absolute."""
    p = Path(value)
    return p if p.is_absolute() else root / p


def _register_file(value: str, info: ValidationInfo) -> str:
    """Check a register path: it may not exist yet (a new register), but it is not a folder."""
    root = (info.context or {}).get("root")
    if root is None:
        return value
    if "\x00" in value:
        raise PydanticCustomError("bad_path", "is not a usable path (it contains a NUL character)")
    p = resolve_path(Path(root), value)
    try:
        folder = p.is_dir()
        exists = p.exists()
        regular = p.is_file()
    except (OSError, ValueError) as exc:  # name too long, bad characters for this system
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PydanticCustomError(
            "bad_path", "is not a usable path ({reason})", {"reason": reason}
        ) from None
    shown = os.path.abspath(p)
    if folder:
        raise PydanticCustomError("folder", "{path} is a folder, not a file", {"path": shown})
    if exists and not regular:
        raise PydanticCustomError("not_regular", "{path} is not a regular file", {"path": shown})
    return value


def _input_file(value: str, info: ValidationInfo) -> str:
    """Check that the file exists, is a regular file and is readable (root from the context)."""
    root = (info.context or {}).get("root")
    if root is None:  # validated without a folder (e.g. the JSON Schema tests): text only
        return value
    if "\x00" in value:
        raise PydanticCustomError("bad_path", "is not a usable path (it contains a NUL character)")
    p = resolve_path(Path(root), value)
    try:
        exists, folder, regular = p.exists(), p.is_dir(), p.is_file()
        readable = os.access(p, os.R_OK)
    except (OSError, ValueError) as exc:  # name too long, bad characters for this system
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PydanticCustomError(
            "bad_path", "is not a usable path ({reason})", {"reason": reason}
        ) from None
    shown = os.path.abspath(p)  # where it was looked for, whatever the current folder
    if not exists:
        raise PydanticCustomError("no_file", "file {path} does not exist", {"path": shown})
    if folder and (info.field_name != "customers" or not (p / "partitions.json").is_file()):
        raise PydanticCustomError("folder", "{path} is a folder, not a file", {"path": shown})
    if folder:  # partitioned customers (smartstreet-geo partition)
        return value
    if not regular:
        raise PydanticCustomError("not_regular", "{path} is not a regular file", {"path": shown})
    if not readable:
        raise PydanticCustomError(
            "unreadable", "file {path} cannot be read (permission denied)", {"path": shown}
        )
    return value


def _encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise PydanticCustomError(
            "encoding", 'is not a text encoding Python knows; use e.g. "utf-8" or "cp1252"'
        ) from None
    return value


# {z}/{x}/{y} are required; {s} (subdomain) and {r} (retina suffix) are Leaflet's optional ones.
_TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}", "{s}", "{r}")
# Characters a tile URL needs (RFC 3986 unreserved, path and query separators, %-escapes).
# Quotes, brackets, backslashes, spaces, braces other than the placeholders and anything
# outside ASCII are refused so that the URL cannot break out of the page that shows it.
_TILE_CHARS = re.compile(r"[A-Za-z0-9._~%/?&=+,:;@-]*")


def _map_tiles(value: str) -> str:
    if value in ("osm", "none"):
        return value
    rest = value
    for placeholder in _TILE_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    parts = urlsplit(rest) if _TILE_CHARS.fullmatch(rest) else None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or "@" in parts.netloc
        or not all(k in value for k in ("{z}", "{x}", "{y}"))
        or len(value) > 500
    ):
        raise PydanticCustomError(
            "map_tiles",
            'must be "osm", "none" or an https:// tile URL template with {z}, {x} and {y} '
            'such as "https://tiles.example.org/{z}/{x}/{y}.png"',
        )
    return value


def _unique_targets(mapping: dict[str, str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for src, dst in mapping.items():
        if dst in seen:
            raise PydanticCustomError(
                "two_sources",
                "maps both {first} and {second} to {target}; keep one",
                {"first": json.dumps(seen[dst]), "second": json.dumps(src), "target": dst},
            )
        seen[dst] = src
    return mapping


def _template_shorthand(value: object) -> object:
    """``leaflet = "SS-LEAFLET-01"`` is short for ``leaflet = { template_id = "..." }``."""
    return {"template_id": value} if isinstance(value, str) else value


# --------------------------------------------------------------------------- value types
Text = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_plain_text)]
Reference = Annotated[str, StringConstraints(max_length=200), AfterValidator(_reference_text)]
#: An id as it appears in an input file (circuit, equipment): at most the readers' field length.
Id = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_FIELD_LENGTH), AfterValidator(_plain_text)
]
ColumnName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_FIELD_LENGTH), AfterValidator(_plain_text)
]
TemplateId = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_plain_text)
]
InputFile = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096),
    AfterValidator(_plain_text),
    AfterValidator(_input_file),
]
RegisterFile = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096),
    AfterValidator(_plain_text),
    AfterValidator(_register_file),
]
IsoDate = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]
UniqueList = Annotated[
    list[_T], AfterValidator(no_repeats), Field(json_schema_extra={"uniqueItems": True})
]

# A radius is how far from a new item a customer is told about its installation. Smart
# Street items (tap changers and capacitors at substations, switches in link boxes) matter
# to the street they stand in, and LV feeders seldom reach beyond about 1 km from their
# substation; a radius over 1000 m is a typo (centimetres, an extra zero) that would write to
# a whole district, so it is refused. Zero would reach only customers at the exact point.
Radius = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
# Nearest-cable inference links a customer to a cable within this distance; service cables
# run tens of metres, so beyond 500 m the guess means nothing.
InferenceDistance = Annotated[float, Field(gt=0, le=500, allow_inf_nan=False)]
# Notice for a planned interruption is days to weeks; over a year is a typo.
NoticeDays = Annotated[int, Field(ge=0, le=365)]
# Outage plans (backfeed through normally-open points). An LV circuit serves tens to a few
# hundred customers; a limit over 10,000 is a typo. After-diversity demand is a few kVA per
# home (up to ~20 with heat pumps and cars); an LV circuit is rated up to a few hundred kVA.
OutagePlanKind = Literal["none", "backfeed"]
CircuitCustomers = Annotated[int, Field(ge=1, le=10_000)]
Admd = Annotated[float, Field(gt=0, le=50, allow_inf_nan=False)]
Rating = Annotated[float, Field(gt=0, le=5000, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
# Personal data in the outputs must be deleted; 6 years (the limitation period for claims in
# England and Wales) is the longest retention a DNO policy would give a contact list.
RetentionDays = Annotated[int, Field(ge=1, le=2190)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
Encoding = Annotated[str, StringConstraints(max_length=40), AfterValidator(_encoding)]
MapTiles = Annotated[
    str,
    AfterValidator(_map_tiles),
    Field(
        description='"osm", "none", or an https:// tile URL template with {z}, {x} and {y}',
        examples=["osm", "none", "https://tiles.example.org/{z}/{x}/{y}.png"],
    ),
]
ColumnMap = Annotated[dict[ColumnName, ColumnName], AfterValidator(_unique_targets)]

_SECTION = ConfigDict(strict=True, extra="forbid", frozen=True, use_attribute_docstrings=True)


class _Section(BaseModel):
    model_config = _SECTION


# --------------------------------------------------------------------------- tables
class CampaignSection(_Section):
    """What the campaign is called; printed in the manifest."""

    name: Text = "campaign"
    """Campaign name."""
    reference: Reference = ""
    """Reference printed in the manifest."""
    run_date: IsoDate = _ABSENT
    """Date the lists are for (default today); fix it for reproducible outputs."""


class ColumnMaps(_Section):
    """Column mappings per file kind: file column = canonical column."""

    customers: ColumnMap = _ABSENT
    equipment: ColumnMap = _ABSENT
    edges: ColumnMap = _ABSENT
    substations: ColumnMap = _ABSENT


class InputsSection(_Section):
    """Input files, relative to the campaign file."""

    customers: InputFile
    """Customers file (CSV, Parquet, GeoPackage, GeoJSON), or a folder of partitions made by
    `smartstreet-geo partition`; relative to the campaign file."""
    equipment: InputFile
    """New equipment file, relative to the campaign file."""
    network_edges: InputFile = _ABSENT
    """Network edges (cables and switches); without it membership is the declared circuit_id."""
    substations: InputFile = _ABSENT
    """Substations (the roots of the network); needs network_edges."""
    circuits: InputFile = _ABSENT
    """Table of circuits: circuit_id and flag columns (for [scope] circuits_column)."""
    columns: ColumnMaps = Field(default_factory=ColumnMaps)
    """Column mappings per file kind."""
    encoding: Encoding = _ABSENT
    """Text encoding of CSV inputs (default UTF-8), e.g. cp1252."""


class ScopeSection(_Section):
    """The circuits whose customers get the leaflet."""

    circuits: UniqueList[Id] = _ABSENT
    """Circuit ids in scope."""
    circuits_column: ColumnName = _ABSENT
    """A column of the [inputs] circuits table: circuits where it is true are in scope."""


class RadiiSection(_Section):
    """Metres from the equipment, per kind; every kind present in the equipment needs one."""

    oltc_transformer: Radius = _ABSENT
    lv_capacitor: Radius = _ABSENT
    link_box_switch: Radius = _ABSENT
    circuit_breaker: Radius = _ABSENT


class CampaignsSection(_Section):
    """Which contact lists to produce."""

    produce: Annotated[UniqueList[CampaignName], Field(min_length=1)] = [
        "leaflet",
        "installation_letter",
        "outage_phone_call",
    ]
    """Campaigns to produce; outage_letter follows outage_phone_call."""


class Template(_Section):
    """Letter template id and how to address the letter."""

    template_id: TemplateId = _ABSENT
    """Template id for the mail merge (default: the campaign name in capitals)."""
    addressee: Addressee = _ABSENT
    """"occupier" or "name" (default: occupier for leaflets and installation letters)."""


TemplateEntry = Annotated[
    Template,
    BeforeValidator(_template_shorthand, json_schema_input_type=Template | str),
]


class TemplatesSection(_Section):
    """Template id and addressee per campaign (a string is the template id alone)."""

    leaflet: TemplateEntry = _ABSENT
    installation_letter: TemplateEntry = _ABSENT
    outage_letter: TemplateEntry = _ABSENT
    outage_phone_call: TemplateEntry = _ABSENT


class SuppressionSection(_Section):
    """Who not to contact again."""

    opted_out: InputFile = _ABSENT
    """customer_id column: no leaflets or installation letters."""
    # named register_file: ``register`` is taken by the model class (ABCMeta.register)
    register_file: RegisterFile = Field(default=_ABSENT, alias="register")
    """Contact register kept across waves (Parquet; a new one is started if it does not exist).

    Every letter and call ever produced; a follow-up run does not repeat them.
    Needs [campaign] reference."""


class BackfeedSection(_Section):
    """How outage plans choose normally-open points to close (with ``plan = "backfeed"``).

    No network load data is assumed: a donor circuit's load is its customer count,
    and optionally customers times an after-diversity demand against a rating.
    """

    max_customers_per_circuit: CircuitCustomers = _ABSENT
    """A donor circuit carrying more customers than this after the backfeed is over the limit."""
    admd_kva: Admd = 2.0
    """After-diversity demand per customer, kVA (donor check and generator size estimate)."""
    circuit_ratings_kva: dict[Id, Rating] = Field(default_factory=dict)
    """Rating per circuit id, kVA: customers x admd_kva above it is over the limit."""
    enforce_limit: bool = False
    """false: plans over the limit are made and flagged; true: such points are not closed."""
    customer_weight: Weight = 1.0
    """Weight of restoring a customer (parts are restored most weight first under a limit)."""
    psr_weight: Weight = 10.0
    """Weight of restoring a PSR customer."""
    medically_dependent_weight: Weight = 100.0
    """Weight of restoring a medically dependent PSR customer."""


class OutageSection(_Section):
    """When supply interruptions happen and how much notice they need."""

    dates: dict[Id, IsoDate] = Field(default_factory=dict)
    """Outage date per equipment id (the ids must be in the equipment file)."""
    default_date: IsoDate = _ABSENT
    """Outage date for equipment with no other date."""
    notice_days: NoticeDays = 5
    """Warn when the run is later than the outage minus this many days."""
    use_install_date: bool = True
    """The outage is on the equipment's install_date unless [outage] dates says otherwise."""
    plan: OutagePlanKind = "none"
    """"backfeed": keep customers on supply through normally-open points where the network
    allows (outage calls and letters go only to customers still interrupted; outage_plan.csv
    lists the points to close); "none": everyone downstream of an isolation is interrupted."""
    backfeed: BackfeedSection = Field(default_factory=BackfeedSection)
    """Settings of the backfeed plan."""


class PsrSection(_Section):
    """Priority Services Register."""

    needs_codes: InputFile = _ABSENT
    """Table of needs codes: code, description, temporary, medically_dependent."""


class LocateSection(_Section):
    """Placing customers without usable coordinates (UPRN, address matching, postcode)."""

    uprn_gazetteer: InputFile = _ABSENT
    """UPRN points: the OS Open UPRN CSV (zipped or not) or the same columns in Parquet."""
    addresses: InputFile = _ABSENT
    """Address gazetteer: OS AddressBase Plus columns (or mapped with address_columns)."""
    address_columns: ColumnMap | None = None
    """{column in the address gazetteer: canonical name} for other column names."""
    codepoint: InputFile = _ABSENT
    """Postcode centroids: the OS Code-Point Open CSVs (zipped or a folder) as distributed."""
    accept_score: Annotated[float, Field(ge=50, le=100)] = 90.0
    """Address matches are accepted automatically at or above this score (0-100)."""
    min_gap: Annotated[float, Field(ge=0, le=50)] = 8.0
    """... and at least this far above the runner-up; the rest go to manual review."""


class MembershipSection(_Section):
    """Circuit membership."""

    max_inference_distance_m: InferenceDistance = 60.0
    """Nearest-cable inference for customers without a connection node, metres."""


class OutputSection(_Section):
    """What is written and for how long it may be kept."""

    delete_after_days: RetentionDays = 90
    """Days after the run date by which the outputs must be deleted (in the manifest)."""
    pseudonymise_ids: bool = False
    """Replace customer ids by keyed pseudonyms in the non-contact outputs."""
    pseudonym_key_env: EnvName = "SMARTSTREET_PSEUDONYM_KEY"
    """Environment variable holding the pseudonym key."""
    map: bool = True
    """Write map.html."""
    map_tiles: MapTiles = "osm"
    """Map background."""
    one_envelope_per_premise: bool = False
    """One row (one envelope) per premise in letters.csv/.xlsx carrying every campaign's letter."""
    internal_details: bool = False
    """Keep PSR and health wording in reconciliation.csv and manual_review.csv (internal only)."""


class DistributedSection(_Section):
    """Where a partitioned customer input runs (``smartstreet-geo partition``); see the README."""

    scheduler: str | None = None
    """Address of a running Dask scheduler, e.g. "tcp://10.0.0.5:8786" (--scheduler wins)."""
    workers: int | None = Field(default=None, ge=1, le=1024)
    """Start a local Dask cluster of this many worker processes; the CLI's --workers wins."""


class CampaignFile(BaseModel):
    """A smartstreet-geo campaign file (TOML)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        title="smartstreet-geo campaign file",
    )

    campaign: CampaignSection = Field(default_factory=CampaignSection)
    inputs: InputsSection
    scope: ScopeSection = Field(default_factory=ScopeSection)
    radii: RadiiSection = Field(default_factory=RadiiSection)
    campaigns: CampaignsSection = Field(default_factory=CampaignsSection)
    templates: TemplatesSection = Field(default_factory=TemplatesSection)
    suppression: SuppressionSection = Field(default_factory=SuppressionSection)
    outage: OutageSection = Field(default_factory=OutageSection)
    psr: PsrSection = Field(default_factory=PsrSection)
    locate: LocateSection = Field(default_factory=LocateSection)
    membership: MembershipSection = Field(default_factory=MembershipSection)
    output: OutputSection = Field(default_factory=OutputSection)
    distributed: DistributedSection = Field(default_factory=DistributedSection)


def campaign_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a campaign file, for editors (e.g. Taplo / Even Better TOML).

    Examples
    --------
    >>> schema = campaign_json_schema()
    >>> schema["required"], schema["additionalProperties"]
    (['inputs'], False)
    """
    schema = _drop_null_defaults(CampaignFile.model_json_schema())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
    }


def _drop_null_defaults(node: Any) -> Any:
    """Remove ``"default": null``: TOML has no null, an absent key is the default."""
    if isinstance(node, dict):
        return {
            k: _drop_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)
        }
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]
    return node


def json_schema_text() -> str:
    """Return :func:`campaign_json_schema` as the text of ``docs/campaign.schema.json``."""
    return json.dumps(campaign_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path) -> Path:
    """Write :func:`json_schema_text` to ``path`` (``docs/campaign.schema.json``); return it."""
    out = Path(path)
    out.write_text(json_schema_text(), encoding="utf-8")
    return out
