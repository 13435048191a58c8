"""Readers: files in, GeoDataFrames in British National Grid out, rejects kept."""

from ._result import NetworkReadResult, ReadResult
from .readers import read_customers, read_equipment, read_network

__all__ = ["NetworkReadResult", "ReadResult", "read_customers", "read_equipment", "read_network"]
