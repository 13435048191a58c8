"""smartstreet-geo: who to tell about new low-voltage network equipment.

Read customer, equipment and network files (or data frames, or a PostGIS
query) into British National Grid GeoDataFrames (losing no row), find
customers near new equipment and on affected circuits, and produce contact
lists, a reconciliation and maps.

Positional inputs come in one order everywhere: the network first, then
customers, then equipment (``circuit_members(net, customers)``,
``downstream_customers(net, customers, points)``,
``customers_near(customers, equipment)``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import demo
from .campaign import CampaignConfig, CampaignResult, load_config, run_campaign
from .crs import bng_to_lonlat, lonlat_to_bng, require_bng, to_bng
from .errors import (
    ColumnMappingError,
    ConfigError,
    CoordinateError,
    CRSError,
    EmptyGeometryError,
    EncodingError,
    InputFileError,
    MissingColumnError,
    ParameterError,
    SmartStreetGeoError,
    SmartStreetGeoWarning,
)
from .export import write_campaign
from .io import NetworkReadResult, ReadResult, read_customers, read_equipment, read_network
from .locate import locate_customers
from .network import (
    BackfeedPlanner,
    LoadingLimit,
    Network,
    OutagePlan,
    PlanWeights,
    circuit_members,
    downstream_customers,
    equipment_isolation_points,
    plan_outage,
    reconcile_circuits,
)
from .proximity import ProximityIndex, customers_near, nearest_equipment
from .schema import BNG_CRS, DEFAULT_RADII_M, EquipmentKind, Reason

# Maps import folium; load them on first use so that ``import smartstreet_geo`` stays light.
_LAZY = dict.fromkeys(
    ("campaign_map", "circuits_map", "customers_map", "equipment_map", "save_map"), "maps"
)


def __getattr__(name: str) -> object:
    """Import the maps functions lazily (PEP 562)."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


try:
    __version__ = version("smartstreet-geo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "BNG_CRS",
    "DEFAULT_RADII_M",
    "BackfeedPlanner",
    "CRSError",
    "CampaignConfig",
    "CampaignResult",
    "ColumnMappingError",
    "ConfigError",
    "CoordinateError",
    "EmptyGeometryError",
    "EncodingError",
    "EquipmentKind",
    "InputFileError",
    "LoadingLimit",
    "MissingColumnError",
    "Network",
    "NetworkReadResult",
    "OutagePlan",
    "ParameterError",
    "PlanWeights",
    "ProximityIndex",
    "ReadResult",
    "Reason",
    "SmartStreetGeoError",
    "SmartStreetGeoWarning",
    "__version__",
    "bng_to_lonlat",
    "campaign_map",
    "circuit_members",
    "circuits_map",
    "customers_map",
    "customers_near",
    "demo",
    "downstream_customers",
    "equipment_isolation_points",
    "equipment_map",
    "load_config",
    "locate_customers",
    "lonlat_to_bng",
    "nearest_equipment",
    "plan_outage",
    "read_customers",
    "read_equipment",
    "read_network",
    "reconcile_circuits",
    "require_bng",
    "run_campaign",
    "save_map",
    "to_bng",
    "write_campaign",
]
