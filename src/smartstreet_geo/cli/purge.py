"""``smartstreet-geo purge DIR``: delete a campaign's output folder once its retention date is past.

The folder must be what a campaign run wrote: a ``manifest.json`` of
smartstreet-geo with a ``delete_after`` date and an ``outputs`` list, and no
file that the manifest does not list (a folder holding anything else is
refused: purge never deletes what it cannot account for). A folder that a run
is writing (its lock is held, see :func:`smartstreet_geo.export.staged_output`)
is refused. Before ``delete_after`` the folder is kept unless ``--now --yes``
is given. The report names the files and counts them; it never shows their
contents.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import ParameterError, SmartStreetGeoError
from ._common import echo

__all__ = ["PurgePlan", "add_parser", "plan_purge", "purge_folder"]

MANIFEST = "manifest.json"


class PurgeError(SmartStreetGeoError):
    """A folder cannot be purged: not a campaign output, holds other files, not yet due, locked."""


@dataclass(frozen=True)
class PurgePlan:
    """What purging a folder deletes.

    Attributes
    ----------
    folder : Path
        The output folder (absolute).
    files : tuple of str
        File names to delete, the manifest last.
    sizes : dict
        File name -> size in bytes.
    delete_after : str
        The manifest's retention date.
    due : bool
        Whether the retention date has passed.
    missing : tuple of str
        Files the manifest lists that are no longer there.
    """

    folder: Path
    files: tuple[str, ...]
    sizes: dict[str, int] = field(repr=False)
    delete_after: str
    due: bool
    missing: tuple[str, ...] = ()

    @property
    def n_bytes(self) -> int:
        """Total size of the files to delete."""
        return sum(self.sizes.values())


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``purge`` sub-command."""
    p = sub.add_parser(
        "purge",
        help="delete a campaign output folder whose retention date has passed",
        description="Delete an output folder written by 'smartstreet-geo run' once the "
        "retention date in its manifest (delete_after) has passed, and say what was deleted "
        "(file names and sizes, never contents). Refuses a folder without a smartstreet-geo "
        "manifest, a folder holding files the manifest does not list, a folder a run is "
        "writing, and a folder not yet due (unless --now --yes).",
    )
    p.add_argument("folder", type=Path, help="the output folder of a campaign run")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
    )
    p.add_argument(
        "--now",
        action="store_true",
        help="delete before the retention date (needs --yes as well)",
    )
    p.add_argument("--yes", action="store_true", help="confirm --now")
    p.set_defaults(func=run)


def _parse_when(text: object, where: str) -> tuple[datetime, bool]:
    """Return the retention time and whether it was given as a date only."""
    if not isinstance(text, str):
        raise PurgeError(f"{where}: the manifest has no delete_after date.")
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC), True
        when = datetime.fromisoformat(text)
    except ValueError:
        raise PurgeError(f"{where}: the manifest's delete_after is not an ISO 8601 date.") from None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)), False


def _read_manifest(folder: Path, shown: object) -> dict[str, Any]:
    path = folder / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise PurgeError(
            f"{shown}: no {MANIFEST}: this is not an output folder of smartstreet-geo; "
            "nothing deleted."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PurgeError(f"{shown}: {MANIFEST} is not valid JSON; nothing deleted.") from None
    outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("tool") != "smartstreet-geo"
        or not isinstance(outputs, list)
        or not all(isinstance(o, dict) and isinstance(o.get("file"), str) for o in outputs)
    ):
        raise PurgeError(
            f"{shown}: {MANIFEST} is not a smartstreet-geo manifest (tool, outputs); "
            "nothing deleted."
        )
    return manifest


