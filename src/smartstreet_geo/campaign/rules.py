"""One rule per campaign kind: who gets a leaflet, a letter or a call, and why.

A rule is a function ``(facts) -> Proposal``: it reads the facts a campaign
run has established once (customers, circuit membership, who lives near new
equipment, who loses supply in an outage) and proposes contacts, each with a
reason a person can read, plus the customers a person must look at first.
:data:`RULES` maps each campaign kind to its rule; :func:`run_campaign
<smartstreet_geo.campaign.run_campaign>` runs the kinds the campaign file asks
for and then applies what is common to all of them (opt-outs, history, one
letter per premise, reconciliation). A new campaign kind is a new function and
a new entry in :data:`RULES` (and :data:`~smartstreet_geo.campaign.config.CAMPAIGNS`),
not an edit in the middle of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..schema import ADDRESS_LINES, CUSTOMER_ID, POSTCODE, PREMISE_ID
from ._circuits import OutageImpact
from ._join import (
    constant_text,
    first_of_groups,
    group_starts,
    join_groups,
    no_rows,
    same_values,
    take_rows,
    text_of,
)
from .calls import earliest_outage, plan_calls
from .config import CAMPAIGNS, CampaignConfig
from .psr import NeedsTable

__all__ = [
    "CONTACT_COLUMNS",
    "KIND_WORDS",
    "REVIEW_COLUMNS",
    "RULES",
    "Facts",
    "Proposal",
    "as_contacts",
]

#: Equipment kinds in the words a letter uses (mail-merge field ``equipment_kind``).
KIND_WORDS: dict[str, str] = {
    "oltc_transformer": "on-load tap changer",
    "lv_capacitor": "LV capacitor",
    "link_box_switch": "link box switch",
    "circuit_breaker": "LV circuit breaker",
}

#: Columns of every proposed contact, in order.
CONTACT_COLUMNS = [
    "campaign",
    "channel",
    CUSTOMER_ID,
    PREMISE_ID,
    "premise_key",
    "source_row",
    "name",
    *ADDRESS_LINES,
    "post_town",
    POSTCODE,
    "phone",
    "call_number",
    "call_who",
    "alternative_number",
    "call_note",
    "nominee_name",
    "needs",
    "medically_dependent",
    "accessible_format",
    "outage_date",
    "notice_deadline",
    "days_left",
    "reason",
    "equipment_ids",
    "distance_m",
    "circuit_id",
]
#: run_campaign's private column: each contact's row among the valid customers.
_CIX = "_cix"
#: Contact columns that are the customer's own, whatever the rule (the name, address and
#: phone on record). Contacts that carry their customer's row (``_CIX``) leave them out:
#: run_campaign takes them from the customers once, for the contacts that are sent, instead
#: of a copy for every proposed contact that is then filtered and sorted (issue 14).
#: (``accessible_format`` is not one: a call carries the customer's own formats, a letter
#: its premise's.)
_CUSTOMER_COLUMNS = (PREMISE_ID, "source_row", "name", *ADDRESS_LINES, "post_town", POSTCODE,
                     "phone")  # fmt: skip
#: Columns of a manual-review proposal.
REVIEW_COLUMNS = [CUSTOMER_ID, "issue", "detail"]


@dataclass
class Facts:
    """What a campaign run knows before any rule runs (computed once, shared by the rules).

    Attributes
    ----------
    cfg : CampaignConfig
    customers : DataFrame
        Valid customers without geometry, with ``premise_key``.
    membership : DataFrame
        One row per customer: ``member_circuit``, ``method``, ``in_scope``,
        ``needs_review``, ``detail`` (see ``_circuits.membership``).
    in_scope : frozenset of str
        Circuits whose customers get the leaflet.
    near : DataFrame
        One row per customer within a radius: ``equipment_ids``, ``distance_m``, ``reason``.
    outage_eq : DataFrame
        Equipment whose installation needs an outage, with ``outage_date``.
    impact : OutageImpact
        Who loses supply, and who only might.
    needs_table : NeedsTable or None
        The PSR needs-code table.
    """

    cfg: CampaignConfig
    customers: pd.DataFrame
    membership: pd.DataFrame
    in_scope: frozenset[str]
    near: pd.DataFrame
    outage_eq: pd.DataFrame
    impact: OutageImpact
    needs_table: NeedsTable | None
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def psr_affected(self) -> pd.DataFrame:
        """Return PSR customers who lose supply, with ``equipment_ids`` and ``reason``."""
        affected = self.impact.affected
        if affected.empty:
            return no_rows(self.customers).assign(equipment_ids="", reason="")
        # each item's text once per outage equipment; the per-customer joins by Arrow (``_join``)
        eq = self.outage_eq[["equipment_id", "kind", "outage_date"]].copy()
        eq["text"] = (
            eq["equipment_id"]
            + " ("
            + eq["kind"].str.replace("_", " ")
            + ") on "
            + eq["outage_date"].map(lambda d: d.isoformat() if d else "a date to be set")
        )
        a = affected.merge(eq[["equipment_id", "text"]], on="equipment_id")
        a = a.sort_values([CUSTOMER_ID, "equipment_id"], kind="stable").reset_index(drop=True)
        starts = group_starts(a[CUSTOMER_ID])
        per = pd.DataFrame(
            {
                CUSTOMER_ID: first_of_groups(a[CUSTOMER_ID], starts),
                "equipment_ids": join_groups(a["equipment_id"], starts, ";"),
                "reason": "planned supply interruption for installing "
                + join_groups(a["text"], starts, "; "),
            }
        )
        psr_rows = np.flatnonzero(self.customers["psr"].to_numpy(dtype=bool))
        psr = _merge_on_customers(self.customers, per, rows=psr_rows)
        psr["circuit_for_contact"] = psr["circuit_id"]
        return psr

    def next_outage(self, equipment_ids: pd.Series) -> pd.Series:
        """Return, per row of ``;``-joined equipment ids, the next outage date that concerns it."""
        eq = self.outage_eq
        dates = dict(zip(eq["equipment_id"], eq["outage_date"], strict=True))
        return earliest_outage(equipment_ids, dates, on=self.cfg.run_date)

    def outage_review(self) -> pd.DataFrame:
        """Return review rows for PSR customers who might lose supply (a person decides)."""
        u = self.impact.uncertain
        return pd.DataFrame(
            {CUSTOMER_ID: u[CUSTOMER_ID], "issue": "outage_impact_unknown", "detail": u["detail"]}
        )


@dataclass(frozen=True)
class Proposal:
    """What one rule proposes: contacts and customers for a person to review."""

    contacts: pd.DataFrame
    review: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REVIEW_COLUMNS))


Rule = Callable[[Facts], Proposal]


def as_contacts(frame: pd.DataFrame, campaign: str) -> pd.DataFrame:
    """Return ``frame`` as contacts of ``campaign`` (:data:`CONTACT_COLUMNS`; missing: empty).

    A frame that carries its customers' rows (``_cix``, run_campaign's private column) gives
    contacts without the customer's own columns (:data:`_CUSTOMER_COLUMNS`), and with ``_cix``.
    """
    out = pd.DataFrame(index=frame.index)
    out["campaign"] = constant_text(campaign, out.index)
    out["channel"] = constant_text(CAMPAIGNS[campaign], out.index)
    deferred = _CIX in frame
    columns = [c for c in CONTACT_COLUMNS if not (deferred and c in _CUSTOMER_COLUMNS)]
    for col in columns[2:]:
        if col == "circuit_id":
            out[col] = frame.get("circuit_for_contact", frame.get("circuit_id"))
        elif col in frame:
            out[col] = frame[col]
        else:
            out[col] = None
    if deferred:
        out[_CIX] = frame[_CIX]
    # the customer's row, when the frame comes from run_campaign's customers (private)
    return out[[*columns, _CIX]] if deferred else out[columns]


# --------------------------------------------------------------------------- the rules
def leaflet(facts: Facts) -> Proposal:
    """Propose a leaflet to everyone served by a circuit in scope; ambiguous circuits to review."""
    if not facts.in_scope:
        return Proposal(as_contacts(no_rows(facts.customers), "leaflet"))
    ms = facts.membership
    m = ms[ms["in_scope"] & ~ms["needs_review"]]
    c = _with_members(
        _contact_fields(facts.customers), ms, m[[CUSTOMER_ID, "member_circuit", "method"]]
    )
    c["reason"] = text_of(
        "served by circuit ", c["member_circuit"], " (in scope; by ", c["method"], ")"
    )
    c["circuit_for_contact"] = c["member_circuit"]
    unsure = ms[ms["needs_review"]]
    review = pd.DataFrame(
        {CUSTOMER_ID: unsure[CUSTOMER_ID], "issue": "ambiguous_circuit", "detail": unsure["detail"]}
    )
    return Proposal(as_contacts(c, "leaflet"), review)


def _contact_fields(customers: pd.DataFrame) -> pd.DataFrame:
    """Return the columns of ``customers`` that a contact takes (:func:`as_contacts`).

    A selection, not a copy: the rules that take millions of customers by row then copy
    only these, not every column of the customer file (nominee addresses, PSR codes,
    connection nodes, locations).
    """
    deferred = _CIX in customers  # (as_contacts leaves the customer's own columns out)
    return customers[
        [
            c
            for c in customers.columns
            if c in _CONTACT_FIELDS and not (deferred and c in _CUSTOMER_COLUMNS)
        ]
    ]


#: The customer columns :func:`as_contacts` reads.
_CONTACT_FIELDS = frozenset({*CONTACT_COLUMNS, "circuit_for_contact", _CIX})


def _with_members(
    customers: pd.DataFrame, membership: pd.DataFrame, members: pd.DataFrame
) -> pd.DataFrame:
    """Return ``customers.merge(members, on=customer_id)``: the members' rows, in order.

    ``membership`` has one row per customer; when it is in the customers' order (as
    ``_circuits.membership`` returns it) the merge is a positional take, not a hash join
    on millions of id strings.
    """
    extra = [c for c in members.columns if c != CUSTOMER_ID]
    aligned = (
        len(membership) == len(customers)
        and not set(extra) & set(customers.columns)
        and same_values(membership[CUSTOMER_ID], customers[CUSTOMER_ID])
    )
    if not aligned:
        return customers.merge(members, on=CUSTOMER_ID)
    rows = membership.index.get_indexer(members.index)
    left = take_rows(customers, rows).reset_index(drop=True)
    right = members[extra].reset_index(drop=True)
    return pd.concat([left, right], axis=1)


def _merge_on_customers(
    customers: pd.DataFrame,
    table: pd.DataFrame,
    rows: npt.NDArray[np.intp] | None = None,
) -> pd.DataFrame:
    """Return ``customers.merge(table, on=customer_id)``; the customers' ids are unique.

    The same rows in the same order (the customers' order, then the table's), found by
    looking the table's ids up among the customers' (unique) ids instead of a hash join
    over every customer's id. ``rows``: merge with ``customers.iloc[rows]`` instead (the
    PSR customers, say), without copying those rows first: only the rows the table
    names are taken, once.
    """
    extra = [c for c in table.columns if c != CUSTOMER_ID]
    if set(extra) & set(customers.columns):  # (ids unique: the reader sets duplicates aside)
        subset = customers if rows is None else customers.iloc[rows]
        return subset.merge(table, on=CUSTOMER_ID)
    from .reconcile import _Ids

    ids = customers[CUSTOMER_ID] if rows is None else customers[CUSTOMER_ID].take(rows)
    at = _Ids(ids).positions(table[CUSTOMER_ID])
    found = np.flatnonzero(at >= 0)
    found = found[np.argsort(at[found], kind="stable")]
    chosen = at[found] if rows is None else rows[at[found]]
    left = customers.take(chosen).reset_index(drop=True)
    right = table[extra].take(found).reset_index(drop=True)
    return pd.concat([left, right], axis=1)


def installation_letter(facts: Facts) -> Proposal:
    """Propose a letter to customers within the radius of new equipment (per kind)."""
    c = _merge_on_customers(_contact_fields(facts.customers), facts.near)
    c["circuit_for_contact"] = c["circuit_id"]
    return Proposal(as_contacts(c, "installation_letter"))


def outage_letter(facts: Facts) -> Proposal:
    """Propose a named letter to PSR customers whose supply an installation interrupts."""
    letters = facts.psr_affected.copy()
    letters["outage_date"] = facts.next_outage(letters["equipment_ids"])
    return Proposal(as_contacts(letters, "outage_letter"), facts.outage_review())


def outage_phone_call(facts: Facts) -> Proposal:
    """Propose a call to PSR customers whose supply an installation interrupts (or nominee).

    Whom to call (the customer, or the nominee where the needs mean the
    customer cannot take the call) and on which numbers comes from
    :func:`~smartstreet_geo.campaign.calls.plan_calls`; each call carries the
    next outage date that concerns the customer.
    """
    on = facts.cfg.run_date
    plan = plan_calls(facts.psr_affected, facts.needs_table, on=on)
    calls = plan.calls.copy()
    calls["outage_date"] = facts.next_outage(calls["equipment_ids"])
    review = pd.concat([facts.outage_review(), plan.review], ignore_index=True)
    return Proposal(as_contacts(calls, "outage_phone_call"), review)


#: Campaign kind -> rule. Every kind of :data:`~smartstreet_geo.campaign.config.CAMPAIGNS`.
RULES: dict[str, Rule] = {
    "leaflet": leaflet,
    "installation_letter": installation_letter,
    "outage_letter": outage_letter,
    "outage_phone_call": outage_phone_call,
}
assert set(RULES) == set(CAMPAIGNS), "every campaign kind needs a rule"
