"""Readers for the published reference files used to place customers.

* OS Open UPRN (``UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE``), CSV as
  distributed (zipped or not) or Parquet;
* an address gazetteer: OS AddressBase Plus column names (or any other names
  through a mapping), CSV (zipped or not) or Parquet;
* OS Code-Point Open: the headerless CSV files as OS distributes them (one per
  postcode area, in ``Data/CSV/`` of ``codepo_gb.zip``), zipped or unzipped,
  a folder of them, or one file (``.csv`` or ``.csv.gz``).

Reference files are large (OS Open UPRN has ~41 million rows, Code-Point Open
1.7 million), so they are read with pyarrow's multi-threaded CSV reader, only
the columns used, rather than through the customer readers (which keep every
value as text for their row-by-row accounting).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..crs import classify_bng
from ..errors import InputFileError, MissingColumnError
from ._postcodes import normalise_postcodes

__all__ = [
    "ABP_COLUMNS",
    "ADDRESS_COLUMNS",
    "CODEPOINT_COLUMNS",
    "OPEN_UPRN_COLUMNS",
    "Gazetteer",
    "read_address_gazetteer",
    "read_codepoint",
    "read_uprn_gazetteer",
]

#: Header of OS Open UPRN, as distributed.
OPEN_UPRN_COLUMNS = ("UPRN", "X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE")

#: Canonical columns of an address gazetteer.
ADDRESS_COLUMNS = (
    "uprn",
    "sub_building",
    "building_name",
    "building_number",
    "street",
    "locality",
    "town",
    "postcode",
    "easting",
    "northing",
)

#: OS AddressBase Plus column names -> canonical columns. Where AddressBase Plus splits a
#: field in two (dependent and main thoroughfare; double-dependent and dependent locality),
#: both are read and joined (dependent first, as in a postal address).
ABP_COLUMNS: Mapping[str, str] = {
    "UPRN": "uprn",
    "SUB_BUILDING_NAME": "sub_building",
    "BUILDING_NAME": "building_name",
    "BUILDING_NUMBER": "building_number",
    "DEPENDENT_THOROUGHFARE": "street",
    "THOROUGHFARE": "street",
    "DOUBLE_DEPENDENT_LOCALITY": "locality",
    "DEPENDENT_LOCALITY": "locality",
    "POST_TOWN": "town",
    "POSTCODE_LOCATOR": "postcode",
    "POSTCODE": "postcode",
    "X_COORDINATE": "easting",
    "Y_COORDINATE": "northing",
}

#: Column headers of OS Code-Point Open (from its documentation; the CSV files have none).
CODEPOINT_COLUMNS = (
    "Postcode",
    "Positional_quality_indicator",
    "Eastings",
    "Northings",
    "Country_code",
    "NHS_regional_HA_code",
    "NHS_HA_code",
    "Admin_county_code",
    "Admin_district_code",
    "Admin_ward_code",
)


@dataclass
class Gazetteer:
    """A reference table read by one of the readers, with what was left out and why.

    Attributes
    ----------
    data : DataFrame
        The usable rows (see each reader for the columns).
    n_input : int
        Rows in the file(s).
    dropped : dict
        ``{reason: rows}`` for rows not used (no personal data: counts only).
    unused_columns : list of str
        Columns of the file that were not read.
    """

    data: pd.DataFrame
    n_input: int
    dropped: dict[str, int] = field(default_factory=dict)
    unused_columns: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        gone = sum(self.dropped.values())
        return f"<Gazetteer: {len(self.data)} rows used of {self.n_input}, {gone} dropped>"


# --------------------------------------------------------------------------- file access
def _members(path: Path, suffixes: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Return ``(name, opener)`` for each data file in ``path`` (file, zip or folder)."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder.")
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)
        )
        if not found:
            raise InputFileError(f"{path}: no {'/'.join(suffixes)} files in this folder.")
        return [(str(p), (lambda p=p: p)) for p in found]
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.lower().endswith(suffixes))
        if not names:
            raise InputFileError(f"{path}: the zip holds no {'/'.join(suffixes)} file.")

        def opener(name: str) -> Any:
            with zipfile.ZipFile(path) as zf:
                return io.BytesIO(zf.read(name))

        return [(f"{path}!{n}", (lambda n=n: opener(n))) for n in names]
    return [(str(path), (lambda: path))]


def _read_csv(source: Any, *, header: bool, names: list[str] | None = None) -> pa.Table:
    read = pacsv.ReadOptions(
        autogenerate_column_names=not header and names is None,
        column_names=names,
        block_size=1 << 24,
    )
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    if isinstance(source, Path) and source.suffix.lower() == ".gz":
        import gzip

        with gzip.open(source, "rb") as fh:
            return pacsv.read_csv(fh, read_options=read, convert_options=convert)
    return pacsv.read_csv(source, read_options=read, convert_options=convert)


def _read_table(path: Path, names: list[str] | None = None) -> pa.Table:
    """Read a CSV (a header, or ``names``), a zip of CSVs, a folder of them, or Parquet."""
    if path.suffix.lower() in {".parquet", ".pq", ".geoparquet"}:
        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputFileError(f"{path}: not a readable Parquet file ({exc}).") from None
    tables = []
    for name, open_ in _members(path, (".csv", ".csv.gz")):
        try:
            tables.append(_read_csv(open_(), header=names is None, names=names))
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputFileError(f"{name}: not a readable CSV file ({exc}).") from None
    return pa.concat_tables(tables, promote_options="permissive")


def _numbers(col: pa.ChunkedArray | pa.Array) -> np.ndarray[Any, Any]:
    """Float values of a column (text that is not a number becomes NaN)."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.cast(
            pc.if_else(pc.match_substring_regex(col, r"^\s*-?[0-9.]+\s*$"), col, None),
            pa.float64(),
        )
    return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _uprns(col: pa.ChunkedArray | pa.Array) -> np.ndarray[Any, Any]:
    """UPRNs as int64 (-1 where blank or not a whole number of at most 12 digits)."""
    text = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
    ok = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,12}$"), False)
    as_int = pc.cast(pc.if_else(ok, text, "-1"), pa.int64())
    return np.asarray(as_int.to_numpy(zero_copy_only=False), dtype=np.int64)


