"""Place the customers a reader rejected for missing coordinates, and read them again.

Used by ``read_customers(..., locate=...)`` and the campaign's ``[locate]`` step: the rows
rejected for ``missing_coordinates`` are placed by :func:`locate_customers` (UPRN, then
address matching, then postcode centroid) and read again, as a data frame, through the
same reader with the coordinates found, so every other check applies to them exactly as
to any row and their ``source_row`` is their row in the input. Rows that cannot be placed
stay rejected, the message saying why. Every valid customer carries ``location_source``
(``supplied`` for coordinates from the input) and ``location_uncertainty_m``; a placed
customer whose match a person should check is a ``location_check`` review row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._customer_table import CustomerTable, columns_of
from ..io._files import load_table
from ..io._result import ReadResult
from ..schema import CUSTOMER_ID

__all__ = ["LocateSettings", "Located", "locate_rejected"]


@dataclass(frozen=True)
class LocateSettings:
    """Reference data to place customers that have no usable coordinates.

    See :func:`smartstreet_geo.locate.locate_customers`: by UPRN, then address
    matching, then postcode centroid.
    """

    uprn_gazetteer: Path | None = None
    addresses: Path | None = None
    address_columns: dict[str, str] = field(default_factory=dict)
    codepoint: Path | None = None
    accept_score: float = 90.0
    min_gap: float = 8.0

    @classmethod
    def of(cls, value: LocateSettings | Mapping[str, Any]) -> LocateSettings:
        """Return settings from themselves or a mapping of the same keys."""
        if isinstance(value, LocateSettings):
            return value
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            from ..errors import ParameterError

            raise ParameterError(
                f"locate: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(known))}."
            )

        def path(key: str) -> Path | None:
            v = value.get(key)
            return Path(v) if v else None

        return cls(
            uprn_gazetteer=path("uprn_gazetteer"),
            addresses=path("addresses"),
            address_columns=dict(value.get("address_columns") or {}),
            codepoint=path("codepoint"),
            accept_score=float(value.get("accept_score", 90.0)),
            min_gap=float(value.get("min_gap", 8.0)),
        )


@dataclass
class Located:
    """What the locate step did.

    Attributes
    ----------
    read : ReadResult
        The input as read, with the rows placed here moved from the rejects to
        the data (with ``location_source``, ``location_uncertainty_m``).
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


def _supplied(data: gpd.GeoDataFrame | CustomerTable) -> gpd.GeoDataFrame | CustomerTable:
    # assign, not copy(): with copy-on-write the other columns are shared, not duplicated
    if isinstance(data, CustomerTable):
        frame = data.frame.assign(location_source="supplied", location_uncertainty_m=0.0)
        return data.with_frame(frame)
    return data.assign(location_source="supplied", location_uncertainty_m=0.0)


def _with_located(
    data: gpd.GeoDataFrame | CustomerTable, new: gpd.GeoDataFrame
) -> gpd.GeoDataFrame | CustomerTable:
    """Return the rows read and the rows located, in the file's order (``source_row``).

    A table stays a table (the located rows' points, a few, become coordinates).
    """
    added = CustomerTable.of(new) if isinstance(data, CustomerTable) else new
    if isinstance(data, CustomerTable) and isinstance(added, CustomerTable):
        frame = pd.concat([data.frame, added.frame], ignore_index=True)
        order = np.argsort(frame["source_row"].to_numpy(), kind="stable")
        if not (order == np.arange(order.size)).all():  # (in order already: nothing placed)
            frame = frame.take(order).reset_index(drop=True)
        return CustomerTable(
            frame=frame,
            x=np.concatenate([data.x, added.x])[order],
            y=np.concatenate([data.y, added.y])[order],
            geometry_name=data.geometry_name,
            at=data.at,
            crs=data.crs,
        )
    if isinstance(data, CustomerTable):  # (not plain points: held as the GeoDataFrame)
        data = data.geodataframe()
    joined = pd.concat([data, new], ignore_index=True)
    return gpd.GeoDataFrame(
        joined.sort_values("source_row", kind="stable").reset_index(drop=True),
        geometry=data.geometry.name,
        crs=data.crs,
    )


