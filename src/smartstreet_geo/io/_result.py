"""The result of reading an input file: valid rows and rejected rows, nothing lost."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator, Mapping
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


@dataclass(frozen=True, repr=False, eq=False)
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
        Valid rows, canonical columns, EPSG:27700, plus ``source_row``. (From the
        campaign's internal ``read_customer_table``, a
        :class:`~smartstreet_geo._customer_table.CustomerTable`: the same rows as
        columns and coordinates.)
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
    columns_used : mapping of str to str
        ``{column in the file: canonical column}`` for every column read, in file
        order (e.g. ``{"MPAN": "customer_id", "Telephone": "phone"}``). A caller that
        needs a column (letters need address lines, calls need a phone) checks that
        its canonical name is among the values.
    columns_unused : tuple of str
        Columns of the file that were not read, in file order. Nothing is dropped
        silently: these are listed by :meth:`summary` and ``smartstreet-geo
        validate``; map one (``columns={"Tel No.": "phone"}``) to read it.
    columns_unused_labels : tuple of str
        How each of ``columns_unused`` is shown in text: its quoted name, or
        ``column 3 (28 characters)`` where the header line looks like data (a file
        without a header: its "names" are a customer's name and address).

    Notes
    -----
    The ``repr`` (and the notebook display) shows counts only, never rows: the
    data holds names, addresses and phone numbers.
    """

    data: gpd.GeoDataFrame
    rejects: pd.DataFrame
    source: str
    n_input: int
    notes: tuple[str, ...] = field(default=())
    columns_used: Mapping[str, str] = field(default_factory=dict)
    columns_unused: tuple[str, ...] = field(default=())
    columns_unused_labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.data) + len(self.rejects) != self.n_input:
            raise AssertionError(  # a bug in smartstreet-geo, never a data problem
                f"{self.source}: {len(self.data)} valid + {len(self.rejects)} rejected "
                f"!= {self.n_input} input rows"
            )
        if len(self.columns_unused_labels) != len(self.columns_unused):
            # labels not given: show names (a caller building a result by hand)
            object.__setattr__(
                self, "columns_unused_labels", tuple(repr(c) for c in self.columns_unused)
            )

    def __repr__(self) -> str:
        return (
            f"ReadResult(source={self.source!r}, n_input={self.n_input}, "
            f"n_valid={self.n_valid}, n_rejected={self.n_rejected}, "
            f"columns_used={len(self.columns_used)}, columns_unused={len(self.columns_unused)})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("rows read", f"{self.n_input:,}"),
            ("valid", f"{self.n_valid:,}"),
            ("rejected", f"{self.n_rejected:,}"),
            *(
                (f"&nbsp;&nbsp;{html.escape(str(k))}", f"{v:,}")
                for k, v in self.counts_by_reason().items()
            ),
            ("columns read", f"{len(self.columns_used):,}"),
            ("columns not used", html.escape(", ".join(self.columns_unused_labels)) or "none"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows
        )
        return (
            f"<div><b>ReadResult</b> <code>{html.escape(self.source)}</code>"
            f"<table>{body}</table></div>"
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

    def unused_columns_text(self) -> str:
        """Return the columns not read, as shown in text (``""`` when every column is read)."""
        return ", ".join(self.columns_unused_labels)

    def summary(self) -> str:
        """Return a one-line account of the file (counts and column names, no personal data)."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.counts_by_reason().items())
        text = (
            f"{self.source}: {self.n_input} rows read = {self.n_valid} valid "
            f"+ {self.n_rejected} rejected"
        )
        text = f"{text} ({reasons})" if reasons else text
        if self.columns_unused:
            text += f"; columns not used: {self.unused_columns_text()}"
        return text


@dataclass(frozen=True, repr=False, eq=False)
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

    def __repr__(self) -> str:
        return (
            f"NetworkReadResult(edges={self.edges_result!r}, "
            f"substations={self.substations_result!r})"
        )

    def _repr_html_(self) -> str:
        return (
            "<div><b>NetworkReadResult</b>"
            f"{self.edges_result._repr_html_()}{self.substations_result._repr_html_()}</div>"
        )
