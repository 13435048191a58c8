"""The campaign's questions to the circuits module: who is served by a circuit, who loses supply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..schema import CIRCUIT_ID, CUSTOMER_ID

__all__ = ["Placed", "downstream", "membership", "place"]


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
    from ..network import Network

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
    rows = rows.sort_values([CUSTOMER_ID, CIRCUIT_ID], kind="stable")
    g = rows.groupby(CUSTOMER_ID, sort=True)
    per = pd.DataFrame(
        {
            "member_circuit": g[CIRCUIT_ID].agg(" + ".join),
            "method": g["method"].first(),
            "needs_review": g["needs_review"].any(),
        }
    ).reset_index()
    out = pd.DataFrame({CUSTOMER_ID: ids}).merge(per, on=CUSTOMER_ID, how="left")
    out["in_scope"] = out["member_circuit"].notna()
    out["needs_review"] = out["needs_review"].fillna(False).astype(bool)
    out["method"] = out["method"].fillna("")
    out["detail"] = np.where(
        out["needs_review"],
        "circuit inferred from the nearest cable is ambiguous (two circuits' cables about "
        "equally close): confirm the feeder before the leaflet goes",
        "",
    )
    return out


def downstream(
    customers: pd.DataFrame, placed: Placed | None, outage_eq: pd.DataFrame, warnings: list[str]
) -> pd.DataFrame:
    """Return who loses supply while each outage equipment is installed.

    Columns ``customer_id`` and ``equipment_id``, one row per pair.
    """
    if outage_eq.empty:
        return pd.DataFrame(columns=[CUSTOMER_ID, "equipment_id"])
    if placed is None:
        warnings.append(
            "no network given: everyone on an outage equipment's declared circuit is taken as "
            "affected (the whole feeder) - give the network for an exact answer"
        )
        m = customers[[CUSTOMER_ID, CIRCUIT_ID]].merge(
            outage_eq[["equipment_id", CIRCUIT_ID]], on=CIRCUIT_ID
        )
        return m[[CUSTOMER_ID, "equipment_id"]]
    from ..network import downstream_customers, equipment_isolation_points

    net = placed.network
    mapped = equipment_isolation_points(net, outage_eq)
    on_net = mapped["isolation_point"].notna().to_numpy()
    parts = []
    if on_net.any():
        points = mapped.loc[on_net, ["isolation_point", "equipment_id"]]
        rows = downstream_customers(
            net,
            placed.customers,
            points["isolation_point"].drop_duplicates().tolist(),
            unplaced="ignore",
        )
        # equipment sharing an isolation point share its customers
        rows = rows.merge(points, on="isolation_point")
        parts.append(rows[[CUSTOMER_ID, "equipment_id"]])
    if (~on_net).any():
        # Safer to call too many vulnerable customers than too few: an item we cannot place on
        # the network takes out its whole declared feeder, and the analyst is told.
        lost = outage_eq[outage_eq["equipment_id"].isin(mapped.loc[~on_net, "equipment_id"])]
        for row in mapped[~on_net].itertuples(index=False):
            warnings.append(
                f"{row.equipment_id}: cannot be placed on the network ({row.rule}); everyone on "
                "its declared circuit is treated as losing supply - check its position or give "
                "an edge_id/node"
            )
        m = customers[[CUSTOMER_ID, CIRCUIT_ID]].merge(
            lost[["equipment_id", CIRCUIT_ID]], on=CIRCUIT_ID
        )
        parts.append(m[[CUSTOMER_ID, "equipment_id"]])
    out = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[CUSTOMER_ID, "equipment_id"])
    )
    return (
        out.drop_duplicates()
        .sort_values(["equipment_id", CUSTOMER_ID], kind="stable")
        .reset_index(drop=True)
    )
