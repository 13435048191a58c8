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

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._customer_table import CustomerTable, columns_of, geo_rows
from ..io._result import ReadResult
from ..locate import _reread
from ..locate._reread import Located
from ..schema import CUSTOMER_ID
from .config import CampaignConfig

__all__ = ["LOCATION_ISSUES", "Located", "locate_rejected", "uncertain_pairs"]

#: Manual-review issues this step raises.
LOCATION_ISSUES = ("location_check", "location_uncertain")


def locate_rejected(
    cust_r: ReadResult, cfg: CampaignConfig, warnings: list[str], *, source: Any = None
) -> Located:
    """Place the customers rejected for missing coordinates, with ``cfg.locate``'s data.

    ``source`` is what was read when it is not ``cfg.customers`` (a partition's rows).
    """
    return _reread.locate_rejected(
        cust_r, cfg.customers if source is None else source, cfg.locate, warnings,
        encoding=cfg.encoding,
    )  # fmt: skip


def uncertain_pairs(
    customers: gpd.GeoDataFrame | CustomerTable,
    equipment: pd.DataFrame,
    radii: dict[str, float],
    pairs: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decide proximity honestly for customers placed with an uncertainty.

    A customer placed with uncertainty ``u`` (a postcode centroid, an address match
    among close candidates) whose distance ``d`` to equipment of radius ``r`` has
    ``|d - r| <= u`` cannot be said to be within or outside: it goes to manual review
    (``location_uncertain``), neither written to nor left out silently.

    Parameters
    ----------
    customers : GeoDataFrame or CustomerTable
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

    u = columns_of(customers)["location_uncertainty_m"].astype(float).fillna(np.inf)
    fuzzy = geo_rows(customers, (u > 0).to_numpy())  # (a table's only rows made points)
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
