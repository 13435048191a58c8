"""``run_campaign``: readers + proximity + circuits -> contact actions, reconciliation, manifest.

Pure composition: files are read through :mod:`smartstreet_geo.io`, spatial
relations come from :mod:`smartstreet_geo.proximity` and
:mod:`smartstreet_geo.network`; nothing is written here (see
:func:`smartstreet_geo.export.write_campaign`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from .._arrow_text import text_buffers
from .._memory import releasing
from .._threads import beside
from .._xlsx import only_text
from ..crs import require_bng
from ..errors import ConfigError
from ..io import read_equipment, read_network
from ..io._result import empty_rejects
from ..io.readers import read_customer_table
from ..schema import (
    ADDRESS_LINES,
    CUSTOMER_ID,
    NOMINEE_ADDRESS_LINES,
    NOMINEE_POST_TOWN,
    NOMINEE_POSTCODE,
    POSTCODE,
    PREMISE_ID,
)
from . import _circuits, _locate
from ._join import (
    dense_rank,
    first_of_groups,
    fixed,
    from_codes,
    group_starts,
    join_groups,
    no_rows,
    take_rows,
)
from ._keys import known
from ._partition import (
    CustomerPart,
    TrackedWarnings,
    equipment_halo,
    is_partitioned,
    part_facts,
    read_and_build,
    refuse_unpartitionable,
    slim_customers,
    worker_network,
)
from ._points import CustomerTable, columns_of
from ._sidefiles import read_opted_out
from .calls import earliest_outage, late_notice_warnings, order_calls
from .config import CAMPAIGNS, CampaignConfig, check_against_inputs, load_config
from .manifest import build_manifest
from .psr import (
    NeedsTable,
    accessible_format_by_premise,
    assess_needs_many,
    load_needs_table,
    nominee_copies,
)
from .reconcile import MAP_COLUMNS, reconcile
from .register import (
    ContactRegister,
    append_contacts,
    forget_run,
    load_register,
    save_register,
    suppress_repeats,
    trace_table,
)
from .register import _allocate as allocate_numbered_refs
from .result import CampaignResult
from .rules import _CIX, _CUSTOMER_COLUMNS, CONTACT_COLUMNS, KIND_WORDS, RULES, Facts, as_contacts

__all__ = ["run_campaign"]

log = logging.getLogger(__name__)

Step = Callable[[str], None]

_LETTER_COLUMNS = ("name", *ADDRESS_LINES, "post_town", POSTCODE)


def premise_keys(customers: pd.DataFrame) -> pd.Series:
    """Return one key per premise: the premise id, else the normalised address and postcode.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"premise_id": ["100", None, None],
    ...     "address_line_1": ["1 Oak St", "2 Oak  st", "2 OAK ST"],
    ...     "address_line_2": [None, None, None], "address_line_3": [None, None, None],
    ...     "postcode": ["WN5 9XP", "WN5 9XP", "WN5 9XP"]})
    >>> premise_keys(df).tolist()
    ['uprn:100', 'addr:2 OAK ST|WN5 9XP', 'addr:2 OAK ST|WN5 9XP']
    """
    pid = customers[PREMISE_ID]
    keys = ("uprn:" + pid.astype(str)).where(pid.notna(), "").astype(str)
    blank = pid.isna().to_numpy()
    if blank.any():  # the address only where there is no premise id (a few percent of rows)
        rows = customers[blank]
        parts = [rows[c].fillna("").astype(str) for c in ADDRESS_LINES if c in rows]
        address = parts[0]
        for part in parts[1:]:
            address = address + " " + part
        address = address.str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
        by_address = "addr:" + address + "|" + rows[POSTCODE].fillna("").astype(str)
        keys[blank] = by_address.astype(str).to_numpy()
    return keys


def _scope(cfg: CampaignConfig, warnings: list[str]) -> set[str]:
    circuits: set[str] = set()
    if cfg.scope_circuits is not None:
        circuits |= set(cfg.scope_circuits)
    if cfg.scope_circuits_column is not None:
        if cfg.circuits_file is None:
            raise ConfigError(
                "[scope] circuits_column needs [inputs] circuits (the circuits file)."
            )
        table = pd.read_csv(cfg.circuits_file, dtype=str, keep_default_na=False)
        col = cfg.scope_circuits_column
        if col not in table.columns or "circuit_id" not in table.columns:
            raise ConfigError(
                f"{cfg.circuits_file}: needs columns circuit_id and {col!r} "
                "for [scope] circuits_column."
            )
        flag = table[col].str.strip().str.lower().isin({"true", "yes", "y", "1"})
        # a blank circuit id is unknown, never "the circuit called ''"
        circuits |= {c for c in table.loc[flag, "circuit_id"].str.strip() if c}
    if not circuits:
        warnings.append("no circuits in scope: no leaflets will be produced")
    return circuits


def _reasons_near(pairs: pd.DataFrame, equipment: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: nearest distance, equipment ids and a readable reason."""
    if pairs.empty:
        return pd.DataFrame(columns=[CUSTOMER_ID, "equipment_ids", "distance_m", "reason"])
    # The text is built without a Python call per pair or per customer: the per-equipment
    # parts once per equipment, the distance by numpy's printf, the per-customer joins by
    # Arrow over the sorted pairs (``_join``).
    info = equipment.set_index("equipment_id")[["kind", "radius_m"]]
    info["head"] = info.index.to_series() + " (" + info["kind"].str.replace("_", " ") + ") "
    info["tail"] = " m away, radius " + info["radius_m"].map(lambda r: f"{r:g}") + " m"
    p = pairs.merge(info[["head", "tail"]], left_on="equipment_id", right_index=True)
    p = p.sort_values([CUSTOMER_ID, "distance_m", "equipment_id"], kind="stable")
    p = p.reset_index(drop=True)
    text = p["head"] + fixed(p["distance_m"], "%.1f") + p["tail"]
    starts = group_starts(p[CUSTOMER_ID])
    out = pd.DataFrame(
        {
            CUSTOMER_ID: first_of_groups(p[CUSTOMER_ID], starts),
            "equipment_ids": join_groups(p["equipment_id"], starts, ";"),
            "distance_m": np.minimum.reduceat(p["distance_m"].to_numpy(dtype=float), starts),
            "reason": "new equipment nearby: " + join_groups(text, starts, "; "),
        }
    )
    out["distance_m"] = out["distance_m"].round(1)
    return out