def _plausible(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
    """``{reason: mask}`` for implausible National Grid points (``crs.classify_bng``)."""
    verdict = classify_bng(x, y)
    out: dict[str, np.ndarray[Any, Any]] = {}
    for reason in pd.unique(verdict[verdict != None]):  # noqa: E711 - object array
        out[str(reason)] = verdict == reason
    return out


def _drop(
    frame: pd.DataFrame, masks: dict[str, np.ndarray[Any, Any]], dropped: dict[str, int]
) -> pd.DataFrame:
    gone = np.zeros(len(frame), dtype=bool)
    for reason, mask in masks.items():
        new = mask & ~gone
        if new.any():
            dropped[reason] = dropped.get(reason, 0) + int(new.sum())
        gone |= mask
    return frame.loc[~gone].reset_index(drop=True) if gone.any() else frame


def _duplicate_uprns(frame: pd.DataFrame, dropped: dict[str, int]) -> pd.DataFrame:
    """Drop a UPRN given twice at different places (which one is right is unknown)."""
    dup = frame.duplicated("uprn", keep=False).to_numpy()
    if not dup.any():
        return frame
    same = frame.duplicated(["uprn", "easting", "northing"], keep="first").to_numpy()
    frame = _drop(frame, {"duplicate_uprn_same_place": same}, dropped)
    conflict = frame.duplicated("uprn", keep=False).to_numpy()
    return _drop(frame, {"duplicate_uprn_conflicting": conflict}, dropped)


# --------------------------------------------------------------------------- OS Open UPRN
def read_uprn_gazetteer(path: str | Path) -> Gazetteer:
    r"""Read a UPRN gazetteer: OS Open UPRN as distributed, or the same columns in Parquet.

    Parameters
    ----------
    path : str or Path
        ``osopenuprn_*.csv``, the ``.zip`` OS distributes (one CSV inside), a
        folder of CSVs, or a Parquet file with the columns ``UPRN``,
        ``X_COORDINATE``, ``Y_COORDINATE`` (``LATITUDE``/``LONGITUDE`` may be
        present; they are not used: the National Grid coordinates are OS's own
        and the latitude/longitude were derived from them).

    Returns
    -------
    Gazetteer
        ``data``: ``uprn`` (int64, sorted, unique), ``easting``, ``northing``
        (metres, EPSG:27700). Rows without a valid UPRN, with implausible
        coordinates (:func:`smartstreet_geo.crs.classify_bng`) or with a UPRN
        given twice at different places are dropped and counted in ``dropped``.

    Raises
    ------
    InputFileError
        The file cannot be read.
    MissingColumnError
        A required column is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "osopenuprn.csv").write_text(
    ...     "UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n"
    ...     "100012345678,358016.0,405780.0,53.55,-2.63\n"
    ...     "7,0,0,0,0\n")
    >>> g = read_uprn_gazetteer(d / "osopenuprn.csv")
    >>> g.data.to_dict("records")
    [{'uprn': 100012345678, 'easting': 358016.0, 'northing': 405780.0}]
    >>> g.dropped
    {'sentinel_coordinates': 1}
    """
    p = Path(path)
    table = _read_table(p)
    names = {c.upper(): c for c in table.column_names}
    need = ("UPRN", "X_COORDINATE", "Y_COORDINATE")
    missing = [c for c in need if c not in names]
    if missing:
        raise MissingColumnError(
            f"{p}: no {', '.join(missing)} column (OS Open UPRN has the header "
            f"{','.join(OPEN_UPRN_COLUMNS)}; found {len(table.column_names)} columns)."
        )
    unused = [c for c in table.column_names if c.upper() not in need]
    frame = pd.DataFrame(
        {
            "uprn": _uprns(table[names["UPRN"]]),
            "easting": _numbers(table[names["X_COORDINATE"]]),
            "northing": _numbers(table[names["Y_COORDINATE"]]),
        }
    )
    n = len(frame)
    dropped: dict[str, int] = {}
    frame = _drop(frame, {"invalid_uprn": frame["uprn"].to_numpy() < 0}, dropped)
    frame = _drop(
        frame, _plausible(frame["easting"].to_numpy(), frame["northing"].to_numpy()), dropped
    )
    frame = frame.sort_values("uprn", kind="stable", ignore_index=True)
    frame = _duplicate_uprns(frame, dropped)
    return Gazetteer(frame, n, dropped, unused)


# --------------------------------------------------------------------------- addresses
def read_address_gazetteer(
    path: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    header: Iterable[str] | None = None,
) -> Gazetteer:
    """Read an address gazetteer (UPRN, address parts, postcode, National Grid point).

    Parameters
    ----------
    path : str, Path or DataFrame
        CSV with a header (zipped or not, or a folder of CSVs), Parquet, or a
        data frame already in memory.
    columns : mapping, optional
        ``{name in the file: canonical name}`` for names other than the
        canonical ones (:data:`ADDRESS_COLUMNS`) and OS AddressBase Plus's
        (:data:`ABP_COLUMNS`, recognised without a mapping). Two file columns
        mapped to one canonical column are joined with a space, in file order
        (e.g. a dependent and a main street).
    header : iterable of str, optional
        Column names of a CSV without a header line (OS distributes AddressBase
        Plus so, with the names in a separate header file); every column must
        be named.

    Returns
    -------
    Gazetteer
        ``data``: the canonical columns (text upper-cased, postcode normalised,
        ``uprn`` int64, ``easting``/``northing`` metres), sorted by postcode
        then UPRN. Rows without a valid UPRN, postcode or plausible point, and
        UPRNs given twice at different places, are dropped and counted.

    Examples
    --------
    >>> frame = pd.DataFrame({"UPRN": ["1", "2"], "BUILDING_NUMBER": ["14", "16"],
    ...     "THOROUGHFARE": ["Oak Road", "Oak Road"], "POST_TOWN": ["WIGAN", "WIGAN"],
    ...     "POSTCODE_LOCATOR": ["wn5 9xp", "WN5 9XP"],
    ...     "X_COORDINATE": [354500.0, 354510.0], "Y_COORDINATE": [404100.0, 404100.0]})
    >>> g = read_address_gazetteer(frame)
    >>> g.data[["uprn", "building_number", "street", "postcode"]].to_dict("records")[0]
    {'uprn': 1, 'building_number': '14', 'street': 'OAK ROAD', 'postcode': 'WN5 9XP'}
    """
    if isinstance(path, pd.DataFrame):
        table = pa.Table.from_pandas(path, preserve_index=False)
        where = "the address frame"
    else:
        table = _read_table(Path(path), list(header) if header is not None else None)
        where = str(path)
    mapping = {**ABP_COLUMNS, **{c: c for c in ADDRESS_COLUMNS}, **dict(columns or {})}
    upper = {k.upper(): v for k, v in mapping.items()}
    parts: dict[str, list[str]] = {}
    unused = []
    for name in table.column_names:
        target = mapping.get(name) or upper.get(name.upper())
        if target in ADDRESS_COLUMNS:
            parts.setdefault(target, []).append(name)
        else:
            unused.append(name)
    need = ("uprn", "postcode", "easting", "northing")
    missing = [c for c in need if c not in parts]
    if missing:
        raise MissingColumnError(
            f"{where}: no column for {', '.join(missing)}; name them with columns="
            "{'name in the file': 'canonical name'} (canonical names: "
            f"{', '.join(ADDRESS_COLUMNS)})."
        )
    n = table.num_rows
    out: dict[str, Any] = {"uprn": _uprns(table[parts["uprn"][0]])}
    for col in ADDRESS_COLUMNS[1:8]:
        texts = [
            pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(table[c], pa.string())))
            for c in parts.get(col, [])
        ]
        if not texts:
            out[col] = pd.Series(pd.NA, index=range(n), dtype="str")
            continue
        # blanks first: pyarrow's "skip" null handling drops rows where every part is null
        joined = pc.fill_null(texts[0], "")
        for more in texts[1:]:
            joined = pc.utf8_trim_whitespace(
                pc.binary_join_element_wise(joined, pc.fill_null(more, ""), " ")
            )
        joined = pc.if_else(pc.equal(joined, ""), None, joined)
        out[col] = pd.Series(pd.array(joined, dtype="str"))
    out["postcode"] = normalise_postcodes(out["postcode"])
    out["easting"] = _numbers(table[parts["easting"][0]])
    out["northing"] = _numbers(table[parts["northing"][0]])
    frame = pd.DataFrame(out)
    dropped: dict[str, int] = {}
    frame = _drop(
        frame,
        {
            "invalid_uprn": frame["uprn"].to_numpy() < 0,
            "missing_postcode": frame["postcode"].isna().to_numpy(),
        },
        dropped,
    )
    frame = _drop(
        frame, _plausible(frame["easting"].to_numpy(), frame["northing"].to_numpy()), dropped
    )
    frame = frame.sort_values("uprn", kind="stable", ignore_index=True)
    frame = _duplicate_uprns(frame, dropped)
    frame = frame.sort_values(["postcode", "uprn"], kind="stable", ignore_index=True)
    return Gazetteer(frame, n, dropped, unused)


