"""Merge the partitions' campaign results into the result of the whole input.

Every list a campaign writes has an order defined by its content (letters by
campaign, postcode, premise and customer; calls by deadline, medical dependency,
postcode and customer; reconciliation by input row; manual review by issue and
row), and every customer's outcome is decided inside the partition holding it
(customers who must be decided together share a partition,
:func:`~smartstreet_geo.distributed.partition_customers`). So the merge sorts the
partitions' rows into that order and then does, once, what needs every contact:
the reference numbers (continuing the register), the run id, the register's new
rows, the trace, the envelopes and the manifest - with the same functions as an
in-process run, which is why the outputs are the same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from ..campaign._join import no_rows
from ..campaign._partition import PARTITIONS_FILE
from ..campaign.calls import call_order
from ..campaign.config import CampaignConfig
from ..campaign.manifest import build_manifest
from ..campaign.register import ContactRegister, allocate_refs, append_contacts, trace_table
from ..campaign.result import CampaignResult
from ..campaign.run import _envelopes, _run_id, _saver, letter_order, register_section
from ..io._result import empty_rejects
from ..schema import CUSTOMER_ID, POSTCODE
from ._packed import PackedPart

__all__ = ["merge_parts", "merge_warnings"]


def merge_parts(
    cfg: CampaignConfig,
    parts: list[PackedPart],
    register: ContactRegister,
    folder: Path,
) -> CampaignResult:
    """Return the campaign result of the whole input from its partitions' results.

    ``parts`` (:func:`~smartstreet_geo.distributed._packed.pack_part`) is emptied as the
    tables are merged: one table at a time is unpacked, and each partition's columns are
    let go as they are moved into the merged table, so the peak is the merged tables and
    one table's partitions, not two copies of everything.
    """
    facts = [p.facts for p in parts]
    f0 = facts[0]
    within = np.sum([p.small["equipment"]["n_customers_within"].to_numpy() for p in parts], axis=0)
    warnings = merge_warnings(facts, cfg)
    first = parts[0].small
    equipment, edges, substations = first["equipment"].copy(), first["edges"], first["substations"]
    equipment["n_customers_within"] = within

    def take(name: str) -> list[Any]:
        """Unpack one table of every partition (the tables are unpacked one at a time)."""
        return [p.take(name) for p in parts]

    contacts, new_ref = _contacts(take("contacts"), register)
    dates = f0["outage_dates"]
    run_id = _run_id(contacts, register, cfg)
    updated = append_contacts(
        register, contacts, run_id=run_id, run_date=cfg.run_date, outage_dates=dates
    )
    trace = trace_table(updated, run_id=run_id)
    envelopes = _envelopes(contacts) if cfg.one_envelope_per_premise else None
    copies = _copies(take("nominee_copies"), new_ref, contacts)
    del new_ref

    reconciliation = _sorted(take("reconciliation"), ["source_row"])
    manual = _sorted(take("manual_review"), ["issue", "source_row", CUSTOMER_ID])
    rejects_by_part = take("rejects")
    cust_rejects = _sorted(
        [r.iloc[: f["customer_rejects"]] for r, f in zip(rejects_by_part, facts, strict=True)],
        ["row_number"],
    )
    rest = rejects_by_part[0].iloc[f0["customer_rejects"] :]
    pieces = [r for r in (cust_rejects, rest) if len(r)]
    rejects = pd.concat(pieces, ignore_index=True) if pieces else empty_rejects()
    customers = _sorted(take("customers"), ["source_row"])
    parts.clear()
    res: dict[str, Any] = dict(  # noqa: C408 - the keyword form reads like the result
        contacts=contacts,
        manual_review=manual,
        reconciliation=reconciliation,
        rejects=rejects,
        customers=customers,
        equipment=equipment,
        edges=edges,
        substations=substations,
        warnings=warnings,
    )
    cust_r = SimpleNamespace(
        source=folder / PARTITIONS_FILE,  # the manifest hashes the description of the parts
        n_input=sum(f["inputs"]["customers"]["n_input"] for f in facts),
        n_valid=sum(f["inputs"]["customers"]["n_valid"] for f in facts),
        n_rejected=sum(f["inputs"]["customers"]["n_rejected"] for f in facts),
    )
    ins = {k: SimpleNamespace(**v) for k, v in f0["inputs"].items() if k != "customers"}
    net_r = (
        SimpleNamespace(edges_result=ins["network_edges"], substations_result=ins["substations"])
        if "network_edges" in ins
        else None
    )
    manifest = build_manifest(
        cfg, cust_r, ins["equipment"], net_r, res, set(f0["in_scope"]), f0["latest_send"]
    )
    manifest["run_id"] = run_id
    manifest["counts"]["nominee_copies"] = len(copies)
    sources: dict[str, int] = {}
    for f in facts:
        for k, v in f["location_sources"].items():
            sources[k] = sources.get(k, 0) + int(v)
    manifest["counts"]["location_sources"] = sources
    manifest["register"] = register_section(
        cfg, register, updated, sum(f["suppressed"] for f in facts)
    )
    manifest["partitions"] = {"folder": folder.name, "parts": len(facts)}
    return CampaignResult(
        manifest=manifest,
        register=updated if cfg.register is not None else None,
        run_id=run_id,
        trace=trace,
        envelopes=envelopes,
        nominee_copies=copies,
        save_register=_saver(updated, run_id) if cfg.register is not None else None,
        **res,
    )


def _sorted(frames: list[pd.DataFrame], by: list[str]) -> pd.DataFrame:
    """Concatenate and sort (stable: a partition's own order among equal keys), index 0..n-1."""
    full = [f for f in frames if len(f)]
    if not full:  # the first frame's columns and dtypes
        return frames[0].iloc[:0]
    frames.clear()
    keys = pd.concat([f[by] for f in full], ignore_index=True)
    order = keys.sort_values(by, kind="stable").index.to_numpy()
    del keys
    return _concat_take(full, order)


def _concat_take(frames: list[pd.DataFrame], order: npt.NDArray[np.intp]) -> pd.DataFrame:
    """Return ``pd.concat(frames, ignore_index=True).take(order)``, index 0..n-1.

    Column by column, each partition's column let go as soon as it is moved: the peak is
    the result and one column, not the partitions, their concatenation and the result.
    ``frames`` are emptied of their columns.
    """
    if len(frames) == 1:
        return frames[0].take(order).reset_index(drop=True)
    first = frames[0]
    geometry = first.geometry.name if isinstance(first, gpd.GeoDataFrame) else None
    crs = first.crs if geometry is not None else None
    plain = [pd.DataFrame(f, copy=False) for f in frames]  # a GeoDataFrame's columns too
    frames.clear()
    columns: dict[Any, pd.Series] = {}
    for col in list(first.columns):
        whole = pd.concat([f.pop(col) for f in plain], ignore_index=True)
        columns[col] = whole.take(order).reset_index(drop=True)
        del whole
    out = pd.DataFrame(columns, copy=False)
    if geometry is not None:
        out = gpd.GeoDataFrame(out, geometry=geometry, crs=crs)
    return out


#: The contacts' columns the merge orders and renumbers them by.
_CONTACT_KEYS = [
    "channel",
    "campaign",
    POSTCODE,
    "premise_key",
    CUSTOMER_ID,
    "notice_deadline",
    "medically_dependent",
    "contact_ref",
]


def _contacts(
    frames: list[pd.DataFrame], register: ContactRegister
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Put every partition's contacts in the campaign's order and number them once.

    Returns the contacts and a table ``part``, ``old_ref``, ``contact_ref`` (the
    partition's own reference and the final one) for the tables that cite references.
    """
    part = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    full = [f for f in frames if len(f)] or frames[:1]
    keys = pd.concat([f[_CONTACT_KEYS] for f in full], ignore_index=True)
    frames.clear()
    is_call = (keys["channel"] == "phone").to_numpy()
    letters = keys.loc[~is_call, ["campaign", POSTCODE, "premise_key", CUSTOMER_ID]]
    calls = keys.loc[is_call, ["notice_deadline", "medically_dependent", POSTCODE, CUSTOMER_ID]]
    by_letter = letter_order(letters)  # the campaign's own orders (run_campaign, order_calls)
    by_call = call_order(
        calls["notice_deadline"], calls["medically_dependent"], calls[POSTCODE], calls[CUSTOMER_ID]
    )
    rows = np.concatenate([np.flatnonzero(~is_call)[by_letter], np.flatnonzero(is_call)[by_call]])
    old = keys["contact_ref"].to_numpy()[rows]
    del keys, letters, calls
    merged = _concat_take(full, rows)
    merged.pop("contact_ref")
    merged.insert(0, "contact_ref", allocate_refs(merged, register))
    refs = pd.DataFrame(
        {"part": part[rows], "old_ref": old, "contact_ref": merged["contact_ref"].to_numpy()}
    )
    return merged, refs


def _copies(
    frames: list[pd.DataFrame | None], new_ref: pd.DataFrame, contacts: pd.DataFrame
) -> pd.DataFrame:
    """Return the nominees' copies of outage letters, citing the final references, in order."""
    full = [f.assign(_part=i) for i, f in enumerate(frames) if f is not None and len(f)]
    if not full:
        base = frames[0]
        return no_rows(base if base is not None else contacts)
    copies = pd.concat(full, ignore_index=True)
    lookup = new_ref.set_index(["part", "old_ref"])["contact_ref"]
    keys = pd.MultiIndex.from_arrays([copies.pop("_part"), copies["copy_of"].astype(str)])
    copies["copy_of"] = lookup.reindex(keys).to_numpy()
    copies["contact_ref"] = copies["copy_of"].astype("str") + "-NC"
    position = pd.Series(np.arange(len(contacts)), index=contacts["contact_ref"].to_numpy())
    at = position.reindex(copies["copy_of"].to_numpy()).to_numpy()
    return copies.iloc[np.argsort(at, kind="stable")].reset_index(drop=True)


_LEADING_COUNT = re.compile(r"^(\d[\d,]*)(\D.*)$", re.S)
#: Warnings that count the customers of the partition that says them (what follows the
#: count): the merge adds the counts up. Any other warning is about the whole input (an
#: equipment id such as ``90001: cannot be placed ...``, the circuits in scope missing from
#: the network) and reads the same in every partition: it is said once, as worded. A
#: per-customer count missing here would show as one line per partition, never as a wrong
#: number.
_SUMMED = (
    " outage letters are for customers with a nominee, but the customer file gives no nominee",
    " customer(s) without coordinates could not be placed with the locate reference data",
)


def merge_warnings(facts: list[dict[str, Any]], cfg: CampaignConfig) -> list[str]:
    """Return the whole input's warnings from its partitions', in the order of the steps.

    The same warning from several partitions is said once; one that counts the partition's
    own customers (``"12 outage letters are ..."``, :data:`_SUMMED`) is said once with the
    counts added (a warning that merely starts with a number, an equipment id or a count of
    circuits in scope, is not added up). Warnings a partition deferred are worded here for
    the whole input: late notice with each equipment's customers counted over every
    partition, side-file ids that match no customer in any partition, PSR customers whose
    outage is already past.
    """
    from ..campaign.calls import late_notice_warnings
    from ..campaign.run import past_outage_warning

    said: dict[tuple[str, str], dict[str, Any]] = {}
    for p, f in enumerate(facts):
        for stage, at, text in f["warnings"]:
            m = _LEADING_COUNT.match(text)
            if m is not None and not m.group(2).startswith(_SUMMED):
                m = None  # about the whole input: the same text in every partition
            key = ("n", m.group(2)) if m else ("t", text)
            entry = said.setdefault(
                key, {"pos": (stage, at, p, 0), "n": 0, "parts": 0, "text": text}
            )
            entry["pos"] = min(entry["pos"], (stage, at, p, 0))
            entry["parts"] += 1
            if m:
                entry["n"] += int(m.group(1).replace(",", ""))
    lines = [
        (e["pos"], f"{e['n']:,}{k[1]}" if k[0] == "n" and e["parts"] > 1 else e["text"])
        for k, e in said.items()
    ]
    deferred: dict[str, list[tuple[tuple[int, int, int, int], Any]]] = {}
    for p, f in enumerate(facts):
        for d in f["deferred"]:
            deferred.setdefault(d["kind"], []).append(((d["stage"], d["at"], p, 0), d["data"]))
    if "late_notice" in deferred:
        pos = min(at for at, _ in deferred["late_notice"])
        counts: dict[str, int] = {}
        for _, n_affected in deferred["late_notice"]:
            for eid, n in n_affected.items():
                counts[eid] = counts.get(eid, 0) + int(n)
        dates = facts[0]["outage_dates"]
        outage_eq = pd.DataFrame(
            {"equipment_id": list(dates), "outage_date": list(dates.values())}, dtype=object
        )
        for k, text in enumerate(
            late_notice_warnings(
                outage_eq, counts, notice_days=cfg.notice_days, run_date=cfg.run_date
            )
        ):
            lines.append(((*pos[:3], k), text))
    if "unmatched" in deferred and len(deferred["unmatched"]) == len(facts):
        # an id unmatched in every partition matches no customer of the input
        sets = [set(data["ids"]) for _, data in deferred["unmatched"]]
        nowhere = set.intersection(*sets)
        if nowhere:
            pos, data = min(deferred["unmatched"], key=lambda t: t[0])
            lines.append(
                (pos, f"{len(nowhere)} {data['what']} ids match no customer in the customer file")
            )
    if "past" in deferred:
        pos = min(at for at, _ in deferred["past"])
        n = sum(int(data["customers"]) for _, data in deferred["past"])
        equipment = {e for _, data in deferred["past"] for e in data["equipment"]}
        lines.append((pos, past_outage_warning(n, equipment, cfg.run_date)))
    return [text for _, text in sorted(lines, key=lambda t: t[0])]
