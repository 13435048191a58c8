"""The contact register: every letter and call ever produced, across the waves of a programme.

A follow-up run (a *delta run*) reads the register, drops the contacts that
were already made, numbers the rest so that their references continue the
register's, and appends them. The register is the single source of "what was
already sent"; it is also the internal trace from a reference printed on a
letter or a call sheet back to the customer and the premise.

Typical use (one campaign run)::

    register = load_register("register.parquet", campaign_reference=cfg.reference,
                             pseudonym_key=key)
    contacts, suppressed = suppress_repeats(contacts, register, outage_dates=dates)
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

from .._memory import release_freed_memory
from .._unique import sorted_unique
from ..errors import ParameterError, SmartStreetGeoError
from ..export import TRACE_COLUMNS as _TRACE_COLUMNS
from ..schema import CUSTOMER_ID
from ._join import from_codes, no_rows

__all__ = [
    "REF_PREFIXES",
    "REGISTER_COLUMNS",
    "RULES",
    "SCHEMA_VERSION",
    "TRACE_COLUMNS",
    "ContactRegister",
    "MatchRule",
    "RegisterError",
    "Suppression",
    "allocate_refs",
    "append_contacts",
    "forget_run",
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

    s = pa.large_string()
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
    # dates as datetime64, not one Python object per row
    return table.to_pandas(date_as_object=False)


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
    unknown = sorted(set(frame["campaign"].unique()) - set(RULES))  # (not a str per row)
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


# --------------------------------------------------------------------------- text columns
# Text is handled as Arrow arrays with Arrow's compute kernels: on pandas text columns,
# regular expressions, str.split and groupby(...).agg(";".join) call Python once per row,
# which costs seconds per million rows.
def _pa() -> tuple[Any, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def _text(values: pd.Series | Any) -> Any:
    """Return a column as an Arrow large_string array (nulls where missing)."""
    pa, pc = _pa()
    if isinstance(values, pa.Array | pa.ChunkedArray):
        arr = values
    else:
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: text of each value
            arr = pa.array(values.astype("str"), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    return arr


def _const(value: str, n: int) -> Any:
    pa, _ = _pa()
    return pa.array([value], type=pa.large_string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def _concat(*parts: Any) -> Any:
    """Return the element-wise concatenation of Arrow text arrays and str constants."""
    pa, pc = _pa()
    args = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar("", pa.large_string()))


def _bools(arr: Any) -> npt.NDArray[np.bool_]:
    _, pc = _pa()
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _nulls_where(arr: Any, mask: npt.NDArray[np.bool_]) -> Any:
    if not mask.any():  # nothing to blank: the array itself, not a copy (ids at 2.4 M: 44 MB)
        return arr
    pa, pc = _pa()
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def _to_series(arr: Any, index: pd.Index | None = None) -> pd.Series:
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    return pd.Series(values, index=index, dtype=object)


# --------------------------------------------------------------------------- keys
_VAGUE_PREMISE = r"(?s)^(?:uprn:\s*|addr:\s*\|.*|addr:.*\|\s*)$"


def _usable(arr: Any, *, premise: bool) -> Any:
    """Return the keys that identify someone; null where blank or (premises) too vague."""
    _, pc = _pa()
    vague = _bools(pc.equal(pc.utf8_trim_whitespace(arr), "")) | _bools(pc.is_null(arr))
    if premise:
        # an address key needs an address line and a postcode: addr:|WN5 9XP is a postcode
        vague |= _bools(pc.match_substring_regex(arr, _VAGUE_PREMISE))
    return _nulls_where(arr, vague)


def _register_keys(contacts: pd.DataFrame, register: ContactRegister) -> tuple[Any, Any]:
    """Return the register's (customer, premise) keys of ``contacts`` (pseudonyms if it has)."""
    ckey = _usable(_text(contacts[CUSTOMER_ID]), premise=False)
    pkey = _usable(_text(contacts["premise_key"]), premise=True)
    if register.pseudonymised:
        from ..export import pseudonym

        if register._key is None:  # pragma: no cover - load_register refuses this
            raise RegisterError("a pseudonymised register needs its key.")
        ckey = _text(pseudonym(_to_series(ckey), register._key))
        pkey = _text(pseudonym(_to_series(pkey), register._key))
    return ckey, pkey


