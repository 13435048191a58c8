"""``smartstreet-geo run campaign.toml --out DIR``: produce the contact lists of a campaign."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path

from ..errors import SmartStreetGeoError
from ._common import echo, staged_out_dir, warn
from ._progress import Progress


class StrictError(SmartStreetGeoError):
    """``--strict`` and the campaign has warnings: nothing is written."""


_STEPS = (
    "reading customers",
    "reading equipment",
    "reading network",
    "circuit membership",
    "customers near new equipment",
    "outage impact",
    "building contact lists",
    "reconciliation",
    "writing outputs",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``run`` sub-command."""
    p = sub.add_parser(
        "run",
        help="run a campaign file and write the contact lists",
        description="Read the inputs named in a campaign file (TOML), decide who gets a leaflet, "
        "an installation letter or an outage phone call, and write letters.csv/.xlsx, "
        "phone_calls.csv, manual_review.csv, reconciliation.csv, rejects.csv, "
        "contact_trace.csv (internal), manifest.json and map.html into --out; with "
        "[suppression] register, what earlier waves sent is not sent again and this run's "
        "contacts are added to the register when the outputs are written.",
    )
    add_run_options(p)
    dask = p.add_argument_group(
        "Dask (a customer input partitioned with `smartstreet-geo partition`)"
    )
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the partitions on the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://host:8786); the workers read the input files themselves, so they must see "
        "the same paths. Overrides [distributed] scheduler",
    )
    dask.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="start a local Dask cluster of N worker processes for the partitions. Without "
        "--scheduler or --workers the partitions run one after another in this process; the "
        "outputs are the same",
    )
    p.add_argument("campaign", type=Path, help="campaign file (TOML)")
    p.set_defaults(func=run)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``demo``."""
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (created; it appears only when every file in it is complete)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder of an earlier run (a folder holding other files is "
        "refused)",
    )
    p.add_argument("--no-map", action="store_true", help="do not write map.html")
    p.add_argument(
        "--geo",
        choices=("gpkg", "parquet"),
        help="also write the campaign's layers for QGIS: layers.gpkg or one GeoParquet file "
        "per layer (premises, equipment with radius polygons, circuits, outage impact; "
        "EPSG:27700, pseudonymous like the map)",
    )
    p.add_argument(
        "--pseudonymise",
        action="store_true",
        help="replace customer ids in reconciliation/manual review/contact trace and the contact "
        "register by keyed pseudonyms (key from the environment variable named in the campaign "
        "file, default SMARTSTREET_PSEUDONYM_KEY; a register is only read with the key it was "
        "written with)",
    )
    p.add_argument(
        "--new-register",
        action="store_true",
        help="the [suppression] register file does not exist yet (a first wave): start it "
        "without the warning",
    )
    p.add_argument(
        "--internal-details",
        action="store_true",
        help="keep PSR and health wording in reconciliation.csv and manual_review.csv (for "
        "internal use only; the manifest says so), as [output] internal_details = true",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 without writing anything (nor updating the register) when the campaign "
        "has warnings; for scripts",
    )


def run(args: argparse.Namespace) -> int:
    """Run the campaign in ``args``; return the exit code."""
    return run_and_write(args.campaign, args)


def run_and_write(campaign: Path, args: argparse.Namespace) -> int:
    """Run ``campaign`` and write its outputs as ``args`` say; print the summary.

    ``--out`` is checked and locked before the campaign runs, and the files
    appear there all at once when they are complete (see
    :func:`smartstreet_geo.export.staged_output`).
    """
    from ..campaign import load_config, run_campaign
    from ..export import CAMPAIGN_OUTPUTS, check_pseudonym_key, write_campaign

    cfg = load_config(campaign)
    if getattr(args, "internal_details", False):
        cfg = dataclasses.replace(cfg, internal_details=True)
    key: bytes | None = None
    if args.pseudonymise or cfg.pseudonymise_ids:
        key = check_pseudonym_key(os.environ.get(cfg.pseudonym_key_env), cfg.pseudonym_key_env)
    names = set(CAMPAIGN_OUTPUTS)
    if getattr(args, "geo", None):
        from ..geo_outputs import geo_output_names

        names |= set(geo_output_names(args.geo))
    with staged_out_dir(args.out, force=args.force, names=names) as stage:
        progress = Progress(_STEPS, desc="campaign", quiet=args.quiet)
        try:
            result = run_campaign(
                cfg,
                step=progress,
                pseudonym_key=key,
                new_register=bool(getattr(args, "new_register", False)),
                scheduler=getattr(args, "scheduler", None),
                workers=getattr(args, "workers", None),
            )
            if getattr(args, "strict", False) and result.warnings:
                for w in result.warnings:
                    warn(w)
                n = len(result.warnings)
                raise StrictError(
                    f"--strict: the campaign has {n} warning{'s' * (n != 1)} (above); nothing "
                    "was written and the register is unchanged. Act on them, or run without "
                    "--strict."
                )
            extra: dict[str, Callable[[Path], object]] = {}
            if not args.no_map and cfg.write_map:
                extra["map.html"] = partial(_write_page, _draw_beside(result, cfg.map_tiles))
            # saves the register once every file is written, then commits the folder
            write_campaign(
                result,
                stage,
                pseudonym_key=key,
                extra_outputs=extra,
                step=progress,
                geo=getattr(args, "geo", None),
            )
        except BaseException:
            progress.close(ok=False)
            raise
        progress.close()
    _summary(result, args.out, stage.paths)
    return 0


def _draw_beside(result: object, tiles: str) -> Future[bytes]:
    """Start drawing the campaign's map (no personal data) on a second thread.

    The map only reads the result, so it is drawn while the CSV and XLSX files are
    written (their kernels release the GIL) instead of after them: at 2.4 M customers
    it is several seconds of mostly Python work that the second core would otherwise
    spend idle. Returns the future of the page's bytes (:func:`_write_page` waits for
    it, as the last output, and re-raises the drawing's error).
    """
    from .._threads import beside

    return beside(_map_page, result, tiles)


def _map_page(result: object, tiles: str) -> bytes:
    from ..maps import campaign_map
    from ..maps._api import page_bytes

    return page_bytes(campaign_map(result, tiles=tiles))


def _write_page(drawn: Future[bytes], path: Path) -> None:
    """Write the map drawn by :func:`_draw_beside` to ``path`` (atomically, owner-only)."""
    from ..export import atomic_write_bytes

    atomic_write_bytes(path, drawn.result())


def _summary(result: object, out: Path, paths: dict[str, Path]) -> None:
    from ..campaign import CampaignResult
    from ..campaign.result import READER_STATUSES

    assert isinstance(result, CampaignResult)
    m = result.manifest
    name, ref = m["campaign"]["name"], m["campaign"]["reference"]
    echo(f"campaign: {name} ({ref}), run date {m['run_date']}")
    for i in m["inputs"]:
        if "rows" in i:
            echo(
                f"  {i['role']:<14} {i['rows']:>8,} rows  {i['valid']:>8,} valid  "
                f"{i['rejected']:>6,} rejected"
            )
    sources = m["counts"].get("location_sources") or {}
    if set(sources) - {"supplied"}:
        placed = ", ".join(
            f"{k.replace('_', ' ')} {v:,}"
            for k, v in sources.items()
            if k not in ("not_located", "to_review")
        )
        echo(
            f"  customers located by: {placed}; not located {sources.get('not_located', 0):,}, "
            f"to check {sources.get('to_review', 0):,} (manual_review.csv)"
        )
    echo("")
    counts = result.count_summary()  # the one table of statuses: files and map agree with it
    echo(f"  {'campaign':<22} {'channel':<8} {'contacts':>9}   (letters: one per premise)")
    for row in result.counts().itertuples(index=False):
        echo(f"  {row.campaign:<22} {row.channel:<8} {row.contacts:>9,}")
    echo("")
    echo("  reconciliation (every input customer row once): reconciliation.csv")
    for status, n in counts["reconciliation"].items():
        echo(f"    {status:<22} {n:>9,}")
    echo(f"    {'total':<22} {counts['input_rows']:>9,}")
    aside = " + ".join(f"{s} {counts['reconciliation'][s]:,}" for s in READER_STATUSES)
    echo(f"    set aside by the reader: {counts['reader_set_aside']:,} = {aside}")
    review = counts["manual_review"]
    if review["issues"]:
        words = {
            "manual_review": "with nothing sent",
            "contacted": "contacted and to check",
            "conflicting_duplicate": "conflicting duplicates (nothing sent)",
            "not_contacted": "not contacted",
        }
        echo(
            f"  manual review (manual_review.csv): {review['issues']:,} issues for "
            f"{review['rows']:,} customer rows"
        )
        echo(
            "    "
            + ", ".join(f"{n:,} {words.get(s, s)}" for s, n in review["rows_by_status"].items())
        )
        echo("    by issue: " + ", ".join(f"{k} {v:,}" for k, v in review["by_issue"].items()))
    shared = counts["map_shared"]
    if shared:
        echo("  map legend (customers, one dot per valid row; letters are one per premise):")
        echo("    " + ", ".join(f"{k} {v:,}" for k, v in shared.items()))
    echo(f"  reconciliation.csv and manual_review.csv hold {m.get('details', 'shareable')} details")
    for w in result.warnings:  # on stderr, with every other warning
        warn(w)
    echo("")
    echo(f"outputs in {out}: {', '.join(sorted(paths))}")
    echo(f"these files hold personal data: delete them after {m['delete_after']}")
