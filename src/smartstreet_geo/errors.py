"""The exception and warning hierarchy of smartstreet-geo.

Every error the library raises on purpose is a :class:`SmartStreetGeoError`, so a
caller (or the command line) can tell "the input needs fixing" from a bug. Each
message says which file, row, column and value is at fault and what to do.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "ColumnMappingError",
    "ConfigError",
    "CoordinateError",
    "EmptyGeometryError",
    "EncodingError",
    "InputFileError",
    "MissingColumnError",
    "ParameterError",
    "SmartStreetGeoError",
    "SmartStreetGeoWarning",
]


class SmartStreetGeoError(Exception):
    """Base class of every error raised by smartstreet-geo on purpose."""


class InputFileError(SmartStreetGeoError):
    """An input file cannot be read at all (missing, unknown format, corrupt)."""


class EncodingError(InputFileError):
    """A text file is not in the declared encoding."""


class MissingColumnError(InputFileError):
    """A required column is absent from an input file."""


class ColumnMappingError(SmartStreetGeoError):
    """A column mapping names a column that does not exist or maps two columns to one."""


class ConfigError(SmartStreetGeoError):
    """A campaign file is malformed: unknown key, wrong type, unknown kind, missing file."""


class CRSError(SmartStreetGeoError):
    """A coordinate reference system is missing, unknown, geographic or mismatched."""


class CoordinateError(SmartStreetGeoError):
    """Coordinates are implausible for the whole file (swapped axes, degrees vs metres)."""


class EmptyGeometryError(SmartStreetGeoError):
    """An empty or missing geometry reached a computation that needs one."""


class ParameterError(SmartStreetGeoError, ValueError):
    """An option of a computation does not fit the data it is given.

    For example an equipment kind with no radius, a negative radius, a column
    the option names that the frame lacks, or customers that are not points.
    """


class SmartStreetGeoWarning(UserWarning):
    """Suspicious but usable data."""
