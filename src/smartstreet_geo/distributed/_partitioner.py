"""Split a customer file into partitions by substation group: ``partition_customers``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..campaign._partition import PARTITIONS_FILE, is_partitioned
from ..errors import InputFileError, ParameterError
from ..schema import CIRCUIT_ID, CONNECTION_NODE, CUSTOMER_ID, SUBSTATION_ID

__all__ = [
    "PartitionedCustomers",
    "partition_customers",
    "partition_settings",
    "read_partitions",
]

#: Column of a part file holding each row's 1-based row number in the whole file.
ROW_COLUMN = "__source_row__"
_FORMAT = "smartstreet-geo partitioned customers"


@dataclass(frozen=True)
class PartitionedCustomers:
    """A partitioned customer input: the folder and what ``partitions.json`` says.

    Attributes
    ----------
    path : Path
        The folder (point ``[inputs] customers`` at it).
    source : str
        The name of the file it was made from (rejects name it so).
    rows : int
        Data rows of that file; every one is in exactly one part.
    parts : list of dict
        Per part: ``file``, ``rows``, ``substations`` (ids of its substation group),
        ``bounds`` (BNG box of its valid customers, or None) and ``sha256``.
    settings : dict
        The campaign settings that decided which rows must share a part
        (:func:`partition_settings`); a run with other settings is refused.
    """

    path: Path
    source: str
    rows: int
    parts: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        """The part files, in order."""
        return [self.path / p["file"] for p in self.parts]


def read_partitions(path: str | Path) -> PartitionedCustomers:
    """Read a partitioned customer input's ``partitions.json`` (checked, not the parts)."""
    folder = Path(path)
    if not is_partitioned(folder):
        raise InputFileError(f"{folder}: not a partitioned customer input (no {PARTITIONS_FILE}).")
    info = json.loads((folder / PARTITIONS_FILE).read_text(encoding="utf-8"))
    if info.get("format") != _FORMAT:
        raise InputFileError(f"{folder / PARTITIONS_FILE}: not a {_FORMAT} description.")
    missing = [p["file"] for p in info["parts"] if not (folder / p["file"]).is_file()]
    if missing:
        raise InputFileError(f"{folder}: part file(s) missing: {', '.join(missing)}.")
    return PartitionedCustomers(
        folder, info["source"], int(info["rows"]), list(info["parts"]), info.get("settings", {})
    )


def partition_settings(cfg: Any) -> dict[str, Any]:
    """Return the campaign settings that decide which customer rows must share a part.

    Rows of one customer id and customers of one premise share a part; which rows are
    customers (valid, or placed by ``[locate]``) and what their ids and premises are
    depends on the customer column mapping and on whether ``[locate]`` places rows without
    coordinates. A run whose settings differ could send two letters to one premise (its
    rows in two parts), so it is refused.
    """
    return {
        "customer_columns": dict(sorted((cfg.column_maps.get("customers") or {}).items())),
        "locate": cfg.locate is not None,
    }