def locate_rejected(
    cust_r: ReadResult,
    source: Any,
    settings: LocateSettings | None,
    warnings: list[str],
    *,
    encoding: str | None = None,
) -> Located:
    """Place the customers a reader rejected for missing coordinates, and read them again.

    Parameters
    ----------
    cust_r : ReadResult
        The customer input as read.
    source : path or DataFrame
        What was read (its raw rows are taken again for the rejected ones).
    settings : LocateSettings or None
        The reference data; None: nothing is placed (every customer ``supplied``).
    warnings : list of str
        Appended to: customers that could not be placed (counts only).
    encoding : str, optional
        Of a CSV source.

    Returns
    -------
    Located
    """
    rej = cust_r.rejects
    missing = rej[rej["reason_code"] == "missing_coordinates"]
    base = {"supplied": len(cust_r.data)}
    if settings is None or missing.empty:
        return Located(replace(cust_r, data=_supplied(cust_r.data)), counts=base)
    from ..io import read_customers
    from . import locate_customers, read_address_gazetteer, read_codepoint, read_uprn_gazetteer

    rows = missing["row_number"].astype(int).to_numpy()
    if isinstance(source, pd.DataFrame):
        labels = source.index
        by_label = pd.api.types.is_integer_dtype(labels.dtype) and labels.is_unique
        raw_rows = source.loc[rows] if by_label else source.iloc[rows - 1]
    else:
        raw_rows = load_table(source, encoding=encoding).frame.iloc[rows - 1]
    if isinstance(raw_rows, gpd.GeoDataFrame):  # its (missing) geometry is not text to match
        raw_rows = pd.DataFrame(raw_rows.drop(columns=raw_rows.geometry.name))
    canonical = {k: v for k, v in cust_r.columns_used.items() if k in raw_rows.columns}
    frame = raw_rows[list(canonical)].rename(columns=canonical)
    frame.index = pd.Index(rows)
    for col in ("easting", "northing", "longitude", "latitude", "geometry"):
        frame = frame.drop(columns=col, errors="ignore")
    res = locate_customers(
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
    )
    found = res.data
    placed = found.geometry.notna().to_numpy() & ~found.geometry.is_empty.to_numpy()
    where = found[placed]
    again = frame.loc[where.index].copy()
    again["easting"] = where.geometry.x.to_numpy()
    again["northing"] = where.geometry.y.to_numpy()
    # the same checks as any row (a postcode against the point found, duplicates ...), their
    # rejects naming the file read, not "DataFrame"
    again.attrs["source"] = Path(str(cust_r.source)).name
    r2 = read_customers(again, encoding=None)
    new = r2.data.copy()
    info = found.loc[new["source_row"].astype(int).to_numpy()]
    new["location_source"] = info["location_source"].to_numpy()
    new["location_uncertainty_m"] = info["location_uncertainty_m"].astype(float).to_numpy()
    # one id, two rows: the one with coordinates stands; the located one stays rejected
    # pyarrow's is_in: pandas' isin converts each of the (many) values to a scalar in Python
    clash = pc.is_in(
        _arrow_text(new[CUSTOMER_ID]), value_set=_arrow_text(columns_of(cust_r.data)[CUSTOMER_ID])
    ).to_numpy(zero_copy_only=False)
    new = new[~clash]
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
    data = _with_located(_supplied(cust_r.data), new)
    checks = info[info["location_review"].fillna(False).astype(bool).to_numpy()]
    checks = checks[checks.index.isin(list(moved))]
    # the candidates a person chooses among (UPRNs and scores: no personal data)
    cands = res.candidates
    listed: dict[str, str] = {}
    if len(cands):
        for cid, g in cands.sort_values(["customer_id", "rank"]).groupby("customer_id", sort=False):
            listed[str(cid)] = ", ".join(
                f"UPRN {u} ({sc:.0f})" for u, sc in zip(g["uprn"], g["score"], strict=True)
            )
    raw_ids = frame[CUSTOMER_ID].astype(str) if CUSTOMER_ID in frame else pd.Series(dtype=str)
    review = pd.DataFrame(
        {
            CUSTOMER_ID: new.set_index("source_row").loc[checks.index, CUSTOMER_ID].to_numpy(),
            "issue": "location_check",
            "detail": [
                f"placed by {s.replace('_', ' ')} ({r}): check the location"
                + (f"; candidates: {listed[c]}" if c in listed else "")
                for s, r, c in zip(
                    checks["location_source"],
                    checks["location_reason"],
                    raw_ids.reindex(checks.index).fillna("").to_numpy(),
                    strict=True,
                )
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
            "with the locate reference data: they stay rejected (see rejects.csv)"
        )
    read = ReadResult(
        data=data,
        rejects=rejects,
        source=cust_r.source,
        n_input=cust_r.n_input,
        notes=(*cust_r.notes, f"{len(moved):,} rows without coordinates placed (locate)"),
        columns_used=cust_r.columns_used,
        columns_unused=cust_r.columns_unused,
        columns_unused_labels=cust_r.columns_unused_labels,
    )
    return Located(read, counts=counts, review=review)


def _arrow_text(values: pd.Series) -> pa.Array:
    """Return the texts of ``values`` as one Arrow array (for :func:`pyarrow.compute.is_in`)."""
    arr = pa.array(values.astype("string").array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
