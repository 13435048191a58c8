"""The campaign's questions to the circuits module: who is served by a circuit, who loses supply."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schema import CIRCUIT_ID, CUSTOMER_ID

__all__ = ["downstream", "membership"]


def membership(
    customers: pd.DataFrame, net_r: Any, in_scope: set[str], cfg: Any, warnings: list[str]
) -> pd.DataFrame:
    """One row per customer: ``member_circuit``, ``method``, ``in_scope``, ``needs_review``, ``detail``.

    With a network, membership is by connectivity (the customer's connection
    node), inferred from the nearest cable for customers without one; without
    a network it is the declared ``circuit_id``. A customer fed from two
    circuits (a closed ring) counts as in scope when either is.
    """
    ids = customers[CUSTOMER_ID].to_numpy()
    if net_r is None:
        declared = customers[CIRCUIT_ID]
        warnings.append("no network given: circuit membership is the customers' declared circuit_id")
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
    from ..network import Network, circuit_members

    net = Network(net_r.edges, net_r.substations)
    known = set(net.circuit_ids)
    unknown = sorted(in_scope - known)
    if unknown:
        warnings.append(
            f"{len(unknown)} circuit(s) in scope are not in the network: {', '.join(unknown[:5])}"
        )
    rows = circuit_members(
        customers,
        net,
        circuits=sorted(in_scope & known),
        method="best",
        max_distance=cfg.max_inference_distance_m,
    )
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
    customers: pd.DataFrame, net_r: Any, outage_eq: pd.DataFrame, warnings: list[str]
) -> pd.DataFrame:
    """Customers who lose supply when each outage equipment is installed: ``customer_id``, ``equipment_id``."""
    if outage_eq.empty:
        return pd.DataFrame(columns=[CUSTOMER_ID, "equipment_id"])
    if net_r is None:
        warnings.append(
            "no network given: everyone on an outage equipment's declared circuit is taken as "
            "affected (the whole feeder) - give the network for an exact answer"
        )
        m = customers[[CUSTOMER_ID, CIRCUIT_ID]].merge(
            outage_eq[["equipment_id", CIRCUIT_ID]], on=CIRCUIT_ID
        )
        return m[[CUSTOMER_ID, "equipment_id"]]
    from ..network import Network, downstream_customers

    net = Network(net_r.edges, net_r.substations)
    rows = downstream_customers(
        net,
        customers,
        [f"equipment:{e}" for e in outage_eq["equipment_id"]],
        equipment=outage_eq,
        unplaced="ignore",
    )
    rows["equipment_id"] = rows["isolation_point"].str.removeprefix("equipment:")
    return rows[[CUSTOMER_ID, "equipment_id"]].drop_duplicates().reset_index(drop=True)
