"""A partition's result as it travels to the client and waits there for the merge.

The client holds every partition's result until the last one is done. As pandas
frames that is about a kilobyte per customer (10 GB at 10 million customers, before
the merge has copied anything), so each partition's customer-sized tables travel and
wait as compressed pickles (about a tenth of that) and are unpacked one table at a
time, when the merge comes to that table. Pickle, not Parquet: the tables hold
columns of mixed Python objects (``None`` beside text, numbers beside text) whose
exact types the writers' bytes depend on, and pickle gives them back as they were.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["PackedPart", "pack_part"]

#: The customer-sized tables of a partition's result (the rest is small: the
#: equipment, the network from one partition, the facts and warnings).
PACKED_TABLES = (
    "contacts",
    "reconciliation",
    "manual_review",
    "customers",
    "nominee_copies",
    "rejects",
)

#: zstd at its default level: about 8x smaller than the pickles at a few hundred MB/s.
_CODEC = "zstd"


@dataclass
class PackedPart:
    """One partition's campaign result, its large tables compressed.

    Attributes
    ----------
    facts : dict
        What the merge needs in place of a manifest (``manifest["part"]``).
    small : dict
        The result's small tables, as they were (``equipment``, ``edges``, ``substations``).
    packed : dict
        Table name -> ``(size, compressed pickle)``; :meth:`take` unpacks one.
    """

    facts: dict[str, Any]
    small: dict[str, Any]
    packed: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def take(self, name: str) -> pd.DataFrame | None:
        """Return table ``name`` and let go of its packed bytes (a table is taken once)."""
        import pyarrow as pa

        size, data = self.packed.pop(name)
        if size < 0:
            return None
        frame: pd.DataFrame = pickle.loads(
            pa.decompress(data, decompressed_size=size, codec=_CODEC, asbytes=True)
        )
        return frame

    @property
    def nbytes(self) -> int:
        """Size of the packed tables in bytes."""
        return sum(len(d) for _, d in self.packed.values())


def pack_part(result: Any) -> PackedPart:
    """Return a partition's :class:`~smartstreet_geo.campaign.CampaignResult`, packed."""
    import pyarrow as pa

    packed: dict[str, tuple[int, bytes]] = {}
    for name in PACKED_TABLES:
        frame = getattr(result, name)
        if frame is None:
            packed[name] = (-1, b"")
            continue
        raw = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
        packed[name] = (len(raw), pa.compress(raw, codec=_CODEC, asbytes=True))
        del raw
    small = {
        "equipment": result.equipment,
        "edges": result.edges,
        "substations": result.substations,
    }
    return PackedPart(facts=result.manifest["part"], small=small, packed=packed)
