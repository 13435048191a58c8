"""The contact register: every letter and call ever produced, across the waves of a programme.

A follow-up run (a *delta run*) reads the register, drops the contacts that
were already made, numbers the rest so that their references continue the
register's, and appends them. The register is the single source of "what was
already sent"; it is also the internal trace from a reference printed on a
letter or a call sheet back to the customer and the premise.

Typical use (one campaign run)::

    register = load_register("register.parquet", campaign_reference=cfg.reference,
                             pseudonym_key=key)
    kept, suppressed = suppress_repeats(contacts, register, outage_dates=dates)
    ...                                              # no-address review, one letter per premise
    contacts.insert(0, "contact_ref", allocate_refs(contacts, register))
    updated = append_contacts(register, contacts, run_id=run_id, run_date=cfg.run_date,
                              outage_dates=dates)
    trace = trace_table(updated, run_id=run_id)      # -> contact_trace.csv (internal)
    ...                                              # write the output folder
    save_register(updated)                           # atomic; refuses a register changed meanwhile

File format
-----------
One Parquet file, replaced whole after each run (:func:`save_register`): the
bytes go to a temporary file in the same folder, are flushed to disk and
renamed over the old file (:func:`smartstreet_geo.export.atomic_write_bytes`,
mode 0600), so at every instant the file is the complete old register or the
complete new one. Parquet rather than SQLite because that whole-file atomic
replace is the same all-or-nothing model as the output folders, a register
of millions of rows reads into pandas in well under a second (the matching is
vectorised pandas work either way), any analysis tool (pandas, DuckDB,
Arrow, Power BI) reads it without a driver, and there are no journal or WAL
side files to keep with it. SQLite's transactions would allow appending in
place; an append here rewrites the file, which costs about a second per
million rows and happens once per run. Two runs saving the same register are
told apart with a lock and a content check (:func:`save_register`), so the
second one cannot silently drop the first one's rows.

The file's key-value metadata (``smartstreet_geo.contact_register``, JSON)
holds the schema version, whether the ids are pseudonymised, a fingerprint of
the pseudonym key (an HMAC of a fixed label under the key, never the key) and
the highest sequence number used per campaign reference and kind (so a number
is never reused, even if rows are ever removed).

Columns: :data:`REGISTER_COLUMNS`. ``customer_key`` is the customer id, or its
keyed pseudonym in a pseudonymised register; ``premise_key`` is
:func:`smartstreet_geo.campaign.premise_keys` (also pseudonymised there: an
address key holds the address). ``equipment_ids`` is ``;``-joined and
``outage_dates`` lists each one's outage date in the same order (``""`` where
there is none or the kind has no outage).

Matching rules (:data:`RULES`)
------------------------------
* ``leaflet``: not sent again to a premise or a customer that already had a
  leaflet under the same campaign reference.
* ``installation_letter``: not repeated for the same equipment to the same
  premise or customer (under any reference). A letter about several pieces of
  equipment, some of them new, goes out naming only the new ones.
* ``outage_letter``: as the installation letter, per equipment *and* outage
  date: a moved outage gives a new letter.
* ``outage_phone_call``: per customer, equipment and outage date (a call is to
  a person: another PSR customer at the same premise gets their own).

A missing key matches nothing: a blank customer id, a blank premise key, or an
address key without an address line or without a postcode (``addr:|WN5 9XP``
would otherwise stand for every premise of the postcode) is never matched,
neither in the register nor in the new contacts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import ParameterError, SmartStreetGeoError
from ..schema import CUSTOMER_ID

__all__ = [
    "REF_PREFIXES",
    "REGISTER_COLUMNS",
    "RULES",
    "SCHEMA_VERSION",
    "ContactRegister",
    "MatchRule",
    "RegisterError",
    "Suppression",
    "allocate_refs",
    "append_contacts",
    "load_register",
    "record_contacts",
    "save_register",
    "suppress_repeats",
    "trace_table",
]

#: Version of the register file layout; a file with a higher one is refused.
SCHEMA_VERSION = 1
#: Parquet key-value metadata key holding the register's JSON metadata.
METADATA_KEY = b"smartstreet_geo.contact_register"
#: Digits of the sequence number in a reference (a licence area fits; more digits if ever needed).
REF_DIGITS = 7

#: Reference prefix per campaign kind (``SS-DEMO-2027-LF-0000001``).
REF_PREFIXES: Mapping[str, str] = {
    "leaflet": "LF",
    "installation_letter": "IL",
    "outage_letter": "OL",
    "outage_phone_call": "PC",
}

#: The register's columns, in file order.
REGISTER_COLUMNS = (
    "contact_ref",
    "campaign_reference",
    "campaign",
    "ref_number",
    "channel",
    "customer_key",
    "premise_key",
    "equipment_ids",
    "outage_dates",
    "run_id",
    "run_date",
    "recorded_at",
)

_FINGERPRINT_LABEL = b"smartstreet-geo contact register: pseudonym key fingerprint v1"
_CHECK_LABEL = "smartstreet-geo contact register: pseudonym scheme check v1"


class RegisterError(SmartStreetGeoError):
    """The contact register cannot be used: another key, not a register, changed meanwhile."""


@dataclass(frozen=True)
class MatchRule:
    """How a campaign kind recognises a contact that was already made.

    Attributes
    ----------
    by_premise, by_customer : bool
        Match on the premise key, on the customer key (either one suffices).
    per_equipment : bool
        One contact per piece of equipment (else one per key).
    per_outage_date : bool
        A different outage date for the same equipment is a new contact.
    per_reference : bool
        Only contacts under the same campaign reference count.
    done : str
        Words for a suppressed row's reason ("leaflet already sent").
    """

    by_premise: bool
    by_customer: bool
    per_equipment: bool
    per_outage_date: bool
    per_reference: bool
    done: str


#: One rule per campaign kind; a new kind is a new entry here and in :data:`REF_PREFIXES`.
RULES: Mapping[str, MatchRule] = {
    "leaflet": MatchRule(True, True, False, False, True, "leaflet already sent"),
    "installation_letter": MatchRule(
        True, True, True, False, False, "installation letter already sent"
    ),
    "outage_letter": MatchRule(True, True, True, True, False, "outage letter already sent"),
    "outage_phone_call": MatchRule(
        False, True, True, True, False, "outage phone call already made"
    ),
}

_REF_COLUMN = "contact_ref"
_NEEDED = ("campaign", "channel", CUSTOMER_ID, "premise_key", "equipment_ids")

OutageDates = Mapping[str, "dt.date | str | None"] | pd.Series


# --------------------------------------------------------------------------- the register
@dataclass(frozen=True)
class ContactRegister:
    """A contact register as read for one campaign run.

    Build one with :func:`load_register`. The object is immutable:
    :func:`append_contacts` returns a new one, :func:`save_register` writes it.

    Attributes
    ----------
    path : Path
        The register file (it may not exist yet: a new register).
    campaign_reference : str
        The reference of the campaign being run (``[campaign] reference``);
        leaflets are matched and references numbered under it.
    table : DataFrame
        Every contact recorded, columns :data:`REGISTER_COLUMNS`.
    pseudonymised : bool
        Whether ``customer_key`` and ``premise_key`` are keyed pseudonyms.
    sequences : mapping
        Highest sequence number used per campaign reference and kind.
    """

    path: Path
    campaign_reference: str
    table: pd.DataFrame = field(repr=False)
    pseudonymised: bool
    sequences: Mapping[str, Mapping[str, int]] = field(repr=False)
    _key: bytes | None = field(repr=False, compare=False)
    _loaded_sha256: str | None = field(repr=False, compare=False)

    @property
    def is_new(self) -> bool:
        """Return whether the file did not exist when the register was read."""
        return self._loaded_sha256 is None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (
            f"ContactRegister(file={self.path.name!r}, rows={len(self.table)}, "
            f"pseudonymised={self.pseudonymised}, new={self.is_new})"
        )


def _empty_table() -> pd.DataFrame:
    return _from_arrow(_arrow_schema().empty_table())


def _arrow_schema() -> Any:
    import pyarrow as pa

    s = pa.string()
    return pa.schema(
        [
            ("contact_ref", s),
            ("campaign_reference", s),
            ("campaign", s),
            ("ref_number", pa.int64()),
            ("channel", s),
            ("customer_key", s),
            ("premise_key", s),
            ("equipment_ids", s),
            ("outage_dates", s),
            ("run_id", s),
            ("run_date", pa.date32()),
            ("recorded_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def _from_arrow(table: Any) -> pd.DataFrame:
    return table.to_pandas()


def _fingerprint(key: bytes) -> str:
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def _pseudonym_check(key: bytes) -> str:
    from ..export import pseudonym

    return str(pseudonym(pd.Series([_CHECK_LABEL]), key).iloc[0])


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def load_register(
    path: str | Path,
    *,
    campaign_reference: str,
    pseudonym_key: bytes | None = None,
    create: bool = True,
) -> ContactRegister:
    """Read a contact register for a campaign run (or start a new one).

    Parameters
    ----------
    path : str or Path
        The register file (Parquet).
    campaign_reference : str
        The campaign's reference (``[campaign] reference``).
    pseudonym_key : bytes, optional
        The pseudonym key of a pseudonymised run. A register written with a
        key is only read with the same key; one written without a key only
        without.
    create : bool, default True
        A missing file is a new, empty register (``is_new``); with False it is
        an error.

    Returns
    -------
    ContactRegister

    Raises
    ------
    RegisterError
        The file is not a register, is from a newer version, or was written
        with another key (or with a key when none is given, or the reverse).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "register.parquet"
    >>> load_register(path, campaign_reference="SS-DEMO-2027")
    ContactRegister(file='register.parquet', rows=0, pseudonymised=False, new=True)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    name = target.name
    if pseudonym_key is not None and not pseudonym_key:
        raise ParameterError("the pseudonym key is empty.")
    if not target.exists():
        if not create:
            raise RegisterError(
                f"{name}: the contact register does not exist. Give the file the earlier runs "
                "wrote (or allow a new register)."
            )
        return ContactRegister(
            path=target,
            campaign_reference=campaign_reference,
            table=_empty_table(),
            pseudonymised=pseudonym_key is not None,
            sequences={},
            _key=pseudonym_key,
            _loaded_sha256=None,
        )
    try:
        # read once into memory: the content checked at save time is exactly what was read
        data = target.read_bytes()
        table = pq.read_table(pa.BufferReader(data))
    except (OSError, pa.ArrowException) as exc:
        raise RegisterError(
            f"{name}: cannot be read as a contact register (Parquet): {type(exc).__name__}."
        ) from exc
    sha = hashlib.sha256(data).hexdigest()
    meta = _read_metadata(table, name)
    _check_key(meta, pseudonym_key, name)
    _check_columns(table, name)
    frame = _from_arrow(table.select(list(REGISTER_COLUMNS)).cast(_arrow_schema()))
    unknown = sorted(set(frame["campaign"]) - set(RULES))
    if unknown:
        raise RegisterError(
            f"{name}: holds contacts of kind(s) {', '.join(map(repr, unknown[:5]))} that this "
            "version of smartstreet-geo does not know; use the version that wrote it or newer."
        )
    return ContactRegister(
        path=target,
        campaign_reference=campaign_reference,
        table=frame,
        pseudonymised=bool(meta["pseudonymised"]),
        sequences={str(r): dict(k) for r, k in dict(meta.get("sequences", {})).items()},
        _key=pseudonym_key,
        _loaded_sha256=sha,
    )


