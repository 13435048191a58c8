"""Postcodes, and placing customers that have no usable coordinates.

* :func:`locate_customers` places customers by UPRN (OS Open UPRN), by address
  matching against an address gazetteer (OS AddressBase Plus or mapped
  columns), or by postcode centroid (OS Code-Point Open), and says how well:
  ``location_source`` and ``location_uncertainty_m``;
* :func:`proximity_certainty` turns a distance, a radius and an uncertainty
  into ``within``/``outside``/``location_uncertain``;
* readers for the published reference files: :func:`read_uprn_gazetteer`,
  :func:`read_address_gazetteer`, :func:`read_codepoint`;
* postcode normalising and validation, and the check of coordinates against
  postcode districts (packaged district centres derived from Code-Point Open).

Contains OS data © Crown copyright and database right.
"""

import sys
from types import ModuleType

from . import _postcodes
from ._api import (
    CENTROID_UNCERTAINTY_M,
    LOCATION_COLUMNS,
    LOCATION_SOURCES,
    OUT_OF_AREA,
    LocateResult,
    locate_customers,
    proximity_certainty,
)
from ._postcodes import (
    DISTRICT_MARGIN_M,
    check_against_postcodes,
    district_table,
    is_valid_postcode,
    normalise_postcode,
    normalise_postcodes,
    postcode_district,
    valid_postcodes,
)
from ._readers import (
    ABP_COLUMNS,
    ADDRESS_COLUMNS,
    CODEPOINT_COLUMNS,
    OPEN_UPRN_COLUMNS,
    Gazetteer,
    read_address_gazetteer,
    read_codepoint,
    read_uprn_gazetteer,
)

__all__ = [
    "ABP_COLUMNS",
    "ADDRESS_COLUMNS",
    "CENTROID_UNCERTAINTY_M",
    "CODEPOINT_COLUMNS",
    "DISTRICT_MARGIN_M",
    "LOCATION_COLUMNS",
    "LOCATION_SOURCES",
    "OPEN_UPRN_COLUMNS",
    "OUT_OF_AREA",
    "Gazetteer",
    "LocateResult",
    "check_against_postcodes",
    "district_table",
    "is_valid_postcode",
    "locate_customers",
    "normalise_postcode",
    "normalise_postcodes",
    "postcode_district",
    "proximity_certainty",
    "read_address_gazetteer",
    "read_codepoint",
    "read_uprn_gazetteer",
    "valid_postcodes",
]


class _Package(ModuleType):
    """Setting ``smartstreet_geo.locate.DISTRICT_MARGIN_M`` still reaches the check.

    The margin was a module global of ``smartstreet_geo.locate`` before the module became
    this package; callers (benchmarks) that widen it by assignment keep working.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "DISTRICT_MARGIN_M":
            setattr(_postcodes, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
