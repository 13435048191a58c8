"""Readers for customers, equipment and network files.

Every reader returns a :class:`~smartstreet_geo.io.ReadResult`: a GeoDataFrame
of valid rows in British National Grid and a table of rejected rows with
reasons. No row is dropped silently and nothing is guessed: exact duplicates
collapse to one row (the copies are listed as ``exact_duplicate``), conflicting
duplicates are all rejected for a person to decide.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from geopandas.array import GeometryArray
from pyproj import CRS

from .._customer_table import CustomerTable
from .._ids import coded_ids
from ..errors import InputFileError, MissingColumnError
from ..locate import check_against_postcodes, normalise_postcodes, valid_postcodes
from ..schema import (
    ADDRESS_LINES,
    BNG_CRS,
    CIRCUIT_ID,
    CONNECTION_NODE,
    CUSTOMER_ID,
    CUSTOMER_TEXT_COLUMNS,
    EASTING,
    EDGE_ID,
    EQUIPMENT_ID,
    FROM_NODE,
    GEOMETRY,
    INSTALL_DATE,
    KIND,
    LATITUDE,
    LONGITUDE,
    NAME,
    NODE,
    NOMINEE_ADDRESS_LINES,
    NOMINEE_POST_TOWN,
    NOMINEE_POSTCODE,
    NORMALLY_OPEN,
    NORTHING,
    OUTAGE_REQUIRED,
    PERSONAL_COLUMNS,
    POST_TOWN,
    POSTCODE,
    PREMISE_ID,
    PSR,
    PSR_NEEDS,
    SOURCE_ROW,
    SUBSTATION_ID,
    TO_NODE,
    EquipmentKind,
    Reason,
)
from ._columns import ColumnPlan, header_looks_like_data, resolve_columns
from ._coords import locate_rows
from ._fields import (
    Rejects,
    clean_text,
    clean_texts,
    in_threads,
    missing_text,
    none_mask,
    parse_bool,
    parse_date,
)
from ._files import RawTable, load_frame, load_sql, load_table
from ._result import NetworkReadResult, ReadResult

__all__ = ["read_customer_table", "read_customers", "read_equipment", "read_network"]

log = logging.getLogger(__name__)

_LOCATION_COLUMNS = (EASTING, NORTHING, LONGITUDE, LATITUDE, GEOMETRY)
CUSTOMER_COLUMNS = (CUSTOMER_ID, *CUSTOMER_TEXT_COLUMNS, PSR)
EQUIPMENT_COLUMNS = (EQUIPMENT_ID, KIND, CIRCUIT_ID, SUBSTATION_ID, INSTALL_DATE, OUTAGE_REQUIRED)
EDGE_COLUMNS = (EDGE_ID, FROM_NODE, TO_NODE, CIRCUIT_ID, SUBSTATION_ID, NORMALLY_OPEN)
SUBSTATION_COLUMNS = (SUBSTATION_ID, NODE, NAME)

Columns = Mapping[str, str] | None
#: What a reader takes: a file path, a pandas DataFrame or GeoDataFrame, or (with
#: ``sql=``) a database URL or SQLAlchemy Engine/Connection.
Input = str | Path | pd.DataFrame | Any
_CLI_KIND = {
    "customer": "customers",
    "equipment": "equipment",
    "network edge": "edges",
    "substation": "substations",
}


@dataclass
class _Prepared:
    raw: RawTable
    frame: pd.DataFrame  # canonical column names, raw values
    names: dict[str, str]  # canonical -> name in the file
    rejects: Rejects
    notes: list[str]
    plan: ColumnPlan


#: What a reject that concerns a whole row (not one column) names as its column.
WHOLE_ROW = "(whole row)"
_PAIRS = ((EASTING, NORTHING), (LONGITUDE, LATITUDE))


def _load(
    source: Input,
    *,
    sql: str | None,
    geom_col: str | None,
    encoding: str | None,
    layer: str | int | None,
    crs: Any,
    delimiter: str | None,
) -> RawTable:
    """Load a file, a data frame or a query result as raw values."""
    if sql is not None:
        if isinstance(source, (pd.DataFrame, Path)):
            raise TypeError(
                "sql=... needs a database URL or a SQLAlchemy Engine/Connection as the input, "
                f"not a {type(source).__name__}"
            )
        return load_sql(source, sql, crs=crs, geom_col=geom_col)
    if isinstance(source, pd.DataFrame):
        name = source.attrs.get("source")  # e.g. a partition of a file: named as the file
        return load_frame(source, crs=crs, source=name if isinstance(name, str) else None)
    if isinstance(source, str) and "://" in source:
        raise InputFileError(
            "a database URL needs a query: read_customers(url, sql='SELECT ... FROM ...')."
        )
    if not isinstance(source, (str, Path)):
        raise TypeError(
            "give a file path, a pandas DataFrame or GeoDataFrame, or a database URL or "
            f"SQLAlchemy Engine with sql=...; not a {type(source).__name__}"
        )
    return load_table(source, encoding=encoding, layer=layer, delimiter=delimiter, crs=crs)


def _whole_columns(frame: pd.DataFrame, positions: Sequence[int]) -> None:
    """Make each Arrow-backed column of ``frame`` at ``positions`` one array (in place).

    Arrow's readers give columns in pieces (a CSV block or Parquet batch each: 19 at
    2.4 M customers), and Arrow takes rows of a chunked text column by first
    concatenating the whole column: every later selection of rows (contacts, letters,
    review rows) would copy each column again. One concatenation here instead. A
    column too large for one array (32-bit offsets) stays as it is. Column by column, in
    the frame read (not a copy of it): each column's pieces are let go as soon as it is
    whole, instead of the file's text being held twice (0.7 GB at 2.4 M customers).
    """
    import pyarrow as pa

    for i in positions:
        arr = frame.iloc[:, i].array
        if not isinstance(arr, pd.arrays.ArrowExtensionArray):
            continue
        chunked = pa.array(arr)  # the array's own Arrow data (``__arrow_array__``), no copy
        if not isinstance(chunked, pa.ChunkedArray) or chunked.num_chunks <= 1:
            continue
        arr_dtype = arr.dtype
        try:
            whole = chunked.combine_chunks()
        except pa.ArrowException:  # offsets past 2 GiB, say: left in pieces, as read
            continue
        del arr, chunked
        frame.isetitem(i, pd.array(whole, dtype=arr_dtype))


def _prepare(
    path: Input,
    wanted: Sequence[str],
    required: Sequence[str],
    *,
    what: str,
    columns: Columns,
    encoding: str | None,
    layer: str | int | None,
    crs: Any,
    delimiter: str | None,
    sql: str | None = None,
    geom_col: str | None = "geom",
) -> _Prepared:
    raw = _load(
        path,
        sql=sql,
        geom_col=geom_col,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=delimiter,
    )
    source = raw.source
    usable = (*wanted, *_LOCATION_COLUMNS)
    plan = resolve_columns(raw.frame.columns, usable, columns, source=source)
    plan, notes = _settle_location_columns(plan, has_geometry=raw.geometry is not None)
    names = {canon: src for src, canon in plan.used.items()}
    missing = [c for c in required if c not in names]
    if missing:
        advice = (
            " The first line looks like data, not column names: add a header line naming the "
            "columns."
            if header_looks_like_data(plan.present)
            else ""
        )
        raise MissingColumnError(
            f"{source}: {what} file has no {', '.join(map(repr, missing))} column. "
            f"Columns in the file: {', '.join(plan.labels) or 'none'}.{advice} Rename the column "
            f"or map it, e.g. columns={{'YOUR NAME': {missing[0]!r}}} (CLI: --map "
            f"'{_CLI_KIND[what]}:YOUR NAME={missing[0]}')."
        )
    # select by position: an unused name may repeat, a used one never does
    at = [i for i, c in enumerate(plan.present) if c in plan.used]
    _whole_columns(raw.frame, at)
    frame = raw.frame.iloc[:, at].set_axis([plan.used[plan.present[i]] for i in at], axis=1)
    frame = frame.reset_index(drop=True)
    rejects = Rejects(len(frame), source)
    rejects.labels = raw.row_labels
    rejects.personal = frozenset(s for s, c in plan.used.items() if c in PERSONAL_COLUMNS)
    if raw.field_counts is not None and raw.n_fields is not None:
        found = raw.field_counts
        ragged = found != raw.n_fields
        rejects.add(
            ragged,
            Reason.WRONG_FIELD_COUNT,
            WHOLE_ROW,
            np.char.add(found.astype(str), " fields"),
            np.char.add(
                f"expected {raw.n_fields} fields (one per header name), found ",
                found.astype(str),
            ),
        )
        if ragged.any():
            k = int(ragged.sum())
            notes.append(
                f"{k} row{' has' if k == 1 else 's have'} more or fewer fields than the header: "
                "rejected (wrong_field_count), nothing in them is used"
            )
    return _Prepared(raw, frame, names, rejects, notes, plan)


def _settle_location_columns(
    plan: ColumnPlan, *, has_geometry: bool
) -> tuple[ColumnPlan, list[str]]:
    """Move location columns that would not be read from used to unused, saying why.

    Half a coordinate pair (``easting`` without ``northing``) locates nothing, and a
    WKT ``geometry`` column is not read when the file has a geometry or a pair
    (the pairs are read and checked against each other and the geometry instead).
    """
    names = {canon: src for src, canon in plan.used.items()}
    drop: list[str] = []
    notes: list[str] = []
    for a, b in _PAIRS:
        if (a in names) != (b in names):
            have, lack = (a, b) if a in names else (b, a)
            drop.append(names[have])
            notes.append(f"column {names[have]!r} ({have}) not used: there is no {lack} column")
    pair = any(a in names and b in names for a, b in _PAIRS)
    if GEOMETRY in names and (has_geometry or pair):
        drop.append(names[GEOMETRY])
        by = "the file's geometry" if has_geometry else "the coordinate columns"
        notes.append(f"column {names[GEOMETRY]!r} not used: locations are taken from {by}")
    return plan.without(drop), notes


def _check_text(p: _Prepared, columns: Sequence[str]) -> dict[str, pd.Series]:
    """Clean text columns, reject over-long values; absent columns become all-missing."""
    n = len(p.frame)
    present = [c for c in columns if c in p.frame]
    cleaned = dict(zip(present, clean_texts([p.frame[c] for c in present]), strict=True))
    out: dict[str, pd.Series] = {}
    for col in columns:
        if col not in cleaned:
            out[col] = missing_text(n)
            continue
        text, long = cleaned[col]
        p.rejects.add(long, Reason.FIELD_TOO_LONG, p.names[col], text)
        out[col] = text
    return out


def _check_ids(p: _Prepared, ids: pd.Series, id_col: str) -> None:
    """Reject blank rows (nothing in any column) and rows without an id."""
    p.rejects.ids = ids
    no_id = ids.isna().to_numpy()
    blank = _blank_rows(p.raw, no_id & p.rejects.ok)
    p.rejects.add(blank, Reason.BLANK_ROW, WHOLE_ROW, "")
    if blank.any():
        k = int(blank.sum())
        p.notes.append(
            f"{k} blank row{'s' * (k != 1)} (no value in any column) counted and skipped"
        )
    p.rejects.add(no_id, Reason.MISSING_ID, p.names[id_col], "")


def _blank_rows(raw: RawTable, candidates: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Return the rows among ``candidates`` with no value in any column (nor a geometry).

    Only the candidates (rows without an id: a handful) are looked at.
    """
    out = np.zeros(len(candidates), dtype=bool)
    rows = np.flatnonzero(candidates)
    if not rows.size:
        return out
    blank = np.ones(rows.size, dtype=bool)
    sub = raw.frame.iloc[rows]
    for j in range(sub.shape[1]):
        blank &= clean_text(sub.iloc[:, j].reset_index(drop=True)).isna().to_numpy()
    if raw.geometry is not None:
        blank &= none_mask(raw.geometry[rows])
    out[rows[blank]] = True
    return out


