"""Load a file as raw values, whatever its format; no validation here."""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .._gc import collector_paused
from ..errors import CRSError, EncodingError, InputFileError

__all__ = ["RawTable", "Source", "load_frame", "load_sql", "load_table"]

_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_OGR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}


class Source(str):
    """The name of an input that is not a file (a data frame, a database query).

    Messages name an input by its path or, through ``.name``, its file name;
    a :class:`Source` answers both with its own text.
    """

    @property
    def name(self) -> str:
        """The text itself (what a path's file name is in messages)."""
        return str(self)


@dataclass
class RawTable:
    """Raw attribute values of a file, plus its geometries and declared CRS if any."""

    frame: pd.DataFrame
    geometry: np.ndarray[Any, Any] | None
    crs: Any
    format: str
    path: Path
    #: Fields found in each CSV record (``None``: every record has :attr:`n_fields`).
    field_counts: npt.NDArray[np.int64] | None = None
    #: Fields in the header line (CSV only).
    n_fields: int | None = None
    #: What each row is called in reports (a data frame's index labels); ``None``: the
    #: 1-based row number, as in a file.
    row_labels: npt.NDArray[np.int64] | None = None
    #: The name of an input that is not a file (then :attr:`path` is only a placeholder).
    label: Source | None = None

    @property
    def source(self) -> Path | Source:
        """The input as messages name it: the file's path, or the frame's or query's name."""
        return self.label if self.label is not None else self.path


def load_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    layer: str | int | None = None,
    delimiter: str | None = None,
    crs: Any = None,
) -> RawTable:
    """Read ``path`` into a :class:`RawTable`.

    CSV values are read as text (nothing is converted or dropped here);
    Parquet keeps its types; GeoParquet, GeoPackage, GeoJSON and other OGR
    formats return their geometries and declared CRS separately.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such file. Check the path (relative to {Path.cwd()}).")
    if p.is_dir():
        raise InputFileError(f"{p}: is a folder, not a file.")
    suffix = p.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return _load_csv(p, encoding=encoding, delimiter=delimiter)
    if suffix in _PARQUET_SUFFIXES:
        return _load_parquet(p, crs=crs)
    if suffix in _OGR_SUFFIXES:
        return _load_ogr(p, layer=layer, crs=crs)
    raise InputFileError(
        f"{p}: unknown file type {suffix!r}. Supported: CSV (.csv), Parquet/GeoParquet "
        "(.parquet), GeoPackage (.gpkg), GeoJSON (.geojson), Shapefile, FlatGeobuf."
    )


def _load_csv(p: Path, *, encoding: str | None, delimiter: str | None) -> RawTable:
    """Read a CSV file as text, one row per record, every field in its own column.

    The header line decides the number of fields. A record with another number of
    fields is kept as a row of blanks whose field count is in
    :attr:`RawTable.field_counts` (the reader rejects it: its values cannot be
    lined up with the columns); a blank or whitespace-only line is kept as a row
    of blanks (the reader counts it). Nothing is ever shifted into another column:
    the first column is never taken as an index, whatever the header's length.

    Two parsers, one answer: Arrow's (multi-threaded, ~3x faster than pandas') is
    used when every record has the header's number of fields - it then raises on
    nothing and its rows are exactly the records; any irregular record makes it
    raise, and the file is then read with the standard library's ``csv`` module,
    which reports every record's fields (a slow path for malformed files only).
    """
    if p.stat().st_size == 0:
        raise InputFileError(f"{p}: the file is empty (not even a header row).")
    enc = encoding or "utf-8-sig"  # utf-8-sig reads UTF-8 with or without Excel's BOM
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise EncodingError(f"{p}: unknown encoding {enc!r}.") from exc
    _check_encoding(p, enc, explicit=encoding is not None)
    sep = delimiter or ("\t" if p.suffix.lower() == ".tsv" else ",")
    if len(sep) != 1:
        raise InputFileError(f"{p}: the field separator must be one character, not {sep!r}.")
    first = _first_record(p, enc, sep)
    frame = None if first is None or _is_blank(first) else _read_fast(p, enc, sep, first)
    counts = None
    if frame is None or first is None:
        header, frame, counts = _read_exact(p, enc, sep)
    else:
        header = first
    frame.columns = pd.Index(header, dtype=object)
    return RawTable(frame, None, None, "csv", p, field_counts=counts, n_fields=len(header))


def _csv_reader(f: Any, sep: str) -> Any:
    # the dialect pandas and Arrow use: '"' quotes, doubled to escape, no escape character;
    # not strict: a quote inside an unquoted value is kept as text, as they do
    return csv.reader(f, delimiter=sep, quotechar='"', doublequote=True, strict=False)


def _first_record(p: Path, enc: str, sep: str) -> list[str] | None:
    """Return the header record (``None`` when there is none or it cannot be parsed)."""
    with p.open(encoding=enc, newline="") as f:
        try:
            return next(_csv_reader(f, sep), None)
        except csv.Error:
            return None  # the exact path reports it


def _is_blank(record: list[str]) -> bool:
    return all(not v.strip() for v in record)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _arrow_table(p: Path, enc: str, sep: str, h: int, *, skip_invalid: bool) -> Any:
    """Read with Arrow into ``h`` text columns (header line included as the first row).

    ``None`` when Arrow cannot: a record with another number of fields (unless
    ``skip_invalid``: such records are then left out), a row longer than its
    block size, text it cannot decode.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{i}" for i in range(h)]
    arrow_enc = "utf8" if codecs.lookup(enc).name in {"utf-8", "utf-8-sig"} else enc
    try:
        return pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(column_names=names, encoding=arrow_enc),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,  # an empty line is a row of blanks: counted
                invalid_row_handler=(lambda _row: "skip") if skip_invalid else None,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError, UnicodeError, OSError):
        return None


