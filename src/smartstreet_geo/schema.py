"""Canonical column names, equipment kinds, reason codes and defaults.

Everything that names a column or a category lives here, so that readers,
computations and exports agree. Only the standard library is imported.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

#: The one coordinate reference system used inside the library (British National Grid).
BNG_CRS: Final = "EPSG:27700"
#: Geographic CRS assumed for longitude/latitude columns (ETRS89; WGS84 is treated as
#: ETRS89, the usual convention for GNSS data in Great Britain, sub-metre difference).
LONLAT_CRS: Final = "EPSG:4258"

# --------------------------------------------------------------------------- customers
CUSTOMER_ID: Final = "customer_id"
PREMISE_ID: Final = "premise_id"
NAME: Final = "name"
ADDRESS_LINES: Final = ("address_line_1", "address_line_2", "address_line_3")
POST_TOWN: Final = "post_town"
POSTCODE: Final = "postcode"
PSR: Final = "psr"
PSR_NEEDS: Final = "psr_needs"
PHONE: Final = "phone"
NOMINEE_NAME: Final = "nominee_name"
NOMINEE_PHONE: Final = "nominee_phone"
#: Where a copy of a letter to the customer's nominee goes (a nominee often lives elsewhere).
NOMINEE_ADDRESS_LINES: Final = (
    "nominee_address_line_1",
    "nominee_address_line_2",
    "nominee_address_line_3",
)
NOMINEE_POST_TOWN: Final = "nominee_post_town"
NOMINEE_POSTCODE: Final = "nominee_postcode"
CIRCUIT_ID: Final = "circuit_id"
SUBSTATION_ID: Final = "substation_id"
CONNECTION_NODE: Final = "connection_node"
#: 1-based number of the data row in its source file (header excluded).
SOURCE_ROW: Final = "source_row"

# coordinate columns accepted on input
EASTING: Final = "easting"
NORTHING: Final = "northing"
LONGITUDE: Final = "longitude"
LATITUDE: Final = "latitude"
GEOMETRY: Final = "geometry"

CUSTOMER_TEXT_COLUMNS: Final = (
    PREMISE_ID,
    NAME,
    *ADDRESS_LINES,
    POST_TOWN,
    POSTCODE,
    PSR_NEEDS,
    PHONE,
    NOMINEE_NAME,
    NOMINEE_PHONE,
    *NOMINEE_ADDRESS_LINES,
    NOMINEE_POST_TOWN,
    NOMINEE_POSTCODE,
    CIRCUIT_ID,
    SUBSTATION_ID,
    CONNECTION_NODE,
)
#: Columns whose values are personal data: never logged, never put in a map by default.
PERSONAL_COLUMNS: Final = frozenset(
    {
        NAME,
        *ADDRESS_LINES,
        PHONE,
        NOMINEE_NAME,
        NOMINEE_PHONE,
        *NOMINEE_ADDRESS_LINES,
        NOMINEE_POST_TOWN,
        NOMINEE_POSTCODE,
        PSR_NEEDS,
    }
)

# --------------------------------------------------------------------------- equipment
EQUIPMENT_ID: Final = "equipment_id"
KIND: Final = "kind"
INSTALL_DATE: Final = "install_date"
OUTAGE_REQUIRED: Final = "outage_required"


class EquipmentKind(StrEnum):
    """Kinds of new equipment installed in the Smart Street programme."""

    OLTC_TRANSFORMER = "oltc_transformer"
    """On-load tap changer fitted to a distribution transformer (at a substation)."""
    LV_CAPACITOR = "lv_capacitor"
    """Low-voltage capacitor bank (at a substation or out on a feeder)."""
    LINK_BOX_SWITCH = "link_box_switch"
    """Remotely controlled switching device in an underground link box."""
    CIRCUIT_BREAKER = "circuit_breaker"
    """LV circuit breaker / switching device in a substation or street pillar."""


#: Default proximity radius per equipment kind, metres. Campaign files may override.
DEFAULT_RADII_M: Final = MappingProxyType(
    {
        EquipmentKind.OLTC_TRANSFORMER.value: 50.0,
        EquipmentKind.LV_CAPACITOR.value: 30.0,
        EquipmentKind.LINK_BOX_SWITCH.value: 20.0,
        EquipmentKind.CIRCUIT_BREAKER.value: 30.0,
    }
)

# --------------------------------------------------------------------------- network
EDGE_ID: Final = "edge_id"
FROM_NODE: Final = "from_node"
TO_NODE: Final = "to_node"
NORMALLY_OPEN: Final = "normally_open"
NODE: Final = "node"

# --------------------------------------------------------------------------- rejects
REJECT_COLUMNS: Final = (
    "source_file",
    "row_number",
    "record_id",
    "column",
    "value",
    "reason_code",
    "message",
)


class Reason(StrEnum):
    """Reason codes for rejected input rows (``rejects.reason_code``)."""

    MISSING_ID = "missing_id"
    EXACT_DUPLICATE = "exact_duplicate"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    MISSING_COORDINATES = "missing_coordinates"
    INVALID_COORDINATE = "invalid_coordinate"
    SENTINEL_COORDINATES = "sentinel_coordinates"
    SWAPPED_COORDINATES = "swapped_coordinates"
    DEGREES_AS_METRES = "degrees_as_metres"
    METRES_AS_DEGREES = "metres_as_degrees"
    OUTSIDE_GB = "outside_gb"
    POSTCODE_LOCATION_MISMATCH = "postcode_location_mismatch"
    EMPTY_GEOMETRY = "empty_geometry"
    INVALID_GEOMETRY = "invalid_geometry"
    WRONG_GEOMETRY_TYPE = "wrong_geometry_type"
    MISSING_POSTCODE = "missing_postcode"
    INVALID_POSTCODE = "invalid_postcode"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_KIND = "unknown_kind"
    FIELD_TOO_LONG = "field_too_long"
    MISSING_VALUE = "missing_value"
    WRONG_FIELD_COUNT = "wrong_field_count"
    """A CSV row with more or fewer fields than the header: nothing in it is used."""
    BLANK_ROW = "blank_row"
    """An empty or whitespace-only line (or only separators): counted, holds nothing."""
    COORDINATES_DISAGREE = "coordinates_disagree"
    """Two location columns of one row (e.g. easting/northing and longitude/latitude) disagree."""


#: Reason codes that are notes rather than faults: nothing is lost by them (an exact
#: duplicate's twin is kept; a blank line holds no data).
INFORMATIONAL_REASONS: Final = frozenset({Reason.EXACT_DUPLICATE.value, Reason.BLANK_ROW.value})

#: Two locations given for one row (easting/northing and longitude/latitude, or a geometry and
#: either pair) must agree within this many metres, else the row is rejected as
#: ``coordinates_disagree``. Above benign noise - OSTN15 itself is ~0.1 m; degrees rounded to 4
#: decimals are up to ~7 m off; WGS84 taken as ETRS89 ~1 m; a source system that converted with
#: a plain Helmert transform up to ~5 m: ~13 m in all - and close to the smallest default radius
#: (20 m), so that a row whose two locations could put it on different sides of a radius is not
#: used silently.
COORDINATE_AGREEMENT_M: Final = 25.0

#: Longest text accepted in any one field (characters); longer values are rejected.
MAX_FIELD_LENGTH: Final = 255