def _read_metadata(table: Any, name: str) -> dict[str, Any]:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise RegisterError(
            f"{name}: is a Parquet file but not a smartstreet-geo contact register (it has no "
            "register metadata). Name the register file the earlier runs wrote, or a new file."
        )
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise RegisterError(f"{name}: the register metadata is damaged.") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
        raise RegisterError(f"{name}: the register metadata is damaged.")
    if meta["schema_version"] > SCHEMA_VERSION:
        raise RegisterError(
            f"{name}: was written by a newer version of smartstreet-geo (register schema "
            f"{meta['schema_version']}, this version reads {SCHEMA_VERSION}); upgrade."
        )
    return meta


def _check_key(meta: Mapping[str, Any], key: bytes | None, name: str) -> None:
    if not meta.get("pseudonymised"):
        if key is not None:
            raise RegisterError(
                f"{name}: this register holds real customer ids, not pseudonyms, so a "
                "pseudonymised run cannot match it. Run without pseudonymising, or keep "
                "pseudonymised runs in a register of their own."
            )
        return
    if key is None:
        raise RegisterError(
            f"{name}: this register holds pseudonymised ids; give the pseudonym key it was "
            "written with (--pseudonymise and the same key in the environment variable named "
            "by [output] pseudonym_key_env)."
        )
    stored = str(meta.get("key_fingerprint", ""))
    given = _fingerprint(key)
    if not hmac.compare_digest(stored, given):
        raise RegisterError(
            f"{name}: this register was written with a different pseudonym key (fingerprint "
            f"{stored[:8]}... in the file, {given[:8]}... for the key given), so none of its ids "
            "would match. Use the key the register was written with; a new key needs a new "
            "register."
        )
    if meta.get("pseudonym_check") != _pseudonym_check(key):
        raise RegisterError(
            f"{name}: the pseudonyms in this register were made by another pseudonym scheme than "
            "this version of smartstreet-geo uses, so none of its ids would match; use the "
            "version that wrote it."
        )


