"""Layers for GIS (QGIS, ArcGIS): GeoPackage or GeoParquet in British National Grid.

The same picture as the map, as data an analyst can style, filter and join:

* ``premises``: one point per premise with its contact category (and, in
  internal mode, the contact references and customer ids);
* ``equipment``: the new equipment with kind, radius and customers within;
* ``equipment_radius``: the radius around each equipment as a polygon (for
  display: who is within is decided by exact distances, never by this polygon);
* ``circuits_in_scope``: the cable sections of the circuits in scope;
* ``substations``;
* ``outage_impact``: premises that lose supply during a planned outage (when
  the campaign has outages).

Pseudonymous by default, like the map: no names, addresses, phone numbers,
PSR details or customer ids, and premises are numbered (``premise_ref``) or,
given a key, named by their keyed :func:`~smartstreet_geo.export.pseudonym`;
the contact category is the shareable one (a phone call, which would reveal
the Priority Services Register, shows as what the premise's other contacts
are). ``internal=True`` adds the internal category, the contact references
and the customer ids.

Every file is written whole or not at all and owner-only (0600): a single file
through :func:`smartstreet_geo.export.atomic_write_bytes`, a campaign's layers
into its staging folder (:func:`smartstreet_geo.export.staged_output`).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import ParameterError
from .export import atomic_write_bytes, pseudonym
from .schema import BNG_CRS

if TYPE_CHECKING:
    from .campaign import CampaignResult
    from .export import StagedFolder

__all__ = [
    "GEO_FORMATS",
    "LAYERS",
    "campaign_layers",
    "geo_output_names",
    "near_layers",
    "radius_polygons",
    "table_layers",
    "write_campaign_layers",
    "write_layers",
]

GeoFormat = Literal["gpkg", "parquet"]
#: The formats :func:`write_layers` writes.
GEO_FORMATS: tuple[GeoFormat, ...] = ("gpkg", "parquet")
#: The layers of a campaign, in the order they are written.
LAYERS = (
    "premises",
    "equipment",
    "equipment_radius",
    "circuits_in_scope",
    "substations",
    "outage_impact",
)
#: The GeoPackage of a campaign's output folder.
GPKG_NAME = "layers.gpkg"
#: Segments per quarter circle of a radius polygon: 64 per circle, at most 0.12 % of the
#: radius inside the true circle (for display only).
_QUAD_SEGS = 16
#: Campaign contacts that the shareable category shows anyway (a leaflet, an
#: installation letter); their references may be shared, other references only internally.
_SHAREABLE_CAMPAIGNS = ("leaflet", "installation_letter")
_OUTAGE_CAMPAIGNS = ("outage_letter", "outage_phone_call")


def geo_output_names(geo: GeoFormat, *, prefix: str = "") -> tuple[str, ...]:
    """Return the file names :func:`write_campaign_layers` may write for ``geo``.

    Examples
    --------
    >>> geo_output_names("gpkg")
    ('layers.gpkg',)
    >>> geo_output_names("parquet")[:2]
    ('premises.parquet', 'equipment.parquet')
    """
    _check_format(geo)
    if geo == "gpkg":
        return (f"{prefix}{GPKG_NAME}",)
    return tuple(f"{prefix}{name}.parquet" for name in LAYERS)


def _check_format(geo: str) -> None:
    if geo not in GEO_FORMATS:
        raise ParameterError(f"geo={geo!r}: choose one of {', '.join(GEO_FORMATS)}.")


def _frame(data: Mapping[str, Any], geometry: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        pd.DataFrame(dict(data)), geometry=gpd.GeoSeries(geometry, crs=BNG_CRS), crs=BNG_CRS
    )


def radius_polygons(equipment: gpd.GeoDataFrame, radius: str = "radius_m") -> gpd.GeoDataFrame:
    """Return the area within ``radius`` metres of each equipment as a polygon.

    For display: a polygon with 64 segments per circle lies inside the true
    circle by up to 0.12 % of the radius; who is within is decided by exact
    distances (:func:`smartstreet_geo.customers_near`), never by this layer.

    Parameters
    ----------
    equipment : GeoDataFrame
        ``equipment_id``, optional ``kind`` and a column of metres.
    radius : str, default "radius_m"
        The column of metres.

    Returns
    -------
    GeoDataFrame
        ``equipment_id``, ``kind``, ``radius_m`` and the polygon, EPSG:27700.

    Examples
    --------
    >>> from shapely import Point
    >>> eq = gpd.GeoDataFrame({"equipment_id": ["T1"], "radius_m": [50.0]},
    ...                       geometry=[Point(0, 0)], crs="EPSG:27700")
    >>> round(float(radius_polygons(eq).area.iloc[0]) / (3.14159265 * 50**2), 3)
    0.998
    """
    metres = pd.to_numeric(equipment[radius], errors="coerce").to_numpy(dtype=np.float64)
    geoms = equipment.geometry.buffer(np.nan_to_num(metres, nan=0.0), quad_segs=_QUAD_SEGS)
    data: dict[str, Any] = {"equipment_id": equipment["equipment_id"].to_numpy()}
    if "kind" in equipment.columns:
        data["kind"] = equipment["kind"].to_numpy()
    data["radius_m"] = metres
    return _frame(data, geoms.to_numpy())


def _premise_keys(customers: pd.DataFrame) -> pd.Series:
    from .campaign import premise_keys

    return premise_keys(customers)


def _refs(keys: pd.Series, order: list[str], key: bytes | None) -> pd.Series:
    """Name each premise key: its keyed pseudonym, else its number in ``order`` (P000001...)."""
    if key is not None:
        return pseudonym(keys, key).astype("str")
    number = {k: f"P{i + 1:06d}" for i, k in enumerate(order)}
    return keys.map(number).astype("str")


def _joined(keys: Any, values: Any) -> pd.Series:
    """Return, per key, its distinct non-blank values sorted and joined with ``;``.

    Deduplicated and sorted once for all keys, then cut at the key changes: one
    ``str.join`` per key (0.1 s for 85,000 premises; pandas' groupby ``agg`` takes a
    Python round trip per group, 2 s).
    """
    frame = pd.DataFrame(
        {"k": np.asarray(keys, dtype=object), "v": np.asarray(values, dtype=object)}
    )
    frame = frame[frame["v"].notna()]
    frame["v"] = frame["v"].astype(str)
    frame = frame[frame["v"] != ""].drop_duplicates().sort_values(["k", "v"], kind="stable")
    k = frame["k"].to_numpy(dtype=object)
    if not k.size:
        return pd.Series([], dtype=object)
    v = frame["v"].tolist()
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], k.size]
    joined = [";".join(v[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    return pd.Series(joined, index=pd.Index(k[starts], dtype=object), dtype=object)


def campaign_layers(
    result: CampaignResult, *, internal: bool = False, pseudonym_key: bytes | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Return a campaign's layers (see the module) as GeoDataFrames in EPSG:27700.

    Parameters
    ----------
    result : CampaignResult
    internal : bool, default False
        Add the internal contact category, the contact references of every
        contact and the customer ids (for use inside the DNO only).
    pseudonym_key : bytes, optional
        Name premises by their keyed pseudonym (stable across runs and files)
        instead of a number.

    Returns
    -------
    dict
        Layer name -> GeoDataFrame, in :data:`LAYERS` order; ``circuits_in_scope``
        and ``substations`` only with a network, ``outage_impact`` only when a
        contact is for an outage.
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    customers = result.customers.reset_index(drop=True)
    keys = _premise_keys(customers)
    order = sorted(set(keys.tolist()))
    refs = _refs(pd.Series(order, dtype=object), order, pseudonym_key)
    ref_of = dict(zip(order, refs.tolist(), strict=True))
    contacts = result.contacts
    contact_keys = contacts["premise_key"].astype(object) if len(contacts) else pd.Series([])

    # premises: the first customer's point, the most serious category of its customers
    rank = {
        c: i
        for i, c in enumerate(
            ("phone_call", "manual_review", "installation_letter", "leaflet", "not_contacted")
        )
    }
    frame = pd.DataFrame(
        {
            "key": keys.to_numpy(),
            "shared": customers["map_category_shared"].astype(str).to_numpy(),
            "category": customers["map_category"].astype(str).to_numpy(),
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "row": np.arange(len(customers)),
        }
    )
    frame["shared_rank"] = frame["shared"].map(rank).fillna(len(rank))
    frame["rank"] = frame["category"].map(rank).fillna(len(rank))
    groups = frame.groupby("key", sort=True)
    first = groups["row"].min()
    shared = frame.sort_values(["key", "shared_rank"], kind="stable").groupby("key")["shared"]
    data: dict[str, Any] = {
        "premise_ref": [ref_of[k] for k in first.index],
        "contact_category": shared.first().reindex(first.index).to_numpy(),
        "n_customers": groups.size().reindex(first.index).to_numpy(),
    }
    shareable = contacts["campaign"].isin(_SHAREABLE_CAMPAIGNS) if len(contacts) else None
    visible = contacts if internal or shareable is None else contacts[shareable]
    by_key = _joined(visible["premise_key"], visible["contact_ref"]) if len(visible) else None
    data["contact_refs"] = (
        by_key.reindex(first.index).fillna("").to_numpy()
        if by_key is not None
        else np.full(len(first), "", dtype=object)
    )
    if internal:
        category = frame.sort_values(["key", "rank"], kind="stable").groupby("key")["category"]
        data["internal_category"] = category.first().reindex(first.index).to_numpy()
        ids = _joined(frame["key"], frame["customer_id"])
        data["customer_ids"] = ids.reindex(first.index).fillna("").to_numpy()
    layers["premises"] = _frame(data, customers.geometry.to_numpy()[first.to_numpy()])

    equipment = result.equipment.reset_index(drop=True)
    cols = [
        c
        for c in (
            "equipment_id",
            "kind",
            "circuit_id",
            "substation_id",
            "install_date",
            "outage_required",
            "radius_m",
            "n_customers_within",
        )
        if c in equipment.columns
    ]
    layers["equipment"] = _frame({c: equipment[c].to_numpy() for c in cols}, equipment.geometry)
    layers["equipment_radius"] = radius_polygons(equipment)

    if result.edges is not None:
        edges = result.edges
        scope = edges[edges["in_scope"].astype(bool)].reset_index(drop=True)
        cols = ["edge_id", "from_node", "to_node", "circuit_id", "substation_id", "normally_open"]
        layers["circuits_in_scope"] = _frame(
            {c: scope[c].to_numpy() for c in cols if c in scope.columns}, scope.geometry
        )
    if result.substations is not None:
        subs = result.substations.reset_index(drop=True)
        cols = ["substation_id", "node", "name"]
        layers["substations"] = _frame(
            {c: subs[c].to_numpy() for c in cols if c in subs.columns}, subs.geometry
        )

    outage = contacts[contacts["campaign"].isin(_OUTAGE_CAMPAIGNS)] if len(contacts) else contacts
    if len(outage):
        okeys = contact_keys[outage.index].to_numpy()
        out = pd.DataFrame(
            {
                "key": okeys,
                "circuit_id": outage["circuit_id"].astype(object).to_numpy(),
                "outage_date": outage["outage_date"].astype(object).to_numpy(),
                "equipment_ids": outage["equipment_ids"].astype(object).to_numpy(),
                "contact_ref": outage["contact_ref"].astype(object).to_numpy(),
                "campaign": outage["campaign"].astype(str).to_numpy(),
            }
        )
        known = sorted(k for k in set(out["key"].tolist()) if k in ref_of)
        at = pd.Series(np.arange(len(first)), index=first.index)

        def per_premise(col: str) -> Any:
            return _joined(out["key"], out[col]).reindex(known).fillna("").to_numpy()

        odata: dict[str, Any] = {
            "premise_ref": [ref_of[k] for k in known],
            "circuit_id": per_premise("circuit_id"),
            "outage_date": per_premise("outage_date"),
            "equipment_ids": per_premise("equipment_ids"),
        }
        if internal:
            odata["contact_refs"] = per_premise("contact_ref")
            odata["campaigns"] = per_premise("campaign")
        points = layers["premises"].geometry.to_numpy()[at.loc[known].to_numpy()]
        layers["outage_impact"] = _frame(odata, points)
    return {name: layers[name] for name in LAYERS if name in layers}


def near_layers(
    pairs: gpd.GeoDataFrame,
    equipment: gpd.GeoDataFrame,
    *,
    internal: bool = False,
    pseudonym_key: bytes | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers of a ``near`` query: customers near, equipment, radius polygons.

    Parameters
    ----------
    pairs : GeoDataFrame
        :func:`smartstreet_geo.customers_near` with ``geometry=True``.
    equipment : GeoDataFrame
        The equipment queried, with ``radius_m`` (metres).
    internal : bool, default False
        Keep the customer ids (else none, or their keyed pseudonym as
        ``customer_ref`` when ``pseudonym_key`` is given).
    pseudonym_key : bytes, optional

    Returns
    -------
    dict
        ``customers_near`` (one point per pair), ``equipment``, ``equipment_radius``.
    """
    near = pd.DataFrame(pairs.drop(columns=[pairs.geometry.name]))
    cid = near.pop("customer_id")
    data: dict[str, Any] = {}
    if internal:
        data["customer_id"] = cid.to_numpy()
    elif pseudonym_key is not None:
        data["customer_ref"] = pseudonym(cid, pseudonym_key).to_numpy()
    data.update({c: near[c].to_numpy() for c in near.columns})
    eq = equipment.reset_index(drop=True)
    cols = [
        c
        for c in ("equipment_id", "kind", "circuit_id", "substation_id", "radius_m")
        if c in eq.columns
    ]
    return {
        "customers_near": _frame(data, pairs.geometry.to_numpy()),
        "equipment": _frame({c: eq[c].to_numpy() for c in cols}, eq.geometry),
        "equipment_radius": radius_polygons(eq),
    }


