"""The result of a campaign run: contacts, reconciliation, manual review, manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from ._points import CustomerTable, LazyCustomers, columns_of, held_customers

__all__ = [
    "MAP_CATEGORIES",
    "READER_STATUSES",
    "RECONCILIATION_STATUSES",
    "CampaignResult",
    "count_summary",
]

#: Final status of every input customer row in the reconciliation. The last
#: three are the rows the customer reader set aside (its "rejected" count).
RECONCILIATION_STATUSES = (
    "contacted",
    "manual_review",
    "not_contacted",
    "rejected",
    "exact_duplicate",
    "conflicting_duplicate",
)
#: Statuses of rows the customer reader set aside.
READER_STATUSES = ("rejected", "exact_duplicate", "conflicting_duplicate")

#: One category per valid customer for maps, highest priority first
#: (``result.customers["map_category"]``): ``manual_review`` and
#: ``not_contacted`` are the statuses of that name; a contacted customer shows
#: its most urgent contact. ``map_category_shared`` has the same categories
#: but ``phone_call``: the customer as if nobody were on the PSR (outage
#: notices and PSR review issues ignored), which is what a shared map shows.
MAP_CATEGORIES = ("phone_call", "manual_review", "installation_letter", "leaflet", "not_contacted")


def count_summary(
    reconciliation: pd.DataFrame,
    manual_review: pd.DataFrame,
    customers: pd.DataFrame | CustomerTable,
    contacts: pd.DataFrame,
) -> dict[str, Any]:
    """Return every count of a run from its one table of statuses (console, manifest, map).

    Parameters
    ----------
    reconciliation, manual_review, customers, contacts : DataFrame
        As in :class:`CampaignResult`.

    Returns
    -------
    dict
        ``input_rows``; ``reconciliation`` (rows per status, every status of
        :data:`RECONCILIATION_STATUSES`); ``reader_set_aside`` (rows the
        reader rejected: the sum of :data:`READER_STATUSES`); ``contacts``
        (letters, one per premise, and calls per campaign); ``manual_review``
        (``issues``, ``rows`` (input rows with at least one issue),
        ``by_issue``, ``rows_by_status``); ``map`` and ``map_shared``
        (customers per map category, one per valid customer).
    """
    customers = columns_of(customers)  # (a run's customers may be held as coordinates)
    status = reconciliation["status"].value_counts()
    by_status = {s: int(status.get(s, 0)) for s in RECONCILIATION_STATUSES}
    rows = manual_review.drop_duplicates("source_row")
    per_row = rows["status"].value_counts() if "status" in rows else pd.Series(dtype=int)

    def per_category(column: str, categories: tuple[str, ...]) -> dict[str, int]:
        if column not in customers:
            return {}
        n = customers[column].value_counts()
        return {c: int(n.get(c, 0)) for c in categories}

    return {
        "input_rows": len(reconciliation),
        "reconciliation": by_status,
        "reader_set_aside": sum(by_status[s] for s in READER_STATUSES),
        "contacts": {
            str(k): int(v) for k, v in contacts.groupby("campaign").size().sort_index().items()
        },
        "manual_review": {
            "issues": len(manual_review),
            "rows": len(rows),
            "by_issue": {
                str(k): int(v)
                for k, v in manual_review["issue"].value_counts().sort_index().items()
            },
            "rows_by_status": {
                s: int(per_row.get(s, 0)) for s in RECONCILIATION_STATUSES if per_row.get(s, 0)
            },
        },
        "map": per_category("map_category", MAP_CATEGORIES),
        "map_shared": per_category(
            "map_category_shared", tuple(c for c in MAP_CATEGORIES if c != "phone_call")
        ),
    }


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
        One row per issue a person must look at: ``source_row``,
        ``customer_id``, ``status`` (the row's status in the reconciliation: a
        contacted customer can need a check too), ``issue``, ``detail``.
    reconciliation : DataFrame
        One row per input customer row: ``source_row``, ``customer_id``,
        ``status`` (one of :data:`RECONCILIATION_STATUSES`), ``campaigns``, ``reason``.
    rejects : DataFrame
        Rejected input rows of every file, as returned by the readers.
    manifest : dict
        Inputs (path, rows, SHA-256), parameters, versions, counts, dates, warnings.
    customers : GeoDataFrame
        Valid customers (EPSG:27700) with ``map_category`` and
        ``map_category_shared`` (see :data:`MAP_CATEGORIES`): the columns the
        maps, the GIS layers and the counts read (ids, address, postcode, PSR
        flag, circuit, substation, source row, location source), as in a
        partitioned run. Names, phone numbers, PSR needs, nominees and
        connection nodes are not kept here (data minimisation): the contacts
        carry them where a contact needs them; the customer file as read
        (:func:`~smartstreet_geo.io.read_customers`) has them all. A run holds
        the customers as coordinates and makes their points the first time
        this attribute is read (0.45 GB less through a 2.4-million-customer
        run); :meth:`customer_columns` gives the columns without making them.
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
    nominee_copies : DataFrame or None
        Copies of outage letters for the customers' nominees, at the nominee's
        address; ``contact_ref`` is the original letter's reference + ``-NC``.
    outage_plan : DataFrame or None
        With ``[outage] plan = "backfeed"``: ``outage_plan.csv``, one row per
        outage equipment (isolation, normally-open points to close, donor
        circuits and their customers before and after, loading flag, generator
        suggestion; no customer ids).
    backfed : DataFrame or None
        With a plan: customers kept on supply by a backfeed (``customer_id``,
        ``equipment_id``, ``point``, ``donor_circuit``).
    outage_plans : dict or None
        With a plan: the :class:`~smartstreet_geo.network.OutagePlan` of each outage
        day (key: ISO date) or of each equipment without a date (``equipment:<id>``).
    """

    contacts: pd.DataFrame
    manual_review: pd.DataFrame
    reconciliation: pd.DataFrame
    rejects: pd.DataFrame
    manifest: dict[str, Any]
    customers: gpd.GeoDataFrame  # (see LazyCustomers below the class)
    equipment: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame | None
    substations: gpd.GeoDataFrame | None
    warnings: list[str] = field(default_factory=list)
    register: Any = None
    run_id: str = ""
    trace: pd.DataFrame | None = None
    envelopes: pd.DataFrame | None = None
    nominee_copies: pd.DataFrame | None = None
    outage_plan: pd.DataFrame | None = None
    backfed: pd.DataFrame | None = None
    outage_plans: dict[str, Any] | None = field(default=None, compare=False)
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

    def status_table(self) -> pd.DataFrame:
        """Return the one table of statuses: one row per input customer row.

        Columns ``source_row``, ``customer_id``, ``status`` (from the
        reconciliation), ``review_issues`` (rows of the manual-review table
        about that row), ``map_category`` and ``map_category_shared`` (empty
        for rows the reader set aside: they are not on a map). Every count the
        console, the manifest and the map legend give is a count of this table
        (:meth:`count_summary`).
        """
        recon = self.reconciliation[["source_row", "customer_id", "status"]]
        issues = self.manual_review.groupby("source_row").size()
        out = recon.assign(
            review_issues=recon["source_row"].map(issues).fillna(0).astype(int).to_numpy()
        )
        customers = self.customer_columns()
        cols = [c for c in ("map_category", "map_category_shared") if c in customers]
        valid = out["status"].isin(["contacted", "manual_review", "not_contacted"])
        cats = pd.DataFrame(customers[["customer_id", *cols]]).set_index("customer_id")
        for c in cols:
            out[c] = out["customer_id"].map(cats[c]).where(valid)
        return out

    def count_summary(self) -> dict[str, Any]:
        """Return every count of the run (see :func:`count_summary`)."""
        return count_summary(
            self.reconciliation, self.manual_review, self.customer_columns(), self.contacts
        )

    def customer_columns(self) -> pd.DataFrame:
        """Return :attr:`customers` without its geometry column (no points are made).

        The counts, the map and the files read the customers' columns and coordinates
        only; reading :attr:`customers` makes a point per customer the first time.
        """
        return columns_of(held_customers(self))

    # ------------------------------------------------------------------ display
    def _summary_lines(self) -> list[tuple[str, str]]:
        """Return (label, value) rows of counts only: a repr reaches notebooks, logs, tracebacks."""
        m = self.manifest or {}
        camp = m.get("campaign", {})
        rows: list[tuple[str, str]] = [
            ("campaign", f"{camp.get('name', '')} ({camp.get('reference', '')})"),
        ]
        summary = self.count_summary()
        for campaign, n in summary["contacts"].items():
            rows.append((f"contacts: {campaign}", f"{int(n):,}"))
        for status, n in summary["reconciliation"].items():
            rows.append((f"reconciliation: {status}", f"{int(n):,}"))
        review = summary["manual_review"]
        rows.append(("manual review", f"{review['issues']:,} issues on {review['rows']:,} rows"))
        rows.append(("rejected input rows (all files)", f"{len(self.rejects):,}"))
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


# ``customers`` is held as a CustomerTable (columns and coordinates) when a run makes the
# result, and becomes its GeoDataFrame, points and all, the first time it is read: a data
# descriptor set on the class after the dataclass is made (the generated __init__ stores
# the value through it). See smartstreet_geo.campaign._points.
setattr(CampaignResult, "customers", LazyCustomers("customers"))  # noqa: B010
