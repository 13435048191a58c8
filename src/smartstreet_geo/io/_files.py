"""Load a file as raw values, whatever its format; no validation here."""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CRSError, EncodingError, InputFileError

__all__ = ["RawTable", "load_table"]

_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_OGR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml"}


@dataclass
class RawTable:
    """Raw attribute values of a file, plus its geometries and declared CRS if any."""

    frame: pd.DataFrame
    geometry: np.ndarray[Any, Any] | None
    crs: Any
    format: str
    path: Path


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
    if p.stat().st_size == 0:
        raise InputFileError(f"{p}: the file is empty (not even a header row).")
    enc = encoding or "utf-8-sig"  # utf-8-sig reads UTF-8 with or without Excel's BOM
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise EncodingError(f"{p}: unknown encoding {enc!r}.") from exc
    _check_encoding(p, enc, explicit=encoding is not None)
    sep = delimiter or ("\t" if p.suffix.lower() == ".tsv" else ",")
    try:
        frame = pd.read_csv(
            p,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=enc,
            sep=sep,
            quoting=csv.QUOTE_MINIMAL,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError as exc:
        raise InputFileError(f"{p}: the file is empty (not even a header row).") from exc
    except pd.errors.ParserError as exc:
        raise InputFileError(
            f"{p}: not a well-formed CSV file ({exc}). A row has more fields than the "
            "header: check for an unquoted comma in an address, then re-export the file."
        ) from exc
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(frame, None, None, "csv", p)


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
        gdf = pyogrio.read_dataframe(p, layer=layer)
    except Exception as exc:
        raise InputFileError(f"{p}: cannot read layer {layer!r} ({exc}).") from exc
    if "geometry" not in gdf:
        frame = pd.DataFrame(gdf)
        frame.columns = [str(c) for c in frame.columns]
        return RawTable(frame, None, None, p.suffix.lower().lstrip("."), p)
    return _split_geo(gdf, p.suffix.lower().lstrip("."), p, crs)


def _split_geo(gdf: Any, fmt: str, p: Path, declared: Any) -> RawTable:
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
    return RawTable(frame, geoms, crs, fmt, p)