def _check_duplicates(p: _Prepared, ids: pd.Series, id_col: str, signature: pd.DataFrame) -> None:
    """Collapse exact duplicates, reject every row of a conflicting duplicate."""
    codes, dup_any = coded_ids(ids)  # (missing ids never repeat: they match nothing)
    keys = pd.Series(codes)
    if not dup_any.any():
        return
    # hash only the rows whose id repeats (a handful in a real file)
    dup_sig = signature.iloc[np.flatnonzero(dup_any)].astype("str").fillna("\x00")
    for col in _LOCATION_COLUMNS:  # raw location values of the repeated rows only
        if col in p.frame:
            dup_sig[col] = p.frame[col].iloc[np.flatnonzero(dup_any)].astype("str").to_numpy()
    if p.raw.geometry is not None:  # a file's (or frame's) own geometry is a location too
        import shapely

        at = np.flatnonzero(dup_any)
        dup_sig["\x00geometry"] = shapely.to_wkb(p.raw.geometry[at], hex=True)
    sig = pd.util.hash_pandas_object(dup_sig, index=False).to_numpy()
    sub = pd.DataFrame({"id": ids[dup_any].to_numpy(), "sig": sig})
    distinct = sub.groupby("id", sort=False)["sig"].transform("nunique").to_numpy()
    rows = np.flatnonzero(dup_any)
    conflict = np.zeros(len(ids), dtype=bool)
    conflict[rows[distinct > 1]] = True
    dup_ids = ids[dup_any]
    first_of = (
        pd.Series(p.rejects.number(rows), index=dup_ids.index)
        .groupby(dup_ids.to_numpy())
        .transform("first")
    )
    first_row = np.zeros(len(ids), dtype=np.int64)
    first_row[rows] = first_of.to_numpy()
    # later copies of a repeated id: among the rows whose id repeats (their order kept)
    exact = np.zeros(len(ids), dtype=bool)
    exact[rows] = keys.iloc[rows].duplicated(keep="first").to_numpy()
    exact &= ~conflict
    name = p.names[id_col]
    n_conflict_ids = int(pd.Series(ids[conflict]).nunique())
    p.rejects.add(
        conflict,
        Reason.CONFLICTING_DUPLICATE,
        name,
        ids,
        _rows_by_id(ids, conflict, p.rejects),
    )
    same_as = np.full(len(ids), None, dtype=object)  # the text only where it is used
    same_as[exact] = [f"same as row {r}" for r in first_row[exact].tolist()]
    p.rejects.add(exact, Reason.EXACT_DUPLICATE, name, ids, same_as)
    if exact.any():
        p.notes.append(f"{int(exact.sum())} exact duplicate rows collapsed into the first copy")
    if conflict.any():
        p.notes.append(
            f"{int(conflict.sum())} rows share {n_conflict_ids} ids with different data: "
            "all rejected for review"
        )