def run_campaign(
    config: CampaignConfig | str | Path,
    *,
    step: Step | None = None,
    pseudonym_key: bytes | None = None,
    new_register: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    _part: CustomerPart | None = None,
) -> CampaignResult:
    """Run a campaign: read the inputs, find who to contact, reconcile every customer.

    Parameters
    ----------
    config : CampaignConfig, str or Path
        A campaign file (TOML) or a config from :func:`load_config`.
    step : callable, optional
        Called with a short label as each step starts (progress display): the step's
        name, then the rows it works on in parentheses (``"circuit membership (85,520
        customers)"``); sub-steps of a long step are ``"<step>: <part> (...)"``.
    pseudonym_key : bytes, optional
        The key of a pseudonymised run: the contact register (and
        ``contact_trace.csv``) hold keyed pseudonyms of customer ids and
        premise keys, and a register written with another key (or none) is
        refused.
    new_register : bool, default False
        The ``[suppression] register`` file is expected not to exist yet (a
        first wave): no warning that a new one is started.
    scheduler : str, optional
        The address of a running Dask scheduler (``tcp://host:8786``): the
        partitions of a partitioned customer input
        (:func:`smartstreet_geo.distributed.partition_customers`) run on its
        workers. Overrides ``[distributed] scheduler``.
    workers : int, optional
        Start a local Dask cluster of this many worker processes for the
        partitions. Overrides ``[distributed] workers``. Without a scheduler or
        workers a partitioned input runs its partitions one after another in
        this process; the outputs are the same either way.

    Returns
    -------
    CampaignResult

    Raises
    ------
    ConfigError
        The campaign file is wrong (e.g. an equipment kind in the data with no radius).
    SmartStreetGeoError
        An input file is unusable (see the readers).

    Notes
    -----
    Campaigns: ``leaflet`` goes to every customer served by a circuit in
    scope; ``installation_letter`` to customers within the radius of new
    equipment (per kind); ``outage_phone_call`` to Priority Services Register
    customers whose supply the installation of equipment with
    ``outage_required`` interrupts, who also get an ``outage_letter``. Letters
    are one per premise per campaign. Opting out suppresses leaflets and
    installation letters, never outage notices. The contact register
    (``[suppression] register``) suppresses what earlier waves already sent
    (a delta run, :mod:`smartstreet_geo.campaign.register`); every contact
    gets a ``contact_ref`` that continues the register's numbers. The
    returned result carries the register with this run's contacts appended,
    not yet saved: :func:`smartstreet_geo.export.write_campaign` saves it
    with the output folder (:attr:`CampaignResult.save_register`).

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> result = run_campaign(demo.path("campaign"))
    >>> int(result.status_counts().sum()) == result.manifest["inputs"][0]["rows"]
    True
    """
    cfg = config if isinstance(config, CampaignConfig) else load_config(config)
    # each step starts with the memory the last one freed given back (see _memory)
    say = releasing(step or (lambda _label: None))
    if _part is None and (is_partitioned(cfg.customers) or scheduler or workers):
        from ..distributed import run_partitioned

        return run_partitioned(
            cfg,
            step=step,
            pseudonym_key=pseudonym_key,
            new_register=new_register,
            scheduler=scheduler,
            workers=workers,
        )
    if _part is not None:
        refuse_unpartitionable(cfg)
    warnings: list[str] = []
    # a partition's warnings keep their step; those only the whole input can word are deferred
    tracked = None if _part is None else TrackedWarnings(warnings)
    if tracked is not None:
        say = tracked.marking(say)
    register = _open_register(cfg, pseudonym_key, new_register, warnings)

    def read_net() -> Any:
        return read_network(
            cfg.network_edges,
            cfg.substations,
            edge_columns=cfg.column_maps.get("edges") or None,
            substation_columns=cfg.column_maps.get("substations") or None,
            encoding=cfg.encoding,
        )

    # The network is read and built on a second thread while the customers are read: both
    # spend much of their time in calls that release the GIL (Arrow's Parquet decoding and
    # compute kernels, numpy, shapely); 2-3 s less at 5.1 M customers. (The future is let go
    # once read: it would hold the network to the end of the run.)
    net_reading = (
        beside(read_and_build, read_net)
        if cfg.network_edges is not None and _part is None
        else None
    )
    say("reading customers")
    # read as coordinates, no point made (see smartstreet_geo._customer_table)
    cust_r = read_customer_table(
        cfg.customers if _part is None else _part.frame,
        columns=cfg.column_maps.get("customers") or None,
        encoding=cfg.encoding,
    )
    say("reading equipment")
    eq_r = read_equipment(
        cfg.equipment, columns=cfg.column_maps.get("equipment") or None, encoding=cfg.encoding
    )
    net_r, network = None, None
    if cfg.network_edges is not None:
        say("reading network")
        if net_reading is not None:
            net_r, network = net_reading.result()
            net_reading = None
        else:  # a partition reuses the network its worker read and built for an earlier one
            net_r, network = worker_network(cfg, read_net)
    check_against_inputs(
        cfg, [*eq_r.data["equipment_id"], *eq_r.rejects["record_id"].dropna().astype(str)]
    )
    if cfg.locate is not None:
        say("locating customers without coordinates ([locate])")
    located = _locate.locate_rejected(
        cust_r, cfg, warnings, source=None if _part is None else _part.frame
    )
    cust_r = located.read
    # The customers are held as their columns and coordinates (a GeoDataFrame only where
    # they came with geometries that are not all points); the steps that place them read
    # the coordinates, the others ``frame``, the columns. (Copy-on-write, pandas 3: a
    # change to either frame copies only what it changes; Arrow text is shared.)
    customers = CustomerTable.of(cust_r.data)
    frame = columns_of(customers).copy(deep=False)
    # The premise keys and the customers' ranks for the letter order (Arrow sorts of millions
    # of keys, which release the GIL) need only the customers: they are worked out on a
    # second thread while the circuits, proximity and outages keep the first one busy.
    keyed = beside(_Premises, frame[[c for c in _KEY_COLUMNS if c in frame]])
    equipment = eq_r.data.copy()
    kinds = set(equipment["kind"])
    missing = sorted(kinds - set(cfg.radii))
    if missing:
        raise ConfigError(
            f"{cfg.source or 'campaign'}: [radii] has no radius for equipment kind(s) "
            f"{', '.join(missing)} present in {cfg.equipment.name}; add e.g. {missing[0]} = 30 "
            "(metres). There is no default."
        )
    equipment["radius_m"] = equipment["kind"].map(cfg.radii).astype(float)
    needs_table: NeedsTable | None = load_needs_table(cfg.needs_codes) if cfg.needs_codes else None
    _require_contact_columns(cfg, cust_r)

    # ------------------------------------------------------------------ circuits
    say(f"circuit membership ({len(customers):,} customers)")
    in_scope = _scope(cfg, warnings)
    placed = _circuits.place(customers, net_r, cfg, network)
    membership = _circuits.membership(frame, placed, in_scope, warnings)

    # ------------------------------------------------------------------ proximity
    say(f"customers near new equipment ({len(equipment):,} items)")
    # a partition looks only at the equipment within reach of its own customers (the halo)
    eq_near = equipment if _part is None else equipment_halo(customers, equipment)
    pairs = near_pairs(customers, eq_near, cfg.radii) if len(eq_near) else None
    if pairs is None:
        pairs = pd.DataFrame(columns=[CUSTOMER_ID, "equipment_id", "distance_m"])
    if (frame["location_uncertainty_m"] > 0).any():  # placed by postcode or address
        pairs, near_review = _locate.uncertain_pairs(customers, eq_near, cfg.radii, pairs)
    else:
        near_review = pd.DataFrame(columns=[CUSTOMER_ID, "issue", "detail"])
    near = _reasons_near(pairs, equipment)
    equipment["n_customers_within"] = (
        equipment["equipment_id"]
        .map(pairs.groupby("equipment_id")[CUSTOMER_ID].nunique())
        .fillna(0)
        .astype(int)
    )

    # ------------------------------------------------------------------ outages
    say(f"outage impact ({int(equipment['outage_required'].sum()):,} outages)")
    outage_eq = equipment[equipment["outage_required"]].copy()
    outage_eq["outage_date"] = [
        _outage_date(r, cfg)
        for r in outage_eq[["equipment_id", "install_date"]].itertuples(index=False)
    ]
    impact = _circuits.downstream(customers, placed, outage_eq, warnings)
    plans: _circuits.OutagePlans | None = None
    if cfg.outage_plan == "backfeed":
        say("outage plans (backfeed through normally-open points)")
        if placed is not None:
            check_against_inputs(cfg, cfg.outage_dates, circuit_ids=placed.network.circuit_ids)
        medical = (
            assess_needs_many(frame["psr_needs"], needs_table, on=cfg.run_date)[
                "medically_dependent"
            ]
            if "psr_needs" in frame
            else None
        )
        plans = _circuits.plan_outages(
            frame, placed, outage_eq, impact, cfg.backfeed, warnings,
            medically_dependent=medical,
        )  # fmt: skip
        impact = plans.impact  # calls and letters only for customers still interrupted
    latest_send = {
        eid: odate - timedelta(days=cfg.notice_days)
        for eid, odate in zip(outage_eq["equipment_id"], outage_eq["outage_date"], strict=True)
        if odate is not None
    }
    # late-notice warnings only for equipment that interrupts someone in these inputs
    n_affected = {
        str(k): int(v)
        for k, v in impact.affected.groupby("equipment_id")[CUSTOMER_ID].nunique().items()
    }
    if tracked is not None:  # counts of the whole input
        tracked.defer("late_notice", n_affected)
    else:
        warnings.extend(
            late_notice_warnings(
                outage_eq[["equipment_id", "outage_date"]],
                n_affected,
                notice_days=cfg.notice_days,
                run_date=cfg.run_date,
            )
        )

    # ------------------------------------------------------------------ candidates
    say(f"building contact lists ({len(customers):,} customers)")
    # Nothing from here reads a point: the customers stay a table of columns and
    # coordinates, and the result makes the points only if it is asked for them (see
    # campaign._points). The reader's result keeps only its rows (its length is read).
    del frame
    cust_r = replace(cust_r, data=_rows_only(customers))
    located = replace(located, read=cust_r)
    cust = columns_of(customers).copy(deep=False)  # (its own columns are added: not the table's)
    premises = keyed.result()
    cust["premise_key"] = premises.keys
    # each customer's row: contacts carry it (``_CIX``), so that sorting and reconciling them
    # works on integers, not on millions of id and address strings
    cust[_CIX] = np.arange(len(cust), dtype=np.int64)
    # one letter goes to a premise: in braille or large print when anyone there needs it
    # (only customers with needs codes can need a format: assessed alone, not every customer)
    has_codes = cust["psr_needs"].notna().to_numpy(dtype=bool)
    formats = np.full(len(cust), "", dtype=object)
    if has_codes.any():
        coded = assess_needs_many(cust["psr_needs"][has_codes], needs_table, on=cfg.run_date)
        formats[has_codes] = coded["accessible_format"].to_numpy(dtype=object)
    cust["accessible_format"] = accessible_format_by_premise(
        cust["premise_key"], pd.Series(formats, index=cust.index, dtype=object)
    )
    opted_out: set[str] = set()
    if cfg.opted_out is not None:
        # side-file ids are matched after the customer file's normalisation (see _sidefiles)
        every_id = {*cust[CUSTOMER_ID], *cust_r.rejects["record_id"].dropna().astype(str)}
        side = read_opted_out(cfg.opted_out, every_id, encoding=cfg.encoding)
        opted_out = set(side.ids)
        lines = side.warnings()
        if tracked is not None and side.unmatched:  # unmatched here may be another part's
            warnings.extend(lines[:-1])  # (the unmatched line is the last)
            tracked.defer("unmatched", {"ids": sorted(side.unmatched), "what": side.what})
        else:
            warnings.extend(lines)

    facts = Facts(
        cfg=cfg,
        customers=cust,
        membership=membership,
        in_scope=frozenset(in_scope),
        near=near,
        outage_eq=outage_eq,
        impact=impact,
        needs_table=needs_table,
    )
    proposals = [RULES[kind](facts) for kind in CAMPAIGNS if kind in cfg.produce]
    reviews = [p.review for p in proposals if len(p.review)]
    reviews += [r for r in (located.review, near_review) if len(r)]
    not_reasons = _FirstSaid(cust[CUSTOMER_ID])  # per customer: why nothing is sent them
    contacts = pd.concat(
        [p.contacts for p in proposals] or [as_contacts(no_rows(cust), "leaflet")],
        ignore_index=True,
    )
    # the rules' own frames, the membership and the placement are not used again: let them
    # go before the contact lists are filtered and sorted (about a gigabyte at 2.4 M)
    del proposals, facts, membership, placed, network

    # ------------------------------------------------------------------ suppression
    say(f"building contact lists: suppression ({len(contacts):,} proposed)")
    if opted_out:
        supp = contacts["campaign"].isin(["leaflet", "installation_letter"]) & contacts[
            CUSTOMER_ID
        ].isin(opted_out)
        not_reasons.add(contacts[supp], "opted out of letters (outage notices are not suppressed)")
        contacts = contacts[~supp]
    # the register: what earlier waves sent is not sent again (by premise and by customer)
    dates = dict(zip(outage_eq["equipment_id"], outage_eq["outage_date"], strict=True))
    contacts, suppressed = suppress_repeats(contacts, register, outage_dates=dates)
    not_reasons.add(suppressed, suppressed["suppressed_reason"])
    backfed_notes: pd.Series | None = None
    if plans is not None and len(plans.backfed):
        # kept on supply: nobody phones them about that outage; the reconciliation says why
        backfed_notes = _circuits.backfeed_reasons(plans.backfed)
        not_reasons.add_ids(backfed_notes.index.astype(str), backfed_notes)
    # A PSR customer already written to about these outages, with nothing new to announce, is
    # not sent back to review for a missing phone or a register code every wave.
    told = suppressed.loc[suppressed["campaign"] == "outage_letter", CUSTOMER_ID]
    still = contacts.loc[
        contacts["campaign"].isin(["outage_letter", "outage_phone_call"]), CUSTOMER_ID
    ]
    settled = set(told) - set(still)
    if settled:
        reviews = [
            r[~(r["issue"].isin(["psr_no_phone", "psr_needs_code"]) & r[CUSTOMER_ID].isin(settled))]
            for r in reviews
        ]
    # a contact left with only some of its equipment is about the next outage of those
    is_outage = contacts["campaign"].isin(["outage_letter", "outage_phone_call"])
    if is_outage.any():  # (copy-on-write: only the column set here is copied)
        contacts.loc[is_outage, "outage_date"] = earliest_outage(
            contacts.loc[is_outage, "equipment_ids"], dates, on=cfg.run_date
        )

    # ------------------------------------------------------------------ undeliverable letters
    # a letter without an address line cannot be delivered: a person completes the address
    # (rows that drop out here are masked, not filtered out: the one take of the contacts, in
    # letter order, leaves them behind, instead of a copy of every contact per filter)
    has_address = known(cust["address_line_1"]).to_numpy(dtype=bool)
    no_address = (contacts["channel"] == "letter").to_numpy(dtype=bool) & ~has_address[
        contacts[_CIX].to_numpy(dtype=np.intp)
    ]
    undeliverable = contacts[no_address]
    reviews.append(
        pd.DataFrame(
            {
                CUSTOMER_ID: undeliverable[CUSTOMER_ID],
                "issue": "no_address",
                "detail": "a "
                + undeliverable["campaign"].str.replace("_", " ")
                + " is due but the record has no address line to send it to",
            }
        )
    )
    live = ~no_address

    # ------------------------------------------------------------------ outages already past
    outage_kind = contacts["campaign"].isin(["outage_letter", "outage_phone_call"])
    when = pd.to_datetime(contacts["outage_date"].where(outage_kind), errors="coerce")
    past = (when < pd.Timestamp(cfg.run_date)).fillna(False).to_numpy(dtype=bool) & live
    if past.any():
        gone = contacts[past]
        n_gone = gone[CUSTOMER_ID].nunique()
        gone_eq = set(";".join(gone["equipment_ids"]).split(";"))
        if tracked is not None:
            tracked.defer("past", {"customers": int(n_gone), "equipment": sorted(gone_eq)})
        else:
            warnings.append(past_outage_warning(n_gone, gone_eq, cfg.run_date))
        not_reasons.add(gone, "the planned outage is already past: nothing to announce")
        live &= ~past

    # ------------------------------------------------------------------ calls, in working order
    say(f"building contact lists: calls and one letter per premise ({int(live.sum()):,})")
    is_phone = (contacts["channel"] == "phone").to_numpy(dtype=bool)
    is_call = is_phone & live
    call_list = order_calls(
        with_customer_columns(contacts[is_call], cust),
        notice_days=cfg.notice_days,
        run_date=cfg.run_date,
    )

    # ------------------------------------------------------------------ one letter per premise
    contacts, covered = _one_letter_per_premise(
        contacts, ~is_phone & live, call_list.calls, premises.ranks
    )
    contacts = with_customer_columns(contacts, cust)  # the contacts sent: their own columns
    # per campaign (a few values, looked up once each, not once per contact)
    camp_code, camp_names = pd.factorize(contacts["campaign"])
    template = [cfg.templates[k].template_id if k in cfg.templates else None for k in camp_names]
    named = [k in cfg.templates and cfg.templates[k].addressee == "name" for k in camp_names]
    at = np.where(camp_code < 0, len(template), camp_code)  # (missing: the last word)
    contacts["template_id"] = from_codes(at, [*template, None], contacts.index)
    wants_name = np.array([*named, False], dtype=bool)[camp_code]
    contacts["addressee"] = contacts["name"].where(
        wants_name & contacts["name"].notna().to_numpy(), "The Occupier"
    )
    _merge_fields(contacts, equipment)
    say(f"building contact lists: references and register ({len(contacts):,} contacts)")
    at_contacts, at_covered = _rows(contacts), _rows(covered)
    refs, numbers = allocate_numbered_refs(contacts, register)
    contacts.insert(0, "contact_ref", refs)
    # the run id (a SHA-256 of every contact), the register and the trace need nothing the
    # reconciliation makes: they are made on a second thread meanwhile (hashing and Arrow
    # release the GIL), from their own view of the contacts. A partition's are made once,
    # when the partitions are merged.
    registered = (
        beside(_register_contacts, contacts.copy(deep=False), register, cfg, dates, numbers)
        if _part is None
        else None
    )
    copies = _nominee_copies(contacts, cust, cust_r, reviews, warnings)
    # Data minimisation, and memory: names, phone numbers, PSR needs, nominees and
    # connection nodes are in the contacts that need them. From here the customers hold
    # what the reconciliation, the maps, the GIS layers and the counts read (as a
    # partitioned run's do), and the rest is let go before the reconciliation's peak
    # (0.3 GB at 2.4 M customers).
    customers = slim_customers(customers)
    cust = cust[[CUSTOMER_ID, "source_row"]]
    cust_r = replace(cust_r, data=_rows_only(customers))
    located = replace(located, read=cust_r)

    # ------------------------------------------------------------------ reconciliation
    say(f"reconciliation ({len(customers):,} valid customers)")
    positions = None
    if at_contacts is not None and at_covered is not None:
        positions = (at_contacts, at_covered)
    tables = reconcile(
        cust_r, cust, contacts, covered, reviews, not_reasons.by_row,
        internal=cfg.internal_details, notes=backfed_notes, positions=positions,
    )  # fmt: skip
    manual, reconciliation = tables.manual_review, tables.reconciliation
    run_id, updated, trace, envelopes = (
        registered.result() if registered is not None else ("", register, None, None)
    )
    columns = customers.frame if isinstance(customers, CustomerTable) else customers
    columns[list(MAP_COLUMNS)] = tables.map_columns(columns[CUSTOMER_ID])
    edges = (  # (copy-on-write: the edges' own columns are shared, not copied)
        net_r.edges.assign(in_scope=net_r.edges["circuit_id"].isin(in_scope))
        if net_r is not None
        else None
    )
    rejects_parts = [cust_r.rejects, eq_r.rejects] + ([net_r.rejects] if net_r is not None else [])
    rejects_parts = [r for r in rejects_parts if len(r)]
    rejects = pd.concat(rejects_parts, ignore_index=True) if rejects_parts else empty_rejects()

    result_wo_manifest: dict[str, Any] = dict(  # noqa: C408 - keyword form reads like the result
        contacts=contacts.reset_index(drop=True),
        manual_review=manual,
        reconciliation=reconciliation,
        rejects=rejects,
        customers=customers,
        equipment=equipment,
        edges=edges,
        substations=net_r.substations if net_r is not None else None,
        warnings=warnings,
    )
    if _part is not None:  # what the merge needs; the manifest is built once, for the whole
        assert tracked is not None
        if not _part.network:  # one partition sends the network back, not every one
            result_wo_manifest.update(edges=None, substations=None)
        return CampaignResult(
            manifest=part_facts(
                cust_r,
                eq_r,
                net_r,
                located.counts,
                in_scope,
                latest_send,
                dates,
                suppressed,
                tracked,
            ),
            nominee_copies=copies,
            **result_wo_manifest,
        )
    manifest = build_manifest(cfg, cust_r, eq_r, net_r, result_wo_manifest, in_scope, latest_send)
    manifest["run_id"] = run_id
    manifest["counts"]["nominee_copies"] = len(copies)
    manifest["counts"]["location_sources"] = located.counts
    if plans is not None:
        manifest["outage_plan"] = {
            "plan": "backfeed",
            "customers_kept_on_supply": int(plans.backfed[CUSTOMER_ID].nunique()),
            "psr_kept_on_supply": int(plans.table["psr_restored"].sum()),
            "outage_days": len(plans.plans),
            "closings": int(sum(len(p.closings) for p in plans.plans.values())),
        }
    manifest["register"] = register_section(cfg, register, updated, len(suppressed))
    for w in warnings:
        log.info("%s", w)
    return CampaignResult(
        manifest=manifest,
        register=updated if cfg.register is not None else None,
        run_id=run_id,
        trace=trace,
        envelopes=envelopes,
        nominee_copies=copies,
        outage_plan=plans.table if plans is not None else None,
        backfed=plans.backfed if plans is not None else None,
        outage_plans=plans.plans if plans is not None else None,
        save_register=_saver(updated, run_id) if cfg.register is not None else None,
        **result_wo_manifest,
    )


