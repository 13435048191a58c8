"""The campaign's ``[locate]`` step: place customers the reader set aside for lack of coordinates.

The customer reader rejects a row without usable coordinates (``missing_coordinates``).
With ``[locate]`` reference data, those rows are placed by
:func:`smartstreet_geo.locate.locate_customers` (UPRN, then address matching, then
postcode centroid) and read again, as a data frame, through the same reader with the
coordinates found: every other check applies to them exactly as to any row, and their
``source_row`` is their row in the file. Rows that cannot be placed stay rejected, the
message saying why. Every valid customer carries ``location_source`` (``supplied`` for
coordinates from the file) and ``location_uncertainty_m``; a placed customer whose match
a person should check (an ambiguous address placed at its postcode, a postcode that
differs from the matched address's) is a manual-review issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..io import read_customers
from ..io._files import load_table
from ..io._result import ReadResult
from ..schema import CUSTOMER_ID
from .config import CampaignConfig

__all__ = ["LOCATION_ISSUES", "Located", "locate_rejected", "uncertain_pairs"]

#: Location columns carried by every valid customer of a campaign.
KEPT = ("location_source", "location_uncertainty_m")
#: Manual-review issues this step raises.
LOCATION_ISSUES = ("location_check", "location_uncertain")


@dataclass
class Located:
    """What the locate step did.

    Attributes
    ----------
    read : ReadResult
        The customer file as read, with the rows placed here moved from the
        rejects to the data (with ``location_source``, ``location_uncertainty_m``).
    counts : dict
        Customers per ``location_source``, ``not_located`` and ``to_review``.
    review : DataFrame
        ``customer_id``, ``issue`` (``location_check``), ``detail``.
    """

    read: ReadResult
    counts: dict[str, int] = field(default_factory=dict)
    review: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=[CUSTOMER_ID, "issue", "detail"])
    )


def _supplied(data: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = data.copy()
    out["location_source"] = "supplied"
    out["location_uncertainty_m"] = 0.0
    return out


def locate_rejected(cust_r: ReadResult, cfg: CampaignConfig, warnings: list[str]) -> Located:
    """Place the customers rejected for missing coordinates, with ``cfg.locate``'s data.

    Parameters
    ----------
    cust_r : ReadResult
        The customer file as read.
    cfg : CampaignConfig
    warnings : list of str
        Appended to: customers that could not be placed (counts only).

    Returns
    -------
    Located
    """
    settings = cfg.locate
    rej = cust_r.rejects
    missing = rej[rej["reason_code"] == "missing_coordinates"]
    base = {"supplied": len(cust_r.data)}
    if settings is None or missing.empty:
        return Located(replace(cust_r, data=_supplied(cust_r.data)), counts=base)
    from ..locate import (
        locate_customers,
        read_address_gazetteer,
        read_codepoint,
        read_uprn_gazetteer,
    )

    raw = load_table(cfg.customers, encoding=cfg.encoding)
    rows = missing["row_number"].astype(int).to_numpy()
    canonical = {k: v for k, v in cust_r.columns_used.items() if k in raw.frame.columns}
    frame = raw.frame.iloc[rows - 1][list(canonical)].rename(columns=canonical)
    frame.index = pd.Index(rows)
    for col in ("easting", "northing", "longitude", "latitude", "geometry"):
        frame = frame.drop(columns=col, errors="ignore")
    found = locate_customers(
        frame.astype(object).where(frame.notna(), None),
        gazetteer=read_uprn_gazetteer(settings.uprn_gazetteer) if settings.uprn_gazetteer else None,
        addresses=read_address_gazetteer(
            settings.addresses, columns=settings.address_columns or None
        )
        if settings.addresses
        else None,
        postcodes=read_codepoint(settings.codepoint) if settings.codepoint else None,
        accept_score=settings.accept_score,
        min_gap=settings.min_gap,
    ).data
    placed = found.geometry.notna().to_numpy() & ~found.geometry.is_empty.to_numpy()
    where = found[placed]
    again = frame.loc[where.index].copy()
    again["easting"] = where.geometry.x.to_numpy()
    again["northing"] = where.geometry.y.to_numpy()
    # the same checks as any row (a postcode against the point found, duplicates ...)
    r2 = read_customers(again, encoding=None)
    new = r2.data.copy()
    info = found.loc[new["source_row"].astype(int).to_numpy()]
    new["location_source"] = info["location_source"].to_numpy()
    new["location_uncertainty_m"] = info["location_uncertainty_m"].astype(float).to_numpy()
    # one id, two rows: the one with coordinates stands; the located one stays rejected
    clash = new[CUSTOMER_ID].isin(set(cust_r.data[CUSTOMER_ID]))
    new = new[~clash.to_numpy()]
    moved = set(new["source_row"].astype(int))
    keep = ~rej["row_number"].astype(int).isin(moved) | (
        rej["reason_code"] != "missing_coordinates"
    )
    rejects = rej[keep.to_numpy()].copy()
    # why the others could not be placed, in the message they keep
    why = found["location_reason"].astype(object)
    still = rejects["reason_code"].eq("missing_coordinates") & rejects["row_number"].astype(
        int
    ).isin(found.index)
    reasons = why.reindex(rejects.loc[still, "row_number"].astype(int).to_numpy()).to_numpy()
    rejects.loc[still, "message"] = [
        f"no coordinates, and not located with [locate] ({r or 'no reference data'}); add the "
        "coordinates, a UPRN or the postcode"
        for r in reasons
    ]
    extra = r2.rejects[~r2.rejects["row_number"].astype(int).isin(moved)]
    # a located row the second read rejected keeps one reject: its new reason
    rejects = rejects[~rejects["row_number"].astype(int).isin(set(extra["row_number"].astype(int)))]
    rejects = pd.concat([rejects, extra.assign(source_file=cust_r.source)], ignore_index=True)
    rejects = rejects.sort_values("row_number", kind="stable").reset_index(drop=True)
    data = pd.concat([_supplied(cust_r.data), new], ignore_index=True)
    data = gpd.GeoDataFrame(
        data.sort_values("source_row", kind="stable").reset_index(drop=True),
        geometry=cust_r.data.geometry.name,
        crs=cust_r.data.crs,
    )
    checks = info[info["location_review"].fillna(False).astype(bool).to_numpy()]
    checks = checks[checks.index.isin(list(moved))]
    review = pd.DataFrame(
        {
            CUSTOMER_ID: new.set_index("source_row").loc[checks.index, CUSTOMER_ID].to_numpy(),
            "issue": "location_check",
            "detail": [
                f"placed by {s.replace('_', ' ')} ({r}): check the location"
                for s, r in zip(checks["location_source"], checks["location_reason"], strict=True)
            ],
        }
    )
    counts = {
        **base,
        **{str(k): int(v) for k, v in new["location_source"].value_counts().items()},
        "not_located": int(len(rows) - len(moved)),
        "to_review": len(review),
    }
    if counts["not_located"]:
        warnings.append(
            f"{counts['not_located']:,} customer(s) without coordinates could not be placed "
            "with the [locate] data (see rejects.csv): they are not contacted"
        )
    read = ReadResult(
        data=data,
        rejects=rejects,
        source=cust_r.source,
        n_input=cust_r.n_input,
        notes=(*cust_r.notes, f"{len(moved):,} customers placed by [locate]"),
        columns_used=cust_r.columns_used,
        columns_unused=cust_r.columns_unused,
        columns_unused_labels=cust_r.columns_unused_labels,
    )
    return Located(read, counts=counts, review=review)


def uncertain_pairs(
    customers: gpd.GeoDataFrame, equipment: pd.DataFrame, radii: dict[str, float], pairs: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decide proximity honestly for customers placed with an uncertainty.

    A customer placed with uncertainty ``u`` (a postcode centroid, an address match
    among close candidates) whose distance ``d`` to equipment of radius ``r`` has
    ``|d - r| <= u`` cannot be said to be within or outside: it goes to manual review
    (``location_uncertain``), neither written to nor left out silently.

    Parameters
    ----------
    customers : GeoDataFrame
        With ``location_uncertainty_m``.
    equipment : DataFrame
        With ``equipment_id``, ``kind``.
    radii : dict
        Radius per kind, metres.
    pairs : DataFrame
        ``customers_near`` at the plain radii.

    Returns
    -------
    tuple of DataFrame
        The pairs to keep (customers certainly within), and the review rows
        (``customer_id``, ``issue``, ``detail``).
    """
    from ..locate import proximity_certainty
    from ..proximity import customers_near

    u = customers["location_uncertainty_m"].astype(float).fillna(np.inf)
    fuzzy = customers[(u > 0).to_numpy()]
    empty = pd.DataFrame(columns=[CUSTOMER_ID, "issue", "detail"])
    if fuzzy.empty or equipment.empty:
        return pairs, empty
    u_max = float(fuzzy["location_uncertainty_m"].astype(float).max())
    wider = {k: r + u_max for k, r in radii.items()}
    near = customers_near(fuzzy, equipment, radius=wider)
    kind = equipment.set_index("equipment_id")["kind"]
    r = near["equipment_id"].map(kind).map(radii).astype(float).to_numpy()
    uc = near[CUSTOMER_ID].map(fuzzy.set_index(CUSTOMER_ID)["location_uncertainty_m"])
    verdict = proximity_certainty(near["distance_m"].to_numpy(), r, uc.astype(float).to_numpy())
    plain = pairs[~pairs[CUSTOMER_ID].isin(set(fuzzy[CUSTOMER_ID]))]
    kept = pd.concat([plain, near[verdict == "within"][list(pairs.columns)]], ignore_index=True)
    doubt = near[verdict == "location_uncertain"]
    review = pd.DataFrame(
        {
            CUSTOMER_ID: doubt[CUSTOMER_ID].to_numpy(),
            "issue": "location_uncertain",
            "detail": [
                f"placed to within {uu:,.0f} m, {d:,.0f} m from {e} (radius {rr:,.0f} m): "
                "may or may not be close enough for an installation letter"
                for uu, d, e, rr in zip(
                    uc[verdict == "location_uncertain"].to_numpy(),
                    doubt["distance_m"].to_numpy(),
                    doubt["equipment_id"].to_numpy(),
                    r[verdict == "location_uncertain"],
                    strict=True,
                )
            ],
        }
    ).drop_duplicates(CUSTOMER_ID)
    return kept, review if len(review) else empty