def _rows_by_id(ids: pd.Series, mask: npt.NDArray[np.bool_], rejects: Rejects) -> npt.NDArray[Any]:
    out = np.full(len(ids), None, dtype=object)
    if not mask.any():
        return out
    sub = ids[mask]
    groups = sub.groupby(sub, sort=False).groups
    for _key, idx in groups.items():
        text = "rows " + ", ".join(map(str, rejects.number(np.asarray(idx)).tolist()))
        out[np.asarray(idx)] = text
    return out


def _finish(
    p: _Prepared,
    what: str,
    columns: dict[str, Any],
    geometry: npt.NDArray[Any] | None,
    xy: dict[str, npt.NDArray[np.float64]] | None = None,
) -> ReadResult:
    """Return the valid rows as the reader's result; rejects and notes from ``p``.

    Consumes ``columns`` and the file's values (``p.frame``, ``p.raw.frame``): each
    column is let go as soon as its valid rows are taken, so that the file's columns
    and their filtered copies are not all held at once (0.7 GB at 2.4 M customers).
    Without ``geometry`` (no points made), the rows' ``xy`` coordinates make the result's
    data a :class:`~smartstreet_geo._customer_table.CustomerTable` instead of a
    GeoDataFrame.
    """
    ok = p.rejects.ok
    keep = np.flatnonzero(ok)
    n_input = len(p.frame)
    p.frame = p.raw.frame = pd.DataFrame()  # nothing reads them after this
    names = list(columns)
    kept = in_threads(lambda name: _kept(columns.pop(name), ok, keep), names, rows=ok.size)
    data = dict(zip(names, kept, strict=True))
    data[SOURCE_ROW] = p.rejects.number(keep)
    gdf: gpd.GeoDataFrame | CustomerTable
    if geometry is None:
        if xy is None:
            raise ValueError("no geometry and no coordinates to place the rows by")
        frame = pd.DataFrame(data)
        x, y = xy["x"][keep], xy["y"][keep]
        crs = CRS.from_user_input(BNG_CRS)  # (as a GeoDataFrame holds it)
        gdf = CustomerTable(frame, x, y, GEOMETRY, len(frame.columns), crs)
    else:
        # the geometries are shapely objects or None by construction: wrap them as they are
        # (GeoSeries(...) would check every one of a million again)
        geoms = gpd.GeoSeries(GeometryArray(geometry[ok], crs=BNG_CRS))
        gdf = gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs=BNG_CRS)
    notes = list(p.notes)
    if not n_input:
        notes.append(f"the {what} file has no rows")
    result = ReadResult(
        data=gdf,
        rejects=p.rejects.table(),
        source=str(p.raw.source),
        n_input=n_input,
        notes=tuple(notes),
        columns_used=dict(p.plan.used),
        columns_unused=p.plan.unused,
        columns_unused_labels=p.plan.unused_labels,
    )
    log.info("%s", result.summary())
    return result