_NOMINEE_COLUMNS = (*NOMINEE_ADDRESS_LINES, NOMINEE_POST_TOWN, NOMINEE_POSTCODE)


def _register_contacts(
    contacts: pd.DataFrame,
    register: ContactRegister,
    cfg: CampaignConfig,
    dates: dict[str, Any],
    numbers: Any,
) -> tuple[str, ContactRegister, pd.DataFrame | None, pd.DataFrame | None]:
    """Return the run id, the register with the contacts added, the trace and the envelopes."""
    run_id = _run_id(contacts, register, cfg)
    updated = append_contacts(
        register, contacts, run_id=run_id, run_date=cfg.run_date, outage_dates=dates,
        _numbers=numbers,  # the refs were made just before: not parsed and checked again
    )  # fmt: skip
    trace = trace_table(updated, run_id=run_id)
    envelopes = _envelopes(contacts) if cfg.one_envelope_per_premise else None
    return run_id, updated, trace, envelopes


def near_pairs(
    customers: CustomerTable | gpd.GeoDataFrame, equipment: gpd.GeoDataFrame, radii: Any
) -> pd.DataFrame:
    """Return :func:`~smartstreet_geo.proximity.customers_near` for the run's customers.

    A table is indexed by its coordinates (:meth:`ProximityIndex.from_coordinates
    <smartstreet_geo.proximity.ProximityIndex.from_coordinates>`, the same pairs in the
    same order), so that no point is made.
    """
    from ..proximity import ProximityIndex, customers_near

    if not isinstance(customers, CustomerTable):
        return customers_near(customers, equipment, radius=radii)
    require_bng(customers, what="customers")
    ids = customers.frame[CUSTOMER_ID]
    index = ProximityIndex.from_coordinates(ids, customers.x, customers.y)
    return index.within(equipment, radius=radii)


