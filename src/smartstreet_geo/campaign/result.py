"""The result of a campaign run: contacts, reconciliation, manual review, manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["MAP_CATEGORIES", "RECONCILIATION_STATUSES", "CampaignResult"]

#: Final status of every input customer row in the reconciliation.
RECONCILIATION_STATUSES = ("contacted", "manual_review", "not_contacted", "rejected")

#: One category per customer for maps, highest priority first.
MAP_CATEGORIES = ("phone_call", "manual_review", "installation_letter", "leaflet", "not_contacted")


@dataclass(frozen=True, repr=False)
class CampaignResult:
    """Everything a campaign run produced.

    Write it with :func:`smartstreet_geo.export.write_campaign`.

    Attributes
    ----------
    contacts : DataFrame
        One row per contact action after de-duplication: ``campaign``,
        ``channel``, ``customer_id``, ``premise_id``, ``premise_key``,
        ``template_id``, ``addressee``, address columns, ``phone`` (calls),
        ``reason``, ``equipment_ids``, ``distance_m``, ``circuit_id``.
    manual_review : DataFrame
        Customers a person must look at: ``customer_id``, ``source_row``,
        ``issue``, ``detail``.
    reconciliation : DataFrame
        One row per input customer row: ``source_row``, ``customer_id``,
        ``status`` (one of :data:`RECONCILIATION_STATUSES`), ``campaigns``, ``reason``.
    rejects : DataFrame
        Rejected input rows of every file, as returned by the readers.
    manifest : dict
        Inputs (path, rows, SHA-256), parameters, versions, counts, dates, warnings.
    customers : GeoDataFrame
        Valid customers (EPSG:27700) with ``map_category``.
    equipment : GeoDataFrame
        Equipment with ``radius_m`` and ``n_customers_within``.
    edges, substations : GeoDataFrame or None
        The network, edges with ``in_scope``.
    warnings : list of str
        Things the analyst must know (e.g. a list produced too late to give notice).
    register : ContactRegister or None
        The ``[suppression] register`` with this run's contacts appended, not
        yet saved (None without a register).
    run_id : str
        This run's id (in the register, the trace and the manifest).
    trace : DataFrame or None
        ``contact_trace.csv`` (internal): each ``contact_ref`` with its
        customer id (a pseudonym in a pseudonymised run), premise key,
        campaign, equipment ids, run id and date.
    envelopes : DataFrame or None
        With ``[output] one_envelope_per_premise``: the letters combined into
        one row per premise (``;``-joined references, campaigns, templates).
    save_register : callable or None
        Saves :attr:`register` (atomic; refuses a register changed meanwhile)
        and returns an ``undo`` that removes this run's contacts again.
        :func:`smartstreet_geo.export.write_campaign` calls it once every
        output file is written, before the folder is moved into place, and
        calls ``undo`` if that move fails.
    """

    contacts: pd.DataFrame
    manual_review: pd.DataFrame
    reconciliation: pd.DataFrame
    rejects: pd.DataFrame
    manifest: dict[str, Any]
    customers: gpd.GeoDataFrame
    equipment: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame | None
    substations: gpd.GeoDataFrame | None
    warnings: list[str] = field(default_factory=list)
    register: Any = None
    run_id: str = ""
    trace: pd.DataFrame | None = None
    envelopes: pd.DataFrame | None = None
    save_register: Callable[[], Callable[[], object]] | None = field(default=None, compare=False)

    def counts(self) -> pd.DataFrame:
        """Return contacts per campaign and channel (for the console summary)."""
        if self.contacts.empty:
            return pd.DataFrame(columns=["campaign", "channel", "contacts"])
        return (
            self.contacts.groupby(["campaign", "channel"], sort=True)
            .size()
            .rename("contacts")
            .reset_index()
        )

    def status_counts(self) -> pd.Series:
        """Return reconciliation rows per status (they add up to the input rows)."""
        return (
            self.reconciliation["status"]
            .value_counts()
            .reindex(list(RECONCILIATION_STATUSES), fill_value=0)
        )

    # ------------------------------------------------------------------ display
    def _summary_lines(self) -> list[tuple[str, str]]:
        """Return (label, value) rows of counts only: a repr reaches notebooks, logs, tracebacks."""
        m = self.manifest or {}
        camp = m.get("campaign", {})
        rows: list[tuple[str, str]] = [
            ("campaign", f"{camp.get('name', '')} ({camp.get('reference', '')})"),
        ]
        counts = self.counts()
        for campaign, n in zip(
            counts["campaign"].tolist(), counts["contacts"].tolist(), strict=True
        ):
            rows.append((f"contacts: {campaign}", f"{int(n):,}"))
        for status, n in self.status_counts().items():
            rows.append((f"reconciliation: {status}", f"{int(n):,}"))
        rows.append(("manual review rows", f"{len(self.manual_review):,}"))
        rows.append(("rejected input rows", f"{len(self.rejects):,}"))
        rows.append(("warnings", f"{len(self.warnings):,}"))
        return rows

    def __repr__(self) -> str:
        """Return counts only, never a customer's data (names, addresses, phones, ids)."""
        lines = self._summary_lines()
        head = f"<CampaignResult: {lines[0][1]}"
        body = [f"  {k}: {v}" for k, v in lines[1:]]
        return "\n".join([head, *body]) + ">"

    def _repr_html_(self) -> str:
        """Return an HTML table of counts (Jupyter), never a customer's data."""
        from html import escape

        cells = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in self._summary_lines()
        )
        return f"<table><caption>CampaignResult</caption>{cells}</table>"