def _kept(col: Any, ok: npt.NDArray[np.bool_], keep: npt.NDArray[np.intp]) -> Any:
    """Return the valid rows of one output column (text: an Arrow filter, 2x faster than take)."""
    if isinstance(col, np.ndarray):
        return col[keep]
    if pd.api.types.is_string_dtype(col.dtype) and not pd.api.types.is_object_dtype(col.dtype):
        import pyarrow as pa

        arr = pa.chunked_array(pa.array(col, from_pandas=True)).filter(pa.array(ok))
        return pd.Series(pd.array(arr, dtype="str"))
    return col.iloc[keep].reset_index(drop=True)


def _signature(parts: dict[str, Any]) -> pd.DataFrame:
    """Return the cleaned values that make two rows with one id the same row."""
    sig = pd.DataFrame(
        {k: (v if isinstance(v, pd.Series) else pd.Series(v)) for k, v in parts.items()}
    )
    return sig.reset_index(drop=True)


def _normalise_postcodes_once(
    postcodes: pd.Series,
) -> tuple[pd.Series, npt.NDArray[np.bool_], pd.Categorical]:
    """Normalise and validate each distinct postcode once; return per-row results.

    Also returns the normalised postcodes as a categorical, which later
    look-ups (the district check) factorize for free.
    """
    import pyarrow as pa

    codes, uniques = pd.factorize(postcodes)
    norm_u = normalise_postcodes(pd.Series(uniques, dtype="str"))
    norm_codes, norm_cats = pd.factorize(norm_u)
    category = (
        np.where(codes >= 0, norm_codes[np.clip(codes, 0, None)], -1)
        if norm_codes.size
        else np.full(codes.size, -1)  # every postcode blank
    )
    as_category = pd.Categorical.from_codes(category, categories=pd.Index(norm_cats, dtype="str"))
    valid_u = valid_postcodes(norm_u)
    missing = codes < 0
    take = pa.array(np.where(missing, 0, codes), mask=missing)
    norm = pd.Series(
        pd.array(pa.array(norm_u, from_pandas=True).take(take), dtype="str"),
        index=postcodes.index,
    )
    valid = ~missing & (valid_u[np.where(missing, 0, codes)] if valid_u.size else False)
    return norm, np.asarray(valid, dtype=bool), as_category


def _required_flag(
    p: _Prepared, column: str, *, absent_note: str, missing_advice: str
) -> pd.Series:
    """Parse a true/false column that decides something: bad or blank values are rejected.

    A file without the column is read as all false, and a note says so.
    """
    n = len(p.frame)
    if column not in p.frame:
        p.notes.append(absent_note)
        return pd.Series(False, index=range(n), dtype="boolean")
    flags, bad = parse_bool(p.frame[column])
    p.rejects.add(
        bad, Reason.INVALID_VALUE, p.names[column], p.frame[column], "expected true/false"
    )
    p.rejects.add(
        flags.isna().to_numpy(), Reason.MISSING_VALUE, p.names[column], "", missing_advice
    )
    return flags


def _locate(
    p: _Prepared,
    crs: Any,
    geom_types: tuple[str, ...],
    xy_out: dict[str, npt.NDArray[np.float64]] | None = None,
    points: bool = True,
) -> npt.NDArray[Any] | None:
    """Locate every row of ``p`` (see :func:`~smartstreet_geo.io._coords.locate_rows`)."""
    return locate_rows(
        p.frame,
        p.raw.geometry,
        p.raw.crs,
        crs,
        p.rejects,
        source=p.raw.source,
        geom_types=geom_types,
        source_names=p.names,
        xy_out=xy_out,
        points=points,
    )