def _rows_only(customers: CustomerTable | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the customers' rows for the reader's result, without their points."""
    return gpd.GeoDataFrame(columns_of(customers))  # (columns shared, not copied)


def _nominee_copies(
    contacts: pd.DataFrame,
    cust: pd.DataFrame,
    cust_r: Any,
    reviews: list[pd.DataFrame],
    warnings: list[str],
) -> pd.DataFrame:
    """Copy each outage letter to the customer's nominee, at the nominee's own address.

    A copy's ``contact_ref`` is the original's + ``-NC`` (the trace finds the
    customer through the original). A nominee without an address goes to
    review (sending it to the customer's address would be a guess). When the
    customer file gives no nominee address column at all, one warning says how
    many copies could not be made, instead of a review row per customer.
    """
    letters = contacts[contacts["campaign"] == "outage_letter"]
    named = known(letters["nominee_name"]) if "nominee_name" in letters else None
    if named is None or not named.any():
        return no_rows(letters)
    if "nominee_address_line_1" not in set(cust_r.columns_used.values()):
        warnings.append(
            f"{int(named.sum()):,} outage letters are for customers with a nominee, but the "
            "customer file gives no nominee address (nominee_address_line_1...): no copies "
            "for nominees were made - map the nominee address columns to send them"
        )
        return no_rows(letters)
    with_address = letters.merge(
        cust[[CUSTOMER_ID, *_NOMINEE_COLUMNS]], on=CUSTOMER_ID, how="left", validate="m:1"
    )
    copies, review = nominee_copies(with_address.rename(columns={"contact_ref": "letter_ref"}))
    copies["contact_ref"] = copies["copy_of"].astype("str") + "-NC"
    reviews.append(review)
    return copies


def past_outage_warning(n_customers: int, equipment: Iterable[str], run_date: date) -> str:
    """Return the warning for PSR customers whose outage is already past on the run date."""
    return (
        f"{n_customers:,} PSR customer(s) were to be told of outages already past on "
        f"{run_date.isoformat()} (equipment {', '.join(sorted(set(equipment)))}): no call or "
        "letter is produced for them; check the outage dates"
    )


def register_section(
    cfg: CampaignConfig, register: ContactRegister, updated: ContactRegister, n_suppressed: int
) -> dict[str, Any]:
    """Return the manifest's ``register`` entry: the file, contacts before and added."""
    return {
        "file": updated.path.name if cfg.register is not None else None,
        "new": register.is_new if cfg.register is not None else None,
        "contacts_before": len(register),
        "contacts_added": len(updated) - len(register),
        "suppressed_as_already_made": n_suppressed,
        "pseudonymised": updated.pseudonymised,
    }


def _run_id(contacts: pd.DataFrame, register: ContactRegister, cfg: CampaignConfig) -> str:
    """Return the run's id: a digest of its contacts, the register read and the campaign.

    Not random, so that the same inputs and register give byte-identical
    outputs (``contact_trace.csv`` holds it); two runs that differ in what
    they send, or in the register they started from, get different ids.
    """
    digest = hashlib.sha256()
    for column in contacts.columns:
        digest.update(str(column).encode("utf-8", "surrogatepass") + b"\0")
        _digest_column(digest, contacts[column])
    for part in (register._loaded_sha256 or "new", cfg.reference, cfg.run_date.isoformat()):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def _digest_column(digest: Any, values: pd.Series) -> None:
    """Feed one column's values, in row order, to ``digest`` (a run id's content).

    Without a text copy of the column (gigabytes at millions of contacts): text as its
    lengths, validity and bytes in Arrow, whether the column is Arrow text or Python str
    objects (a partitioned run's merged columns can be either: the same text must give the
    same id); numbers as their bytes; anything else (dates, None, mixed) as codes of its
    distinct values and their text (missing values, None or NaN, are one code).
    """
    text = only_text(values)
    if text is not None:
        offsets, data = text_buffers(text)
        valid = text.is_valid().to_numpy(zero_copy_only=False)
        # (fed piece by piece: the same digest as of the pieces joined, without their copies)
        digest.update(b"T")
        digest.update(np.ascontiguousarray(np.diff(offsets)))
        digest.update(np.packbits(valid))
        digest.update(data[int(offsets[0]) : int(offsets[-1])])  # (a view, not a copy)
        return
    if values.dtype.kind in "biuf":  # numpy numbers and booleans
        numbers = values.to_numpy()
        digest.update(b"N" + str(values.dtype).encode())
        contiguous = numbers.dtype != object
        digest.update(np.ascontiguousarray(numbers) if contiguous else numbers.tobytes())
        return
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    digest.update(b"O")
    digest.update(np.ascontiguousarray(codes, dtype=np.int64))
    for u in uniques:
        digest.update(str(u).encode("utf-8", "surrogatepass") + b"\0")


def _open_register(
    cfg: CampaignConfig, key: bytes | None, new_register: bool, warnings: list[str]
) -> ContactRegister:
    """Read the campaign's register, or an empty one kept in memory when there is none.

    Without ``[suppression] register`` the run still numbers its contacts
    (``{reference}-LF-0000001``) and writes its trace; nothing is remembered.
    """
    if cfg.register is None:
        # a path that is never written: references are numbered from 1, nothing is saved
        return load_register(
            Path(".smartstreet-no-register"),
            campaign_reference=cfg.reference,
            pseudonym_key=key,
        )
    if not cfg.reference.strip():  # pragma: no cover - load_config refuses this
        raise ConfigError("[suppression] register needs a [campaign] reference.")
    register = load_register(cfg.register, campaign_reference=cfg.reference, pseudonym_key=key)
    if register.is_new and not new_register:
        warnings.append(
            f"register {cfg.register.name} does not exist: a new one will be started (every "
            "contact is sent as in a first wave; if earlier waves were run, name their register "
            "file; --new-register silences this for a first wave)"
        )
    return register


def _saver(updated: ContactRegister, run_id: str) -> Callable[[], Callable[[], object]]:
    """Return ``save()``: write the register, returning ``undo()`` for an output never committed.

    ``undo`` removes this run's contacts again (their reference numbers stay
    used, :func:`~smartstreet_geo.campaign.register.forget_run`).
    """

    def save() -> Callable[[], object]:
        saved = save_register(updated)
        return lambda: save_register(forget_run(saved, run_id))

    return save


def _words(ids: str | None, info: dict[str, str]) -> str:
    """Return the distinct values of ``info`` for ``;``-joined ids, in order, ``; ``-joined."""
    out = [info[e] for e in str(ids or "").split(";") if e in info]
    return "; ".join(dict.fromkeys(v for v in out if v))


def _merge_fields(contacts: pd.DataFrame, equipment: pd.DataFrame) -> None:
    """Add the letters' structured merge fields: ``equipment_kind`` (words), ``install_date``.

    ``outage_date`` and ``circuit_id`` are already there. Outage start and end
    times are not added: no input carries them.
    """
    kind = {
        str(e): KIND_WORDS.get(str(k), str(k).replace("_", " "))
        for e, k in zip(equipment["equipment_id"], equipment["kind"], strict=True)
    }
    installed = {
        str(e): pd.Timestamp(d).date().isoformat()
        for e, d in zip(equipment["equipment_id"], equipment["install_date"], strict=True)
        if pd.notna(d)
    }
    # a few distinct equipment lists recur on many contacts: words once per distinct list
    codes, distinct = pd.factorize(contacts["equipment_ids"])
    at = np.where(codes < 0, len(distinct), codes)  # missing: the last word
    for column, info in (("equipment_kind", kind), ("install_date", installed)):
        words = [_words(i, info) for i in distinct] + [_words(None, info)]
        contacts[column] = from_codes(at, words, contacts.index)


#: Columns of an envelope row that list each letter's value (``;``-joined, in campaign order).
_LISTED = ("contact_ref", "campaign", "template_id")
#: Merge fields whose distinct values an envelope lists (``; ``-joined).
_MERGED = ("equipment_kind", "install_date", "circuit_id")


def _envelopes(contacts: pd.DataFrame) -> pd.DataFrame:
    """Return one row per premise carrying every letter this wave sends there (one envelope).

    References, campaigns and templates are ``;``-joined in campaign order;
    ``reason`` names each campaign (``leaflet: ... | installation letter: ...``);
    the addressee is the named one when any letter is addressed by name;
    ``outage_date`` is the earliest.
    """
    letters = contacts[contacts["channel"] == "letter"].copy()
    if letters.empty:
        return letters
    letters["_named"] = letters["addressee"] != "The Occupier"
    letters["_reason"] = letters["campaign"].str.replace("_", " ") + ": " + letters["reason"]
    rows = []
    # groupby keeps the letter-house order of each premise's first letter
    for _, g in letters.groupby("premise_key", sort=False):
        first = g.iloc[0].copy()
        for col in _LISTED:
            first[col] = ";".join(g[col].astype(str))
        named = g[g["_named"]]
        if len(named):
            first["addressee"] = named["addressee"].iloc[0]
        for col in _MERGED:
            parts = "; ".join(g[col].fillna("").astype(str))
            first[col] = "; ".join(dict.fromkeys(p for p in parts.split("; ") if p))
        dated = sorted(d for d in g["outage_date"] if isinstance(d, date))
        first["outage_date"] = dated[0] if dated else None
        first["reason"] = " | ".join(g["_reason"])
        rows.append(first)
    return pd.DataFrame(rows).drop(columns=["_named", "_reason"]).reset_index(drop=True)


#: Customer columns a campaign cannot do without: the file must give at least one of each.
_NEEDED_COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "leaflet": (("address_line_1",), "letters cannot be addressed"),
    "installation_letter": (("address_line_1",), "letters cannot be addressed"),
    "outage_letter": (("address_line_1",), "letters cannot be addressed"),
    "outage_phone_call": (("phone", "nominee_phone"), "no PSR customer can be phoned"),
}


def _require_contact_columns(cfg: CampaignConfig, cust_r: Any) -> None:
    """Refuse a campaign whose contacts need a column that the customer file does not give.

    A header the reader did not recognise (``Corresp Line A``, ``Contact No``)
    would otherwise send letters without addresses, or phone nobody, without a
    word. A column that is present but blank for some customers is a per-row
    matter (manual review), not this.
    """
    given = set(cust_r.columns_used.values())
    problems: list[str] = []
    for campaign in cfg.produce:
        columns, consequence = _NEEDED_COLUMNS[campaign]
        if not given & set(columns):
            problems.append(f"{campaign} needs {' or '.join(columns)} ({consequence})")
    if not problems:
        return
    unused = list(cust_r.columns_unused_labels)
    hint = f" Columns in the file that are not used: {', '.join(unused)}." if unused else ""
    raise ConfigError(
        f"{Path(cust_r.source).name}: the customer file has no column the campaign needs: "
        f"{'; '.join(dict.fromkeys(problems))}.{hint} If the file holds it under another "
        'header, map it in the campaign file, e.g. [inputs.columns.customers] "Corresp Line A" '
        '= "address_line_1".'
    )


def _outage_date(row: Any, cfg: CampaignConfig) -> date | None:
    if row.equipment_id in cfg.outage_dates:
        return cfg.outage_dates[row.equipment_id]
    if cfg.outage_use_install_date and pd.notna(row.install_date):
        return pd.Timestamp(row.install_date).date()
    return cfg.outage_default_date


#: The columns that put letters in the letter house's order (:func:`letter_order`).
_LETTER_KEYS = ("campaign", POSTCODE, "premise_key", CUSTOMER_ID)


def letter_order(letters: pd.DataFrame) -> npt.NDArray[np.intp]:
    """Return the positions of letters in the order a letter house sorts mail.

    By campaign (in :data:`CAMPAIGNS` order), postcode, premise and customer.
    """
    return np.lexsort(
        (
            dense_rank(letters[CUSTOMER_ID]),
            dense_rank(letters["premise_key"]),
            dense_rank(letters[POSTCODE]),
            _campaign_order(letters["campaign"]),
        )
    )


def _one_key(high: npt.ArrayLike, low: npt.ArrayLike) -> npt.NDArray[np.int64] | None:
    """Return one integer per row that sorts as ``(high, low)`` do; None if it could overflow.

    For ranks (integers from 0): ``high * (max(low) + 1) + low``.

    Examples
    --------
    >>> _one_key(np.array([1, 0, 1]), np.array([0, 5, 2])).tolist()
    [6, 5, 8]
    """
    hi: npt.NDArray[np.int64] = np.asarray(high, dtype=np.int64)
    lo: npt.NDArray[np.int64] = np.asarray(low, dtype=np.int64)
    if not len(lo):
        return hi
    if int(lo.min()) < 0 or int(hi.min()) < 0:
        return None
    span = int(lo.max()) + 1
    if int(hi.max()) >= (1 << 62) // span:
        return None
    return hi * span + lo


def _campaign_order(campaigns: pd.Series) -> npt.NDArray[np.int64]:
    """Return each campaign's place in :data:`CAMPAIGNS` (unknown or missing: last)."""
    code, names = pd.factorize(campaigns)  # a few names, looked up once each
    where = {name: i for i, name in enumerate(CAMPAIGNS)}
    last = len(CAMPAIGNS)
    return np.array([where.get(n, last) for n in names] + [last], dtype=np.int64)[code]


def _rows(frame: pd.DataFrame) -> npt.NDArray[np.intp] | None:
    """Take ``_CIX`` off ``frame``; return it (None where a row does not know its customer)."""
    if _CIX not in frame:
        return None
    rows = frame.pop(_CIX)
    if rows.isna().any():
        return None
    return rows.to_numpy(dtype=np.intp)


class _FirstSaid:
    """Per valid customer, why nothing is sent them; the first reason given holds.

    Filled by customer row (contacts carry theirs, ``_CIX``), a whole part at a time: a
    follow-up wave suppresses a contact per customer (1.9 million reasons at 2.4 million
    customers, where a dict filled row by row took 3 s and looking it up by id 1 s more).
    """

    def __init__(self, ids: pd.Series) -> None:
        self._ids = ids
        self.by_row = np.full(len(ids), None, dtype=object)
        self._said = np.zeros(len(ids), dtype=bool)

    def add(self, contacts: pd.DataFrame, why: pd.Series | str) -> None:
        """Give ``why`` (one text, or one per contact) for the customers of ``contacts``."""
        self._add(contacts[_CIX].to_numpy(dtype=np.intp), why)

    def add_ids(self, ids: pd.Index, why: pd.Series) -> None:
        """Give ``why`` for customers named by id (ids not among them are left out)."""
        rows = pd.Index(self._ids.array).get_indexer(ids)
        known = rows >= 0
        self._add(rows[known], why.iloc[np.flatnonzero(known)])

    def _add(self, rows: npt.NDArray[np.intp], why: pd.Series | str) -> None:
        first = np.unique(rows, return_index=True)[1]  # each customer's first in this part
        free = first[~self._said[rows[first]]]
        taken = rows[free]
        self.by_row[taken] = why if isinstance(why, str) else why.to_numpy(dtype=object)[free]
        self._said[taken] = True


#: The customer columns the premise keys and the letter order's ranks are made from.
_KEY_COLUMNS = (PREMISE_ID, *ADDRESS_LINES, POSTCODE, CUSTOMER_ID)


class _Premises:
    """Each valid customer's premise key (:func:`premise_keys`) and letter-order ranks."""

    def __init__(self, customers: pd.DataFrame) -> None:
        self.keys = premise_keys(customers)
        self.ranks = _CustomerRanks(customers.assign(premise_key=self.keys))


class _CustomerRanks:
    """Each valid customer's rank by premise key, postcode and id (missing last), once.

    Ranks among all customers (``dense_rank``) order any subset of them as ranks within
    the subset do, so letters are sorted on integers taken by their customer's row.
    The id rank holds only among customers of the same premise, the only place the sorts
    of :func:`_one_letter_per_premise` compare ids.
    """

    def __init__(self, cust: pd.DataFrame) -> None:
        premise = dense_rank(cust["premise_key"])
        self.of = {"premise_key": premise, POSTCODE: dense_rank(cust[POSTCODE])}
        # the customer id only ever orders customers of one premise (the last key of both
        # sorts): ranked among the customers who share a premise, 0 for the rest
        shared = np.bincount(premise)[premise] > 1
        by_id = np.zeros(len(cust), dtype=np.int64)
        by_id[shared] = dense_rank(cust[CUSTOMER_ID][shared])
        self.of[CUSTOMER_ID] = by_id

    def take(self, column: str, rows: pd.Series) -> npt.NDArray[np.int64]:
        """Return the rank of ``column`` of the customers at ``rows`` (their ``_CIX``)."""
        return self.of[column][rows.to_numpy(dtype=np.intp)]


def with_customer_columns(contacts: pd.DataFrame, cust: pd.DataFrame) -> pd.DataFrame:
    """Return ``contacts`` with the customer's own columns, taken from ``cust`` by ``_cix``.

    The rules leave the name, address and phone on record out of contacts that carry their
    customer's row (:data:`~smartstreet_geo.campaign.rules._CUSTOMER_COLUMNS`): they are taken
    here once, for the contacts that are sent, in :data:`CONTACT_COLUMNS` order.
    """
    missing = [c for c in _CUSTOMER_COLUMNS if c not in contacts]
    own = take_rows(cust[missing], contacts[_CIX].to_numpy(dtype=np.intp))
    own.index = contacts.index
    out = pd.concat([contacts, own], axis=1)
    order = [c for c in (*CONTACT_COLUMNS, _CIX) if c in out]
    return out[order + [c for c in out.columns if c not in order]]


def _one_letter_per_premise(
    contacts: pd.DataFrame,
    is_letter: npt.NDArray[np.bool_],
    calls: pd.DataFrame,
    ranks: _CustomerRanks,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one letter per (campaign, premise); return the contacts and the covered customers.

    The letters are the rows of ``contacts`` where ``is_letter``. Letters come first, by
    campaign, postcode and premise (the order a letter house sorts mail); calls follow in
    the order given (a call handler's working order,
    :func:`~smartstreet_geo.campaign.calls.order_calls`). ``ranks``: the customers'
    ranks, taken by each contact's row (``_CIX``). ``contacts`` is consumed: it is left
    with no columns (the caller replaces it with the contacts returned).
    """
    # Sorts as integer codes (np.lexsort is stable; missing values last, as in sort_values)
    # and one take of the wide frame per output, straight from ``contacts``: no copy of the
    # letters first.
    at = np.flatnonzero(is_letter)
    letters = contacts[["campaign", "distance_m", _CIX]].take(at)
    camp = dense_rank(letters["campaign"])
    cix = letters[_CIX]
    prem, cid, post = (ranks.take(c, cix) for c in ("premise_key", CUSTOMER_ID, POSTCODE))
    dist = letters["distance_m"].to_numpy(dtype=float, na_value=np.nan)
    # (two ranks that sort together as one integer key: one stable sort less each time)
    camp_prem = _one_key(camp, prem)
    first_sort = (
        np.lexsort((cid, dist, prem, camp))
        if camp_prem is None
        else np.lexsort((cid, dist, camp_prem))
    )
    c, p = camp[first_sort], prem[first_sort]
    first = np.ones(len(c), dtype=bool)  # the first letter of each (campaign, premise)
    first[1:] = (c[1:] != c[:-1]) | (p[1:] != p[:-1])
    kept_rows, covered_rows = first_sort[first], first_sort[~first]
    # the letter house's order (as letter_order): campaign, postcode, premise, customer
    k = kept_rows
    order = _campaign_order(letters["campaign"])[k]
    major, minor = _one_key(order, post[k]), _one_key(prem[k], cid[k])
    second = (
        np.lexsort((cid[k], prem[k], post[k], order))
        if major is None or minor is None
        else np.lexsort((minor, major))
    )
    # the one wide take, in letter order, the calls appended as each column is taken
    covered = take_rows(contacts[["campaign", CUSTOMER_ID, "premise_key", _CIX]], at[covered_rows])
    # (consumed: each column of the contacts is let go once taken, so that every proposed
    # contact and every letter kept are not all held at once; the caller's frame is emptied)
    out = take_rows(contacts, at[kept_rows[second]], then=calls[contacts.columns], consume=True)
    return out, covered.reset_index(drop=True)