def _check_contacts(contacts: pd.DataFrame, what: str) -> None:
    missing = [c for c in _NEEDED if c not in contacts.columns]
    if missing:
        raise ParameterError(f"{what}: contacts lack column(s) {', '.join(missing)}.")
    kinds = contacts["campaign"]
    unknown = sorted(str(k) for k in kinds.dropna().unique() if k not in RULES)
    if unknown or kinds.isna().any():
        shown = ", ".join(map(repr, unknown or ["(blank)"]))
        raise ParameterError(
            f"{what}: contacts of unknown campaign kind {shown}; the register knows "
            f"{', '.join(RULES)}."
        )


# --------------------------------------------------------------------------- lists and codes
def _split(arr: Any, *, drop_empty: bool) -> tuple[npt.NDArray[np.int64], Any]:
    """Return (row position, item) for each item of ``;``-joined lists, items in row order.

    A missing value is one empty item. With ``drop_empty``, empty items are dropped, except
    that a row left with none keeps one empty item (every row has at least one item).
    """
    pa, pc = _pa()
    lists = pc.split_pattern(pc.fill_null(arr, ""), ";")
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    items = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    if drop_empty:
        keep = _bools(pc.not_equal(items, ""))
        parents, items = parents[keep], items.filter(pa.array(keep))
        bare = np.flatnonzero(np.bincount(parents, minlength=len(arr)) == 0)
        if len(bare):
            parents = np.concatenate([parents, bare])
            items = pa.concat_arrays([items, _const("", len(bare))])
            order = np.argsort(parents, kind="stable")
            parents, items = parents[order], items.take(pa.array(order))
    return parents, items


def _join(parents: npt.NDArray[np.int64], items: Any, n: int, sep: str) -> Any:
    """Join items (sorted by row position) per row; null for rows with none."""
    pa, pc = _pa()
    counts = np.bincount(parents, minlength=n) if len(parents) else np.zeros(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), _text(items))
    joined = pc.binary_join(lists, pa.scalar(sep, pa.large_string()))
    return _nulls_where(joined, counts == 0)