# --------------------------------------------------------------------------- customers
def read_customers(
    path: Input,
    *,
    columns: Columns = None,
    crs: Any = None,
    encoding: str | None = None,
    layer: str | int | None = None,
    delimiter: str | None = None,
    check_postcodes: bool = True,
    sql: str | None = None,
    geom_col: str | None = "geom",
    locate: Any = None,
) -> ReadResult:
    """Read a customer file into British National Grid, keeping every row accounted for.

    Parameters
    ----------
    path : str, Path, DataFrame, GeoDataFrame or database
        CSV (UTF-8 with or without BOM; other encodings via ``encoding``),
        Parquet/GeoParquet, GeoPackage or GeoJSON; or a pandas DataFrame or
        GeoDataFrame already in memory (mapped, checked and rejected exactly as
        a file; a GeoDataFrame's geometry and CRS are used like a GeoPackage's,
        and the rejects' ``row_number`` and the rows' ``source_row`` are the
        frame's index labels when these are unique integers, else 1-based
        positions; messages name a frame by its ``attrs["source"]`` when that is
        text, e.g. the file a partition came from); or, with ``sql``, a database URL such as
        ``"postgresql://HOST:PORT/DATABASE"`` or a SQLAlchemy Engine/Connection.
    columns : mapping, optional
        ``{name in the file: canonical name}`` for columns named differently,
        e.g. ``{"MPAN": "customer_id", "X": "easting", "Y": "northing"}``.
        Canonical names match case-insensitively, and well-known aliases
        (``MPAN``, ``UPRN``, ``lat``/``lon``) are recognised without a mapping.
    crs : optional
        Only for a geometry column without a CRS of its own. ``easting``/
        ``northing`` are always British National Grid and ``longitude``/
        ``latitude`` ETRS89/WGS84 degrees; a CRS is never assumed otherwise.
    encoding : str, optional
        Text encoding of a CSV file (default UTF-8, BOM or not).
    layer : str or int, optional
        Layer of a multi-layer file (GeoPackage).
    delimiter : str, optional
        CSV field separator (default ``,``; tab for ``.tsv``).
    check_postcodes : bool, default True
        Check coordinates against the postcode's district (catches
        easting/northing swapped inside England, and wrong postcodes).
    sql : str, optional
        A query run on the database ``path`` names (through SQLAlchemy; e.g.
        PostGIS). Its result is read like a file; row numbers are the result's
        1-based rows, so give the query an ``ORDER BY``.
    geom_col : str or None, default "geom"
        The query's PostGIS geometry column, when it has one (its SRID is the
        CRS and must be the same in every row); ``None`` or a query without
        that column reads locations from coordinate columns.
    locate : LocateSettings or mapping, optional
        Reference data to place rows without coordinates instead of rejecting them
        (``{"uprn_gazetteer": ..., "addresses": ..., "codepoint": ...}``, see
        :func:`smartstreet_geo.locate.locate_customers`): placed rows are read like any
        other and carry ``location_source`` and ``location_uncertainty_m`` (every valid
        row does, ``supplied`` for coordinates from the input); rows that cannot be
        placed stay rejected with the reason. Not with ``sql``.

    Returns
    -------
    ReadResult
        ``data``: one row per valid customer with ``customer_id``,
        ``premise_id``, ``name``, ``address_line_1..3``, ``post_town``,
        ``postcode`` (normalised), ``psr`` (bool), ``psr_needs``, ``phone``,
        ``nominee_name``, ``nominee_phone``, ``circuit_id``, ``substation_id``,
        ``connection_node``, ``source_row`` and Point geometry in EPSG:27700;
        ``rejects``: every other row, with its reason.

    Raises
    ------
    InputFileError
        The file cannot be read (missing, empty, not valid text in the encoding).
    MissingColumnError
        No ``customer_id`` or no location columns.
    CoordinateError, CRSError
        The file's coordinates are wrong as a whole (e.g. degrees in easting
        columns, latitude and longitude exchanged).

    See Also
    --------
    read_equipment, read_network

    Notes
    -----
    Text is stripped and runs of whitespace (including newlines inside quoted
    CSV fields) become one space. ``psr`` accepts Y/N, yes/no, true/false,
    1/0; a blank flag is taken from ``psr_needs`` (codes present means on
    the register). Rows are rejected (never dropped) for: a blank id,
    conflicting duplicates, missing or implausible coordinates, a blank or
    malformed postcode, coordinates far from the postcode's district, values
    longer than 255 characters, a PSR flag that contradicts the needs codes.

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> result = ssg.read_customers(ssg.demo.path("customers"))
    >>> result.n_valid + result.n_rejected == result.n_input
    True
    >>> customers, rejects = result
    >>> customers.crs.to_epsg()
    27700

    A data frame is read like the same rows in a file:

    >>> import pandas as pd
    >>> frame = pd.read_parquet(ssg.demo.path("customers"))
    >>> ssg.read_customers(frame).n_valid == result.n_valid
    True
    """
    result = _read_customer_rows(
        path,
        columns=columns,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=delimiter,
        sql=sql,
        geom_col=geom_col,
        check_postcodes=check_postcodes,
        points=True,
    )
    if locate is None:
        return result
    if sql is not None:
        raise TypeError("locate=... reads the input again: not with sql=...")
    from ..locate._reread import LocateSettings, locate_rejected

    said: list[str] = []
    done = locate_rejected(result, path, LocateSettings.of(locate), said, encoding=encoding)
    for w in said:
        log.warning("%s", w)
    return done.read


def read_customer_table(
    path: Input, *, columns: Columns = None, encoding: str | None = None
) -> ReadResult:
    """Read customers as :func:`read_customers` does, without making a point for each.

    The campaign's run reads its customers with this: the same checks, rejects and
    rows, but when they are located by coordinate columns the result's ``data`` is a
    :class:`~smartstreet_geo._customer_table.CustomerTable` (the columns, and each
    row's easting and northing), not a GeoDataFrame: at 5 million customers the points
    are 1 GiB and 1-2 s to make and free, and the run reads them back as coordinates
    (see :mod:`smartstreet_geo._customer_table`). A file with a geometry of its own
    (GeoPackage, GeoParquet) gives the GeoDataFrame as :func:`read_customers` does.
    ``table.geodataframe()`` is exactly what :func:`read_customers` returns.
    """
    return _read_customer_rows(path, columns=columns, encoding=encoding, points=False)