# --------------------------------------------------------------------------- Code-Point
def read_codepoint(path: str | Path | Iterable[str | Path]) -> Gazetteer:
    r"""Read OS Code-Point Open postcode centroids, as OS distributes them.

    Parameters
    ----------
    path : str, Path or iterable of them
        ``codepo_gb.zip``, the unzipped folder (its ``Data/CSV/*.csv``), one
        area file (``.csv`` or ``.csv.gz``), or several. The files have no
        header; the columns are those of :data:`CODEPOINT_COLUMNS` (from the
        product's documentation). Files that keep only the first four columns
        are accepted too.

    Returns
    -------
    Gazetteer
        ``data``: ``postcode`` (normalised, unique, sorted), ``quality`` (the
        positional quality indicator, int), ``easting``, ``northing``.
        Postcodes with quality 90 (no coordinates) are kept with NaN points so
        that they can be told apart from unknown postcodes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "wn.csv").write_text(
    ...     '"WN1 1AA",10,358016,405780,"E92000001","E19000001","E18000002","","E08000010",'
    ...     '"E05000849"\n"WN1 1ZZ",90,0,0,"","","","","",""\n')
    >>> read_codepoint(d).data.to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'postcode': 'WN1 1AA', 'quality': 10, 'easting': 358016.0, 'northing': 405780.0},
     {'postcode': 'WN1 1ZZ', 'quality': 90, 'easting': nan, 'northing': nan}]
    """
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    tables = []
    for p in paths:
        for name, open_ in _members(p, (".csv", ".csv.gz")):
            try:
                t = _read_csv(open_(), header=False)
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputFileError(f"{name}: not a Code-Point Open CSV file ({exc}).") from None
            if t.num_columns < 4:
                raise InputFileError(
                    f"{name}: {t.num_columns} columns; Code-Point Open has "
                    f"{len(CODEPOINT_COLUMNS)} ({', '.join(CODEPOINT_COLUMNS[:4])}, ...)."
                )
            t = t.select(list(range(4))).rename_columns(list(CODEPOINT_COLUMNS[:4]))
            tables.append(
                t.cast(
                    pa.schema(
                        [
                            ("Postcode", pa.string()),
                            ("Positional_quality_indicator", pa.string()),
                            ("Eastings", pa.string()),
                            ("Northings", pa.string()),
                        ]
                    )
                )
            )
    if not tables:
        raise InputFileError("no Code-Point Open file given.")
    table = pa.concat_tables(tables)
    n = table.num_rows
    frame = pd.DataFrame(
        {
            "postcode": normalise_postcodes(pd.Series(pd.array(table["Postcode"], dtype="str"))),
            "quality": _numbers(table["Positional_quality_indicator"]),
            "easting": _numbers(table["Eastings"]),
            "northing": _numbers(table["Northings"]),
        }
    )
    dropped: dict[str, int] = {}
    bad_q = ~np.isin(frame["quality"].to_numpy(), (10, 20, 30, 40, 50, 60, 90))
    frame = _drop(
        frame,
        {"missing_postcode": frame["postcode"].isna().to_numpy(), "invalid_quality": bad_q},
        dropped,
    )
    frame["quality"] = frame["quality"].astype(np.int64)
    no_point = frame["quality"].to_numpy() == 90
    frame.loc[no_point, ["easting", "northing"]] = np.nan
    implausible = _plausible(frame["easting"].to_numpy(), frame["northing"].to_numpy())
    implausible.pop("missing_coordinates", None)  # quality 90: kept as "no coordinates"
    frame = _drop(frame, implausible, dropped)
    frame = frame.sort_values("postcode", kind="stable", ignore_index=True)
    dup = frame.duplicated("postcode", keep="first").to_numpy()
    frame = _drop(frame, {"duplicate_postcode": dup}, dropped)
    return Gazetteer(frame, n, dropped, [f"{c} (not used)" for c in CODEPOINT_COLUMNS[4:]])