def table_layers(
    tables: Mapping[str, pd.DataFrame],
    customers: gpd.GeoDataFrame,
    *,
    internal: bool = False,
    pseudonym_key: bytes | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Place tables with a ``customer_id`` column (members, outage impact) at the customers.

    Each row gets its customer's point; the customer id is dropped (pseudonymous,
    like the map), replaced by its keyed pseudonym ``customer_ref`` when
    ``pseudonym_key`` is given, or kept with ``internal=True``. Rows whose
    customer is not among ``customers`` keep an empty geometry (never dropped).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Layer name -> table with a ``customer_id`` column.
    customers : GeoDataFrame
        The valid customers (unique ``customer_id``, Points in EPSG:27700).
    internal : bool, default False
    pseudonym_key : bytes, optional

    Returns
    -------
    dict
        Layer name -> GeoDataFrame, same rows and order as the table.
    """
    ids = customers["customer_id"].astype(str).reset_index(drop=True)
    position = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
    position = position[~position.index.duplicated(keep="first")]
    geoms = customers.geometry.reset_index(drop=True).to_numpy()
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, table in tables.items():
        cid = table["customer_id"].astype(str).reset_index(drop=True)
        at = position.reindex(pd.Index(cid, dtype=object)).to_numpy()
        found = ~pd.isna(at)
        points = np.full(len(cid), None, dtype=object)
        points[found] = geoms[at[found].astype(np.int64)]
        data: dict[str, Any] = {}
        if internal:
            data["customer_id"] = cid.to_numpy()
        elif pseudonym_key is not None:
            data["customer_ref"] = pseudonym(cid, pseudonym_key).to_numpy()
        rest = table.drop(columns=["customer_id"]).reset_index(drop=True)
        data.update({c: rest[c].to_numpy() for c in rest.columns})
        layers[name] = _frame(data, points)
    return layers


def _parquet_bytes(layer: gpd.GeoDataFrame) -> bytes:
    buf = io.BytesIO()
    layer.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


def _gpkg_bytes(layers: Mapping[str, gpd.GeoDataFrame], scratch: Path) -> bytes:
    """Write every layer into one GeoPackage in a private scratch folder; return its bytes.

    GDAL writes a GeoPackage to a path (with journal files beside it) and cannot
    append layers to an in-memory file, so it is built in a temporary folder
    (mode 0700) and then written atomically where it belongs.
    """
    import pyogrio

    with tempfile.TemporaryDirectory(prefix=".geo-", dir=scratch) as tmp:
        path = Path(tmp) / "layers.gpkg"
        for i, (name, layer) in enumerate(layers.items()):
            pyogrio.write_dataframe(
                _gpkg_ready(layer), path, layer=name, driver="GPKG", append=i > 0
            )
        return path.read_bytes()


def _gpkg_ready(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns GeoPackage can hold: nullable booleans and Arrow strings as plain types."""
    out = layer.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        dtype = out[col].dtype
        if isinstance(dtype, pd.BooleanDtype):
            out[col] = out[col].astype(object)
        elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def write_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    geo: GeoFormat | None = None,
) -> list[Path]:
    """Write layers as one GeoPackage, or as one GeoParquet file per layer.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layer name -> layer (EPSG:27700).
    path : str or Path
        ``x.gpkg``: one file with every layer. ``x.parquet``: one layer is
        written there; several go to ``x_<layer>.parquet`` beside it.
    geo : {"gpkg", "parquet"}, optional
        The format (default: from the extension; any other extension is refused).

    Returns
    -------
    list of Path
        The files written (each atomically, owner-only).
    """
    target = Path(path)
    fmt = geo or target.suffix.lower().lstrip(".")
    if fmt == "geoparquet":
        fmt = "parquet"
    _check_format(fmt)
    for name, layer in layers.items():
        if layer.crs is None or layer.crs.to_epsg() != 27700:
            raise ParameterError(f"layer {name!r} is not in {BNG_CRS}.")
    if fmt == "gpkg":
        return [atomic_write_bytes(target, _gpkg_bytes(layers, target.parent))]
    if len(layers) == 1:
        return [atomic_write_bytes(target, _parquet_bytes(next(iter(layers.values()))))]
    stem = target.with_suffix("")
    return [
        atomic_write_bytes(Path(f"{stem}_{name}.parquet"), _parquet_bytes(layer))
        for name, layer in layers.items()
    ]


def write_campaign_layers(
    result: CampaignResult,
    stage: StagedFolder,
    *,
    geo: GeoFormat,
    internal: bool = False,
    pseudonym_key: bytes | None = None,
) -> list[str]:
    """Write a campaign's layers into its staging folder; return the file names.

    ``gpkg``: ``layers.gpkg`` with every layer; ``parquet``: ``<layer>.parquet``
    per layer. Call it inside :func:`smartstreet_geo.export.staged_output` (as
    ``write_campaign`` does): the files appear with the rest of the folder, or
    not at all. See :func:`campaign_layers` for ``internal`` and ``pseudonym_key``.
    """
    _check_format(geo)
    layers = campaign_layers(result, internal=internal, pseudonym_key=pseudonym_key)
    if geo == "gpkg":
        atomic_write_bytes(stage.file(GPKG_NAME), _gpkg_bytes(layers, stage.path))
        return [GPKG_NAME]
    names = []
    for name, layer in layers.items():
        atomic_write_bytes(stage.file(f"{name}.parquet"), _parquet_bytes(layer))
        names.append(f"{name}.parquet")
    return names
