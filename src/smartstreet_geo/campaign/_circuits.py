"""The campaign's questions to the circuits module: who is served by a circuit, who loses supply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._customer_table import CustomerTable, columns_of, geo_rows
from ..schema import CIRCUIT_ID, CUSTOMER_ID, SUBSTATION_ID
from ._join import (
    arrow,
    dense_rank,
    first_of_groups,
    from_codes,
    group_starts,
    join_groups,
    no_rows,
    same_values,
)
from ._keys import known

__all__ = [
    "OUTAGE_PLAN_COLUMNS",
    "POSSIBLE_REACH_M",
    "OutageImpact",
    "OutagePlans",
    "Placed",
    "backfeed_reasons",
    "downstream",
    "membership",
    "place",
    "plan_outages",
]


@dataclass(frozen=True)
class Placed:
    """The network and the customers placed on it, built once for both questions."""

    network: Any  # smartstreet_geo.network.Network
    customers: Any  # smartstreet_geo.network.AttachedCustomers


def place(
    customers: pd.DataFrame | CustomerTable, net_r: Any, cfg: Any, network: Any = None
) -> Placed | None:
    """Build the network and attach the customers once (None without a network).

    Customers are placed by connection node, or on the nearest cable within
    ``[membership] max_inference_distance_m`` when they have none; membership
    and outage impact then use the same placement. ``network``: the
    :class:`~smartstreet_geo.network.Network` of ``net_r`` when already built
    (a Dask worker keeps it between the partitions it runs).
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

    net = network if network is not None else Network(net_r.edges, net_r.substations)
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
    id_col = customers[CUSTOMER_ID]
    # Arrow text as it is: no Python object per customer, and none converted back
    ids = id_col.array if isinstance(id_col.dtype, pd.StringDtype) else id_col.to_numpy()
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
    from ..network._members import member_codes
    from ..network._text import to_series

    net = placed.network
    known = set(net.circuit_ids)
    unknown = sorted(in_scope - known)
    if unknown:
        warnings.append(
            f"{len(unknown)} circuit(s) in scope are not in the network: {', '.join(unknown[:5])}"
        )
    att = placed.customers
    scope = sorted(in_scope & known)
    if same_values(att.customer_id, customers[CUSTOMER_ID]):  # attached in the same order
        m = member_codes(net, att, scope, "best")
        # a customer may be a member of two in-scope circuits (closed ring): one leaflet, both
        # named; sorted once on integers (customer row, circuit rank), grouped in numpy, joined
        # by Arrow: no Python call per customer, and no text per member but the names taken
        # by code at the end (the members' own frame, ids and all, took 2 s at 5.1 M)
        circuit_names = to_series(net._circuit_ids)
        order = np.lexsort((dense_rank(circuit_names)[m.circuit], m.row))
        at, circuit = m.row[order], m.circuit[order]
        starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]]) if len(at) else at[:0]
        names = circuit_names.to_numpy(dtype=object)
        per = pd.DataFrame(
            {
                "member_circuit": from_codes(circuit[starts], names)
                if len(starts) == len(at)  # (no closed ring in scope: nothing to join)
                else join_groups(from_codes(circuit, names), starts, " + "),
                "method": from_codes(m.how[order][starts], m.how_names),
                "needs_review": _any_of_groups(m.needs_review(att)[order], starts),
            }
        )
        pos = np.full(len(customers), -1, dtype=np.int64)
        pos[at[starts]] = np.arange(len(starts))
    else:
        rows = circuit_members(net, att, circuits=scope, method="best")
        rows = rows.sort_values([CUSTOMER_ID, CIRCUIT_ID], kind="stable").reset_index(drop=True)
        starts = group_starts(rows[CUSTOMER_ID])
        per = pd.DataFrame(
            {
                "member_circuit": join_groups(rows[CIRCUIT_ID], starts, " + "),
                "method": first_of_groups(rows["method"], starts),
                "needs_review": _any_of_groups(rows["needs_review"].to_numpy(dtype=bool), starts),
            }
        )
        pos = None
    if pos is None:
        # each customer's row in ``per`` (-1: member of no circuit in scope); Arrow's hash
        # lookup, as a left merge on the id would do, at about a third of the merge's time
        wanted = arrow(customers[CUSTOMER_ID])
        members = arrow(rows[CUSTOMER_ID]).take(pa.array(starts))
        at_per = pc.index_in(wanted, value_set=members.cast(wanted.type))
        pos = pc.fill_null(at_per, -1).to_numpy()
    out = pd.DataFrame({CUSTOMER_ID: ids})
    for col in per.columns:
        out[col] = per[col].array.take(pos, allow_fill=True)
    out["in_scope"] = out["member_circuit"].notna()
    out["needs_review"] = out["needs_review"].fillna(False).astype(bool)
    out["method"] = out["method"].fillna("")
    ambiguous = (
        "circuit inferred from the nearest cable is ambiguous (two circuits' cables about "
        "equally close): confirm the feeder before the leaflet goes"
    )
    out["detail"] = from_codes(out["needs_review"].to_numpy(), ["", ambiguous], out.index)
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


