"""Reconciliation: every input customer row once, with its final status and reason.

Also the manual-review table (every reason a person must look at a customer)
and one map category per customer. Built from the contacts after
de-duplication, the customers covered by a letter to their premise, and the
readers' rejects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schema import CUSTOMER_ID
from .rules import REVIEW_COLUMNS

__all__ = ["manual_review_table", "map_categories", "reconcile"]


def manual_review_table(
    reviews: list[pd.DataFrame], rejects: pd.DataFrame, cust: pd.DataFrame
) -> pd.DataFrame:
    """Return one row per reason a person must look at a customer (conflicting duplicates too)."""
    parts = [r[REVIEW_COLUMNS] for r in reviews if len(r)]
    rows = (
        pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
        if parts
        else pd.DataFrame(columns=REVIEW_COLUMNS)
    )
    rows = rows.merge(cust[[CUSTOMER_ID, "source_row"]], on=CUSTOMER_ID, how="left")
    conflicts = rejects[rejects["reason_code"] == "conflicting_duplicate"]
    dup = pd.DataFrame(
        {
            CUSTOMER_ID: conflicts["record_id"],
            "issue": "conflicting_duplicate",
            "detail": "the same customer id on rows with different data; decide which is right",
            "source_row": conflicts["row_number"],
        }
    )
    out = pd.concat([rows, dup], ignore_index=True)
    out["source_row"] = out["source_row"].astype("Int64")
    return out.sort_values(["issue", "source_row", CUSTOMER_ID], kind="stable").reset_index(
        drop=True
    )[["source_row", CUSTOMER_ID, "issue", "detail"]]


def reconcile(
    cust_r: Any,
    cust: pd.DataFrame,
    contacts: pd.DataFrame,
    covered: pd.DataFrame,
    manual: pd.DataFrame,
    not_reasons: dict[str, str],
) -> pd.DataFrame:
    """Return every input customer row once, with its status, campaigns and reason."""
    # plain dicts: a groupby with Python aggregations costs seconds on 85,000 customers
    direct: dict[str, set[str]] = {}
    reasons: dict[str, dict[str, None]] = {}
    for cid, camp, why in zip(
        contacts[CUSTOMER_ID], contacts["campaign"], contacts["reason"], strict=True
    ):
        direct.setdefault(cid, set()).add(camp)
        reasons.setdefault(cid, {})[why] = None
    via: dict[str, set[str]] = {}
    for cid, camp in zip(covered[CUSTOMER_ID], covered["campaign"], strict=True):
        via.setdefault(cid, set()).add(camp)
    review_ids: dict[str, dict[str, None]] = {}
    for cid, detail in zip(manual[CUSTOMER_ID], manual["detail"], strict=True):
        review_ids.setdefault(cid, {})[detail] = None
    rows = []
    for cid, srow in zip(cust[CUSTOMER_ID], cust["source_row"], strict=True):
        camps = direct.get(cid, set()) | via.get(cid, set())
        campaigns = ";".join(sorted(camps))
        if cid in review_ids and cid not in direct:
            status, reason = "manual_review", " | ".join(review_ids[cid])
        elif camps:
            status = "contacted"
            parts = list(reasons.get(cid, {}))
            if cid in via:
                parts.append(
                    "covered by the letter to the same premise (" + ";".join(sorted(via[cid])) + ")"
                )
            if cid in review_ids:
                parts.append("also for manual review: " + " | ".join(review_ids[cid]))
            reason = " | ".join(parts)
        else:
            status = "not_contacted"
            reason = not_reasons.get(
                cid, "not on a circuit in scope, not within any radius, not in a planned outage"
            )
        rows.append((int(srow), cid, status, campaigns, reason))
    out = pd.DataFrame(rows, columns=["source_row", CUSTOMER_ID, "status", "campaigns", "reason"])
    rej = cust_r.rejects
    rej_rows = pd.DataFrame(
        {
            "source_row": rej["row_number"].astype(int),
            CUSTOMER_ID: rej["record_id"],
            "status": np.where(
                rej["reason_code"] == "conflicting_duplicate",
                "manual_review",
                np.where(rej["reason_code"] == "exact_duplicate", "not_contacted", "rejected"),
            ),
            "campaigns": "",
            "reason": rej["reason_code"] + ": " + rej["message"],
        }
    )
    out = pd.concat([out, rej_rows], ignore_index=True).sort_values("source_row", kind="stable")
    return out.reset_index(drop=True)


def map_categories(
    ids: pd.Series, contacts: pd.DataFrame, covered: pd.DataFrame, manual: pd.DataFrame
) -> np.ndarray:
    """One category per customer for maps: phone call, manual review, letter, leaflet, none."""
    sets: dict[str, set[str]] = {}
    for frame in (contacts, covered):
        for cid, camp in zip(frame[CUSTOMER_ID], frame["campaign"], strict=True):
            sets.setdefault(cid, set()).add(camp)
    review = set(manual[CUSTOMER_ID])
    out = []
    for cid in ids:
        camps = sets.get(cid, set())
        if "outage_phone_call" in camps:
            out.append("phone_call")
        elif cid in review:
            out.append("manual_review")
        elif "installation_letter" in camps or "outage_letter" in camps:
            out.append("installation_letter")
        elif "leaflet" in camps:
            out.append("leaflet")
        else:
            out.append("not_contacted")
    return np.array(out, dtype=object)
