"""Writing output files safely: atomic, owner-only, spreadsheet-formula-safe.

Every file smartstreet-geo writes goes through :func:`atomic_write_bytes`: the
bytes go to a temporary file in the target folder, are flushed to disk, and
then replace the target in one step, so an interrupted run never leaves a
half-written list (the previous file, if any, stays intact). Files are created
readable by their owner only (mode 0600): they hold personal data.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "atomic_write_bytes",
    "neutralise_formulae",
    "pseudonym",
    "write_campaign",
    "write_csv",
    "write_xlsx",
]

#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
FILE_MODE = 0o600


def neutralise_formulae(values: pd.Series) -> pd.Series:
    """Prefix a quote to text that a spreadsheet would run as a formula.

    Cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return are
    prefixed with ``'`` (shown by spreadsheets, never executed). A cell that
    is just a number (``-2.5``, ``+44``) is left alone.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    pandas.Series
        Non-text values unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_formulae(pd.Series(["=1+1", "-2.5", "@SUM(A1)", "Oak St", None])).tolist()
    ["'=1+1", '-2.5', "'@SUM(A1)", 'Oak St', nan]
    """
    if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        return values
    text = values.astype("str")
    risky = text.str.startswith(FORMULA_TRIGGERS).fillna(False).astype(bool)
    risky &= ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + text[risky]
    return out


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = FILE_MODE) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    Parameters
    ----------
    path : str or Path
        The target; its folder must exist.
    data : bytes
    mode : int, default 0o600

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def write_csv(frame: pd.DataFrame, path: str | Path, *, float_format: str | None = None) -> Path:
    """Write ``frame`` as UTF-8 CSV (RFC 4180, CRLF), formula-safe, atomically, owner-only.

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
    float_format : str, optional
        Passed to :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    Path
    """
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = neutralise_formulae(safe[col])
    buf = io.StringIO()
    # CRLF line ends (RFC 4180, what spreadsheets expect); they also make the csv module
    # quote any field holding a CR or LF, so an embedded CR cannot split a row.
    safe.to_csv(buf, index=False, lineterminator="\r\n", float_format=float_format)
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------- campaigns
#: Columns of the mail-merge file, in order: only what a letter needs.
LETTER_COLUMNS = (
    "letter_ref",
    "campaign",
    "template_id",
    "addressee",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "post_town",
    "postcode",
    "reason",
)
#: Columns of the PSR telephone list: who to call, on what number, what they need.
PHONE_COLUMNS = (
    "letter_ref",
    "template_id",
    "name",
    "call_number",
    "call_who",
    "nominee_name",
    "needs",
    "medically_dependent",
    "postcode",
    "reason",
)
RECONCILIATION_COLUMNS = ("source_row", "customer_id", "status", "campaigns", "reason")
MANUAL_REVIEW_COLUMNS = ("source_row", "customer_id", "issue", "detail")


def pseudonym(values: pd.Series, key: bytes) -> pd.Series:
    """Replace ids by a keyed pseudonym (HMAC-SHA256, 16 hex characters).

    The same id and key always give the same pseudonym, so partners can join
    files without seeing the ids; without the key the ids cannot be recovered
    or confirmed by guessing.

    Parameters
    ----------
    values : pandas.Series
    key : bytes
        The secret key (keep it out of the outputs and of version control).

    Returns
    -------
    pandas.Series

    Examples
    --------
    >>> import pandas as pd
    >>> p = pseudonym(pd.Series(["1600000000001", None]), b"secret")
    >>> len(p.iloc[0]), p.iloc[1] is None
    (16, True)
    """
    import hmac
    from hashlib import sha256

    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and v != v):
            return None
        return hmac.new(key, str(v).encode("utf-8"), sha256).hexdigest()[:16]

    return pd.Series([one(v) for v in values.astype(object)], index=values.index, dtype=object)


def write_xlsx(
    frame: pd.DataFrame, path: str | Path, *, sheet: str = "letters", created: object = None
) -> Path:
    """Write ``frame`` as a formula-safe XLSX file, atomically, owner-only, reproducibly.

    Every cell is written as text or a number, never as a formula (the
    workbook refuses to turn text into formulas, and risky text is prefixed
    with ``'`` as in the CSV). The document date is ``created`` (not the
    clock), so identical inputs give identical bytes.
    """
    import datetime as dt

    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    when = created if isinstance(created, dt.datetime) else dt.datetime(2000, 1, 1)
    if isinstance(created, dt.date) and not isinstance(created, dt.datetime):
        when = dt.datetime(created.year, created.month, created.day)
    wb.set_properties({"created": when, "author": "smartstreet-geo"})
    ws = wb.add_worksheet(sheet)
    bold = wb.add_format({"bold": True})
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = neutralise_formulae(safe[col])
    for j, col in enumerate(safe.columns):
        ws.write_string(0, j, str(col), bold)
    # Column by column with the cell type decided once per column: ~3x faster than
    # inspecting every cell, which matters for 70,000-row mail merges.
    for j, col in enumerate(safe.columns):
        values = safe[col]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        )
        present = values.notna().to_numpy()
        if numeric:
            nums = values.to_numpy(dtype=float, na_value=float("nan"))
            for i in present.nonzero()[0].tolist():
                ws.write_number(i + 1, j, nums[i])
        else:
            texts = values.astype(object).to_numpy()
            write = ws.write_string
            for i in present.nonzero()[0].tolist():
                v = texts[i]
                write(i + 1, j, ("true" if v else "false") if isinstance(v, bool) else str(v))
    ws.freeze_panes(1, 0)
    wb.close()
    return atomic_write_bytes(path, buf.getvalue())


def write_campaign(
    result: Any,
    out_dir: str | Path,
    *,
    pseudonym_key: bytes | None = None,
    map_html: bool = True,
    map_tiles: str = "osm",
) -> dict[str, Path]:
    """Write every output of a campaign run into ``out_dir``.

    Files: ``letters.csv`` and ``letters.xlsx`` (mail merge: addressee,
    address, post town, postcode, template id, reason), ``phone_calls.csv``
    (PSR calls: name, number in UK national format, nominee, needs),
    ``manual_review.csv``, ``reconciliation.csv`` (every input customer row
    once), ``rejects.csv``, ``contact_history.csv`` (feed it to the next
    run's ``[suppression] history`` for a delta run), ``manifest.json`` and,
    when the maps module is available, ``map.html`` (no personal data).

    Parameters
    ----------
    result : CampaignResult
    out_dir : str or Path
        An existing folder (see the CLI for the overwrite rules).
    pseudonym_key : bytes, optional
        Replace customer ids in ``reconciliation.csv``, ``manual_review.csv``
        and ``contact_history.csv`` by keyed pseudonyms (for analysis partners).
    map_html : bool, default True
    map_tiles : str, default "osm"

    Returns
    -------
    dict
        Output name -> path.

    Examples
    --------
    >>> import tempfile
    >>> from smartstreet_geo import demo, run_campaign
    >>> result = run_campaign(demo.path("campaign"))
    >>> paths = write_campaign(result, tempfile.mkdtemp(), map_html=False)
    >>> sorted(paths)[:3]
    ['contact_history.csv', 'letters.csv', 'letters.xlsx']
    """
    import json

    out = Path(out_dir)
    created = result.manifest.get("created")
    contacts = result.contacts
    letters = contacts[contacts["channel"] == "letter"]
    calls = contacts[contacts["channel"] == "phone"]
    recon = result.reconciliation[list(RECONCILIATION_COLUMNS)].copy()
    manual = result.manual_review[list(MANUAL_REVIEW_COLUMNS)].copy()
    history = contacts[["customer_id", "campaign", "equipment_ids"]].copy()
    history["date"] = created
    if pseudonym_key is not None:
        for frame in (recon, manual, history):
            frame["customer_id"] = pseudonym(frame["customer_id"], pseudonym_key)
    paths: dict[str, Path] = {}
    letter_table = letters[list(LETTER_COLUMNS)]
    paths["letters.csv"] = write_csv(letter_table, out / "letters.csv")
    import datetime as dt

    when = dt.date.fromisoformat(created) if isinstance(created, str) else None
    paths["letters.xlsx"] = write_xlsx(letter_table, out / "letters.xlsx", created=when)
    paths["phone_calls.csv"] = write_csv(calls[list(PHONE_COLUMNS)], out / "phone_calls.csv")
    paths["manual_review.csv"] = write_csv(manual, out / "manual_review.csv")
    paths["reconciliation.csv"] = write_csv(recon, out / "reconciliation.csv")
    paths["rejects.csv"] = write_csv(result.rejects, out / "rejects.csv")
    paths["contact_history.csv"] = write_csv(history, out / "contact_history.csv")
    manifest = dict(result.manifest)
    manifest["outputs"] = sorted(paths)
    if map_html:
        try:
            from .maps import campaign_map, save_map
        except ImportError:  # maps are optional for the writer
            pass
        else:
            save_map(campaign_map(result, tiles=map_tiles), out / "map.html")
            paths["map.html"] = out / "map.html"
            manifest["outputs"] = sorted(paths)
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    paths["manifest.json"] = atomic_write_bytes(out / "manifest.json", text.encode("utf-8"))
    return paths