def _any_of_groups(flags: npt.NDArray[np.bool_], starts: npt.NDArray[np.intp]) -> Any:
    """Return whether any flag is set in each group (grouped contiguously from ``starts``)."""
    if not len(starts):
        return np.zeros(0, dtype=bool)
    return np.logical_or.reduceat(flags, starts)


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
    customers: pd.DataFrame | CustomerTable,
    placed: Placed | None,
    outage_eq: pd.DataFrame,
    warnings: list[str],
) -> OutageImpact:
    """Return who loses supply while each outage equipment is installed, and who might.

    A missing key matches nothing: equipment whose circuit is unknown is never
    paired with customers whose circuit is unknown. Where the answer cannot
    be known (equipment that cannot be placed on a circuit, customers that
    cannot be placed on the network), the equipment is named in a warning and
    every PSR customer who might be affected (on the same declared circuit or
    substation when that is known, else within :data:`POSSIBLE_REACH_M`) is
    returned in ``uncertain`` for manual review.

    ``customers`` may be a :class:`~smartstreet_geo._customer_table.CustomerTable`:
    only the rows whose distance to equipment is asked (as above) become points.
    """
    cols = [*_PAIR_COLUMNS, "detail"]
    if outage_eq.empty:
        return OutageImpact(_frame([], _PAIR_COLUMNS), _frame([], cols))
    frame = columns_of(customers)

    def psr_customers() -> pd.DataFrame:
        # (only where an answer is uncertain: a copy of every PSR customer's row, 0.3 s at 2.4 M)
        if "psr" not in frame:
            return geo_rows(customers, np.zeros(0, dtype=np.intp))
        return geo_rows(customers, frame["psr"].fillna(False).astype(bool).to_numpy())

    affected: list[pd.DataFrame] = []
    uncertain: list[pd.DataFrame] = []
    if placed is None:
        psr = psr_customers()
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
        affected.append(_key_pairs(frame, by_circuit, CIRCUIT_ID))
        affected.append(_key_pairs(frame, by_substation, SUBSTATION_ID))
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
    unplaced = geo_rows(customers, unplaced_rows)
    unplaced_psr = (
        unplaced[unplaced["psr"].fillna(False).astype(bool)]
        if "psr" in unplaced
        else no_rows(unplaced)
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
                net, att, circuits=sorted(set(feeder[CIRCUIT_ID])), method="best"
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
                    psr_customers(),
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


# --------------------------------------------------------------------------- outage plans
#: Columns of ``outage_plan.csv``: one row per outage equipment.
OUTAGE_PLAN_COLUMNS = (
    "equipment_id",
    "outage_date",
    "isolation_point",
    "planned_with",
    "customers_off",
    "customers_restored",
    "customers_interrupted",
    "psr_off",
    "psr_restored",
    "psr_interrupted",
    "points_to_close",
    "donor_circuits",
    "donor_customers_before",
    "donor_customers_after",
    "over_limit",
    "limit_detail",
    "generator_node",
    "generator_customers",
    "generator_demand_kva",
    "detail",
)
_BACKFED_COLUMNS = [CUSTOMER_ID, "equipment_id", "point", "donor_circuit"]


@dataclass(frozen=True)
class OutagePlans:
    """Outage plans for the campaign (``[outage] plan = "backfeed"``).

    Attributes
    ----------
    impact : OutageImpact
        Who still loses supply under the plans: ``affected`` less the customers
        kept on supply by a backfeed, plus customers cut off only by several
        equipment isolated the same day (a ring cut on both sides) whom no
        point restores, attributed to the equipment bordering their part;
        ``uncertain`` unchanged.
    backfed : DataFrame
        ``customer_id``, ``equipment_id``, ``point`` (the normally-open point
        closed to keep them on supply), ``donor_circuit``: the pairs taken out
        of ``affected`` (and customers off only with the day's isolations
        together whom a point restores); the reconciliation says "supply
        maintained by backfeed through <point>".
    table : DataFrame
        ``outage_plan.csv``: one row per outage equipment, columns
        :data:`OUTAGE_PLAN_COLUMNS` (no customer ids).
    plans : dict of str to OutagePlan
        The plan of each outage day (key: the ISO date) or of each equipment
        without a date (key: ``equipment:<id>``).
    """

    impact: OutageImpact
    backfed: pd.DataFrame
    table: pd.DataFrame
    plans: dict[str, Any]


def plan_outages(
    customers: pd.DataFrame,
    placed: Placed | None,
    outage_eq: pd.DataFrame,
    impact: OutageImpact,
    settings: Any,
    warnings: list[str],
    *,
    medically_dependent: Any = None,
) -> OutagePlans:
    """Plan backfeeds for the outage equipment, one plan per outage day.

    Equipment with the same ``outage_date`` are isolated together (their
    isolations and closings interact); equipment without a date are planned
    alone. Each plan closes at most one normally-open point per de-energised
    part (the network stays radial) and restores as many customers as it can,
    medically dependent and PSR customers first under a loading limit (see
    :class:`~smartstreet_geo.network.BackfeedPlanner`).

    Parameters
    ----------
    customers : DataFrame
        The customers :func:`place` attached (same rows, same order); ``psr``.
    placed : Placed or None
        Without a network nothing can be planned: the impact is returned
        unchanged, with a warning.
    outage_eq : DataFrame
        The outage equipment, with ``outage_date`` (a date or None).
    impact : OutageImpact
        :func:`downstream`'s answer for the same equipment.
    settings : BackfeedSettings
        ``cfg.backfeed``.
    warnings : list of str
        Appended to.
    medically_dependent : array-like of bool, optional
        Per customer (e.g. ``assess_needs_many(...)["medically_dependent"]``);
        None counts nobody as medically dependent.

    Returns
    -------
    OutagePlans
    """
    empty_backfed = pd.DataFrame({c: pd.Series(dtype="str") for c in _BACKFED_COLUMNS})
    if placed is None or outage_eq.empty:
        if placed is None and not outage_eq.empty:
            warnings.append(
                '[outage] plan = "backfeed" needs the network: no plan made, everyone '
                "downstream of an isolation is taken as interrupted"
            )
        table = _plan_table_without(outage_eq, impact, customers, "no network to plan on")
        return OutagePlans(impact, empty_backfed, table, {})
    from ..network import BackfeedPlanner, equipment_isolation_points

    net = placed.network
    psr = (
        customers["psr"].fillna(False).astype(bool).to_numpy()
        if "psr" in customers
        else np.zeros(len(customers), dtype=bool)
    )
    med = (
        np.zeros(len(customers), dtype=bool)
        if medically_dependent is None
        else pd.Series(np.asarray(medically_dependent, dtype=object)).fillna(False).astype(bool)
    )
    planner = BackfeedPlanner(
        net,
        placed.customers,
        psr=psr,
        medically_dependent=np.asarray(med, dtype=bool),
        weights=settings.weights(),
        loading=settings.loading(),
    )
    mapped = equipment_isolation_points(net, outage_eq)
    eq = outage_eq[["equipment_id", "outage_date"]].merge(
        mapped[["equipment_id", "isolation_point", "rule"]], on="equipment_id", how="left"
    )
    eq["group"] = [
        f"equipment:{e}" if pd.isna(d) else pd.Timestamp(d).date().isoformat()
        for e, d in zip(eq["equipment_id"], eq["outage_date"], strict=True)
    ]
    on_net = eq[eq["isolation_point"].notna()]
    plans: dict[str, Any] = {}
    restored: list[pd.DataFrame] = []
    extra: list[pd.DataFrame] = []
    info: dict[str, dict[str, Any]] = {}  # equipment -> its plan's points, donors, generator
    group_of = dict(zip(eq["equipment_id"], eq["group"], strict=True))
    pair_groups = impact.affected["equipment_id"].map(group_of)
    for group, members in on_net.groupby("group", sort=True):
        plan = planner.plan(members["isolation_point"].drop_duplicates().tolist())
        plans[str(group)] = plan
        if plan.summary()["customers_off"] == 0:
            continue  # nobody loses supply: no tables to build
        pc_ = plan.customers
        back = pc_.loc[
            pc_["status"] == "restored", [CUSTOMER_ID, "restored_through", "donor_circuit"]
        ]
        restored.append(back.assign(group=group))
        # off only with the day's isolations together (a ring cut on both sides): attributed to
        # the equipment bordering their part
        ids = set(members["equipment_id"])
        known_here = impact.affected.loc[(pair_groups == group).to_numpy(), CUSTOMER_ID]
        new = pc_.loc[~pc_[CUSTOMER_ID].isin(known_here), [CUSTOMER_ID, "elements"]]
        if len(new):
            extra.append(_attribute(new, members))
        info.update(_plan_info(plan, members, ids))
    extras = _frame(extra, _PAIR_COLUMNS)
    pairs = pd.concat([impact.affected, extras], ignore_index=True)
    pairs["group"] = pairs["equipment_id"].map(group_of)
    back_all = (
        pd.concat(restored, ignore_index=True)
        if restored
        else pd.DataFrame(columns=[CUSTOMER_ID, "restored_through", "donor_circuit", "group"])
    )
    hit = pairs.merge(back_all, on=["group", CUSTOMER_ID], how="left", indicator=True)
    saved = (hit["_merge"] == "both").to_numpy()
    hit["psr"] = hit[CUSTOMER_ID].isin(set(customers.loc[psr, CUSTOMER_ID])).to_numpy()
    hit["saved"] = saved
    out = _frame([hit.loc[~saved, _PAIR_COLUMNS]], _PAIR_COLUMNS)
    bf = (
        hit.loc[saved, [CUSTOMER_ID, "equipment_id", "restored_through", "donor_circuit"]]
        .rename(columns={"restored_through": "point"})
        .sort_values(["equipment_id", CUSTOMER_ID], kind="stable")
        .reset_index(drop=True)
    )
    for c in _BACKFED_COLUMNS:
        bf[c] = bf[c].astype("str")
    counts = _count_frame(hit)
    table = _plan_table(eq, counts, info)
    return OutagePlans(OutageImpact(out, impact.uncertain), bf[_BACKFED_COLUMNS], table, plans)


def _attribute(new: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Return (customer, equipment) for customers cut off jointly: the bordering equipment."""
    by_point = members.groupby("isolation_point")["equipment_id"].apply(list).to_dict()
    everyone = sorted(members["equipment_id"])
    out_c: list[str] = []
    out_e: list[str] = []
    # one entry per distinct 'elements' text (a handful per plan), not per customer
    for elements, block in new.groupby("elements", sort=True):
        owners = [e for el in str(elements).split(";") if el for e in by_point.get(el, [])]
        owners = sorted(set(owners)) or everyone
        ids = block[CUSTOMER_ID].tolist()
        for e in owners:
            out_c += ids
            out_e += [e] * len(ids)
    return pd.DataFrame({CUSTOMER_ID: out_c, "equipment_id": out_e})


def _plan_info(plan: Any, members: pd.DataFrame, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Per equipment of one plan: the points closed into its parts, donors, generator."""
    parts = plan.parts
    closings = plan.closings.set_index("part")
    gens = plan.generators
    by_element: dict[str, list[int]] = {}
    for part, elements in zip(parts["part"], parts["elements"], strict=True):
        for el in str(elements).split(";"):
            by_element.setdefault(el, []).append(int(part))
    out: dict[str, dict[str, Any]] = {}
    for eid, point in zip(members["equipment_id"], members["isolation_point"], strict=True):
        mine = by_element.get(point, [])
        c = closings.loc[closings.index.isin(mine)]
        donor = c["donor_circuit"].where(c["donor_circuit"] != "", c["donor_substation"])
        row: dict[str, Any] = {
            "points_to_close": ";".join(c["edge_id"]),
            "donor_circuits": ";".join(donor),
            "donor_customers_before": ";".join(map(str, c["donor_customers_before"])),
            "donor_customers_after": ";".join(map(str, c["donor_customers_after"])),
            "over_limit": bool(c["over_limit"].any()),
            "limit_detail": ";".join(d for d in c["limit_detail"] if d),
        }
        g = gens[gens["part"].isin(mine)]
        if len(g):
            row["generator_node"] = g["node"].iloc[0]
            row["generator_customers"] = int(g["customers"].iloc[0])
            row["generator_demand_kva"] = float(g["demand_kva"].iloc[0])
            if len(g) > 1:
                row["detail"] = (
                    f"{len(g)} parts need a generator; the one with the most priority shown"
                )
        out[str(eid)] = row
    return out


def _count_frame(hit: pd.DataFrame) -> pd.DataFrame:
    """Count customers off, restored and interrupted (all and PSR) per equipment."""
    saved = hit["saved"].to_numpy(dtype=bool)
    psr = hit["psr"].to_numpy(dtype=bool)
    flags = pd.DataFrame(
        {
            "equipment_id": hit["equipment_id"].to_numpy(),
            "customers_off": 1,
            "customers_restored": saved.astype(np.int64),
            "customers_interrupted": (~saved).astype(np.int64),
            "psr_off": psr.astype(np.int64),
            "psr_restored": (psr & saved).astype(np.int64),
            "psr_interrupted": (psr & ~saved).astype(np.int64),
        }
    )
    return flags.groupby("equipment_id", sort=True).sum()


def _plan_table(
    eq: pd.DataFrame, counts: pd.DataFrame, info: dict[str, dict[str, Any]]
) -> pd.DataFrame:
    members = eq.groupby("group")["equipment_id"].apply(lambda s: sorted(s)).to_dict()
    rows = []
    for r in eq.itertuples(index=False):
        eid = str(r.equipment_id)
        row: dict[str, Any] = {
            "equipment_id": eid,
            "outage_date": r.outage_date,
            "isolation_point": r.isolation_point if isinstance(r.isolation_point, str) else "",
            "planned_with": ";".join(i for i in members[r.group] if i != eid),
        }
        if eid in counts.index:
            row.update({str(k): v for k, v in counts.loc[eid].items()})
        if not isinstance(r.isolation_point, str):
            row["detail"] = f"not placed on the network ({r.rule}); not planned"
        row.update(info.get(eid, {}))
        rows.append(row)
    return _plan_frame(rows)


def _plan_table_without(
    outage_eq: pd.DataFrame, impact: OutageImpact, customers: pd.DataFrame, why: str
) -> pd.DataFrame:
    psr = customers["psr"].fillna(False).astype(bool) if "psr" in customers else None
    hit = impact.affected.assign(
        saved=False,
        psr=impact.affected[CUSTOMER_ID].isin(
            set(customers.loc[psr, CUSTOMER_ID]) if psr is not None else set()
        ),
    )
    counts = _count_frame(hit)
    rows = []
    for r in outage_eq.itertuples(index=False):
        eid = str(r.equipment_id)
        row = {"equipment_id": eid, "outage_date": getattr(r, "outage_date", None), "detail": why}
        if eid in counts.index:
            row.update({str(k): v for k, v in counts.loc[eid].items()})
        rows.append(row)
    return _plan_frame(rows)


def _plan_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(OUTAGE_PLAN_COLUMNS))
    ints = [c for c in OUTAGE_PLAN_COLUMNS if c.startswith(("customers_", "psr_"))]
    for c in ints:
        out[c] = out[c].fillna(0).astype(np.int64)
    out["generator_customers"] = out["generator_customers"].astype("Int64")
    out["generator_demand_kva"] = out["generator_demand_kva"].astype("float64")
    out["over_limit"] = out["over_limit"].astype(object).where(out["over_limit"].notna(), False)
    out["over_limit"] = out["over_limit"].astype(bool)
    text = [
        c
        for c in OUTAGE_PLAN_COLUMNS
        if c
        not in (*ints, "outage_date", "generator_customers", "generator_demand_kva", "over_limit")
    ]
    for c in text:
        out[c] = out[c].astype(object).where(out[c].notna(), "").astype("str")
    return out.sort_values("equipment_id", kind="stable").reset_index(drop=True)


def backfeed_reasons(backfed: pd.DataFrame) -> pd.Series:
    """Return the reconciliation wording for customers kept on supply, one per customer.

    ``"supply maintained by backfeed through LB0202 (circuit EGR02-F3) while EQ0006 is
    installed"``; a customer kept on supply for several equipment gets one clause each
    (``"; "``-joined, by equipment id). Built once per distinct (point, donor, equipment),
    not per customer.

    Parameters
    ----------
    backfed : DataFrame
        :attr:`OutagePlans.backfed`.

    Returns
    -------
    Series
        Indexed by ``customer_id`` (sorted), ``str`` dtype.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"customer_id": ["k1", "k1", "k2"], "equipment_id": ["E1", "E2", "E1"],
    ...                   "point": ["LB1", "LB2", "LB1"], "donor_circuit": ["F2", "", "F2"]})
    >>> reasons = backfeed_reasons(b)
    >>> print(reasons["k2"])
    supply maintained by backfeed through LB1 (circuit F2) while E1 is installed
    >>> print(reasons["k1"].split("; ")[1])
    supply maintained by backfeed through LB2 while E2 is installed
    """
    if backfed.empty:
        return pd.Series(dtype="str", index=pd.Index([], name=CUSTOMER_ID, dtype="str"))
    key = backfed[["point", "donor_circuit", "equipment_id"]].astype("str")
    distinct = key.drop_duplicates()
    donor = distinct["donor_circuit"].where(distinct["donor_circuit"] == "", " (circuit ")
    donor = donor.where(distinct["donor_circuit"] == "", donor + distinct["donor_circuit"] + ")")
    distinct = distinct.assign(
        text="supply maintained by backfeed through "
        + distinct["point"]
        + donor
        + " while "
        + distinct["equipment_id"]
        + " is installed"
    )
    rows = (
        backfed[[CUSTOMER_ID]]
        .join(key)
        .merge(distinct, on=["point", "donor_circuit", "equipment_id"], how="left")
    )
    rows = rows.sort_values([CUSTOMER_ID, "equipment_id", "point"], kind="stable")
    out = rows.groupby(CUSTOMER_ID, sort=True)["text"].agg("; ".join)
    return out.astype("str")