def _check_columns(table: Any, name: str) -> None:
    missing = [c for c in REGISTER_COLUMNS if c not in table.column_names]
    if missing:
        raise RegisterError(f"{name}: the register lacks column(s) {', '.join(missing)}.")
    try:
        table.select(list(REGISTER_COLUMNS)).cast(_arrow_schema())
    except Exception as exc:  # pyarrow raises several types for an impossible cast
        raise RegisterError(f"{name}: the register's columns have the wrong types.") from exc


# --------------------------------------------------------------------------- keys
def _blank(values: pd.Series) -> npt.NDArray[np.bool_]:
    return np.asarray(values.isna() | values.astype("str").str.strip().eq(""), dtype=bool)


def _usable_premise(keys: pd.Series) -> pd.Series:
    """Premise keys that identify one premise; missing where not (blank, no address line...)."""
    text = keys.astype("str")
    vague = (
        _blank(keys)
        | text.str.fullmatch(r"uprn:\s*").fillna(True).to_numpy(dtype=bool)
        # an address key needs an address line and a postcode: addr:|WN5 9XP is a postcode
        | text.str.fullmatch(r"addr:\s*\|.*|addr:.*\|\s*").fillna(True).to_numpy(dtype=bool)
    )
    return text.where(~vague)


def _usable_customer(ids: pd.Series) -> pd.Series:
    text = ids.astype("str")
    return text.where(~_blank(ids))


def _register_keys(contacts: pd.DataFrame, register: ContactRegister) -> pd.DataFrame:
    """Return the register's keys of ``contacts`` (pseudonyms where the register has them)."""
    ckey = _usable_customer(contacts[CUSTOMER_ID])
    pkey = _usable_premise(contacts["premise_key"])
    if register.pseudonymised:
        from ..export import pseudonym

        if register._key is None:  # pragma: no cover - load_register refuses this
            raise RegisterError("a pseudonymised register needs its key.")
        ckey = pseudonym(ckey, register._key)
        pkey = pseudonym(pkey, register._key)
    return pd.DataFrame({"customer_key": ckey, "premise_key": pkey}, index=contacts.index)


def _check_contacts(contacts: pd.DataFrame, what: str) -> None:
    missing = [c for c in _NEEDED if c not in contacts.columns]
    if missing:
        raise ParameterError(f"{what}: contacts lack column(s) {', '.join(missing)}.")
    unknown = sorted(set(contacts["campaign"].dropna()) - set(RULES))
    if unknown or contacts["campaign"].isna().any():
        raise ParameterError(
            f"{what}: contacts of unknown campaign kind {', '.join(map(repr, unknown or [None]))}; "
            f"the register knows {', '.join(RULES)}."
        )