def _read_customer_rows(
    path: Input,
    *,
    columns: Columns,
    encoding: str | None,
    layer: str | int | None = None,
    crs: Any = None,
    delimiter: str | None = None,
    sql: str | None = None,
    geom_col: str | None = "geom",
    check_postcodes: bool = True,
    points: bool,
) -> ReadResult:
    """Read and check the customer rows (:func:`read_customers` without ``locate``)."""
    p = _prepare(
        path,
        CUSTOMER_COLUMNS,
        (CUSTOMER_ID,),
        what="customer",
        columns=columns,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=delimiter,
        sql=sql,
        geom_col=geom_col,
    )
    # the checks' intermediates (the file's columns, cleaned copies) are let go when the
    # helper returns: only the output columns reach _finish, which lets go of each in turn
    out, geoms, xy = _customer_columns(p, crs, check_postcodes=check_postcodes, points=points)
    return _finish(p, "customer", out, geoms, xy if geoms is None else None)


def _customer_columns(
    p: _Prepared, crs: Any, *, check_postcodes: bool, points: bool = True
) -> tuple[dict[str, Any], npt.NDArray[Any] | None, dict[str, npt.NDArray[np.float64]]]:
    """Check the customer rows (rejects into ``p.rejects``); return the output columns.

    Also the rows' points (None when ``points=False`` and the rows are located by
    coordinate columns) and their coordinates (``{"x": ..., "y": ...}``; empty when
    located by geometries).
    """
    n = len(p.frame)
    ids = clean_text(p.frame[CUSTOMER_ID]) if n else pd.Series([], dtype="str")
    _check_ids(p, ids, CUSTOMER_ID)
    text = _check_text(p, CUSTOMER_TEXT_COLUMNS)
    if PSR in p.frame:
        flags, bad_flag = parse_bool(p.frame[PSR])
    else:
        flags, bad_flag = pd.Series(pd.NA, index=range(n), dtype="boolean"), np.zeros(n, bool)
    _check_duplicates(p, ids, CUSTOMER_ID, _signature({CUSTOMER_ID: ids, **text, PSR: flags}))
    p.rejects.add(
        bad_flag, Reason.INVALID_VALUE, p.names.get(PSR, PSR), p.frame.get(PSR), "expected Y/N"
    )
    has_needs = text[PSR_NEEDS].notna().to_numpy()
    said_no = (flags == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712 - NA-aware
    p.rejects.add(
        said_no & has_needs,
        Reason.INVALID_VALUE,
        p.names.get(PSR, PSR),
        p.frame.get(PSR),
        "PSR flag says no but PSR needs codes are present",
    )
    psr = flags.fillna(pd.Series(has_needs, index=flags.index)).astype(bool)

    postcodes = text[POSTCODE]
    if POSTCODE in p.frame:
        norm, valid, norm_category = _normalise_postcodes_once(postcodes)
        p.rejects.add(norm.isna().to_numpy(), Reason.MISSING_POSTCODE, p.names[POSTCODE], "")
        p.rejects.add(
            ~valid,
            Reason.INVALID_POSTCODE,
            p.names[POSTCODE],
            postcodes,
        )
        postcodes = norm
    else:
        p.notes.append("no postcode column: postcodes not checked")

    located: dict[str, npt.NDArray[np.float64]] = {}
    geoms = _locate(p, crs, ("Point",), located, points=points)
    if check_postcodes and POSTCODE in p.frame and n:
        live = p.rejects.ok
        if live.any():
            import shapely

            rows = np.flatnonzero(live)
            if located:
                px, py = located["x"][rows], located["y"][rows]
            else:
                assert geoms is not None  # (without coordinates, the points were made)
                px, py = shapely.get_coordinates(geoms[live]).T
            verdict = check_against_postcodes(px, py, pd.Series(norm_category.take(rows)))
            hit = np.flatnonzero(~none_mask(verdict))  # a few rows: work on those only
            pairs = np.full(n, None, dtype=object)
            for i, j in zip(rows[hit], hit, strict=True):
                pairs[i] = f"{float(px[j])!r}, {float(py[j])!r} (postcode {postcodes.iloc[i]})"
            for reason in (Reason.SWAPPED_COORDINATES, Reason.POSTCODE_LOCATION_MISMATCH):
                flagged = np.zeros(n, dtype=bool)
                flagged[rows[hit[verdict[hit] == reason.value]]] = True
                p.rejects.add(flagged, reason, "coordinates", pairs)

    out = {
        CUSTOMER_ID: ids,
        PREMISE_ID: text[PREMISE_ID],
        NAME: text[NAME],
        **{c: text[c] for c in ADDRESS_LINES},
        POST_TOWN: text[POST_TOWN],
        POSTCODE: postcodes,
        PSR: psr,
        PSR_NEEDS: text[PSR_NEEDS],
        **{c: text[c] for c in ("phone", "nominee_name", "nominee_phone")},
        **{c: text[c] for c in (*NOMINEE_ADDRESS_LINES, NOMINEE_POST_TOWN, NOMINEE_POSTCODE)},
        CIRCUIT_ID: text[CIRCUIT_ID],
        SUBSTATION_ID: text[SUBSTATION_ID],
        CONNECTION_NODE: text[CONNECTION_NODE],
    }
    return out, geoms, located


# --------------------------------------------------------------------------- equipment
def read_equipment(
    path: Input,
    *,
    columns: Columns = None,
    crs: Any = None,
    encoding: str | None = None,
    layer: str | int | None = None,
    delimiter: str | None = None,
    sql: str | None = None,
    geom_col: str | None = "geom",
) -> ReadResult:
    """Read a file of new equipment into British National Grid.

    Parameters
    ----------
    path, columns, crs, encoding, layer, delimiter, sql, geom_col
        As for :func:`read_customers` (a file, a data frame, or a database query).

    Returns
    -------
    ReadResult
        ``data``: ``equipment_id``, ``kind`` (one of
        :class:`~smartstreet_geo.schema.EquipmentKind`), ``circuit_id``,
        ``substation_id``, ``install_date`` (datetime, NaT when blank),
        ``outage_required`` (bool), ``source_row`` and geometry in EPSG:27700
        (Point, or LineString/Polygon for cable routes and works areas).

    Notes
    -----
    A kind is matched case-insensitively with spaces as underscores
    (``"LV Capacitor"`` is ``lv_capacitor``); an unknown kind is rejected,
    never defaulted. A blank ``outage_required`` is rejected (an outage
    decides who is telephoned); a file without that column is read as "no
    outage" and says so in ``notes``.

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> equipment, rejects = ssg.read_equipment(ssg.demo.path("equipment"))
    >>> sorted(equipment["kind"].unique())[:2]
    ['circuit_breaker', 'link_box_switch']
    """
    p = _prepare(
        path,
        EQUIPMENT_COLUMNS,
        (EQUIPMENT_ID, KIND),
        what="equipment",
        columns=columns,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=delimiter,
        sql=sql,
        geom_col=geom_col,
    )
    n = len(p.frame)
    ids = clean_text(p.frame[EQUIPMENT_ID]) if n else pd.Series([], dtype="str")
    _check_ids(p, ids, EQUIPMENT_ID)
    text = _check_text(p, (KIND, CIRCUIT_ID, SUBSTATION_ID))
    if INSTALL_DATE in p.frame:
        dates, bad_date = parse_date(p.frame[INSTALL_DATE])
    else:
        dates, bad_date = (
            pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            np.zeros(n, bool),
        )
    outage = _required_flag(
        p,
        OUTAGE_REQUIRED,
        absent_note="no outage_required column: no equipment is treated as needing an outage",
        missing_advice="say whether installing it needs an outage (true/false)",
    )
    _check_duplicates(
        p,
        ids,
        EQUIPMENT_ID,
        _signature({EQUIPMENT_ID: ids, **text, INSTALL_DATE: dates, OUTAGE_REQUIRED: outage}),
    )
    kinds = text[KIND].str.lower().str.replace(" ", "_").str.replace("-", "_")
    allowed = [k.value for k in EquipmentKind]
    p.rejects.add(kinds.isna().to_numpy(), Reason.MISSING_VALUE, p.names[KIND], "")
    p.rejects.add(
        ~kinds.isin(allowed).to_numpy(),
        Reason.UNKNOWN_KIND,
        p.names[KIND],
        text[KIND],
        f"allowed: {', '.join(allowed)}",
    )
    p.rejects.add(
        bad_date,
        Reason.INVALID_VALUE,
        p.names.get(INSTALL_DATE, INSTALL_DATE),
        p.frame.get(INSTALL_DATE),
        "expected a date like 2027-03-01 or 01/03/2027",
    )
    # the contact lists join several equipment ids with ";": an id holding one would be split
    p.rejects.add(
        ids.str.contains(";", regex=False).fillna(False).to_numpy(dtype=bool),
        Reason.INVALID_VALUE,
        p.names[EQUIPMENT_ID],
        ids,
        "an equipment id cannot contain ';' (it separates ids in the contact lists)",
    )
    geoms = _locate(p, crs, ("Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon"))
    out = {
        EQUIPMENT_ID: ids,
        KIND: kinds,
        CIRCUIT_ID: text[CIRCUIT_ID],
        SUBSTATION_ID: text[SUBSTATION_ID],
        INSTALL_DATE: dates,
        OUTAGE_REQUIRED: outage.fillna(False).astype(bool),
    }
    return _finish(p, "equipment", out, geoms)


# --------------------------------------------------------------------------- network
def _read_edges(
    path: Input,
    *,
    columns: Columns,
    crs: Any,
    layer: str | int | None,
    encoding: str | None,
    sql: str | None = None,
    geom_col: str | None = "geom",
) -> ReadResult:
    p = _prepare(
        path,
        EDGE_COLUMNS,
        (EDGE_ID, FROM_NODE, TO_NODE),
        what="network edge",
        columns=columns,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=None,
        sql=sql,
        geom_col=geom_col,
    )
    n = len(p.frame)
    ids = clean_text(p.frame[EDGE_ID]) if n else pd.Series([], dtype="str")
    _check_ids(p, ids, EDGE_ID)
    text = _check_text(p, (FROM_NODE, TO_NODE, CIRCUIT_ID, SUBSTATION_ID))
    open_ = _required_flag(
        p,
        NORMALLY_OPEN,
        absent_note="no normally_open column: every edge is treated as closed",
        missing_advice="say whether the edge is a normally-open point (true/false)",
    )
    _check_duplicates(p, ids, EDGE_ID, _signature({EDGE_ID: ids, **text, NORMALLY_OPEN: open_}))
    for col in (FROM_NODE, TO_NODE):
        p.rejects.add(text[col].isna().to_numpy(), Reason.MISSING_VALUE, p.names[col], "")
    loop = (text[FROM_NODE] == text[TO_NODE]).fillna(False).to_numpy(dtype=bool)
    p.rejects.add(
        loop,
        Reason.INVALID_VALUE,
        p.names[TO_NODE],
        text[TO_NODE],
        "from_node equals to_node (an edge must join two nodes)",
    )
    geoms = _locate(p, crs, ("LineString",))
    out = {
        EDGE_ID: ids,
        FROM_NODE: text[FROM_NODE],
        TO_NODE: text[TO_NODE],
        CIRCUIT_ID: text[CIRCUIT_ID],
        SUBSTATION_ID: text[SUBSTATION_ID],
        NORMALLY_OPEN: open_.fillna(False).astype(bool),
    }
    return _finish(p, "network edge", out, geoms)


def _read_substations(
    path: Input,
    *,
    columns: Columns,
    crs: Any,
    layer: str | int | None,
    encoding: str | None,
    sql: str | None = None,
    geom_col: str | None = "geom",
) -> ReadResult:
    p = _prepare(
        path,
        SUBSTATION_COLUMNS,
        (SUBSTATION_ID, NODE),
        what="substation",
        columns=columns,
        encoding=encoding,
        layer=layer,
        crs=crs,
        delimiter=None,
        sql=sql,
        geom_col=geom_col,
    )
    n = len(p.frame)
    ids = clean_text(p.frame[SUBSTATION_ID]) if n else pd.Series([], dtype="str")
    _check_ids(p, ids, SUBSTATION_ID)
    text = _check_text(p, (NODE, NAME))
    _check_duplicates(p, ids, SUBSTATION_ID, _signature({SUBSTATION_ID: ids, **text}))
    p.rejects.add(
        text[NODE].isna().to_numpy(),
        Reason.MISSING_VALUE,
        p.names[NODE],
        "",
        "the LV busbar node the circuits leave from",
    )
    geoms = _locate(p, crs, ("Point",))
    out = {SUBSTATION_ID: ids, NODE: text[NODE], NAME: text[NAME]}
    return _finish(p, "substation", out, geoms)


def read_network(
    edges: Input,
    substations: Input | None = None,
    *,
    edge_columns: Columns = None,
    substation_columns: Columns = None,
    crs: Any = None,
    encoding: str | None = None,
    edges_layer: str | int | None = None,
    substations_layer: str | int | None = None,
    edges_sql: str | None = None,
    substations_sql: str | None = None,
    geom_col: str | None = "geom",
) -> NetworkReadResult:
    """Read LV network edges (cable sections, links) and substations.

    Parameters
    ----------
    edges : str, Path, DataFrame, GeoDataFrame or database
        File (or data frame, see :func:`read_customers`) of edges: ``edge_id``,
        ``from_node``, ``to_node``, ``circuit_id``,
        ``substation_id``, ``normally_open`` and LineString geometry. A
        GeoPackage may hold both layers (``edges`` and ``substations``), in
        which case ``substations`` may be omitted.
    substations : str, Path, DataFrame, GeoDataFrame or database, optional
        File (or data frame) of substations: ``substation_id``, ``node`` (the LV busbar node the
        circuits leave from), optional ``name``, Point location.
    edge_columns, substation_columns : mapping, optional
        Column mappings, as for :func:`read_customers`.
    crs, encoding : optional
        As for :func:`read_customers`.
    edges_layer, substations_layer : str or int, optional
        Layer names in multi-layer files (default ``"edges"`` and
        ``"substations"`` when both are in one GeoPackage).
    edges_sql, substations_sql : str, optional
        Queries for edges and substations when ``edges`` is a database URL or
        SQLAlchemy Engine (``substations`` then defaults to the same database).
    geom_col : str or None, default "geom"
        The queries' PostGIS geometry column, as for :func:`read_customers`.

    Returns
    -------
    NetworkReadResult
        ``edges``, ``substations`` (GeoDataFrames in EPSG:27700) and
        ``rejects``; unpacks as ``edges, substations, rejects``.

    Examples
    --------
    >>> import smartstreet_geo as ssg
    >>> net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    >>> net.edges.geometry.geom_type.unique().tolist()
    ['LineString']
    """
    if edges_sql is not None or substations_sql is not None:
        if edges_sql is None or substations_sql is None:
            raise TypeError("give both edges_sql and substations_sql")
        substations = edges if substations is None else substations
        e = _read_edges(
            edges,
            columns=edge_columns,
            crs=crs,
            layer=None,
            encoding=None,
            sql=edges_sql,
            geom_col=geom_col,
        )
        s = _read_substations(
            substations,
            columns=substation_columns,
            crs=crs,
            layer=None,
            encoding=None,
            sql=substations_sql,
            geom_col=geom_col,
        )
        return NetworkReadResult(e, s)
    if isinstance(edges, pd.DataFrame):
        if substations is None:
            raise TypeError("give the substations too when the edges are a data frame")
        edges_path: Any = edges
    else:
        edges_path = Path(edges)
    if substations is None:
        if edges_path.suffix.lower() != ".gpkg":
            raise InputFileError(
                f"{edges_path}: give the substations file too (substations=...), or one "
                "GeoPackage with layers 'edges' and 'substations'."
            )
        substations = edges_path
        edges_layer = edges_layer if edges_layer is not None else "edges"
        substations_layer = substations_layer if substations_layer is not None else "substations"
    e = _read_edges(edges_path, columns=edge_columns, crs=crs, layer=edges_layer, encoding=encoding)
    s = _read_substations(
        substations, columns=substation_columns, crs=crs, layer=substations_layer, encoding=encoding
    )
    return NetworkReadResult(e, s)