def _header_matches(table: Any, header: list[str]) -> bool:
    if table is None or table.num_rows == 0 or table.num_columns != len(header):
        return False
    first = [table.column(i)[0].as_py() for i in range(table.num_columns)]
    return bool(first == [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)])


def _to_frame(table: Any) -> pd.DataFrame:
    import pyarrow as pa

    frame = table.to_pandas(types_mapper=lambda t: _STR if pa.types.is_string(t) else None)
    return frame.reset_index(drop=True)


def _read_fast(p: Path, enc: str, sep: str, header: list[str]) -> pd.DataFrame | None:
    """Read with Arrow; ``None`` when a record does not have the header's fields."""
    table = _arrow_table(p, enc, sep, len(header), skip_invalid=False)
    if not _header_matches(table, header):
        return None  # the two parsers read the header differently: trust neither alone
    frame = _to_frame(table.slice(1))
    if len(frame):
        _check_last_record([str(v) for v in frame.iloc[-1].tolist()], len(frame), p, sep)
    return frame


def _read_exact(p: Path, enc: str, sep: str) -> tuple[list[str], pd.DataFrame, Any]:
    """Read a file with irregular records; return header, frame and field counts.

    One streaming pass of the ``csv`` module finds every record's number of
    fields (keeping only its first field, not the record: a million-row file
    with one bad row must not cost gigabytes). Arrow then reads the regular
    records, leaving out the others, and the two are lined up record by record;
    the first fields must agree exactly, else the whole file is read with the
    ``csv`` module alone.
    """
    lead, header, counts, blank, firsts, last = _scan(p, enc, sep)
    h = len(header)
    if counts.size and last is not None:
        _check_last_record(last, int(counts.size), p, sep)
    kept = (counts == h) | (counts == 0)  # what Arrow keeps: n fields, or an empty line
    counts[blank] = h  # a blank line is counted as blank, whatever its separators
    _check_field_counts(p, h, counts, blank)
    table = None if lead else _arrow_table(p, enc, sep, h, skip_invalid=True)
    if (
        table is not None
        and _header_matches(table, header)
        and table.num_rows - 1 == int(kept.sum())
    ):
        import pyarrow as pa

        table = table.slice(1)
        ok = pa.array([f for f, k in zip(firsts, kept.tolist(), strict=True) if k], pa.string())
        if table.column(0).combine_chunks().equals(ok):
            blanks = pa.table({n: pa.array([""], pa.string()) for n in table.column_names})
            at = np.full(counts.size, table.num_rows, dtype=np.int64)  # others: a blank row
            at[np.flatnonzero(kept)] = np.arange(table.num_rows)
            frame = _to_frame(pa.concat_tables([table, blanks]).take(pa.array(at)))
            frame.columns = pd.RangeIndex(h)
            return header, frame, counts
    return header, _read_python(p, enc, sep, lead, h, counts), counts