def plan_purge(folder: str | Path, *, now: datetime | None = None) -> PurgePlan:
    """Check ``folder`` and return what purging it would delete (nothing is deleted).

    Parameters
    ----------
    folder : str or Path
        An output folder of a campaign run.
    now : datetime, optional
        The time to compare the retention date with (default: the clock, UTC).

    Returns
    -------
    PurgePlan

    Raises
    ------
    PurgeError
        Not a folder, no valid smartstreet-geo manifest, or a file (or
        folder, or link) the manifest does not list.
    """
    shown = folder
    target = Path(os.path.abspath(os.fspath(folder)))
    if target.is_symlink():
        raise PurgeError(f"{shown}: is a symbolic link; give the folder itself.")
    if not target.is_dir():
        raise PurgeError(f"{shown}: no such folder.")
    manifest = _read_manifest(target, shown)
    listed = [o["file"] for o in manifest["outputs"]]
    allowed = {*listed, MANIFEST}
    with os.scandir(target) as it:
        entries = sorted(it, key=lambda e: e.name)
    strange = [
        e.name
        for e in entries
        if e.name not in allowed or e.is_symlink() or not e.is_file(follow_symlinks=False)
    ]
    if strange:
        more = f" and {len(strange) - 5} more" if len(strange) > 5 else ""
        raise PurgeError(
            f"{shown}: holds {len(strange)} file(s) or folder(s) its manifest does not list "
            f"({', '.join(repr(n) for n in strange[:5])}{more}); nothing deleted. Move them "
            "away (or delete the folder yourself) if it is right to."
        )
    present = {e.name: e.stat(follow_symlinks=False).st_size for e in entries}
    files = (*sorted(n for n in present if n != MANIFEST), MANIFEST)
    when, date_only = _parse_when(manifest.get("delete_after"), str(shown))
    clock = now or datetime.now(UTC)
    due = clock.date() > when.date() if date_only else clock >= when
    return PurgePlan(
        folder=target,
        files=files,
        sizes={n: present[n] for n in files},
        delete_after=str(manifest.get("delete_after")),
        due=due,
        missing=tuple(sorted(set(listed) - set(present))),
    )


def purge_folder(
    folder: str | Path,
    *,
    early: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgePlan:
    """Delete an output folder whose retention date has passed; return what was deleted.

    The folder's lock is held while it is checked and deleted, so a run
    writing it (or writing it again with ``--force``) and a purge never
    overlap.

    Parameters
    ----------
    folder : str or Path
        An output folder of a campaign run.
    early : bool, default False
        Delete before the retention date.
    dry_run : bool, default False
        Check and return the plan (due or not); delete nothing.
    now : datetime, optional
        The time to compare the retention date with (default: the clock, UTC).

    Returns
    -------
    PurgePlan

    Raises
    ------
    PurgeError
        See :func:`plan_purge`; also a folder not yet due (without ``early``).
    OutputError
        A run is writing the folder.
    """
    from ..export import _Lock  # the output folders' own lock: same file, same rules

    target = Path(os.path.abspath(os.fspath(folder)))
    if target.is_dir() and not target.is_symlink():
        lock = _Lock(target, "purge", folder)
        lock.acquire()
    else:
        lock = None
    try:
        plan = plan_purge(folder, now=now)
        if dry_run:
            return plan
        if not plan.due and not early:
            raise PurgeError(
                f"{folder}: not due for deletion until after {plan.delete_after}; nothing "
                "deleted (to delete it now, add --now --yes)."
            )
        for name in plan.files:  # the manifest last: an interrupted purge can be run again
            (plan.folder / name).unlink(missing_ok=True)
        plan.folder.rmdir()
        return plan
    finally:
        if lock is not None:
            lock.release()


def run(args: argparse.Namespace) -> int:
    """Purge the folder in ``args``; return the exit code."""
    if args.now and not args.yes and not args.dry_run:
        raise ParameterError(
            "--now deletes personal data before its retention date: add --yes to confirm."
        )
    plan = purge_folder(args.folder, early=args.now, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    if plan.due:
        when = "retention date passed"
    elif args.dry_run:
        when = "not due yet: kept unless --now --yes"
    else:
        when = "before its retention date (--now --yes)"
    echo(
        f"{verb} {len(plan.files)} file(s), {plan.n_bytes:,} bytes, and the folder {args.folder} "
        f"(delete after {plan.delete_after}: {when}):"
    )
    for name in plan.files:
        echo(f"  {name}  {plan.sizes[name]:,} bytes")
    if plan.missing:
        echo(f"  already gone: {', '.join(plan.missing)}")
    return 0
