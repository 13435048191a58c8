"""The result of reading an input file: valid rows and rejected rows, nothing lost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from ..schema import INFORMATIONAL_REASONS, REJECT_COLUMNS

__all__ = ["NetworkReadResult", "ReadResult", "empty_rejects"]

log = logging.getLogger(__name__)


def empty_rejects() -> pd.DataFrame:
    """Return an empty rejects table with the canonical columns and dtypes."""
    return pd.DataFrame(
        {
            "source_file": pd.Series(dtype="str"),
            "row_number": pd.Series(dtype="int64"),
            "record_id": pd.Series(dtype="str"),
            "column": pd.Series(dtype="str"),
            "value": pd.Series(dtype="str"),
            "reason_code": pd.Series(dtype="str"),
            "message": pd.Series(dtype="str"),
        },
        columns=list(REJECT_COLUMNS),
    )


@dataclass(frozen=True)
class ReadResult:
    """Valid rows and rejected rows of one input file.

    ``n_valid + n_rejected == n_input`` always holds (it is checked when the
    result is made): every input row is either in :attr:`data` or has exactly
    one row in :attr:`rejects`, whose ``reason_code`` says why and whose
    ``message`` says what to do. An exact duplicate is recorded in
    :attr:`rejects` with the informational reason ``exact_duplicate`` (its
    identical twin is in :attr:`data`).

    The result unpacks as ``data, rejects = read_customers(...)``.

    Attributes
    ----------
    data : GeoDataFrame
        Valid rows, canonical columns, EPSG:27700, plus ``source_row``.
    rejects : DataFrame
        One row per rejected input row: ``source_file``, ``row_number`` (1-based
        data row, header excluded), ``record_id``, ``column``, ``value``,
        ``reason_code``, ``message``.
    source : str
        The file read.
    n_input : int
        Data rows in the file.
    notes : tuple of str
        Things the reader did that the analyst should know (no personal data).
    """

    data: gpd.GeoDataFrame
    rejects: pd.DataFrame
    source: str
    n_input: int
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.data) + len(self.rejects) != self.n_input:
            raise AssertionError(  # a bug in smartstreet-geo, never a data problem
                f"{self.source}: {len(self.data)} valid + {len(self.rejects)} rejected "
                f"!= {self.n_input} input rows"
            )

    def __iter__(self) -> Iterator[Any]:
        yield self.data
        yield self.rejects

    @property
    def n_valid(self) -> int:
        """Number of valid rows."""
        return len(self.data)

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows (including collapsed exact duplicates)."""
        return len(self.rejects)

    @property
    def n_faults(self) -> int:
        """Rejected rows that need fixing (exact duplicates excluded)."""
        return int((~self.rejects["reason_code"].isin(INFORMATIONAL_REASONS)).sum())

    def counts_by_reason(self) -> pd.Series:
        """Return the number of rejected rows per reason code, largest first."""
        counts = self.rejects["reason_code"].value_counts()
        return counts.sort_index().sort_values(ascending=False, kind="stable")

    def summary(self) -> str:
        """Return a one-line account of the file (counts only, no personal data)."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.counts_by_reason().items())
        text = (
            f"{self.source}: {self.n_input} rows read = {self.n_valid} valid "
            f"+ {self.n_rejected} rejected"
        )
        return f"{text} ({reasons})" if reasons else text


@dataclass(frozen=True)
class NetworkReadResult:
    """Network edges and substations read from file(s), with their rejects.

    Attributes
    ----------
    edges : GeoDataFrame
        ``edge_id``, ``from_node``, ``to_node``, ``circuit_id``, ``substation_id``,
        ``normally_open``, ``source_row``, LineString geometry in EPSG:27700.
    substations : GeoDataFrame
        ``substation_id``, ``node``, ``source_row``, Point geometry in EPSG:27700.
    edges_result, substations_result : ReadResult
        The per-file results (counts, notes, rejects).
    """

    edges_result: ReadResult
    substations_result: ReadResult

    @property
    def edges(self) -> gpd.GeoDataFrame:
        """Valid network edges."""
        return self.edges_result.data

    @property
    def substations(self) -> gpd.GeoDataFrame:
        """Valid substations."""
        return self.substations_result.data

    @property
    def rejects(self) -> pd.DataFrame:
        """Rejected edges and substations together."""
        parts = [r.rejects for r in (self.edges_result, self.substations_result)]
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_rejects()
        return pd.concat(parts, ignore_index=True)

    def __iter__(self) -> Iterator[Any]:
        yield self.edges
        yield self.substations
        yield self.rejects