def _scan(
    p: Path, enc: str, sep: str
) -> tuple[int, list[str], npt.NDArray[np.int64], npt.NDArray[np.bool_], list[str], Any]:
    """One pass over the records: header, fields per record, blank records, first fields."""
    lead = 0
    header: list[str] | None = None
    counts: list[int] = []
    blank: list[bool] = []
    firsts: list[str] = []
    last: list[str] | None = None
    with p.open(encoding=enc, newline="") as f:
        reader = _csv_reader(f, sep)
        try:
            for rec in reader:
                if header is None:
                    if _is_blank(rec):
                        lead += 1  # blank lines before the header: not data
                        continue
                    header = rec
                    h = len(rec)
                    continue
                n = len(rec)
                counts.append(n)
                # a record with its fields and a first value is not blank: skip the scan
                blank.append((n != h or not rec[0].strip()) and _is_blank(rec))
                firsts.append(rec[0] if n else "")
                last = rec
        except csv.Error as exc:  # the module's own text (never a value), e.g. a field limit
            raise InputFileError(
                f"{p}: not a well-formed CSV file at line {reader.line_num} ({exc}). "
                "Check that line in a text editor, then re-export the file."
            ) from exc
    if header is None:
        raise InputFileError(f"{p}: the file is empty (not even a header row).")
    return (
        lead,
        header,
        np.asarray(counts, dtype=np.int64),
        np.asarray(blank, dtype=bool),
        firsts,
        last,
    )


def _read_python(
    p: Path, enc: str, sep: str, lead: int, h: int, counts: npt.NDArray[np.int64]
) -> pd.DataFrame:
    """Read every record with the ``csv`` module (the fallback: memory grows with the file)."""
    with p.open(encoding=enc, newline="") as f:
        records = list(_csv_reader(f, sep))[lead + 1 :]
    if len(records) != counts.size:  # the same module, the same file: cannot differ
        raise InputFileError(f"{p}: the file changed while it was being read; read it again.")
    empty = [""] * h
    fixed = [
        r if n == h and not _is_blank(r) else empty for r, n in zip(records, counts, strict=True)
    ]
    columns = list(zip(*fixed, strict=True)) if fixed else [() for _ in range(h)]
    return pd.DataFrame(
        {i: pd.array(list(col), dtype=_STR) for i, col in enumerate(columns)}, columns=range(h)
    )


def _check_field_counts(
    p: Path, h: int, counts: npt.NDArray[np.int64], blank: npt.NDArray[np.bool_]
) -> None:
    """Raise when most rows disagree with the header: the header, not the rows, is wrong."""
    live = counts[~blank]
    if not live.size:
        return
    wrong = live[live != h]
    if wrong.size * 2 <= live.size:
        return
    values, freq = np.unique(wrong, return_counts=True)
    common = int(values[np.argmax(freq)])
    what = (
        "a column name is missing from the header (or every row has an extra field, "
        "such as a separator at the end of the line)"
        if common > h
        else "the header has names for fields the rows do not have"
    )
    most = f"{common}" if values.size == 1 else f"another number (most often {common})"
    raise InputFileError(
        f"{p}: the header line has {h} fields but {wrong.size} of {live.size} rows have "
        f"{most}: {what}. The values cannot be lined up with the column names; fix the header "
        "line (or the export) and re-run."
    )


def _check_last_record(values: list[str], row: int, p: Path, sep: str) -> None:
    """Raise when the last record swallowed whole lines: a quote that is never closed."""
    for value in values:
        _, brk, tail = value.partition("\n") if "\n" in value else value.partition("\r")
        if brk and tail.count(sep) >= max(len(values) - 1, 1):
            raise InputFileError(
                f'{p}: data row {row} opens a quoted value (") that is never closed, so the '
                "lines after it were read as part of one value. Fix the quote and re-export."
            )


def _check_encoding(p: Path, enc: str, *, explicit: bool) -> None:
    """Decode the whole file once to give a precise error on a wrong encoding."""
    data = p.read_bytes()
    try:
        data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = (
            "pass the right encoding (e.g. encoding='cp1252' or --encoding cp1252 for files "
            "saved by older Excel versions)"
            if not explicit
            else "check the encoding you gave"
        )
        raise EncodingError(
            f"{p}: not valid {enc} text: byte 0x{data[exc.start]:02x} at line {line} "
            f"(byte offset {exc.start}); {hint}."
        ) from exc