def _joint(old: Any, new: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return codes of two text arrays over their common values (-1 for null)."""
    pa, pc = _pa()
    both = pa.concat_arrays([_text(old), _text(new)])
    idx = pc.fill_null(pc.dictionary_encode(both).indices, -1)
    codes = np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes[: len(old)], codes[len(old) :]


def _combine(*columns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Return one code per distinct combination of integer codes (-1 allowed).

    Hand-written because pandas' own (``groupby(...).ngroup()``) sorts and is several
    times slower; each step re-factorises so the codes stay below the row count.
    """
    out = columns[0] + 1
    for col in columns[1:]:
        shifted = col + 1
        width = int(shifted.max()) + 1 if len(shifted) else 1
        codes, _ = pd.factorize(out * width + shifted)
        out = codes.astype(np.int64)
    return out


def _flags(kinds: Any) -> dict[str, npt.NDArray[np.bool_]]:
    """Return each :class:`MatchRule` flag per row of a campaign-kind array."""
    _, pc = _pa()
    enc = pc.dictionary_encode(kinds)
    idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    names = enc.dictionary.to_pylist()
    out = {}
    for flag in ("by_premise", "by_customer", "per_equipment", "per_outage_date", "per_reference"):
        table = np.array([bool(getattr(RULES[k], flag, False)) for k in names] + [False])
        out[flag] = table[idx]
    return out


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


# --------------------------------------------------------------------------- items
def _iso_dates(outage_dates: OutageDates | None) -> dict[str, str]:
    """Return equipment id -> ISO date text ("" where the outage has no date)."""
    if outage_dates is None:
        return {}
    raw = outage_dates if isinstance(outage_dates, pd.Series) else pd.Series(dict(outage_dates))
    # one call per piece of equipment (a handful to thousands), not per contact
    return {str(k): _iso(v) for k, v in zip(raw.index, raw.tolist(), strict=True)}


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


@dataclass
class _Items:
    """One row per (contact, equipment): what the matching compares."""

    parent: npt.NDArray[np.int64]
    eq: Any  # Arrow text
    date: Any  # Arrow text


def _contact_items(
    contacts: pd.DataFrame,
    flags: Mapping[str, npt.NDArray[np.bool_]],
    dates: Mapping[str, str],
    what: str,
) -> _Items:
    pa, pc = _pa()
    eq_text = _nulls_where(_text(contacts["equipment_ids"]), ~flags["per_equipment"])
    parent, eq = _split(eq_text, drop_empty=True)
    # dates by distinct equipment id: a dictionary lookup per id, then one take
    enc = pc.dictionary_encode(eq)
    names = enc.dictionary.to_pylist()
    idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    dated = flags["per_outage_date"][parent] & _bools(pc.not_equal(eq, ""))
    used = set(np.unique(idx[dated]).tolist())
    unknown = sorted(names[i] for i in used if names[i] not in dates)
    if unknown:
        shown = ", ".join(unknown[:10])
        raise ParameterError(
            f"{what}: outage_dates has no entry for equipment {shown}"
            f"{' and more' if len(unknown) > 10 else ''} named by outage contacts (give "
            "None for an outage without a date)."
        )
    per_name = pa.array([dates.get(k, "") for k in names], type=pa.large_string())
    date = _nulls_where(per_name.take(pa.array(idx)), ~dated)
    return _Items(parent=parent, eq=eq, date=pc.fill_null(date, ""))


def _register_items(
    table: pd.DataFrame, flags: Mapping[str, npt.NDArray[np.bool_]], name: str
) -> _Items:
    _, pc = _pa()
    eq_text = _text(table["equipment_ids"])
    parent, eq = _split(_nulls_where(eq_text, ~flags["per_equipment"]), drop_empty=False)
    # kinds without outage dates store none: split their equipment list in its place
    dated_rows = pc.if_else(
        _text_mask(flags["per_outage_date"]), _text(table["outage_dates"]), eq_text
    )
    dated_rows = _nulls_where(dated_rows, ~flags["per_equipment"])
    dparent, date = _split(dated_rows, drop_empty=False)
    if len(dparent) != len(parent) or not np.array_equal(dparent, parent):
        raise RegisterError(f"{name}: equipment_ids and outage_dates disagree in length.")
    date = _nulls_where(date, ~flags["per_outage_date"][parent])
    return _Items(parent=parent, eq=eq, date=pc.fill_null(date, ""))


def _text_mask(mask: npt.NDArray[np.bool_]) -> Any:
    pa, _ = _pa()
    return pa.array(mask)


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


@dataclass
class _Match:
    """Per new item: covered, covered via the premise, the covering register row, moved from."""

    seen: npt.NDArray[np.bool_]
    by_premise: npt.NDArray[np.bool_]
    prev_row: npt.NDArray[np.int64]
    moved_from: npt.NDArray[np.int64]


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
    nflags = _flags(_text(contacts["campaign"]))
    new = _contact_items(contacts, nflags, _iso_dates(outage_dates), what)
    if len(register.table) == 0:  # a first wave: nothing to match, nothing copied
        suppressed = no_rows(contacts)  # not contacts.iloc[:0]: a view of every contact
        suppressed["suppressed_reason"] = pd.Series(dtype=object)
        suppressed["previous_refs"] = pd.Series(dtype=object)
        return Suppression(contacts, suppressed)
    old = _register_items(
        register.table, _flags(_text(register.table["campaign"])), register.path.name
    )
    match = _match(contacts, register, nflags, new, old)

    total = np.bincount(new.parent, minlength=n)
    n_seen = np.bincount(new.parent, weights=match.seen, minlength=n).astype(np.int64)
    gone = (total > 0) & (n_seen == total)
    partial = (n_seen > 0) & ~gone

    # positions, not labels: the caller's index may repeat labels
    kept = contacts.iloc[np.flatnonzero(~gone)].copy()
    if partial.any() or (match.moved_from >= 0).any():
        _annotate(kept, np.cumsum(~gone) - 1, contacts, new, old, match, partial)
    suppressed = contacts.iloc[np.flatnonzero(gone)].copy()
    reason, refs = _why(contacts, new, register, match, gone)
    suppressed["suppressed_reason"] = reason
    suppressed["previous_refs"] = refs
    return Suppression(kept, suppressed)


def _match(
    contacts: pd.DataFrame,
    register: ContactRegister,
    nflags: Mapping[str, npt.NDArray[np.bool_]],
    new: _Items,
    old: _Items,
) -> _Match:
    table = register.table
    oflags = _flags(_text(table["campaign"]))
    np_, op = new.parent, old.parent
    n_old = len(op)

    def both(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.concatenate([a, b])

    kind_o, kind_n = _joint(table["campaign"], contacts["campaign"])
    scope_n = _nulls_where(
        _const(register.campaign_reference, len(contacts)), ~nflags["per_reference"]
    )
    scope_o = _nulls_where(_text(table["campaign_reference"]), ~oflags["per_reference"])
    scope_o, scope_n = _joint(scope_o, scope_n)
    eq_o, eq_n = _joint(old.eq, new.eq)
    date_o, date_n = _joint(old.date, new.date)
    base = _combine(
        both(kind_o[op], kind_n[np_]), both(scope_o[op], scope_n[np_]), both(eq_o, eq_n)
    )
    ckey, pkey = _register_keys(contacts, register)
    m = len(np_)
    seen = np.zeros(m, dtype=bool)
    by_premise = np.zeros(m, dtype=bool)
    prev = np.full(m, -1, dtype=np.int64)
    moved_from = np.full(m, -1, dtype=np.int64)
    for basis, flag, new_key, old_key in (
        ("premise", "by_premise", pkey, table["premise_key"]),
        ("customer", "by_customer", ckey, table["customer_key"]),
    ):
        key_o, key_n = _joint(old_key, new_key)
        old_ok = oflags[flag][op] & (key_o[op] >= 0)
        new_ok = nflags[flag][np_] & (key_n[np_] >= 0)
        if not new_ok.any() or not old_ok.any():
            continue
        keyed = _combine(base, both(key_o[op], key_n[np_]))
        dated = _combine(keyed, both(date_o, date_n))
        hit = _last_match(dated[n_old:], new_ok, dated[:n_old], old_ok)
        fresh = (hit >= 0) & ~seen
        prev[fresh] = hit[fresh]
        if basis == "premise":
            by_premise |= fresh
        seen |= hit >= 0
        other = _last_match(
            keyed[n_old:], new_ok & nflags["per_outage_date"][np_], keyed[:n_old], old_ok
        )
        moved_from = np.where((moved_from < 0) & (other >= 0), other, moved_from)
    moved_from[seen] = -1
    prev_row = np.where(prev >= 0, op[np.maximum(prev, 0)] if n_old else -1, -1)
    return _Match(seen, by_premise, prev_row.astype(np.int64), moved_from)


def _annotate(
    kept: pd.DataFrame,
    kept_pos: npt.NDArray[np.int64],
    contacts: pd.DataFrame,
    new: _Items,
    old: _Items,
    match: _Match,
    partial: npt.NDArray[np.bool_],
) -> None:
    """Name only the new equipment in partly covered rows; say which outages moved."""
    pa, pc = _pa()
    n = len(contacts)
    has_reason = "reason" in contacts.columns
    reason = pc.fill_null(_text(contacts["reason"]), "") if has_reason else _const("", n)
    fresh = ~match.seen & partial[new.parent]
    if partial.any():
        rows = np.flatnonzero(partial)
        keep = pa.array(fresh)
        eqs = pc.take(_join(new.parent[fresh], new.eq.filter(keep), n, ";"), pa.array(rows))
        listed = pc.take(_join(new.parent[fresh], new.eq.filter(keep), n, ", "), pa.array(rows))
        _set(kept, kept_pos[rows], "equipment_ids", _to_series(eqs).to_numpy())
        text = _concat(pc.take(reason, pa.array(rows)), " (new since last run: ", listed, ")")
        reason = _replace_at(reason, rows, text)
    moved = match.moved_from >= 0
    if moved.any():
        was = pc.take(old.date, pa.array(match.moved_from[moved]))
        eq = new.eq.filter(pa.array(moved))
        none = _bools(pc.equal(was, ""))
        item = pc.if_else(pa.array(none), _concat(eq, " had no date"), _concat(eq, " was ", was))
        joined = _join(new.parent[moved], item, n, "; ")
        rows = np.flatnonzero(~_bools(pc.is_null(joined)))
        text = _concat(
            pc.take(reason, pa.array(rows)),
            " (outage date changed: ",
            pc.take(joined, pa.array(rows)),
            ")",
        )
        reason = _replace_at(reason, rows, text)
    if has_reason:
        changed = partial | (np.bincount(new.parent[moved], minlength=n) > 0)
        rows = np.flatnonzero(changed)
        _set(kept, kept_pos[rows], "reason", _to_series(pc.take(reason, pa.array(rows))).to_numpy())


def _set(frame: pd.DataFrame, rows: npt.NDArray[np.int64], column: str, values: Any) -> None:
    """Set ``values`` at row positions of one column."""
    col = frame.columns.get_loc(column)
    if not isinstance(col, int):
        raise ParameterError(f"contacts have more than one column {column!r}.")
    frame.iloc[rows, col] = values


def _replace_at(arr: Any, rows: npt.NDArray[np.int64], values: Any) -> Any:
    """Return ``arr`` with ``values`` at positions ``rows`` (hand-written: Arrow has no scatter)."""
    pa, pc = _pa()
    position = np.full(len(arr), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    spread = pc.take(values, pa.array(np.maximum(position, 0)))
    return pc.if_else(pa.array(position >= 0), spread, arr)


def _why(
    contacts: pd.DataFrame,
    new: _Items,
    register: ContactRegister,
    match: _Match,
    gone: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Return the reason text and earlier references of each suppressed row (in row order)."""
    pa, pc = _pa()
    n = len(contacts)
    rows = np.flatnonzero(gone)
    if not len(rows):
        return np.array([], dtype=object), np.array([], dtype=object)
    mask = match.seen & gone[new.parent]
    # distinct (row, earlier contact) pairs, in row then register order: one integer per
    # pair, sorted (np.unique(..., axis=0) sorts rows as records: 1 s for 2 million pairs)
    parent, prev = new.parent[mask].astype(np.int64), match.prev_row[mask].astype(np.int64) + 1
    width = int(prev.max(initial=0)) + 1
    key = sorted_unique(parent * width + prev)
    pairs = np.stack([key // width, key % width - 1], axis=1)
    refs = _text(register.table["contact_ref"]).take(pa.array(pairs[:, 1]))
    ref_text = pc.take(_join(pairs[:, 0], refs, n, ", "), pa.array(rows))
    eq_text = pc.take(
        _join(new.parent[mask], new.eq.filter(pa.array(mask)), n, ";"), pa.array(rows)
    )
    premise_rows = (np.bincount(new.parent[match.by_premise], minlength=n) > 0)[rows]
    kinds = _text(contacts["campaign"]).take(pa.array(rows))
    flags = _flags(kinds)
    done = pc.fill_null(
        pa.array(
            pd.Series(_to_series(kinds)).map({k: r.done for k, r in RULES.items()}),
            type=pa.large_string(),
        ),
        "",
    )
    who = pc.if_else(pa.array(premise_rows), " to this premise", " to this customer")
    about = pc.if_else(
        pa.array(flags["per_equipment"] & _bools(pc.not_equal(eq_text, ""))),
        _concat(" about ", pc.fill_null(eq_text, "")),
        "",
    )
    under = pc.if_else(
        pa.array(flags["per_reference"]), " under " + register.campaign_reference, ""
    )
    earlier = pc.fill_null(ref_text, "")
    reason = _concat(
        done, _text(who), _text(about), _text(under), " in an earlier run (", earlier, ")"
    )
    # the parts go before the texts become Python strings (a later wave has a reason per
    # customer: at 2.4 M the parts are a few hundred megabytes, the strings as many again)
    del ref_text, eq_text, done, who, about, under, kinds, refs
    release_freed_memory()
    why = _to_series(reason).to_numpy()
    del reason
    release_freed_memory()
    return why, _to_series(earlier).to_numpy()


# --------------------------------------------------------------------------- references
def _ref_text(reference: str, kinds: pd.Series, number: npt.NDArray[np.int64]) -> Any:
    pa, pc = _pa()
    # each kind's prefix looked up once (a few kinds), decoded by Arrow per contact
    code, names = pd.factorize(kinds, use_na_sentinel=False)
    words = pa.array([REF_PREFIXES.get(k) for k in names], type=pa.large_string())
    prefix = words.take(pa.array(code.astype(np.int64)))
    digits = pc.utf8_lpad(pc.cast(pa.array(number), pa.large_string()), REF_DIGITS, "0")
    head = f"{reference}-" if reference else ""
    return _concat(head, prefix, "-", digits)


def _high_water(register: ContactRegister) -> dict[str, int]:
    """Return the highest sequence number used per kind under the register's reference."""
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
    unknown = sorted(str(k) for k in kinds.dropna().unique() if k not in REF_PREFIXES)
    if unknown or kinds.isna().any():
        raise ParameterError(
            f"allocate_refs: no reference prefix for campaign kind "
            f"{', '.join(map(repr, unknown or ['(blank)']))}."
        )
    return _allocate(contacts, register)[0]


def _allocate(
    contacts: pd.DataFrame, register: ContactRegister
) -> tuple[pd.Series, npt.NDArray[np.int64]]:
    """Return :func:`allocate_refs`'s references and their numbers (for append_contacts)."""
    kinds = contacts["campaign"]
    number = _ref_numbers(kinds, register)
    refs = _ref_text(register.campaign_reference, kinds, number)
    # Arrow text as it is: no Python string per contact
    series = pd.Series(pd.array(refs, dtype="str"), index=contacts.index, name=_REF_COLUMN)
    return series, number


def _ref_numbers(kinds: pd.Series, register: ContactRegister) -> npt.NDArray[np.int64]:
    """Return each contact's reference number: its kind's next, continuing the register's."""
    code, names = pd.factorize(kinds)  # a few kinds: per-kind work on integer codes
    high = _high_water(register)
    start = np.array([high.get(str(k), 0) for k in names] + [0], dtype=np.int64)[code]
    within = pd.Series(code).groupby(code, sort=False).cumcount().to_numpy(dtype=np.int64)
    return within + 1 + start


# --------------------------------------------------------------------------- append and save
def _checked_refs(register: ContactRegister, contacts: pd.DataFrame, what: str) -> Any:
    """Return the references, kinds and numbers of ``contacts``, checked against the register."""
    pa, pc = _pa()
    refs = contacts[_REF_COLUMN]
    if refs.isna().any() or refs.duplicated().any():
        raise ParameterError(f"{what}: {_REF_COLUMN} is blank or repeated in the contacts.")
    if refs.isin(register.table["contact_ref"]).any():
        raise ParameterError(f"{what}: some {_REF_COLUMN} are already in the register.")
    ref_arr = _text(refs)
    kinds = _text(contacts["campaign"])
    pattern = _bools(pc.match_substring_regex(ref_arr, r"-[0-9]{1,18}$"))
    digits = pc.struct_field(pc.extract_regex(ref_arr, r"-(?P<n>[0-9]{1,18})$"), "n")
    number = np.zeros(len(contacts), dtype=np.int64)
    if pattern.all() and len(contacts):
        number = np.asarray(pc.cast(digits, pa.int64()).to_numpy(), dtype=np.int64)
    expected = _ref_text(register.campaign_reference, contacts["campaign"], number)
    if not pattern.all() or not _bools(pc.equal(ref_arr, expected)).all():
        raise ParameterError(
            f"{what}: {_REF_COLUMN} does not follow the pattern of campaign reference "
            f"{register.campaign_reference!r} (use allocate_refs)."
        )
    floor = contacts["campaign"].map(_high_water(register)).fillna(0).to_numpy(dtype=np.int64)
    if (number <= floor).any():
        raise ParameterError(
            f"{what}: some {_REF_COLUMN} are at or below the register's highest number for their "
            "kind (a reference is never reused; use allocate_refs)."
        )
    return ref_arr, kinds, number


def append_contacts(
    register: ContactRegister,
    contacts: pd.DataFrame,
    *,
    run_id: str,
    run_date: dt.date,
    outage_dates: OutageDates | None = None,
    recorded_at: dt.datetime | None = None,
    _numbers: npt.NDArray[np.int64] | None = None,
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
    pa, pc = _pa()
    what = "append_contacts"
    _check_contacts(contacts, what)
    if _REF_COLUMN not in contacts.columns:
        raise ParameterError(f"{what}: contacts need {_REF_COLUMN} (from allocate_refs).")
    refs = contacts[_REF_COLUMN]
    if _numbers is not None:  # (private) the numbers of refs allocate_refs has just made
        ref_arr, kinds, number = _text(refs), _text(contacts["campaign"]), _numbers
    else:
        ref_arr, kinds, number = _checked_refs(register, contacts, what)
    n = len(contacts)
    flags = _flags(kinds)
    items = _contact_items(contacts, flags, _iso_dates(outage_dates), what)
    eq_ids = _join(items.parent, items.eq, n, ";")
    no_eq = _bools(pc.equal(eq_ids, "")) | ~flags["per_equipment"]
    eq_ids = _nulls_where(eq_ids, no_eq)
    odates = _nulls_where(
        _join(items.parent, items.date, n, ";"), no_eq | ~flags["per_outage_date"]
    )
    ckey, pkey = _register_keys(contacts, register)
    stamp = pd.Timestamp(recorded_at or dt.datetime.now(dt.UTC))
    stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
    schema = _arrow_schema()
    rows = pa.table(
        {
            "contact_ref": ref_arr,
            "campaign_reference": _const(register.campaign_reference, n),
            "campaign": kinds,
            "ref_number": pa.array(number, type=pa.int64()),
            "channel": _text(contacts["channel"]),
            "customer_key": ckey,
            "premise_key": pkey,
            "equipment_ids": eq_ids,
            "outage_dates": odates,
            "run_id": _const(run_id, n),
            "run_date": pa.array([run_date], type=pa.date32()).take(
                pa.array(np.zeros(n, dtype=np.int64))
            ),
            "recorded_at": pa.array(
                [stamp.to_pydatetime()], type=pa.timestamp("us", tz="UTC")
            ).take(pa.array(np.zeros(n, dtype=np.int64))),
        }
    ).cast(schema)
    added = _from_arrow(rows)
    table = added if register.table.empty else pd.concat([register.table, added], ignore_index=True)
    sequences = {r: dict(k) for r, k in register.sequences.items()}
    mine = sequences.setdefault(register.campaign_reference, {})
    for kind, top in added.groupby("campaign")["ref_number"].max().items():
        mine[str(kind)] = max(mine.get(str(kind), 0), int(top))
    return replace(register, table=table, sequences=sequences)


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
    table = _to_arrow(register.table)
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


def forget_run(register: ContactRegister, run_id: str) -> ContactRegister:
    """Return the register without one run's contacts (nothing is written).

    For a run whose lists were never sent (cancelled, or its output folder was
    not written after the register was saved). Its reference numbers stay
    used: the next run continues above them, so a reference is never reused.

    Raises
    ------
    ParameterError
        No contact of that run is in the register.
    """
    mine = register.table["run_id"] == run_id
    if not mine.any():
        raise ParameterError(f"the register has no contact of run {run_id!r}.")
    return replace(register, table=register.table[~mine].reset_index(drop=True))


# --------------------------------------------------------------------------- traceability
#: Columns of :func:`trace_table` (defined once, by the writer of ``contact_trace.csv``).
TRACE_COLUMNS = _TRACE_COLUMNS


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
        mine = (t["run_id"] == run_id).to_numpy(dtype=bool)
        if not mine.all():  # (a first wave's register holds this run only: nothing to drop)
            t = t[mine]
    # a selection, not a copy (copy-on-write): the trace shares the register's columns
    out = t.rename(columns={"customer_key": "customer_id"})[list(TRACE_COLUMNS)]
    import pyarrow as pa

    # Arrow's cast writes ISO dates without a Python call per row; a run has one date, so
    # each distinct date is one str object (not a str per contact: 0.1 GB at 2.4 million)
    days = pa.chunked_array(pa.array(out["run_date"])).cast(pa.date32()).combine_chunks()
    words = days.dictionary_encode()
    texts = np.asarray([*words.dictionary.cast(pa.string()).to_pylist(), None], dtype=object)
    codes = words.indices.fill_null(len(texts) - 1).to_numpy(zero_copy_only=False)
    out = out.assign(run_date=from_codes(codes, texts, out.index))  # (decoded by Arrow)
    return out.reset_index(drop=True)
