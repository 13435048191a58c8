"""The manifest of a campaign run: inputs with checksums, parameters, counts, dates, versions."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .config import CampaignConfig

__all__ = ["build_manifest"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(
    cfg: CampaignConfig,
    cust_r: Any,
    eq_r: Any,
    net_r: Any,
    res: dict[str, Any],
    in_scope: set[str],
    latest_send: dict[str, date],
) -> dict[str, Any]:
    """Return the manifest: inputs (path, rows, SHA-256), parameters, counts, dates, versions."""
    from importlib.metadata import version

    from .. import __version__

    def rel(p: Path) -> str:
        base = cfg.source.parent if cfg.source is not None else Path.cwd()
        try:
            return str(p.resolve().relative_to(base.resolve()))
        except ValueError:
            return str(p)

    def read(role: str, r: Any) -> dict[str, Any]:
        path = Path(r.source)
        return {
            "role": role,
            "path": rel(path),
            "rows": r.n_input,
            "valid": r.n_valid,
            "rejected": r.n_rejected,
            "sha256": _sha256(path),
        }

    inputs = [read("customers", cust_r), read("equipment", eq_r)]
    if net_r is not None:
        inputs += [
            read("network_edges", net_r.edges_result),
            read("substations", net_r.substations_result),
        ]
    for role, p in (
        ("circuits", cfg.circuits_file),
        ("opted_out", cfg.opted_out),
        ("history", cfg.history),
        ("psr_needs_codes", cfg.needs_codes),
        ("campaign", cfg.source),
    ):
        if p is not None:
            inputs.append({"role": role, "path": rel(p), "sha256": _sha256(p)})
    contacts = res["contacts"]
    recon = res["reconciliation"]
    return {
        "tool": "smartstreet-geo",
        "version": __version__,
        "campaign": {"name": cfg.name, "reference": cfg.reference},
        "created": cfg.run_date.isoformat(),
        "delete_after": (cfg.run_date + timedelta(days=cfg.delete_after_days)).isoformat(),
        "inputs": inputs,
        "parameters": {
            "radii_m": dict(sorted(cfg.radii.items())),
            "campaigns": list(cfg.produce),
            "circuits_in_scope": sorted(in_scope),
            "notice_days": cfg.notice_days,
            "latest_send_dates": {k: v.isoformat() for k, v in sorted(latest_send.items())},
            "templates": {k: asdict(v) for k, v in sorted(cfg.templates.items())},
            "pseudonymised_ids": cfg.pseudonymise_ids,
        },
        "counts": {
            "contacts": {
                k: int(v) for k, v in contacts.groupby("campaign").size().sort_index().items()
            },
            "reconciliation": {
                k: int(v) for k, v in recon["status"].value_counts().sort_index().items()
            },
            "manual_review": {
                k: int(v)
                for k, v in res["manual_review"]["issue"].value_counts().sort_index().items()
            },
            "rejects_by_reason": {
                k: int(v)
                for k, v in res["rejects"]["reason_code"].value_counts().sort_index().items()
            },
            "equipment": len(res["equipment"]),
        },
        "packages": {
            "python": platform.python_version(),
            **{
                name: version(name)
                for name in ("numpy", "pandas", "geopandas", "shapely", "pyproj")
            },
        },
        "warnings": list(res["warnings"]),
    }