def _load_parquet(p: Path, *, crs: Any) -> RawTable:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(p)
    except Exception as exc:
        raise InputFileError(f"{p}: not a readable Parquet file ({exc}).") from exc
    kv = meta.metadata or {}
    if b"geo" in kv:
        import geopandas as gpd

        try:
            with collector_paused():  # a geometry per row (see smartstreet_geo._gc)
                gdf = gpd.read_parquet(p)
        except Exception as exc:
            raise InputFileError(f"{p}: cannot read GeoParquet ({exc}).") from exc
        return _split_geo(gdf, "geoparquet", p, crs)
    frame = pd.read_parquet(p)
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(frame, None, None, "parquet", p)


def _load_ogr(p: Path, *, layer: str | int | None, crs: Any) -> RawTable:
    import pyogrio

    try:
        layers = pyogrio.list_layers(p)
    except Exception as exc:
        raise InputFileError(f"{p}: cannot open as a spatial file ({exc}).") from exc
    names = [str(n) for n in layers[:, 0]]
    if layer is None and len(names) > 1:
        raise InputFileError(
            f"{p}: has {len(names)} layers ({', '.join(names)}); say which with layer=... "
            "(or --layer)."
        )
    if layer is not None and isinstance(layer, str) and layer not in names:
        raise InputFileError(f"{p}: has no layer {layer!r}; layers are {', '.join(names)}.")
    try:
        with collector_paused():  # a geometry per row (see smartstreet_geo._gc)
            gdf = pyogrio.read_dataframe(p, layer=layer)
    except Exception as exc:
        raise InputFileError(f"{p}: cannot read layer {layer!r} ({exc}).") from exc
    if "geometry" not in gdf:
        frame = pd.DataFrame(gdf)
        frame.columns = [str(c) for c in frame.columns]
        return RawTable(frame, None, None, p.suffix.lower().lstrip("."), p)
    return _split_geo(gdf, p.suffix.lower().lstrip("."), p, crs)


def _split_geo(gdf: Any, fmt: str, p: Path | Source, declared: Any) -> RawTable:
    from pyproj import CRS

    geom_name = gdf.geometry.name
    crs = gdf.crs
    if declared is not None:
        want = CRS.from_user_input(declared)
        if crs is not None and not crs.equals(want, ignore_axis_order=True):
            raise CRSError(
                f"{p}: the file declares {crs.to_string()} but crs={declared!r} was given. "
                "Drop the crs option to use the file's own, or fix the file."
            )
        crs = want
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    frame = pd.DataFrame(gdf.drop(columns=[geom_name]))
    frame.columns = [str(c) for c in frame.columns]
    if crs is None and len(frame):
        raise CRSError(
            f"{p}: the geometries have no coordinate reference system. Give it with crs=... "
            "(or --crs), e.g. 'EPSG:27700' for British National Grid or 'EPSG:4326' for "
            "longitude/latitude; smartstreet-geo never assumes one."
        )
    if isinstance(p, Source):
        return RawTable(frame, geoms, crs, fmt, Path(fmt), label=p)
    return RawTable(frame, geoms, crs, fmt, p)


def _row_labels(index: pd.Index) -> npt.NDArray[np.int64] | None:
    """Return a frame's index labels as row numbers, or ``None`` where they cannot be.

    Integer labels that are unique name the rows (``frame.loc[row_number]``
    finds a rejected row); any other index (text, repeated, a MultiIndex) gives
    1-based positions, as for a file.
    """
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return np.arange(len(index), dtype=np.int64)
    if pd.api.types.is_integer_dtype(index.dtype) and index.is_unique and index.nlevels == 1:
        return np.asarray(index, dtype=np.int64)
    return None


def load_frame(frame: pd.DataFrame, *, crs: Any = None, source: str | None = None) -> RawTable:
    """Take a pandas DataFrame or GeoDataFrame as a :class:`RawTable`, as if read from a file.

    Values keep their types (as from Parquet); a GeoDataFrame's active geometry
    and CRS are used and checked like a GeoPackage's. Row numbers in reports
    are the frame's index labels when those are unique integers.
    """
    import geopandas as gpd

    kind = type(frame).__name__
    name = Source(source or kind)
    labels = _row_labels(frame.index)
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns:
        raw = _split_geo(frame, "geodataframe", name, crs)
    else:
        plain = pd.DataFrame(frame, copy=False)
        plain.columns = [str(c) for c in plain.columns]
        raw = RawTable(plain, None, None, "dataframe", Path("dataframe"), label=name)
    raw.frame = raw.frame.reset_index(drop=True)
    raw.row_labels = labels
    return raw