def partition_customers(
    config: Any,
    out: str | Path,
    *,
    partitions: int = 8,
    overwrite: bool = False,
) -> PartitionedCustomers:
    """Split a campaign's customer file into Parquet parts by substation group.

    LV networks are independent below each substation, except where a
    normally-open point links two: a substation group is a connected part of
    the network counting normally-open links, so a group's circuits and every
    circuit that could backfeed them are in it. Groups are packed into
    ``partitions`` parts of similar size (largest first, into the smallest part).
    A customer goes to the group of its connection node, else its declared
    circuit, else its declared substation, else the nearest substation. Then
    customers who must be decided together are put together: rows with the same
    customer id (duplicates are judged across them) and customers of the same
    premise (one letter per premise), each moved to the lowest part among them.
    Rows the reader rejects on their own are dealt out in proportion to the parts'
    rows (so no part is mostly rejected rows, which the reader's whole-file checks
    would stop). Rows keep their raw values and their row number in the file, so a
    part is read, checked and rejected exactly as those rows of the file.
    ``partitions.json`` records the settings this depends on (the customer column
    mapping and whether ``[locate]`` is used); a run with other settings is refused.

    Parameters
    ----------
    config : CampaignConfig, str or Path
        The campaign (its customer file, column mapping, network and ``[locate]``).
    out : str or Path
        A new folder (or an existing one with ``overwrite=True``): ``part-00000.parquet``
        ... and ``partitions.json``. Written complete or not at all.
    partitions : int, default 8
        Number of parts (at most the number of substation groups is useful).
    overwrite : bool, default False
        Replace an existing folder.

    Returns
    -------
    PartitionedCustomers

    Raises
    ------
    ParameterError
        ``partitions`` below 1, ``out`` exists without ``overwrite``, or ``out`` is a file or
        a folder holding anything but parts (``overwrite`` never deletes other files).
    InputFileError
        The customer file is already partitioned, or is a CSV with ragged rows
        (fix the file first: such a row is rejected whole by the reader, and a part
        file cannot carry that).
    """
    from ..campaign import load_config
    from ..campaign.config import CampaignConfig
    from ..campaign.run import premise_keys
    from ..io import read_customers
    from ..io._files import load_table

    cfg = config if isinstance(config, CampaignConfig) else load_config(config)
    if partitions < 1:
        raise ParameterError(f"partitions must be at least 1, not {partitions}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ParameterError(f"{out}: exists; choose a new folder or pass overwrite=True")
    if out.exists() and not is_partitioned(out) and (not out.is_dir() or any(out.iterdir())):
        # overwrite replaces a folder of parts (or an empty one), never a folder of other files
        raise ParameterError(
            f"{out}: is not a folder of parts (no {PARTITIONS_FILE}) and is not empty; "
            "overwrite only replaces an earlier partition_customers folder - choose a new folder"
        )
    if is_partitioned(cfg.customers):
        raise InputFileError(f"{cfg.customers}: is already a partitioned customer input")
    raw = load_table(cfg.customers, encoding=cfg.encoding)
    source = Path(cfg.customers).name
    if raw.field_counts is not None and raw.n_fields is not None:
        ragged = np.flatnonzero(raw.field_counts != raw.n_fields)
        if len(ragged):
            shown = ", ".join(str(r + 1) for r in ragged[:5])
            raise InputFileError(
                f"{source}: row(s) {shown} have more or fewer fields than the header; fix the "
                "file before partitioning it (the reader rejects such rows whole)"
            )
    if raw.frame.columns.duplicated().any():
        raise InputFileError(f"{source}: repeated column names; a Parquet part cannot hold them")
    n = len(raw.frame)
    # the rows as the parts will hold them, read as a worker reads a part (the file once)
    whole = raw.frame.set_axis(pd.RangeIndex(1, n + 1), axis=0)
    if raw.geometry is not None:
        import geopandas as gpd

        whole = gpd.GeoDataFrame(whole, geometry=raw.geometry, crs=raw.crs)
    whole.attrs["source"] = source
    read = read_customers(
        whole, columns=cfg.column_maps.get("customers") or None, locate=cfg.locate
    )
    del whole
    valid = read.data
    at = valid["source_row"].to_numpy(dtype=np.int64) - 1  # positions in the file
    groups, names = _groups(valid, cfg)
    part_of_group = _pack(np.bincount(groups, minlength=len(names)), partitions)

    part = np.full(n, -1, dtype=np.int64)
    part[at] = part_of_group[groups]
    keys = pd.DataFrame({"part": part})
    keys["premise"] = pd.Series(pd.NA, index=keys.index, dtype=object)
    keys.loc[at, "premise"] = premise_keys(pd.DataFrame(valid.drop(columns="geometry"))).to_numpy()
    keys["id"] = pd.Series(pd.NA, index=keys.index, dtype=object)
    keys.loc[at, "id"] = valid[CUSTOMER_ID].to_numpy(dtype=object)
    rej = read.rejects.dropna(subset=["record_id"])
    keys.loc[rej["row_number"].to_numpy(dtype=np.int64) - 1, "id"] = rej["record_id"].to_numpy()
    part = _together(keys, ("premise", "id"))
    free = np.flatnonzero(part < 0)  # rejected rows with no valid twin
    if len(free):
        reason = np.full(n, "", dtype=object)
        reason[read.rejects["row_number"].to_numpy(dtype=np.int64) - 1] = (
            read.rejects["reason_code"].astype(str).to_numpy()
        )
        held = np.bincount(part[part >= 0], minlength=partitions)
        part[free] = _spread(keys["id"].to_numpy()[free], reason[free], held)

    stage = Path(
        tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None)
    )
    try:
        parts = []
        bounds = valid.geometry.bounds.to_numpy()
        for p in range(partitions):
            rows = np.flatnonzero(part == p)
            frame = raw.frame.iloc[rows].reset_index(drop=True)
            frame.insert(0, ROW_COLUMN, rows + 1)
            if raw.geometry is not None:
                import geopandas as gpd

                frame = gpd.GeoDataFrame(frame, geometry=raw.geometry[rows], crs=raw.crs)
            name = f"part-{p:05d}.parquet"
            frame.to_parquet(stage / name, index=False)
            mine = part[at] == p
            box = (
                [float(bounds[mine, 0].min()), float(bounds[mine, 1].min()),
                 float(bounds[mine, 2].max()), float(bounds[mine, 3].max())]
                if mine.any() else None
            )  # fmt: skip
            members = sorted(str(names[g]) for g in np.flatnonzero(part_of_group == p))
            parts.append(
                {
                    "file": name,
                    "rows": len(rows),
                    "substations": members,
                    "bounds": box,
                    "sha256": _sha256(stage / name),
                }
            )
        info = {
            "format": _FORMAT,
            "version": 1,
            "source": source,
            "source_sha256": _sha256(Path(cfg.customers)),
            "rows": n,
            "settings": partition_settings(cfg),
            "by": "substation group (network components counting normally-open links)",
            "parts": parts,
        }
        (stage / PARTITIONS_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        os.chmod(stage, 0o700)
        if out.exists():
            shutil.rmtree(out)
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return read_partitions(out)


def _groups(valid: pd.DataFrame, cfg: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Return each valid customer's substation group (codes) and the groups' names.

    A group is named by its lowest substation id, and lists nothing else here; without a
    network, groups are the declared substation ids (blank: one group of its own).
    """
    if cfg.network_edges is None:
        codes, names = pd.factorize(valid[SUBSTATION_ID].fillna(""), sort=True)
        return codes.astype(np.int64), np.asarray(names, dtype=object)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from ..io import read_network

    net = read_network(
        cfg.network_edges,
        cfg.substations,
        edge_columns=cfg.column_maps.get("edges") or None,
        substation_columns=cfg.column_maps.get("substations") or None,
        encoding=cfg.encoding,
    )
    edges, subs = net.edges, net.substations
    nodes, uniq = pd.factorize(
        pd.concat([edges["from_node"], edges["to_node"], subs["node"]], ignore_index=True)
    )
    m, k = len(edges), len(uniq)
    graph = coo_matrix((np.ones(m), (nodes[:m], nodes[m : 2 * m])), shape=(k, k))
    ncomp, comp = connected_components(graph, directed=False)
    sub_comp = comp[nodes[2 * m :]]
    # a component is named by its lowest substation id (none: its lowest node id)
    name_of = pd.Series(np.asarray(uniq, dtype=object)).groupby(comp).min()
    named = pd.Series(subs["substation_id"].to_numpy(dtype=object)).groupby(sub_comp).min()
    name_of.loc[named.index] = named.to_numpy()
    node_comp = pd.Series(comp, index=pd.Index(uniq))
    by_circuit = (
        pd.Series(comp[nodes[:m]], index=edges[CIRCUIT_ID].to_numpy()).groupby(level=0).min()
    )
    by_sub = pd.Series(sub_comp, index=subs["substation_id"].to_numpy()).groupby(level=0).min()
    found = np.full(len(valid), -1, dtype=np.int64)
    for column, table in (
        (CONNECTION_NODE, node_comp),
        (CIRCUIT_ID, by_circuit),
        (SUBSTATION_ID, by_sub),
    ):
        todo = found < 0
        if column in valid and todo.any():
            hit = valid[column].map(table).to_numpy(dtype=float, na_value=np.nan)
            use = todo & ~np.isnan(hit)
            found[use] = hit[use].astype(np.int64)
    left = np.flatnonzero(found < 0)
    if len(left) and len(subs):  # nothing declared: the nearest substation's group
        nearest = subs.sindex.nearest(valid.geometry.iloc[left], return_all=False)[1]
        found[left] = sub_comp[nearest]
    found[found < 0] = 0  # no network at all to go by
    return found, name_of.reindex(range(ncomp)).to_numpy(dtype=object)


def _pack(weights: npt.NDArray[np.int64], partitions: int) -> npt.NDArray[np.int64]:
    """Assign groups to parts, heaviest first into the lightest part (ties: lowest index)."""
    load = np.zeros(partitions, dtype=np.int64)
    out = np.zeros(len(weights), dtype=np.int64)
    for g in np.lexsort((np.arange(len(weights)), -weights)):
        p = int(np.argmin(load))
        out[g] = p
        load[p] += weights[g]
    return out


def _spread(
    ids: npt.NDArray[Any], reasons: npt.NDArray[Any], held: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Deal rows rejected on their own out to the parts, in proportion to the rows they hold.

    A part is read as a file is, and the reader judges a few things over the whole file (half
    the rows with degrees in easting columns stops it, :mod:`smartstreet_geo.io`): a part made
    mostly of the file's rejected rows would stop where the file does not. So each reject
    reason's rows go to the parts in proportion to the rows the parts already hold, largest
    part first (a part of 2 customers gets none of a few such rows); rows with one id stay
    together (they are judged together). With no row read as valid, every row goes to the
    first part: it is then read as the whole file is.
    """
    n = len(ids)
    out = np.zeros(n, dtype=np.int64)
    total = int(held.sum())
    if n == 0 or total == 0:
        return out
    unit, _ = pd.factorize(pd.Series(ids, dtype=object))
    unit = np.where(unit < 0, np.arange(n) + unit.max(initial=-1) + 1, unit)
    units = pd.DataFrame({"unit": unit, "reason": reasons}).drop_duplicates("unit")
    by_reason = units.groupby("reason", sort=False)["unit"]
    k = by_reason.cumcount().to_numpy()
    m = by_reason.transform("size").to_numpy()
    order = np.lexsort((np.arange(len(held)), -held))  # largest part first
    edges = np.cumsum(held[order]) / total
    slot = np.minimum(np.searchsorted(edges, (k + 0.5) / m, side="right"), len(held) - 1)
    target = pd.Series(order[slot], index=units["unit"].to_numpy())
    return target.reindex(unit).to_numpy(dtype=np.int64)


def _together(keys: pd.DataFrame, columns: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """Move rows that share any key to the lowest part among them (until nothing moves)."""
    big = np.iinfo(np.int64).max
    part = keys["part"].to_numpy(dtype=np.int64).copy()
    # each key column as integer codes once (missing: -1, which matches nothing)
    codes = [pd.factorize(keys[c].to_numpy(dtype=object))[0] for c in columns]
    for _ in range(100):
        before = part.copy()
        for code in codes:
            has = code >= 0
            if not has.any():
                continue
            low = np.full(int(code.max()) + 1, big, dtype=np.int64)
            np.minimum.at(low, code[has], np.where(part < 0, big, part)[has])
            lowest = low[code[has]]
            part[has] = np.where(lowest == big, part[has], lowest)
        if np.array_equal(part, before):
            return part
    raise AssertionError("partitioning by shared keys did not settle")  # pragma: no cover


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
