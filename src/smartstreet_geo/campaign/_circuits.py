"""The campaign's questions to the circuits module: who is served by a circuit, who loses supply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import CIRCUIT_ID, CUSTOMER_ID, SUBSTATION_ID
from ._join import arrow, first_of_groups, group_starts, join_groups
from ._keys import known

__all__ = ["POSSIBLE_REACH_M", "OutageImpact", "Placed", "downstream", "membership", "place"]


@dataclass(frozen=True)
class Placed:
    """The network and the customers placed on it, built once for both questions."""

    network: Any  # smartstreet_geo.network.Network
    customers: Any  # smartstreet_geo.network.AttachedCustomers


def place(customers: pd.DataFrame, net_r: Any, cfg: Any) -> Placed | None:
    """Build the network and attach the customers once (None without a network).

    Customers are placed by connection node, or on the nearest cable within
    ``[membership] max_inference_distance_m`` when they have none; membership
    and outage impact then use the same placement.
    """
    if net_r is None:
        return None
    from ..errors import InputFileError
    from ..network import Network

    for part in (net_r.edges_result, net_r.substations_result):
        if part.n_valid == 0:
            raise InputFileError(
                f"{part.summary()}: no usable rows, so the network cannot be used; fix the "
                "file (see rejects) or leave it out of [inputs] to use the customers' declared "
                "circuit_id."
            )

    net = Network(net_r.edges, net_r.substations)
    return Placed(net, net.attach(customers, max_distance=cfg.max_inference_distance_m))


def membership(
    customers: pd.DataFrame, placed: Placed | None, in_scope: set[str], warnings: list[str]
) -> pd.DataFrame:
    """Return one row per customer: circuit, method, in scope, needs review, detail.

    Columns: ``customer_id``, ``member_circuit``, ``method``, ``in_scope``,
    ``needs_review``, ``detail``.

    With a network, membership is by connectivity (the customer's connection
    node), inferred from the nearest cable for customers without one; without
    a network it is the declared ``circuit_id``. A customer fed from two
    circuits (a closed ring) counts as in scope when either is.
    """
    ids = customers[CUSTOMER_ID].to_numpy()
    if placed is None:
        declared = customers[CIRCUIT_ID]
        warnings.append(
            "no network given: circuit membership is the customers' declared circuit_id"
        )
        return pd.DataFrame(
            {
                CUSTOMER_ID: ids,
                "member_circuit": declared.to_numpy(),
                "method": "declared",
                "in_scope": declared.isin(in_scope).to_numpy(),
                "needs_review": declared.isna().to_numpy(),
                "detail": np.where(declared.isna(), "no circuit_id and no network to infer it", ""),
            }
        )
    from ..network import circuit_members

    net = placed.network
    known = set(net.circuit_ids)
    unknown = sorted(in_scope - known)
    if unknown:
        warnings.append(
            f"{len(unknown)} circuit(s) in scope are not in the network: {', '.join(unknown[:5])}"
        )
    rows = circuit_members(placed.customers, net, circuits=sorted(in_scope & known), method="best")
    # a customer may be a member of two in-scope circuits (closed ring): one leaflet, both named
    # (sorted once; group bounds and joins in numpy/Arrow, no Python call per customer)
    rows = rows.sort_values([CUSTOMER_ID, CIRCUIT_ID], kind="stable").reset_index(drop=True)
    starts = group_starts(rows[CUSTOMER_ID])
    per = pd.DataFrame(
        {
            "member_circuit": join_groups(rows[CIRCUIT_ID], starts, " + "),
            "method": first_of_groups(rows["method"], starts),
            "needs_review": np.logical_or.reduceat(
                rows["needs_review"].to_numpy(dtype=bool), starts
            )
            if len(starts)
            else np.zeros(0, dtype=bool),
        }
    )
    # each customer's row in ``per`` (-1: member of no circuit in scope); Arrow's hash
    # lookup, as a left merge on the id would do, at about a third of the merge's time
    wanted = arrow(customers[CUSTOMER_ID])
    members = arrow(rows[CUSTOMER_ID]).take(pa.array(starts))
    at = pc.index_in(wanted, value_set=members.cast(wanted.type))
    pos = pc.fill_null(at, -1).to_numpy()
    out = pd.DataFrame({CUSTOMER_ID: ids})
    for col in per.columns:
        out[col] = per[col].array.take(pos, allow_fill=True)
    out["in_scope"] = out["member_circuit"].notna()
    out["needs_review"] = out["needs_review"].fillna(False).astype(bool)
    out["method"] = out["method"].fillna("")
    # (an object array of one shared string: np.where would build a fixed-width unicode
    # array of the sentence's length for every customer)
    detail = np.full(len(out), "", dtype=object)
    detail[out["needs_review"].to_numpy()] = (
        "circuit inferred from the nearest cable is ambiguous (two circuits' cables about "
        "equally close): confirm the feeder before the leaflet goes"
    )
    out["detail"] = pd.Series(detail, index=out.index, dtype="str")
    return out


#: How far from a piece of equipment a customer of the same LV feeder can live, in metres.
#: Used only to decide who *might* lose supply when the feeder itself is unknown: GB LV
#: feeders rarely run more than about 600 m from their substation (voltage drop limits
#: them), so 1 km around the equipment holds everyone its feeder could serve. Those
#: customers go to manual review, never straight onto a call list.
POSSIBLE_REACH_M = 1000.0

_PAIR_COLUMNS = [CUSTOMER_ID, "equipment_id"]


@dataclass(frozen=True)
class OutageImpact:
    """Who loses supply while outage equipment is installed, and who only might.

    Attributes
    ----------
    affected : DataFrame
        ``customer_id``, ``equipment_id``: one row per customer and equipment
        whose installation interrupts that customer.
    uncertain : DataFrame
        ``customer_id``, ``equipment_id``, ``detail``: PSR customers who might
        be interrupted but cannot be confirmed (the equipment or the customer
        cannot be placed on a circuit); they go to manual review.
    """

    affected: pd.DataFrame
    uncertain: pd.DataFrame


def _key_pairs(customers: pd.DataFrame, equipment: pd.DataFrame, key: str) -> pd.DataFrame:
    """Pairs whose ``key`` is equal and known on both sides (blank never matches blank)."""
    if key not in customers or key not in equipment:
        return pd.DataFrame(columns=_PAIR_COLUMNS)
    c = customers.loc[known(customers[key]), [CUSTOMER_ID, key]]
    e = equipment.loc[known(equipment[key]), ["equipment_id", key]]
    return c.merge(e, on=key)[_PAIR_COLUMNS]


def _within_reach(candidates: pd.DataFrame, equipment: pd.DataFrame, detail: str) -> pd.DataFrame:
    """Candidate customers within :data:`POSSIBLE_REACH_M` of each equipment, with a detail."""
    cols = [*_PAIR_COLUMNS, "detail"]
    if candidates.empty or equipment.empty:
        return pd.DataFrame(columns=cols)
    from ..proximity import customers_near

    located = equipment[~equipment.geometry.is_empty & equipment.geometry.notna()]
    pairs = (
        customers_near(
            candidates, located[["equipment_id", located.geometry.name]], radius=POSSIBLE_REACH_M
        )
        if len(located)
        else pd.DataFrame(columns=_PAIR_COLUMNS)
    )
    out = pd.DataFrame(pairs[_PAIR_COLUMNS])
    # equipment without a location: nobody can be ruled out by distance
    unlocated = equipment.loc[~equipment.index.isin(located.index), ["equipment_id"]]
    if len(unlocated):
        everyone = candidates[[CUSTOMER_ID]].merge(unlocated, how="cross")
        out = pd.concat([out, everyone[_PAIR_COLUMNS]], ignore_index=True)
    out["detail"] = out["equipment_id"].astype("str") + ": " + detail
    return out[cols]


def _frame(parts: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
    parts = [p[cols] for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
    return (
        pd.concat(parts, ignore_index=True)
        .drop_duplicates(_PAIR_COLUMNS)
        .sort_values(["equipment_id", CUSTOMER_ID], kind="stable")
        .reset_index(drop=True)
    )


def downstream(
    customers: pd.DataFrame, placed: Placed | None, outage_eq: pd.DataFrame, warnings: list[str]
) -> OutageImpact:
    """Return who loses supply while each outage equipment is installed, and who might.

    A missing key matches nothing: equipment whose circuit is unknown is never
    paired with customers whose circuit is unknown. Where the answer cannot
    be known (equipment that cannot be placed on a circuit, customers that
    cannot be placed on the network), the equipment is named in a warning and
    every PSR customer who might be affected (on the same declared circuit or
    substation when that is known, else within :data:`POSSIBLE_REACH_M`) is
    returned in ``uncertain`` for manual review.
    """
    cols = [*_PAIR_COLUMNS, "detail"]
    if outage_eq.empty:
        return OutageImpact(_frame([], _PAIR_COLUMNS), _frame([], cols))
    psr = (
        customers[customers["psr"].fillna(False).astype(bool)]
        if "psr" in customers
        else (customers.iloc[:0])
    )
    affected: list[pd.DataFrame] = []
    uncertain: list[pd.DataFrame] = []
    if placed is None:
        warnings.append(
            "no network given: everyone on an outage equipment's declared circuit is taken as "
            "affected (the whole feeder) - give the network for an exact answer"
        )
        has_circ = (
            known(outage_eq[CIRCUIT_ID])
            if CIRCUIT_ID in outage_eq
            else pd.Series(False, index=outage_eq.index)
        )
        has_sub = (
            known(outage_eq[SUBSTATION_ID])
            if SUBSTATION_ID in outage_eq
            else pd.Series(False, index=outage_eq.index)
        )
        by_circuit = outage_eq[has_circ]
        by_substation = outage_eq[~has_circ & has_sub]  # work at the substation: all its circuits
        unknown = outage_eq[~has_circ & ~has_sub]
        affected.append(_key_pairs(customers, by_circuit, CIRCUIT_ID))
        affected.append(_key_pairs(customers, by_substation, SUBSTATION_ID))
        for key, eq in ((CIRCUIT_ID, by_circuit), (SUBSTATION_ID, by_substation)):
            blank = ~known(psr[key]) if key in psr else pd.Series(True, index=psr.index)
            uncertain.append(
                _within_reach(
                    psr[blank],
                    eq,
                    f"the customer's {key} is unknown and the customer lives within "
                    f"{POSSIBLE_REACH_M:g} m of this outage equipment: check whether the outage "
                    "interrupts their supply",
                )
            )
        for eid in unknown["equipment_id"]:
            warnings.append(
                f"{eid}: outage equipment with no circuit_id or substation_id and no network: "
                f"who loses supply is unknown; PSR customers within {POSSIBLE_REACH_M:g} m go to "
                "manual review"
            )
        uncertain.append(
            _within_reach(
                psr,
                unknown,
                "the equipment's circuit is unknown: check whether the outage interrupts this "
                "customer's supply",
            )
        )
        return OutageImpact(_frame(affected, _PAIR_COLUMNS), _frame(uncertain, cols))

    from ..network import circuit_members, downstream_customers, equipment_isolation_points

    net = placed.network
    att = placed.customers
    unplaced_rows = np.flatnonzero(np.asarray(att.best_method) == -1)
    unplaced = customers.iloc[unplaced_rows]
    unplaced_psr = (
        unplaced[unplaced["psr"].fillna(False).astype(bool)]
        if "psr" in unplaced
        else (unplaced.iloc[:0])
    )
    mapped = equipment_isolation_points(net, outage_eq)
    on_net = mapped["isolation_point"].notna().to_numpy()
    if on_net.any():
        points = mapped.loc[on_net, ["isolation_point", "equipment_id"]]
        rows = downstream_customers(
            net, att, points["isolation_point"].drop_duplicates().tolist(), unplaced="ignore"
        )
        # equipment sharing an isolation point share its customers
        affected.append(rows.merge(points, on="isolation_point")[_PAIR_COLUMNS])
        placed_eq = outage_eq[outage_eq["equipment_id"].isin(points["equipment_id"])]
        uncertain.append(
            _within_reach(
                unplaced_psr,
                placed_eq,
                "the customer cannot be placed on the network (no usable connection node, no "
                "cable near) and lives within "
                f"{POSSIBLE_REACH_M:g} m of this outage equipment: check whether the outage "
                "interrupts their supply",
            )
        )
    if (~on_net).any():
        # Safer to call too many vulnerable customers than too few: an item we cannot place on
        # the network takes out its whole declared feeder (by the network's own membership),
        # and the analyst is told. An item without a known circuit sends everyone near it to
        # review instead.
        lost = outage_eq[outage_eq["equipment_id"].isin(mapped.loc[~on_net, "equipment_id"])]
        rule = dict(zip(mapped["equipment_id"], mapped["rule"], strict=True))
        known_circuits = set(net.circuit_ids)
        circ = lost[CIRCUIT_ID] if CIRCUIT_ID in lost else pd.Series(None, index=lost.index)
        feeder = lost[known(circ) & circ.isin(known_circuits)]
        unknown = lost[~lost.index.isin(feeder.index)]
        if len(feeder):
            members = circuit_members(
                att, net, circuits=sorted(set(feeder[CIRCUIT_ID])), method="best"
            )
            pairs = members[[CUSTOMER_ID, CIRCUIT_ID]].merge(
                feeder[["equipment_id", CIRCUIT_ID]], on=CIRCUIT_ID
            )
            affected.append(pairs[_PAIR_COLUMNS])
            # customers off the network who declare the same feeder
            affected.append(_key_pairs(unplaced, feeder, CIRCUIT_ID))
            blank = (
                ~known(unplaced_psr[CIRCUIT_ID])
                if CIRCUIT_ID in unplaced_psr
                else pd.Series(True, index=unplaced_psr.index)
            )
            uncertain.append(
                _within_reach(
                    unplaced_psr[blank],
                    feeder,
                    "the customer cannot be placed on the network and lives within "
                    f"{POSSIBLE_REACH_M:g} m of this outage equipment: check whether the outage "
                    "interrupts their supply",
                )
            )
            for eid in feeder["equipment_id"]:
                warnings.append(
                    f"{eid}: cannot be placed on the network ({rule[eid]}); everyone on its "
                    "declared circuit is treated as losing supply - check its position or give "
                    "an edge_id/node"
                )
        if len(unknown):
            for eid in unknown["equipment_id"]:
                warnings.append(
                    f"{eid}: cannot be placed on the network ({rule[eid]}) and its circuit is "
                    f"unknown: who loses supply is unknown; PSR customers within "
                    f"{POSSIBLE_REACH_M:g} m go to manual review - give its circuit_id, "
                    "edge_id or node"
                )
            uncertain.append(
                _within_reach(
                    psr,
                    unknown,
                    "the equipment cannot be placed on the network and its circuit is unknown: "
                    "check whether the outage interrupts this customer's supply",
                )
            )
    out = _frame(affected, _PAIR_COLUMNS)
    maybe = _frame(uncertain, cols)
    # a customer known to be affected by an item is not also "uncertain" for it
    if len(maybe) and len(out):
        both = maybe.merge(out, on=_PAIR_COLUMNS, how="left", indicator=True)
        maybe = maybe[(both["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
    return OutageImpact(out, maybe)