def _safe_url(url: Any) -> str:
    """Return a database URL without user, password or query options (may hold secrets)."""
    import sqlalchemy as sa

    bare = sa.engine.URL.create(url.drivername, host=url.host, port=url.port, database=url.database)
    return str(bare.render_as_string())


def load_sql(
    con: Any,
    sql: str,
    *,
    crs: Any = None,
    geom_col: str | None = "geom",
    params: Any = None,
) -> RawTable:
    """Run ``sql`` on a database and take its result as a :class:`RawTable`.

    ``con`` is a SQLAlchemy URL (``"postgresql+psycopg://host/db"``), Engine or
    Connection. A PostGIS geometry column named ``geom_col`` (when the result has
    one) becomes the geometries; its SRID becomes the CRS. Row numbers in reports
    are the 1-based rows of the result, in the query's order.
    """
    import sqlalchemy as sa

    owned = None
    if isinstance(con, str):
        try:
            url = sa.engine.make_url(con)
        except sa.exc.ArgumentError as exc:
            raise InputFileError(
                "not a database URL; write e.g. postgresql+psycopg://HOST:PORT/DATABASE"
            ) from exc
        if url.drivername == "postgresql":  # the driver that is installed (psycopg 3)
            url = url.set(drivername="postgresql+psycopg")
        owned = con = sa.create_engine(url)
    engine_url = con.engine.url if hasattr(con, "engine") else con.url
    name = Source(f"{_safe_url(engine_url)} (query)")
    try:
        frame = pd.read_sql(sa.text(sql), con, params=params)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # the type and SQLSTATE only: a database message may quote a value from the data
        # (pandas wraps SQLAlchemy's error, whose ``orig`` is the driver's)
        cause = exc if isinstance(exc, sa.exc.SQLAlchemyError) else exc.__cause__
        orig = getattr(cause, "orig", None)
        code = getattr(orig, "sqlstate", None)
        what = type(orig).__name__ if orig is not None else type(cause or exc).__name__
        raise InputFileError(
            f"{name}: the database refused the query or the connection ({what}"
            f"{', SQLSTATE ' + code if code else ''}). Check the URL, that the server is "
            "running, and run the query in psql."
        ) from None
    finally:
        if owned is not None:
            owned.dispose()
    frame.columns = [str(c) for c in frame.columns]
    if geom_col is None or geom_col not in frame.columns:
        return RawTable(frame, None, None, "sql", Path("sql"), label=name)
    return _from_postgis(frame, geom_col, name, crs)


def _from_postgis(frame: pd.DataFrame, geom_col: str, name: Source, declared: Any) -> RawTable:
    """Decode a PostGIS geometry column (hex EWKB text or bytes); every row's SRID is checked.

    By hand rather than ``geopandas.read_postgis``: that takes the first row's SRID
    for every row, decodes row by row, and cannot be asked whether the column is there
    before the query has run.
    """
    import geopandas as gpd
    import shapely

    if frame.columns.tolist().count(geom_col) > 1:
        raise InputFileError(f"{name}: the query returns two {geom_col!r} columns.")
    values = frame[geom_col].to_numpy(dtype=object)
    given = ~pd.isna(values)
    geoms = np.full(len(values), None, dtype=object)
    if given.any():
        try:
            geoms[given] = shapely.from_wkb(values[given])
        except (shapely.errors.GEOSException, TypeError, ValueError) as exc:
            raise InputFileError(
                f"{name}: column {geom_col!r} is not a PostGIS geometry (cast it with "
                f"::geometry, or give geom_col=None and coordinate columns) ({type(exc).__name__})."
            ) from None
    srids = np.unique(shapely.get_srid(geoms[given])) if given.any() else np.array([], int)
    if srids.size > 1:
        raise CRSError(
            f"{name}: column {geom_col!r} mixes SRIDs {', '.join(map(str, srids.tolist()))}; "
            "transform them to one in the query (ST_Transform)."
        )
    crs = f"EPSG:{int(srids[0])}" if srids.size and srids[0] != 0 else None
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=[geom_col]), geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs
    )
    return _split_geo(gdf, "postgis", name, declared)