# --------------------------------------------------------------------------- vectorised lists
# ";"-joined lists are split and rebuilt with Arrow's list kernels: pandas' str.split and
# groupby(...).agg(";".join) call Python once per row or group, which costs seconds per million.
def _split(
    values: pd.Series, *, drop_empty: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Return (row position, item) for each item of ``;``-joined lists, items in row order.

    A missing value is one empty item. With ``drop_empty``, empty items are dropped, except
    that a row left with none keeps one empty item (every row has at least one item).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values.astype(object).where(values.notna(), ""), type=pa.string())
    lists = pc.split_pattern(arr, ";")
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    items = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    if drop_empty:
        keep = np.asarray(pc.not_equal(items, "").to_numpy(zero_copy_only=False), dtype=bool)
        parents, items = parents[keep], items.filter(pa.array(keep))
        bare = np.flatnonzero(np.bincount(parents, minlength=len(values)) == 0)
        if len(bare):
            parents = np.concatenate([parents, bare])
            items = pa.concat_arrays([items, pa.array([""] * len(bare), type=pa.string())])
            order = np.argsort(parents, kind="stable")
            parents, items = parents[order], items.take(pa.array(order))
    return parents, np.asarray(items.to_numpy(zero_copy_only=False), dtype=object)


def _join(
    parents: npt.NDArray[np.int64], items: npt.NDArray[np.object_], n: int, sep: str
) -> pd.Series:
    """Join items (sorted by row position) per row; missing for rows with none."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = np.bincount(parents, minlength=n) if len(parents) else np.zeros(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lists = pa.LargeListArray.from_arrays(
        pa.array(offsets, type=pa.int64()), pa.array(items, type=pa.string())
    )
    joined = pd.Series(
        np.asarray(pc.binary_join(lists, sep).to_numpy(zero_copy_only=False), dtype=object)
    )
    return joined.where(counts > 0)


def _codes(*columns: pd.Series | npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """One integer per distinct combination of the columns' values (joint factorisation).

    Hand-written because pandas' own (``groupby(...).ngroup()``) sorts and is several
    times slower; each step re-factorises so the codes stay below the row count.
    """
    out: npt.NDArray[np.int64] | None = None
    for col in columns:
        codes, uniques = pd.factorize(np.asarray(col, dtype=object))
        c = codes.astype(np.int64)
        if out is None:
            out = c
        else:
            out, _ = pd.factorize(out * (len(uniques) + 1) + c)
            out = out.astype(np.int64)
    assert out is not None
    return out


# --------------------------------------------------------------------------- items
@dataclass
class _Items:
    """One row per (contact, equipment) the matching works on."""

    parent: npt.NDArray[np.int64]
    kind: npt.NDArray[np.object_]
    scope: npt.NDArray[np.object_]
    eq: npt.NDArray[np.object_]
    date: npt.NDArray[np.object_]
    premise: npt.NDArray[np.object_]
    customer: npt.NDArray[np.object_]


def _rule_flags(kinds: pd.Series) -> dict[str, npt.NDArray[np.bool_]]:
    out = {}
    for flag in ("by_premise", "by_customer", "per_equipment", "per_outage_date", "per_reference"):
        on = [k for k, r in RULES.items() if getattr(r, flag)]
        out[flag] = np.asarray(kinds.isin(on), dtype=bool)
    return out


def _iso_dates(outage_dates: OutageDates | None) -> pd.Series:
    """Equipment id -> ISO date text ("" where the outage has no date)."""
    if outage_dates is None:
        return pd.Series(dtype=object)
    raw = outage_dates if isinstance(outage_dates, pd.Series) else pd.Series(dict(outage_dates))
    # one call per piece of equipment (a handful to thousands), not per contact
    text = [_iso(v) for v in raw.tolist()]
    return pd.Series(text, index=raw.index.astype(str), dtype=object)


def _iso(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return ""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ParameterError(f"outage date {text!r} is not a date (YYYY-MM-DD).") from None


def _contact_items(
    contacts: pd.DataFrame,
    keys: pd.DataFrame,
    reference: str,
    dates: pd.Series,
    what: str,
) -> _Items:
    flags = _rule_flags(contacts["campaign"])
    eq_text = contacts["equipment_ids"].where(flags["per_equipment"], "")
    parent, eq = _split(eq_text, drop_empty=True)
    dated = flags["per_outage_date"][parent] & (eq != "")
    if dated.any():
        wanted = pd.Series(eq[dated])
        unknown = wanted[~wanted.isin(dates.index)].unique()
        if len(unknown):
            shown = ", ".join(map(str, sorted(unknown)[:10]))
            raise ParameterError(
                f"{what}: outage_dates has no entry for equipment {shown}"
                f"{' and more' if len(unknown) > 10 else ''} named by outage contacts (give "
                "None for an outage without a date)."
            )
    date = np.full(len(parent), "", dtype=object)
    if dated.any():
        date[dated] = pd.Series(eq[dated]).map(dates).to_numpy(dtype=object)
    scope = np.where(flags["per_reference"][parent], reference, "").astype(object)
    return _Items(
        parent=parent,
        kind=contacts["campaign"].to_numpy(dtype=object)[parent],
        scope=scope,
        eq=eq,
        date=date,
        premise=keys["premise_key"].to_numpy(dtype=object)[parent],
        customer=keys["customer_key"].to_numpy(dtype=object)[parent],
    )


def _register_items(table: pd.DataFrame, name: str) -> _Items:
    flags = _rule_flags(table["campaign"])
    parent, eq = _split(table["equipment_ids"], drop_empty=False)
    # kinds without outage dates store none: split their equipment list in its place
    dated_rows = table["outage_dates"].where(flags["per_outage_date"], table["equipment_ids"])
    dparent, date = _split(dated_rows, drop_empty=False)
    if len(dparent) != len(parent) or not np.array_equal(dparent, parent):
        raise RegisterError(f"{name}: equipment_ids and outage_dates disagree in length.")
    per_eq = flags["per_equipment"][parent]
    eq = np.where(per_eq, eq, "").astype(object)
    date = np.where(flags["per_outage_date"][parent], date, "").astype(object)
    scope = np.where(
        flags["per_reference"][parent],
        table["campaign_reference"].to_numpy(dtype=object)[parent],
        "",
    ).astype(object)
    return _Items(
        parent=parent,
        kind=table["campaign"].to_numpy(dtype=object)[parent],
        scope=scope,
        eq=eq,
        date=date,
        premise=table["premise_key"].to_numpy(dtype=object)[parent],
        customer=table["customer_key"].to_numpy(dtype=object)[parent],
    )


def _last_match(
    new_codes: npt.NDArray[np.int64],
    new_ok: npt.NDArray[np.bool_],
    old_codes: npt.NDArray[np.int64],
    old_ok: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int64]:
    """For each new item, the position of the last old item with the same code (-1: none)."""
    old_pos = np.flatnonzero(old_ok)
    index = pd.Series(old_pos, index=old_codes[old_pos])
    index = index[~index.index.duplicated(keep="last")]
    found = pd.Index(index.index).get_indexer(new_codes)
    out = np.where(found >= 0, index.to_numpy()[np.maximum(found, 0)], -1)
    out[~new_ok] = -1
    return out.astype(np.int64)


# --------------------------------------------------------------------------- suppression
class Suppression(NamedTuple):
    """The result of :func:`suppress_repeats`: unpack as ``kept, suppressed``.

    Attributes
    ----------
    kept : DataFrame
        The contacts to make (the input's rows and index, in input order). A
        letter or call about several pieces of equipment, some already
        covered, names only the others in ``equipment_ids``, and its
        ``reason`` ends "(new since last run: ...)"; a moved outage adds
        "(outage date changed: EQ1 was YYYY-MM-DD)".
    suppressed : DataFrame
        The contacts not made, with ``suppressed_reason`` (no personal data:
        kind, equipment, references) and ``previous_refs`` (the earlier
        contacts that cover them).
    """

    kept: pd.DataFrame
    suppressed: pd.DataFrame


def suppress_repeats(
    contacts: pd.DataFrame,
    register: ContactRegister,
    *,
    outage_dates: OutageDates | None = None,
) -> Suppression:
    """Drop the contacts the register says were already made (a delta run).

    Parameters
    ----------
    contacts : DataFrame
        Candidate contacts of this run: ``campaign``, ``channel``,
        ``customer_id``, ``premise_key`` and ``equipment_ids`` (``;``-joined)
        at least; other columns are kept as they are.
    register : ContactRegister
        From :func:`load_register`.
    outage_dates : mapping or Series, optional
        Equipment id -> outage date (``datetime.date``, ISO text, or None for
        an outage without a date) of this run. Needed when the contacts hold
        outage letters or calls: every equipment they name must be there.

    Returns
    -------
    Suppression
        ``(kept, suppressed)``; see :class:`Suppression`. The rules are
        :data:`RULES` (module docstring).

    Raises
    ------
    ParameterError
        A needed column is missing, an unknown campaign kind, an outage
        equipment without an entry in ``outage_dates``.
    """
    what = "suppress_repeats"
    _check_contacts(contacts, what)
    n = len(contacts)
    dates = _iso_dates(outage_dates)
    keys = _register_keys(contacts, register)
    new = _contact_items(contacts, keys, register.campaign_reference, dates, what)
    old = _register_items(register.table, register.path.name)
    n_old = len(old.parent)

    def both(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.concatenate([a, b])

    base = _codes(both(old.kind, new.kind), both(old.scope, new.scope), both(old.eq, new.eq))
    nflags = _rule_flags(pd.Series(new.kind, dtype=object))
    oflags = _rule_flags(pd.Series(old.kind, dtype=object))
    seen = np.zeros(len(new.parent), dtype=bool)
    by_premise = np.zeros(len(new.parent), dtype=bool)
    prev = np.full(len(new.parent), -1, dtype=np.int64)  # register item that covers it
    moved_from = np.full(len(new.parent), -1, dtype=np.int64)  # same equipment, other date
    for basis, flag in (("premise", "by_premise"), ("customer", "by_customer")):
        old_key: npt.NDArray[np.object_] = getattr(old, basis)
        new_key: npt.NDArray[np.object_] = getattr(new, basis)
        old_ok = oflags[flag] & pd.notna(old_key)
        new_ok = nflags[flag] & pd.notna(new_key)
        if not new_ok.any() or not old_ok.any():
            continue
        keyed = _codes(base, both(old_key, new_key))
        dated = _codes(keyed, both(old.date, new.date))
        hit = _last_match(dated[n_old:], new_ok, dated[:n_old], old_ok)
        fresh = (hit >= 0) & ~seen
        prev[fresh] = hit[fresh]
        by_premise |= fresh & (basis == "premise")
        seen |= hit >= 0
        other = _last_match(
            keyed[n_old:], new_ok & nflags["per_outage_date"], keyed[:n_old], old_ok
        )
        moved_from = np.where((moved_from < 0) & (other >= 0), other, moved_from)
    moved_from[seen] = -1

    total = np.bincount(new.parent, minlength=n)
    n_seen = np.bincount(new.parent, weights=seen, minlength=n).astype(np.int64)
    gone = (total > 0) & (n_seen == total)
    partial = (n_seen > 0) & ~gone

    kept = contacts.loc[~gone].copy()
    if partial.any() or (moved_from >= 0).any():
        kept = _annotate(kept, contacts, new, old, seen, partial, moved_from, n)

    suppressed = contacts.loc[gone].copy()
    suppressed["suppressed_reason"], suppressed["previous_refs"] = _why(
        contacts, new, old, register, seen, by_premise, prev, gone, n
    )
    return Suppression(kept, suppressed)


def _annotate(
    kept: pd.DataFrame,
    contacts: pd.DataFrame,
    new: _Items,
    old: _Items,
    seen: npt.NDArray[np.bool_],
    partial: npt.NDArray[np.bool_],
    moved_from: npt.NDArray[np.int64],
    n: int,
) -> pd.DataFrame:
    pos = np.flatnonzero(partial)
    labels = contacts.index[pos]
    out = kept
    fresh = ~seen & partial[new.parent]
    reason = contacts["reason"].astype(object).fillna("") if "reason" in contacts else None
    if len(pos):
        out.loc[labels, "equipment_ids"] = _join(
            new.parent[fresh], new.eq[fresh], n, ";"
        ).to_numpy()[pos]
        if reason is not None:
            listed = _join(new.parent[fresh], new.eq[fresh], n, ", ").to_numpy()[pos]
            out.loc[labels, "reason"] = (
                reason.to_numpy()[pos] + " (new since last run: " + listed + ")"
            )
    moved = moved_from >= 0
    if moved.any() and reason is not None:
        text = new.eq[moved] + " was " + old.date[moved_from[moved]]
        text = np.where(old.date[moved_from[moved]] == "", new.eq[moved] + " had no date", text)
        joined = _join(new.parent[moved], text.astype(object), n, "; ")
        rows = np.flatnonzero(joined.notna().to_numpy())
        labels = contacts.index[rows]
        base = out.loc[labels, "reason"].astype(object).fillna("").to_numpy()
        out.loc[labels, "reason"] = base + " (outage date changed: " + joined.to_numpy()[rows] + ")"
    return out


def _why(
    contacts: pd.DataFrame,
    new: _Items,
    old: _Items,
    register: ContactRegister,
    seen: npt.NDArray[np.bool_],
    by_premise: npt.NDArray[np.bool_],
    prev: npt.NDArray[np.int64],
    gone: npt.NDArray[np.bool_],
    n: int,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Reason text and earlier references for each suppressed row (in row order)."""
    rows = np.flatnonzero(gone)
    if not len(rows):
        return np.array([], dtype=object), np.array([], dtype=object)
    refs = register.table["contact_ref"].to_numpy(dtype=object)
    item_ref = np.where(prev >= 0, refs[old.parent[np.maximum(prev, 0)]] if len(refs) else "", "")
    item_ref = item_ref.astype(object)
    mask = seen & gone[new.parent]
    pairs = pd.DataFrame({"p": new.parent[mask], "r": item_ref[mask]}).drop_duplicates()
    ref_text = _join(pairs["p"].to_numpy(), pairs["r"].to_numpy(dtype=object), n, ", ")
    premise_rows = np.bincount(new.parent[by_premise], minlength=n) > 0
    eq_text = _join(new.parent[mask], new.eq[mask], n, ";")
    kinds = contacts["campaign"].to_numpy(dtype=object)
    done = pd.Series(kinds[rows]).map({k: r.done for k, r in RULES.items()}).to_numpy(dtype=object)
    who = np.where(premise_rows[rows], " to this premise", " to this customer").astype(object)
    per_eq = _rule_flags(pd.Series(kinds[rows], dtype=object))["per_equipment"]
    eqs = eq_text.fillna("").to_numpy(dtype=object)[rows]
    about = np.where(per_eq & (eqs != ""), " about " + eqs, "").astype(object)
    per_ref = _rule_flags(pd.Series(kinds[rows], dtype=object))["per_reference"]
    under = np.where(per_ref, " under " + register.campaign_reference, "").astype(object)
    earlier = ref_text.fillna("").to_numpy(dtype=object)[rows]
    reason = done + who + about + under + " in an earlier run (" + earlier + ")"
    return reason.astype(object), earlier


# --------------------------------------------------------------------------- references
def _ref_text(reference: str, prefix: pd.Series, number: pd.Series) -> pd.Series:
    head = f"{reference}-" if reference else ""
    digits = number.astype("int64").astype("str").str.zfill(REF_DIGITS)
    return (head + prefix.astype("str") + "-" + digits).astype(object)


def _high_water(register: ContactRegister) -> dict[str, int]:
    """Highest sequence number used per kind under the register's campaign reference."""
    t = register.table
    mine = t[t["campaign_reference"] == register.campaign_reference]
    out = {str(k): int(v) for k, v in mine.groupby("campaign")["ref_number"].max().items()}
    for kind, number in register.sequences.get(register.campaign_reference, {}).items():
        out[kind] = max(out.get(kind, 0), int(number))
    return out


def allocate_refs(contacts: pd.DataFrame, register: ContactRegister) -> pd.Series:
    """Return a reference per contact, continuing the register's numbers per reference and kind.

    ``{campaign reference}-{prefix}-{number}``, e.g. ``SS-DEMO-2027-LF-0000001``
    (prefixes :data:`REF_PREFIXES`, at least 7 digits). Each kind is numbered
    from one above the highest number the register ever used for this
    reference and kind, in the order of ``contacts`` (the same contacts in the
    same order get the same references).

    Parameters
    ----------
    contacts : DataFrame
        With a ``campaign`` column; in the order the references should follow.
    register : ContactRegister

    Returns
    -------
    Series
        The reference of each contact, aligned with ``contacts``' index.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> reg = load_register(pathlib.Path(tempfile.mkdtemp()) / "r.parquet",
    ...                     campaign_reference="SS-DEMO-2027")
    >>> allocate_refs(pd.DataFrame({"campaign": ["leaflet", "outage_phone_call", "leaflet"]}),
    ...               reg).tolist()
    ['SS-DEMO-2027-LF-0000001', 'SS-DEMO-2027-PC-0000001', 'SS-DEMO-2027-LF-0000002']
    """
    kinds = contacts["campaign"]
    unknown = sorted(set(kinds.dropna()) - set(REF_PREFIXES))
    if unknown or kinds.isna().any():
        raise ParameterError(
            f"allocate_refs: no reference prefix for campaign kind "
            f"{', '.join(map(repr, unknown or [None]))}."
        )
    start = kinds.map(_high_water(register)).fillna(0).astype("int64")
    number = kinds.groupby(kinds, sort=False).cumcount().astype("int64") + 1 + start
    refs = _ref_text(register.campaign_reference, kinds.map(REF_PREFIXES), number)
    return pd.Series(refs.to_numpy(dtype=object), index=contacts.index, name=_REF_COLUMN)


# --------------------------------------------------------------------------- append and save
def append_contacts(
    register: ContactRegister,
    contacts: pd.DataFrame,
    *,
    run_id: str,
    run_date: dt.date,
    outage_dates: OutageDates | None = None,
    recorded_at: dt.datetime | None = None,
) -> ContactRegister:
    """Return the register with ``contacts`` added (nothing is written; see :func:`save_register`).

    Parameters
    ----------
    register : ContactRegister
    contacts : DataFrame
        The contacts made, with ``contact_ref`` from :func:`allocate_refs` and
        the columns :func:`suppress_repeats` needs.
    run_id : str
        Identifies the run (e.g. the manifest's run id).
    run_date : date
        The campaign's run date.
    outage_dates : mapping or Series, optional
        As for :func:`suppress_repeats` (needed for outage letters and calls).
    recorded_at : datetime, optional
        When the run happened (default: now, UTC).

    Returns
    -------
    ContactRegister

    Raises
    ------
    ParameterError
        A reference missing, repeated, already in the register, not from
        :func:`allocate_refs`'s pattern, or not above the register's highest.
    """
    what = "append_contacts"
    _check_contacts(contacts, what)
    if _REF_COLUMN not in contacts.columns:
        raise ParameterError(f"{what}: contacts need {_REF_COLUMN} (from allocate_refs).")
    refs = contacts[_REF_COLUMN]
    if refs.isna().any() or refs.duplicated().any():
        raise ParameterError(f"{what}: {_REF_COLUMN} is blank or repeated in the contacts.")
    if refs.isin(register.table["contact_ref"]).any():
        raise ParameterError(f"{what}: some {_REF_COLUMN} are already in the register.")
    kinds = contacts["campaign"]
    number = pd.to_numeric(
        refs.astype("str").str.extract(r"-(\d+)$", expand=False), errors="coerce"
    )
    expected = _ref_text(
        register.campaign_reference, kinds.map(REF_PREFIXES), number.fillna(0).astype("int64")
    )
    if number.isna().any() or (refs.astype(object).to_numpy() != expected.to_numpy()).any():
        raise ParameterError(
            f"{what}: {_REF_COLUMN} does not follow the pattern of campaign reference "
            f"{register.campaign_reference!r} (use allocate_refs)."
        )
    floor = kinds.map(_high_water(register)).fillna(0)
    if (number.to_numpy() <= floor.to_numpy()).any():
        raise ParameterError(
            f"{what}: some {_REF_COLUMN} are at or below the register's highest number for their "
            "kind (a reference is never reused; use allocate_refs)."
        )
    dates = _iso_dates(outage_dates)
    keys = _register_keys(contacts, register)
    items = _contact_items(contacts, keys, register.campaign_reference, dates, what)
    n = len(contacts)
    flags = _rule_flags(kinds)
    eq_ids = _join(items.parent, items.eq, n, ";")
    eq_ids = eq_ids.where(eq_ids.fillna("") != "")
    odates = _join(items.parent, items.date, n, ";").where(eq_ids.notna().to_numpy())
    odates = odates.where(flags["per_outage_date"])
    stamp = pd.Timestamp(recorded_at or dt.datetime.now(dt.UTC))
    stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
    rows = pd.DataFrame(
        {
            "contact_ref": refs.astype(object).to_numpy(),
            "campaign_reference": register.campaign_reference,
            "campaign": kinds.astype(object).to_numpy(),
            "ref_number": number.astype("int64").to_numpy(),
            "channel": contacts["channel"].astype(object).to_numpy(),
            "customer_key": keys["customer_key"].astype(object).to_numpy(),
            "premise_key": keys["premise_key"].astype(object).to_numpy(),
            "equipment_ids": eq_ids.astype(object).to_numpy(),
            "outage_dates": odates.astype(object).to_numpy(),
            "run_id": run_id,
            "run_date": pd.Series([run_date] * n, dtype=object).to_numpy(),
            "recorded_at": pd.Series([stamp] * n, dtype="datetime64[us, UTC]"),
        }
    )
    table = _from_arrow(_to_arrow(pd.concat([_to_arrow_frame(register.table), rows])))
    sequences = {r: dict(k) for r, k in register.sequences.items()}
    mine = sequences.setdefault(register.campaign_reference, {})
    for kind, top in rows.groupby("campaign")["ref_number"].max().items():
        mine[str(kind)] = max(mine.get(str(kind), 0), int(top))
    return replace(register, table=table.reset_index(drop=True), sequences=sequences)


def _to_arrow_frame(table: pd.DataFrame) -> pd.DataFrame:
    # an empty frame's columns would otherwise be typed by whatever pandas guessed
    return table if len(table) else table.iloc[:0].astype(object)


def _to_arrow(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(
        frame[list(REGISTER_COLUMNS)], schema=_arrow_schema(), preserve_index=False
    )


def _metadata(register: ContactRegister) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "pseudonymised": register.pseudonymised,
        "sequences": {r: dict(sorted(k.items())) for r, k in sorted(register.sequences.items())},
    }
    if register.pseudonymised:
        assert register._key is not None
        meta["key_fingerprint"] = _fingerprint(register._key)
        meta["pseudonym_check"] = _pseudonym_check(register._key)
    return meta


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``target`` (``.NAME.lock``) while saving.

    The lock file stays (removing it would race with a waiting run).
    """
    lock = target.parent / f".{target.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def save_register(register: ContactRegister) -> ContactRegister:
    """Write the register atomically (owner-only), unless its file changed since it was read.

    Parameters
    ----------
    register : ContactRegister
        Usually from :func:`append_contacts`.

    Returns
    -------
    ContactRegister
        The register as now on disk (a further save needs this one).

    Raises
    ------
    RegisterError
        Another run saved the register after this one read it (its contacts
        would be lost: run again), or the file cannot be written.
    """
    import pyarrow.parquet as pq

    from ..export import atomic_write_bytes

    target = register.path
    name = target.name
    refs = register.table["contact_ref"]
    if refs.duplicated().any():  # pragma: no cover - append_contacts refuses these
        raise RegisterError(f"{name}: refusing to save a register with a repeated contact_ref.")
    table = _to_arrow(_to_arrow_frame(register.table))
    table = table.replace_schema_metadata(
        {METADATA_KEY: json.dumps(_metadata(register), sort_keys=True).encode("utf-8")}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    data = buf.getvalue()
    try:
        with _locked(target):
            now = _file_sha256(target)
            if now != register._loaded_sha256:
                raise RegisterError(
                    f"{name}: the register was "
                    f"{'created' if register._loaded_sha256 is None else 'changed'} by another "
                    "run after this run read it; nothing was saved. Run the campaign again so "
                    "that it sees those contacts."
                )
            atomic_write_bytes(target, data)
    except OSError as exc:
        raise RegisterError(
            f"{name}: cannot write the register ({exc.strerror or type(exc).__name__}); the "
            "previous register is unchanged."
        ) from exc
    return replace(register, _loaded_sha256=hashlib.sha256(data).hexdigest())


def record_contacts(
    register: ContactRegister,
    contacts: pd.DataFrame,
    *,
    run_id: str | None = None,
    run_date: dt.date,
    outage_dates: OutageDates | None = None,
) -> ContactRegister:
    """Append ``contacts`` to the register and save it (:func:`append_contacts`, then save).

    ``run_id`` defaults to a fresh random id. Returns the saved register.
    """
    rid = run_id or secrets.token_hex(8)
    return save_register(
        append_contacts(
            register, contacts, run_id=rid, run_date=run_date, outage_dates=outage_dates
        )
    )


# --------------------------------------------------------------------------- traceability
#: Columns of :func:`trace_table`.
TRACE_COLUMNS = (
    "contact_ref",
    "campaign",
    "channel",
    "customer_id",
    "premise_key",
    "equipment_ids",
    "outage_dates",
    "campaign_reference",
    "run_id",
    "run_date",
)


def trace_table(register: ContactRegister, *, run_id: str | None = None) -> pd.DataFrame:
    """Return the internal trace: each contact reference with its customer and premise.

    For an internal file (``contact_trace.csv``), never for the letter house
    or the call centre, whose lists carry the reference only. ``customer_id``
    holds pseudonyms when the register is pseudonymised.

    Parameters
    ----------
    register : ContactRegister
    run_id : str, optional
        Only this run's contacts (default: every contact in the register).

    Returns
    -------
    DataFrame
        Columns :data:`TRACE_COLUMNS`, in reference order within each run.
    """
    t = register.table
    if run_id is not None:
        t = t[t["run_id"] == run_id]
    out = t.rename(columns={"customer_key": "customer_id"})[list(TRACE_COLUMNS)].copy()
    import pyarrow as pa

    # Arrow's cast writes ISO dates without a Python call per row
    days = pa.array(out["run_date"], type=pa.date32()).cast(pa.string())
    out["run_date"] = np.asarray(days.to_numpy(zero_copy_only=False), dtype=object)
    return out.reset_index(drop=True)
