"""The manifest of a campaign run: inputs with checksums, parameters, counts, dates, versions.

Dates: ``created`` is the real time the run was made (UTC, ISO 8601 to the
second) and ``delete_after`` counts the retention period (``[output]
delete_after_days``) from it; the campaign's own ``run_date`` (which decides
notice deadlines, and which a campaign file may set in the past or future) is
recorded as ``run_date``. Every other field depends on the inputs only, so two
runs of the same inputs differ in ``created`` and ``delete_after`` alone.

Paths: inputs are shown relative to the campaign file's folder, or by file
name where they lie elsewhere (:func:`shown_path`), never as absolute paths
of the machine that ran the campaign.
"""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from .config import CampaignConfig
from .result import count_summary

__all__ = [
    "RUN_VARYING_KEYS",
    "build_manifest",
    "retention_warning",
    "shown_path",
    "shown_sources",
]

#: Manifest keys that differ between two runs of the same inputs (the time of the run).
RUN_VARYING_KEYS = ("created", "delete_after")


def _now() -> datetime:
    """Return the current time, UTC, to the second (tests replace it to fix the clock)."""
    return datetime.now(UTC).replace(microsecond=0)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()  # (one reused buffer)


def shown_path(path: str | Path, base: Path | None) -> str:
    """Return ``path`` as outputs show it: relative to ``base``, else its file name.

    Outputs travel (to a letter house, a partner, an auditor): an absolute path
    would tell them the user name and folder layout of the machine that ran
    the campaign.

    Parameters
    ----------
    path : str or Path
        An input file.
    base : Path or None
        The campaign file's folder (None: the file name only).

    Returns
    -------
    str
        A POSIX-style relative path or a file name; ``""`` stays ``""``.

    Examples
    --------
    >>> from pathlib import Path
    >>> shown_path("/data/run1/customers.csv", Path("/data/run1"))
    'customers.csv'
    >>> shown_path("/data/run1/in/customers.csv", Path("/data/run1"))
    'in/customers.csv'
    >>> shown_path("/elsewhere/customers.csv", Path("/data/run1"))
    'customers.csv'
    """
    text = os.fspath(path)
    if not text:
        return text
    p = Path(text)
    if base is not None:
        try:
            return p.resolve().relative_to(base.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    return p.name


def shown_sources(rejects: pd.DataFrame, base: Path | None) -> pd.DataFrame:
    """Return ``rejects`` with ``source_file`` as :func:`shown_path` shows it (a copy).

    The readers record the path they were given (often absolute); call this
    where a campaign collects its rejects, with the campaign file's folder.

    Parameters
    ----------
    rejects : DataFrame
        A rejects table (``source_file`` column).
    base : Path or None
        The campaign file's folder.

    Returns
    -------
    DataFrame
    """
    if "source_file" not in rejects.columns or rejects.empty:
        return rejects
    out = rejects.copy()
    files = out["source_file"]
    shown = {f: shown_path(f, base) for f in files.dropna().unique().tolist()}
    out["source_file"] = files.map(shown).astype(files.dtype)
    return out


def retention_warning(run_date: date, delete_after_days: int, today: date) -> str | None:
    """Return a warning when personal data of ``run_date`` should already be deleted.

    Parameters
    ----------
    run_date : date
        The campaign's run date (the date its data describe).
    delete_after_days : int
        The retention period, ``[output] delete_after_days``.
    today : date
        The real date of the run.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from datetime import date
    >>> retention_warning(date(2026, 1, 5), 90, date(2026, 12, 3))  # doctest: +ELLIPSIS
    'the campaign run date 2026-01-05 plus [output] delete_after_days (90) is 2026-04-05, ...'
    >>> retention_warning(date(2026, 11, 1), 90, date(2026, 12, 3)) is None
    True
    """
    due = run_date + timedelta(days=delete_after_days)
    if due >= today:
        return None
    return (
        f"the campaign run date {run_date.isoformat()} plus [output] delete_after_days "
        f"({delete_after_days}) is {due.isoformat()}, already past on {today.isoformat()}: "
        "personal data of that campaign should already be deleted; check run_date, and do "
        "not send lists made from data that should no longer be kept"
    )


def build_manifest(
    cfg: CampaignConfig,
    cust_r: Any,
    eq_r: Any,
    net_r: Any,
    res: dict[str, Any],
    in_scope: set[str],
    latest_send: dict[str, date],
) -> dict[str, Any]:
    """Return the manifest: inputs (path, rows, SHA-256), parameters, counts, dates, versions.

    ``created`` is the time of this call (UTC); ``delete_after`` is
    ``[output] delete_after_days`` later. When the campaign's ``run_date``
    plus that period is already past, a warning is appended to
    ``res["warnings"]`` (the run's warnings, shown on the console) and so to
    the manifest's.
    """
    from importlib.metadata import version

    from .. import __version__

    base = cfg.source.parent if cfg.source is not None else None
    created = _now()
    late = retention_warning(cfg.run_date, cfg.delete_after_days, created.date())
    if late is not None and late not in res["warnings"]:
        res["warnings"].append(late)

    def read(role: str, r: Any) -> dict[str, Any]:
        path = Path(r.source)
        return {
            "role": role,
            "path": shown_path(path, base),
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
        ("register", cfg.register),
        ("psr_needs_codes", cfg.needs_codes),
        ("campaign", cfg.source),
    ):
        if p is not None and Path(p).is_file():
            inputs.append({"role": role, "path": shown_path(p, base), "sha256": _sha256(p)})
    contacts = res["contacts"]
    recon = res["reconciliation"]
    return {
        "tool": "smartstreet-geo",
        "version": __version__,
        "campaign": {"name": cfg.name, "reference": cfg.reference},
        "run_date": cfg.run_date.isoformat(),
        "created": created.isoformat(),
        "delete_after": (created + timedelta(days=cfg.delete_after_days)).isoformat(),
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
        # reconciliation.csv and manual_review.csv: shareable words, or the rules' own
        "details": "internal" if cfg.internal_details else "shareable",
        "counts": {
            # the same numbers as the console and the map legend (one table of statuses)
            **count_summary(recon, res["manual_review"], res["customers"], contacts),
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
