"""Writing output files safely: atomic, owner-only, spreadsheet-formula-safe, all or nothing.

Every file smartstreet-geo writes goes through :func:`atomic_write_bytes`: the
bytes go to a temporary file in the target folder, are flushed to disk, and
then replace the target in one step, so an interrupted run never leaves a
half-written list (the previous file, if any, stays intact). Files are created
readable by their owner only (mode 0600): they hold personal data.

A run's output *folder* is all or nothing (:func:`staged_output`): the files
are written into a private staging folder beside the target
(``.NAME.staging-RUNID``, mode 0700, same filesystem), the manifest (each
file's size and SHA-256) is written last, and only then is the staging folder
renamed into place. With ``force`` the old folder is first renamed aside
(``.NAME.old-RUNID``) and removed once the new one is in place, so at every
instant the target is the complete old result, the complete new result, or
absent. A lock file beside the target (``.NAME.lock``, held with ``flock``)
refuses a second run into the same folder, and the next run removes what an
interrupted one left (staging folders, temporary files, the lock; a result
renamed aside but not yet replaced is put back), saying so in one line.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import fcntl
import hashlib
import io
import itertools
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _xlsx
from ._memory import releasing
from .errors import ConfigError, ParameterError, SmartStreetGeoError

__all__ = [
    "CAMPAIGN_OUTPUTS",
    "XLSX_MAX_CELL_CHARS",
    "XLSX_MAX_ROWS",
    "OutputError",
    "StagedFolder",
    "XlsxFile",
    "XlsxSheet",
    "atomic_write_bytes",
    "check_pseudonym_key",
    "key_strength_bits",
    "neutralise_formulae",
    "output_file",
    "pseudonym",
    "require_encodable",
    "shareable_manifest",
    "shareable_outputs",
    "staged_output",
    "write_campaign",
    "write_csv",
    "write_xlsx",
]

log = logging.getLogger(__name__)

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
    return atomic_write_chunks(path, [data], mode=mode)


def atomic_write_chunks(
    path: str | Path, chunks: Iterable[bytes], *, mode: int = FILE_MODE
) -> Path:
    """Write the ``chunks`` one after another to ``path``, atomically, with ``mode``.

    The chunks are written as they come (a large file is never whole in memory) to a
    temporary file beside the target, which replaces the target only once every chunk
    is written and synced; an error on the way leaves the target as it was.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            for data in chunks:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def require_encodable(frame: pd.DataFrame, what: str, *, first_row: int = 1) -> None:
    """Refuse text that UTF-8 cannot encode (a lone surrogate), naming the column and row.

    Pandas' string dtype cannot hold such text at all; an ``object`` column
    built in memory can. Writing it would fail half-way with a raw
    ``UnicodeEncodeError`` or, replaced, silently change the data. ``first_row``:
    the data row number of ``frame``'s first row (a block of a longer table).

    Raises
    ------
    SmartStreetGeoError
        Naming the output, the column and the 1-based data row.
    """
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object:
            continue
        texts = [v for v in values.tolist() if isinstance(v, str)]
        try:
            "".join(texts).encode("utf-8")
        except UnicodeEncodeError:
            for row, v in enumerate(values.tolist(), start=first_row):
                if isinstance(v, str):
                    try:
                        v.encode("utf-8")
                    except UnicodeEncodeError:
                        raise SmartStreetGeoError(
                            f"{what}: column {str(col)!r}, row {row} holds text that cannot be "
                            "written as UTF-8 (a lone surrogate code point); correct the value "
                            "where it comes from."
                        ) from None


def _text_as_arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its object columns of text and missing values as Arrow text.

    Converted once, before a file is written (the writers take a file a block of rows
    at a time): the conversion is also the UTF-8 check of those columns, so that
    :func:`require_encodable` reads only the object columns that hold other values.
    The other columns are the frame's own (copy-on-write).
    """
    out = frame.copy(deep=False)
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j]
        if values.dtype == object and (text := _xlsx.only_text(values)) is not None:
            out.isetitem(j, pd.array(text, dtype="str"))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, *, float_format: str | None = None) -> Path:
    r"""Write ``frame`` as UTF-8 CSV (RFC 4180, CRLF), formula-safe, atomically, owner-only.

    The bytes are exactly those of ``frame.to_csv(index=False, lineterminator="\r\n",
    float_format=float_format)`` after :func:`neutralise_formulae` on every column; the
    rows are written by a compiled kernel (:mod:`smartstreet_geo._csv_kernel`, why there),
    with pandas as the writer for column types it does not format (dates and times,
    categories).

    Parameters
    ----------
    frame : DataFrame
    path : str or Path
    float_format : str, optional
        As for :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    Path
    """
    chunks = _csv_chunks(frame, float_format, Path(path).name)
    if chunks is None:  # a column type the kernel does not format: pandas writes it
        frame = _text_as_arrow(frame)
        require_encodable(frame, Path(path).name)
        safe = frame.copy()
        for col in safe.columns:
            safe[col] = neutralise_formulae(safe[col])
        buf = io.StringIO()
        # CRLF line ends (RFC 4180, what spreadsheets expect); they also make the csv module
        # quote any field holding a CR or LF, so an embedded CR cannot split a row.
        safe.to_csv(buf, index=False, lineterminator="\r\n", float_format=float_format)
        return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
    return atomic_write_chunks(path, chunks)


def _csv_text(
    values: pd.Series, float_format: str | None, what: str = "", first_row: int = 1
) -> Any:
    """Return a column's CSV texts, which cells have one, and whether to neutralise them.

    The texts are what pandas writes; None for a column type left to pandas. An object
    column that is not all text is checked for text UTF-8 cannot encode (``what`` and
    ``first_row`` name the file and the data row of ``values``' first row).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = values.dtype
    if (text := _xlsx.only_text(values)) is not None:  # Arrow text, or objects all text
        return text, text.is_valid().to_numpy(zero_copy_only=False), True
    if pd.api.types.is_object_dtype(dtype):
        require_encodable(values.to_frame(), what, first_row=first_row)
    present = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(np.where(values.to_numpy(dtype=bool, na_value=False), "True", "False"))
        return arr.cast(pa.large_string()), present, False
    if pd.api.types.is_integer_dtype(dtype):
        ints = values.to_numpy(dtype=np.int64, na_value=0)
        return pc.cast(pa.array(ints), pa.large_string()), present, False
    if pd.api.types.is_float_dtype(dtype):
        nums = values.to_numpy(dtype=float, na_value=float("nan"))
        present = ~np.isnan(nums)
        fmt = (lambda x: float_format % x) if float_format else repr
        texts = [fmt(x) if p else "" for x, p in zip(nums.tolist(), present.tolist(), strict=True)]
        return pa.array(texts, pa.large_string()), present, False
    if pd.api.types.is_object_dtype(dtype):
        texts = [
            str(v) if p else "" for v, p in zip(values.tolist(), present.tolist(), strict=True)
        ]
        return pa.array(texts, pa.large_string()), present, True
    return None


#: Rows rendered at a time: a file's text is never whole in memory (the texts, their
#: packed copy and the rendered rows are each about the size of the block's CSV).
CSV_BLOCK_ROWS = 131_072


def _csv_chunks(
    frame: pd.DataFrame, float_format: str | None, what: str = ""
) -> Iterator[bytes] | None:
    """Return the CSV file's bytes in blocks of rows (see :func:`write_csv`).

    None to leave the file to pandas: a column type the kernel does not format (known
    from the dtypes, before any block is made), a frame without columns, or repeated
    column names. Object columns are made text a block at a time, as the block is
    written: a whole table's worth of converted text is never held (0.5 GB for the
    reconciliation and the letters at 2.4 M customers); text UTF-8 cannot encode stops
    the writing with the column and row named (the file is written atomically: nothing
    of it is left).
    """
    import csv

    n, n_cols = frame.shape
    if n_cols == 0 or not frame.columns.is_unique:
        return None
    if n and any(_csv_text(frame[col].iloc[:0], float_format) is None for col in frame.columns):
        return None
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow([str(c) for c in frame.columns])

    def blocks() -> Iterator[bytes]:
        from ._csv_kernel import render_csv

        yield head.getvalue().encode("utf-8")
        for start in range(0, n, CSV_BLOCK_ROWS):
            block = frame.iloc[start : start + CSV_BLOCK_ROWS]
            texts = [_csv_text(block[c], float_format, what, start + 1) for c in block.columns]
            data, offsets = _xlsx.pack_texts([t[0] for t in texts])
            body = render_csv(
                data,
                offsets,
                np.stack([t[1] for t in texts], axis=1),
                np.array([t[2] for t in texts], dtype=bool),
            )
            del texts, data, offsets
            yield body.tobytes()

    return blocks()


# --------------------------------------------------------------------------- output folders
class OutputError(SmartStreetGeoError):
    """An output path cannot be written, or another run is writing it.

    Raised before any work where possible: the path is a file, a dangling
    symbolic link or a read-only folder, a folder that is not empty (without
    ``force``), or locked by another run.
    """


#: Files a campaign run writes (``map.html`` only when a map is drawn).
CAMPAIGN_OUTPUTS = (
    "letters.csv",
    "letters.xlsx",
    "phone_calls.csv",
    "manual_review.csv",
    "reconciliation.csv",
    "rejects.csv",
    "contact_trace.csv",
    "outage_plan.csv",
    "map.html",
    "manifest.json",
)


def _strerror(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _tmp_leftover(name: str, target_name: str | None = None) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_write_bytes` (of ``target_name``)."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    return target_name is None or name.startswith(f".{target_name}.")


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return list(it)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _run_id() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _absolute(out: str | Path, what: str) -> Path:
    """``out`` as an absolute path with its symbolic links resolved; refuse dangling links."""
    path = Path(os.path.abspath(os.fspath(out)))
    if path.is_symlink():
        if not path.exists():
            raise OutputError(
                f"{what} {out}: is a symbolic link to {os.readlink(path)}, which does not "
                "exist; remove the link or give another path."
            )
        path = path.resolve()
    if path == path.parent:
        raise OutputError(f"{what} {out}: give a folder below the file system root.")
    return path


def _ensure_parent(path: Path, what: str, shown: str | Path) -> Path:
    """Create the folder ``path`` is written in if needed; refuse one that cannot be written."""
    parent = path.parent
    for above in (parent, *parent.parents):
        if os.path.lexists(above):
            if not above.is_dir():
                raise OutputError(f"{what} {shown}: {above} is a file, not a folder.")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {shown}: cannot create {parent}: {_strerror(exc)}.") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {shown}: the folder {parent} is read-only.")
    return parent


class _Lock:
    """An exclusive lock on an output path: ``.NAME.lock`` beside it, held with ``flock``.

    Hand-written (about 40 lines) rather than the ``filelock`` package because
    the lock file must also say who holds it (process and host, for the error
    message), and ``filelock`` truncates the file on every attempt. ``flock``
    is released by the kernel when the holder dies (even by ``kill -9``), so a
    lock left by an interrupted run is never mistaken for a live one; where a
    file system has no ``flock`` the process id is checked instead.
    """

    def __init__(self, target: Path, what: str, shown: str | Path) -> None:
        self.path = target.parent / f".{target.name}.lock"
        self.what, self.shown = what, shown
        self.fd: int | None = None
        self.stale = False  # a lock file left by an interrupted run was taken over

    def _refuse(self, holder: str) -> OutputError:
        pid, _, host = holder.strip().partition(" ")
        who = f" (process {pid} on {host})" if pid.isdigit() and host else ""
        return OutputError(
            f"{self.what} {self.shown}: another smartstreet-geo run{who} is writing it; "
            "wait for it to finish or choose another path."
        )

    def acquire(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        host = socket.gethostname()
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except OSError as exc:
                raise OutputError(
                    f"{self.what} {self.shown}: cannot create the lock file {self.path}: "
                    f"{_strerror(exc)}."
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace")
                os.close(fd)
                raise self._refuse(holder) from None
            except OSError as exc:  # no flock here (some network file systems)
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    os.close(fd)
                    raise
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace")
                pid, _, other = holder.strip().partition(" ")
                if pid.isdigit() and other == host and int(pid) != os.getpid():
                    try:
                        os.kill(int(pid), 0)
                    except ProcessLookupError:
                        pass  # its holder is dead: take it over
                    except PermissionError:
                        os.close(fd)
                        raise self._refuse(holder) from None
                    else:
                        os.close(fd)
                        raise self._refuse(holder) from None
                elif pid.isdigit() and other and other != host:
                    os.close(fd)
                    raise self._refuse(holder) from None
            # The file may have been removed (by its holder's release) between open and
            # flock: then this lock is on an orphan; start again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.stale = os.fstat(fd).st_size > 0  # only a holder writes it; it deletes it on release
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {host}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # before unlocking, so no one locks a file about to vanish
        os.close(self.fd)
        self.fd = None


@dataclass
class StagedFolder:
    """An output folder being built: write into :attr:`path`, see it appear at :attr:`target`.

    Made by :func:`staged_output`; files written with :meth:`file` (or any
    writer given ``stage.file(name)``) appear at the target only when the
    whole folder is complete.

    Attributes
    ----------
    target : Path
        The output folder (absolute).
    path : Path
        The staging folder to write into.
    manifest : dict or None
        Set it to write ``manifest.json`` last, with ``outputs``: every other
        file's name, size in bytes and SHA-256.
    paths : dict
        Output name -> final path (filled by :meth:`commit`).
    """

    target: Path
    path: Path
    manifest: dict[str, Any] | None = None
    manifest_name: str = "manifest.json"
    paths: dict[str, Path] = field(default_factory=dict)
    committed: bool = False
    force: bool = field(default=False, repr=False)
    names: Collection[str] | None = field(default=None, repr=False)
    what: str = field(default="output folder", repr=False)
    shown: str | Path = field(default="", repr=False)

    def file(self, name: str) -> Path:
        """Return the staging path of the output file ``name`` (a plain file name)."""
        if not name or name.startswith(".") or "/" in name or os.sep in name or "\0" in name:
            raise ParameterError(f"output file name {name!r}: give a plain file name.")
        return self.path / name

    def commit(self) -> dict[str, Path]:
        """Write the manifest and move the folder into place; return name -> final path."""
        if self.committed:
            return self.paths
        names: list[str] = []
        for entry in sorted(_entries(self.path), key=lambda e: e.name):
            if _tmp_leftover(entry.name):
                os.unlink(entry.path)  # a writer's temporary file: never part of a result
            elif not entry.is_file(follow_symlinks=False):
                raise OutputError(f"output folder {self.target}: {entry.name} is not a file.")
            else:
                os.chmod(entry.path, FILE_MODE)  # owner-only, whoever wrote it
                if entry.name != self.manifest_name:
                    names.append(entry.name)
        if self.manifest is not None:
            manifest = dict(self.manifest)
            manifest["outputs"] = _describe_all([self.path / n for n in names])
            text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            atomic_write_bytes(self.file(self.manifest_name), text.encode("utf-8"))
            names.append(self.manifest_name)
        _fsync_folder(self.path)
        # Again, now: nothing that may not be replaced arrived in the target during the run.
        shown = self.shown or self.target
        _check_folder_target(
            self.target, force=self.force, names=self.names, what=self.what, shown=shown
        )
        _move_into_place(self.path, self.target)
        self.committed = True
        self.paths = {n: self.target / n for n in sorted(names)}
        return self.paths


def _describe(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")  # (one reused buffer)
        size = fh.tell()
    return {"file": path.name, "bytes": size, "sha256": digest.hexdigest()}


def _describe_all(paths: list[Path]) -> list[dict[str, Any]]:
    """Return :func:`_describe` of each file, in order, hashing files side by side.

    SHA-256 releases the GIL while it hashes: a campaign's 1 GB of files at 2.4 M
    customers is hashed in 0.3 s on two cores instead of 0.55 s on one.
    """
    from ._threads import max_threads

    workers = min(len(paths), max_threads())
    if workers <= 1:
        return [_describe(p) for p in paths]
    big_first = sorted(range(len(paths)), key=lambda i: -os.path.getsize(paths[i]))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sha256") as pool:
        done = dict(zip(big_first, pool.map(_describe, [paths[i] for i in big_first]), strict=True))
    return [done[i] for i in range(len(paths))]


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing ``target`` is renamed aside first."""
    parent = target.parent
    aside: Path | None = None
    if os.path.lexists(target):
        if not os.listdir(target):
            os.rmdir(target)  # an empty folder (e.g. made by the caller): nothing to keep
        else:
            aside = parent / f".{target.name}.old-{_run_id()}"
            os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError as exc:
        if aside is not None:
            with contextlib.suppress(OSError):
                os.rename(aside, target)  # put the previous result back
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise OutputError(
                f"output folder {target}: something else wrote into it at the end of the "
                "run; it was left as it was. Run again."
            ) from None
        raise
    _fsync_folder(parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)  # what fails here the next run removes


def _clean_leftovers(target: Path, *, lock_was_stale: bool) -> str | None:
    """Remove what an interrupted run into ``target`` left; return a one-line note or None."""
    parent, name = target.parent, target.name
    staging = old = tmp = 0
    restored = False
    asides: list[Path] = []
    for entry in _entries(parent):
        if entry.name.startswith(f".{name}.staging-") and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
            staging += 1
        elif entry.name.startswith(f".{name}.old-") and entry.is_dir(follow_symlinks=False):
            asides.append(Path(entry.path))
        elif _tmp_leftover(entry.name, name) and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)  # a file output's temporary copy
            tmp += 1
    asides.sort(key=lambda p: p.stat().st_mtime_ns)
    if asides and not os.path.lexists(target):
        os.rename(asides.pop(), target)  # a --force run died between its two renames
        restored = True
    for aside in asides:
        shutil.rmtree(aside, ignore_errors=True)
        old += 1
    if target.is_dir() and not target.is_symlink():
        entries = _entries(target)
        if entries and all(_tmp_leftover(e.name) and e.is_file() for e in entries):
            for e in entries:  # an older version's temporary copies, alone in the folder
                os.unlink(e.path)
                tmp += 1
    parts = [
        f"{n} {label}{'s' if n != 1 else ''}"
        for n, label in (
            (staging, "unfinished staging folder"),
            (old, "replaced result"),
            (tmp, "temporary file"),
            (int(lock_was_stale), "stale lock"),
        )
        if n
    ]
    if restored:
        parts.append("the previous result put back (a replacing run was interrupted)")
    if not parts:
        return None
    return f"removed what an interrupted run into {target} left: {', '.join(parts)}"


def _check_folder_target(
    target: Path, *, force: bool, names: Collection[str] | None, what: str, shown: str | Path
) -> None:
    """Refuse a target that is not a folder, not replaceable, or cannot be renamed."""
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise OutputError(f"{what} {shown}: is a file, not a folder; choose a folder name.")
    if os.path.ismount(target) or target.stat().st_dev != target.parent.stat().st_dev:
        raise OutputError(
            f"{what} {shown}: is a mount point; choose a folder inside it (the result is "
            "moved into place by renaming, within one file system)."
        )
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {shown}: the folder is read-only.")
    entries = _entries(target)
    if not entries:
        return
    if not force:
        raise OutputError(
            f"{what} {shown}: the folder exists and is not empty; choose a new folder or "
            "add --force (force=True) to replace it."
        )
    allowed = None if names is None else set(names)
    foreign = [
        e
        for e in entries
        if not e.is_file(follow_symlinks=False)
        or (allowed is not None and e.name not in allowed and not _tmp_leftover(e.name))
    ]
    if foreign:
        raise OutputError(
            f"{what} {shown}: holds {len(foreign)} file(s) or folder(s) this command does not "
            "write; --force only replaces an earlier output folder. Choose a new folder."
        )
    parent_st = target.parent.stat()
    if parent_st.st_mode & stat.S_ISVTX and os.getuid() not in (
        0,
        parent_st.st_uid,
        target.stat().st_uid,
    ):
        raise OutputError(f"{what} {shown}: belongs to another user; choose a new folder.")


@contextlib.contextmanager
def staged_output(
    out_dir: str | Path,
    *,
    force: bool = False,
    names: Collection[str] | None = None,
    report: Callable[[str], None] | None = None,
    what: str = "output folder",
) -> Iterator[StagedFolder]:
    """Build an output folder all or nothing: in a staging folder, moved into place when done.

    Everything that can be checked is checked on entry, before any work: the
    path is not a file or a dangling symbolic link, its folder exists (or is
    created) and is writable, no other run is writing it (a lock), and an
    existing folder is empty, or ``force`` is given and it holds only files
    named in ``names``. Leftovers of an interrupted run into the same path are
    removed then (one line to ``report``). On a normal exit of the ``with``
    block the folder is committed (:meth:`StagedFolder.commit`); on an
    exception the staging folder is removed and the target is left as it was.

    Parameters
    ----------
    out_dir : str or Path
        The output folder.
    force : bool, default False
        Replace an existing non-empty folder (that holds only ``names``).
    names : collection of str, optional
        The files an earlier run of the same writer may have left there; with
        ``force``, a folder holding anything else is refused. None allows any
        plain files.
    report : callable, optional
        Receives the one-line note about leftovers removed (default: the log,
        as a warning).
    what : str, default "output folder"
        How messages name the path (the command line passes ``"--out"``).

    Yields
    ------
    StagedFolder

    Raises
    ------
    OutputError
        The path cannot be written, is not empty, or another run holds it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "lists"
    >>> with staged_output(out) as stage:
    ...     _ = atomic_write_bytes(stage.file("a.csv"), b"1,2")
    ...     stage.manifest = {"campaign": "test"}
    ...     out.exists()
    False
    >>> sorted(p.name for p in out.iterdir())
    ['a.csv', 'manifest.json']
    """
    shown = out_dir
    target = _absolute(out_dir, what)
    if os.path.lexists(target) and not target.is_dir():
        raise OutputError(f"{what} {shown}: is a file, not a folder; choose a folder name.")
    parent = _ensure_parent(target, what, shown)
    lock = _Lock(target, what, shown)
    lock.acquire()
    staging: Path | None = None
    try:
        note = _clean_leftovers(target, lock_was_stale=lock.stale)
        if note:
            (report or log.warning)(note)
        _check_folder_target(target, force=force, names=names, what=what, shown=shown)
        staging = parent / f".{target.name}.staging-{_run_id()}"
        staging.mkdir(mode=0o700)
        os.chmod(staging, 0o700)
        stage = StagedFolder(
            target=target, path=staging, force=force, names=names, what=what, shown=shown
        )
        yield stage
        stage.commit()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError) and staging is None:
            raise OutputError(f"{what} {shown}: {_strerror(exc)}.") from None
        raise
    finally:
        if staging is not None and os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        lock.release()


def check_output_file(path: str | Path, *, force: bool, what: str = "output file") -> Path:
    """Check that ``path`` can be written as one output file; return it, absolute.

    Refuses a folder, a dangling symbolic link, something that is not a
    plain file, a read-only file, an existing file without ``force``, and a
    folder to write in that cannot be created or written. Creates that
    folder if needed.

    Parameters
    ----------
    path : str or Path
    force : bool
        Allow replacing an existing file.
    what : str, default "output file"
        How messages name the path (the command line passes ``"--out"``).

    Returns
    -------
    Path
    """
    target = _absolute(path, what)
    if target.is_dir():
        raise OutputError(f"{what} {path}: is a folder; give a file name.")
    if os.path.lexists(target):
        if not target.is_file():
            raise OutputError(f"{what} {path}: exists and is not a plain file.")
        if not force:
            raise OutputError(
                f"{what} {path}: the file exists; choose another name or add --force "
                "(force=True) to replace it."
            )
        if not os.access(target, os.W_OK):
            raise OutputError(f"{what} {path}: the file is read-only.")
    _ensure_parent(target, what, path)
    return target


@contextlib.contextmanager
def output_file(
    path: str | Path,
    *,
    force: bool = False,
    report: Callable[[str], None] | None = None,
    what: str = "output file",
) -> Iterator[Path]:
    """Hold one output file for a run: checked, locked, leftovers removed.

    On entry the path is checked (:func:`check_output_file`), a lock beside it
    refuses a second run writing the same file, and temporary copies an
    interrupted run left beside it are removed (one line to ``report``).
    Write the file with :func:`atomic_write_bytes` (or a writer built on it)
    inside the ``with`` block.

    Parameters
    ----------
    path : str or Path
    force : bool, default False
    report : callable, optional
        Receives the one-line note about leftovers removed (default: the log).
    what : str, default "output file"

    Yields
    ------
    Path
        The absolute path to write.
    """
    target = check_output_file(path, force=force, what=what)
    lock = _Lock(target, what, path)
    lock.acquire()
    try:
        note = _clean_leftovers(target, lock_was_stale=lock.stale)
        if note:
            (report or log.warning)(note)
        check_output_file(path, force=force, what=what)  # again, now that it is ours
        yield target
    finally:
        lock.release()


# --------------------------------------------------------------------------- campaigns
#: Columns of the mail-merge file, in order: only what a letter needs.
#: Never the customer id: ``contact_ref`` leads back to the customer through
#: ``contact_trace.csv`` (internal). Merge fields beside ``reason``: the equipment
#: kind in words, its install date, the outage date and the circuit.
LETTER_COLUMNS = (
    "contact_ref",
    "campaign",
    "template_id",
    "addressee",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "post_town",
    "postcode",
    "accessible_format",
    "equipment_kind",
    "install_date",
    "outage_date",
    "circuit_id",
    "reason",
)
#: Columns of the PSR telephone list, in the order a call handler works it (deadline first):
#: when, who to call on what number (and the other number), what they need.
PHONE_COLUMNS = (
    "contact_ref",
    "notice_deadline",
    "days_left",
    "outage_date",
    "template_id",
    "name",
    "call_who",
    "call_number",
    "alternative_number",
    "call_note",
    "nominee_name",
    "needs",
    "medically_dependent",
    "accessible_format",
    "postcode",
    "reason",
)
#: Columns of ``contact_trace.csv`` (internal), as
#: :data:`smartstreet_geo.campaign.register.TRACE_COLUMNS` (not imported: export stays low level).
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
RECONCILIATION_COLUMNS = ("source_row", "customer_id", "status", "campaigns", "reason")
MANUAL_REVIEW_COLUMNS = ("source_row", "customer_id", "status", "issue", "detail")


def pseudonym(values: pd.Series, key: bytes) -> pd.Series:
    """Replace ids by a keyed pseudonym (HMAC-SHA256, 16 hex characters).

    The same id and key always give the same pseudonym, so partners can join
    files without seeing the ids; without the key the ids cannot be recovered
    or confirmed by guessing. Each distinct id is hashed once (a file names a
    customer on many rows); a missing value (None, NaN, ``pd.NA``) stays missing.

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

    obj = values.astype(object).to_numpy()
    present = ~pd.isna(obj)
    out = np.full(len(obj), None, dtype=object)
    if present.any():
        # text of each value as str() gives it, factorized on the text (not the object, where
        # 1, 1.0 and True would be one value); HMAC once per distinct text
        texts = [v if isinstance(v, str) else str(v) for v in obj[present].tolist()]
        codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
        base = hmac.new(key, digestmod=sha256)

        def one(text: str) -> str:
            h = base.copy()
            h.update(text.encode("utf-8", "surrogatepass"))  # never fails half-way
            return h.hexdigest()[:16]

        digests = np.asarray([one(u) for u in uniques.tolist()], dtype=object)
        out[present] = digests[codes]
    return pd.Series(out, index=values.index, dtype=object)


#: Environment variables that hold system values, never a secret key.
_SYSTEM_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "TMPDIR", "LANG", "TERM")
_HEX = frozenset("0123456789abcdefABCDEF")
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")
#: Bits of key material a pseudonym key must carry.
KEY_BITS = 128


def key_strength_bits(value: str) -> float:
    """Estimate the bits of secret material in a key written as text.

    Hand-written (a dozen lines) rather than a password-strength library:
    a key is machine-made, so what matters is how many characters it has and
    from which alphabet, not dictionary words. The estimate:

    - a key that repeats a shorter block (``abcabcabc``) counts as that block;
    - the alphabet is the one the key is written in: 16 for hexadecimal
      (``secrets.token_hex``), 64 for base64 (``secrets.token_urlsafe``), 95
      (printable ASCII) otherwise;
    - a key using far fewer distinct characters than a random one of its
      length would (under half as many: ``aaaa...``, ``0101...``) counts only
      its distinct characters as the alphabet (length x log2(distinct)).

    Parameters
    ----------
    value : str

    Returns
    -------
    float
        Estimated bits; 32 random hex characters give 128.

    Examples
    --------
    >>> key_strength_bits("0123456789abcdef" * 2)  # one 16-character block, repeated
    64.0
    >>> key_strength_bits("a" * 64)  # one character, repeated
    4.0
    """
    s = value
    if not s:
        return 0.0
    period = (s + s).find(s, 1)  # the shortest block that s repeats (len(s) when none)
    s = s[:period]
    n = len(s)
    chars = set(s)
    if chars <= _HEX:
        alphabet = 16
    elif chars <= _BASE64:
        alphabet = 64
    else:
        alphabet = max(95, len(chars))
    expected = alphabet * (1 - (1 - 1 / alphabet) ** n)  # distinct characters of a random key
    if len(chars) < expected / 2:
        alphabet = len(chars)
    return float(n * math.log2(alphabet)) if alphabet > 1 else 0.0


def check_pseudonym_key(value: str | None, env_name: str) -> bytes:
    """Return the pseudonym key held by the environment variable ``env_name``, or refuse it.

    Refused: an unset or empty variable; a system variable (``PATH``,
    ``HOME``...) or a value that looks like one (a path, a list of paths, the
    value of ``$HOME``, ``$PATH``, ``$USER`` or ``$SHELL``): a variable name
    mistyped in the campaign file, whose value is public; and a key under 128
    bits of material (:func:`key_strength_bits`: e.g. fewer than 32 hex
    characters, repeated characters, a tiny alphabet). Messages name the
    variable, never its value.

    Parameters
    ----------
    value : str or None
        The variable's value (``os.environ.get(env_name)``).
    env_name : str
        The variable's name, for the message.

    Returns
    -------
    bytes
        The key, UTF-8 encoded (as it has always been used, so earlier
        pseudonyms and registers still match).

    Raises
    ------
    ConfigError

    Examples
    --------
    >>> len(check_pseudonym_key("3f9c2a7be41d08c56a9e7f1b2d4c6e80", "KEY"))
    32
    >>> check_pseudonym_key("secretsecretsecretsecret", "KEY")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    smartstreet_geo.errors.ConfigError: the pseudonym key in ... KEY is too weak: ...
    """
    advice = (
        "put a random key of at least 128 bits there, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_hex(32))', and keep it with the "
        "register, out of the outputs and of version control."
    )
    if not value:
        raise ConfigError(
            f"pseudonymised ids need a secret key in the environment variable {env_name}, "
            f"which is not set or empty; {advice}"
        )
    system = {v for v in (os.environ.get(n) for n in _SYSTEM_VARIABLES) if v}
    looks_like_path = value.startswith(("/", "~")) or (
        os.pathsep in value and any("/" in part for part in value.split(os.pathsep))
    )
    if env_name.upper() in _SYSTEM_VARIABLES or looks_like_path or value in system:
        raise ConfigError(
            f"the environment variable {env_name} holds a path or a system value, not a "
            "secret key (is [output] pseudonym_key_env the right name?); " + advice
        )
    bits = key_strength_bits(value)
    if bits < KEY_BITS or len(value.encode("utf-8")) < KEY_BITS // 8:
        raise ConfigError(
            f"the pseudonym key in the environment variable {env_name} is too weak: about "
            f"{bits:.0f} bits of material (repeated characters, a small alphabet or too "
            f"short), {KEY_BITS} needed; {advice}"
        )
    return value.encode("utf-8")


#: Columns that hold a customer's id or premise key (pseudonymised by :func:`shareable_outputs`,
#: as the contact register pseudonymises them).
ID_COLUMNS = ("customer_id", "premise_key")
#: Shown values longer than this are cut (as the readers show rejected values).
_SHOWN_MAX = 60
#: An id at least this long is also replaced where it appears unquoted in text.
_BARE_MIN = 6


def _id_forms(cid: str) -> list[str]:
    """Return the ways a text can quote the id ``cid``: quoted (repr) first, then bare."""
    forms = [cid]
    if len(cid) > _SHOWN_MAX:  # the readers' rejects show a long value cut to 57 + "..."
        forms.append(cid[: _SHOWN_MAX - 3] + "...")
    quoted = [repr(f) for f in forms]
    # bare occurrences only of ids long enough not to be mistaken for a row number
    bare = [f for f in forms if len(f) >= _BARE_MIN]
    return quoted + bare


def _pseudonymise_text(texts: pd.Series, row_ids: pd.Series, names: Mapping[str, str]) -> pd.Series:
    """Replace, in each text, the quotes of that row's own id by its pseudonym."""
    out = texts.astype(object).to_numpy().copy()
    ids = row_ids.astype(object).to_numpy()
    forms_of: dict[str, list[str]] = {}
    for i, (text, cid) in enumerate(zip(out.tolist(), ids.tolist(), strict=True)):
        if not isinstance(text, str) or not isinstance(cid, str) or not cid:
            continue
        name = names[cid]
        if text == cid or (len(cid) > _SHOWN_MAX and text == cid[: _SHOWN_MAX - 3] + "..."):
            out[i] = name
            continue
        forms = forms_of.get(cid)
        if forms is None:
            forms = forms_of[cid] = _id_forms(cid)
        if not any(form in text for form in forms):  # the common case: no quote of the id
            continue
        for form in forms:
            if form.startswith(("'", '"')):
                text = text.replace(form, repr(name))
            else:
                text = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", name, text)
        out[i] = text
    return pd.Series(out, index=texts.index, dtype=object)


def shareable_outputs(
    tables: Mapping[str, pd.DataFrame], *, pseudonym_key: bytes | None = None
) -> dict[str, pd.DataFrame]:
    """Return the analysis tables as they may leave the machine: no paths, ids pseudonymised.

    Always: a ``source_file`` column keeps no absolute path (the file name
    only; the campaign makes it relative to the campaign file first). With
    ``pseudonym_key``: every customer id becomes its keyed :func:`pseudonym`,
    in ``customer_id`` columns, in ``record_id`` (the rejects' id column)
    where it names a customer, and wherever a text cell of the same row
    quotes that id (a rejected id in ``value``, ``message``, a reconciliation
    ``reason`` or a review ``detail``, quoted or cut as the readers show it).
    The customer ids are those of the tables' ``customer_id`` columns (the
    reconciliation lists every input customer row, rejected ones included),
    so an equipment id in ``record_id`` stays as it is.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Output name -> table (``reconciliation.csv``, ``manual_review.csv``,
        ``rejects.csv``...). Tables are not modified.
    pseudonym_key : bytes, optional

    Returns
    -------
    dict
        Output name -> the table to write.

    Examples
    --------
    >>> import pandas as pd
    >>> t = {"rejects.csv": pd.DataFrame({"source_file": ["/home/ann/in/c.csv"],
    ...     "record_id": ["1600000000001"], "message": ["c.csv row 2, '1600000000001': bad"]}),
    ...     "reconciliation.csv": pd.DataFrame({"customer_id": ["1600000000001"]})}
    >>> out = shareable_outputs(t, pseudonym_key=b"k" * 16)["rejects.csv"]
    >>> out.loc[0, "source_file"], "1600000000001" in out.loc[0, "message"]
    ('c.csv', False)
    """
    # shallow: with copy-on-write a column set below is the copy's own, the input keeps its
    # (a deep copy of the reconciliation is a gigabyte at ten million customers)
    out = {name: frame.copy(deep=False) for name, frame in tables.items()}
    for frame in out.values():
        if "source_file" in frame.columns:
            files = frame["source_file"]
            frame["source_file"] = files.map(
                lambda f: Path(f).name if isinstance(f, str) and os.path.isabs(f) else f
            ).astype(files.dtype)
    if pseudonym_key is None:
        return out
    customers: set[str] = set()
    for frame in out.values():
        for col in ID_COLUMNS:
            if col in frame.columns:
                customers.update(v for v in frame[col].tolist() if isinstance(v, str))
    names = dict(
        zip(
            sorted(customers),
            pseudonym(pd.Series(sorted(customers), dtype=object), pseudonym_key),
            strict=True,
        )
    )
    for frame in out.values():
        own = next((c for c in ID_COLUMNS if c in frame.columns), None)
        if own is None and "record_id" in frame.columns:
            rec = frame["record_id"].astype(object)
            own_ids = rec.where(rec.isin(customers), None)
        elif own is not None:
            own_ids = frame[own].astype(object)
        else:
            continue
        for col in frame.columns:
            if col in ID_COLUMNS or col == "record_id" or col == "source_file":
                continue
            values = frame[col]
            if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
                frame[col] = _pseudonymise_text(values, own_ids, names)
        for col in (*ID_COLUMNS, "record_id"):
            if col in frame.columns:
                ids = frame[col].astype(object)
                frame[col] = ids.map(lambda v: names.get(v, v) if isinstance(v, str) else v)
    return out


def shareable_manifest(manifest: Mapping[str, Any], *, pseudonymised: bool) -> dict[str, Any]:
    """Return ``manifest`` saying whether the written ids are pseudonyms (a deep-enough copy).

    ``parameters.pseudonymised_ids`` is true when the campaign file or the
    command line (a ``pseudonym_key`` given to :func:`write_campaign`) asked for it.
    """
    out = dict(manifest)
    params = dict(out.get("parameters") or {})
    params["pseudonymised_ids"] = bool(params.get("pseudonymised_ids")) or pseudonymised
    out["parameters"] = params
    return out


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_names(names: list[str]) -> list[str]:
    r"""Return Excel-valid, distinct sheet names for ``names`` (in order).

    Excel's rules: at most 31 characters, none of ``[ ] : * ? / \``, not
    blank, not starting or ending with an apostrophe, not ``History``, and
    distinct regardless of case. A name that breaks one is mended (the
    characters become ``_``, the end is cut) and a repeat gets `` (2)``.

    Examples
    --------
    >>> sheet_names(["LEAFLET/2027", "'x'", "", "Sheet", "sheet"])
    ['LEAFLET_2027', 'x', 'sheet', 'Sheet (2)', 'sheet (3)']
    >>> [len(n) for n in sheet_names(["a" * 40, "A" * 40])]
    [31, 31]
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = _SHEET_FORBIDDEN.sub("_", str(raw)).strip().strip("'").strip() or "sheet"
        if name.casefold() == "history":
            name = "History_"
        name = name[:31]
        candidate, n = name, 1
        while candidate.casefold() in seen:
            n += 1
            tail = f" ({n})"
            candidate = name[: 31 - len(tail)] + tail
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


#: Rows on one Excel worksheet, the header row included (Excel 2007 and later).
XLSX_MAX_ROWS = 1_048_576
#: Characters one Excel cell holds, counted as Excel does (UTF-16 code units).
XLSX_MAX_CELL_CHARS = 32_767


@dataclass(frozen=True)
class XlsxSheet:
    """One worksheet of an XLSX file written by :func:`write_xlsx`.

    Attributes
    ----------
    name : str
        The sheet's name in the file.
    source : str
        The table it holds (its key in the mapping given to :func:`write_xlsx`).
    part : int
        1 for the table's first sheet; 2, 3, ... when the table is longer than
        one sheet holds (``XLSX_MAX_ROWS`` less the header row).
    first_row : int
        The table's 1-based data row on the sheet's second row.
    rows : int
        Data rows on this sheet.
    """

    name: str
    source: str
    part: int
    first_row: int
    rows: int


@dataclass(frozen=True)
class XlsxFile(os.PathLike[str]):
    """What :func:`write_xlsx` wrote: the path (this object is path-like) and its sheets."""

    path: Path
    sheets: tuple[XlsxSheet, ...]

    def __fspath__(self) -> str:
        """Return the path as text, so the object opens like a path."""
        return str(self.path)

    def layout(self) -> list[dict[str, Any]]:
        """Return the sheets as plain dicts (for a manifest)."""
        return [
            {
                "sheet": s.name,
                "table": s.source,
                "part": s.part,
                "first_row": s.first_row,
                "rows": s.rows,
            }
            for s in self.sheets
        ]


def write_xlsx(
    frame: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    sheet: str = "letters",
    created: object = None,
) -> XlsxFile:
    """Write one or more tables as an XLSX file, atomically, owner-only, reproducibly.

    Every cell is written as text or a number, never as a formula: the
    workbook refuses to turn text into formulas, URLs or numbers, so text is
    printed exactly as given, with no ``'`` prefix (that neutralisation is for
    CSV, which a spreadsheet parses). Column widths fit the content (at most 60
    characters). The document date is ``created`` (not the clock), so
    identical inputs give identical bytes.

    Nothing is ever cut. A table longer than one sheet holds (Excel's
    1,048,576 rows, header included) continues on further sheets named
    ``<name> (2)``, ``<name> (3)`` ... (within Excel's 31 characters), each with
    the header row; the returned :class:`XlsxFile` lists the sheets. A cell
    longer than Excel's 32,767 characters is refused before anything is
    written, naming the table, column and row: a mail merge cannot print such
    a cell and a cut one would print a wrong letter. Every return code of the
    underlying writer is checked.

    Parameters
    ----------
    frame : DataFrame or mapping of sheet name to DataFrame
        One table (on sheet ``sheet``) or one sheet per entry; names are made
        Excel-valid with :func:`sheet_names`.
    path : str or Path
    sheet : str, default "letters"
    created : date or datetime, optional

    Returns
    -------
    XlsxFile
        Path-like; ``.sheets`` (and ``.layout()``) say which rows of which
        table are on which sheet.

    Raises
    ------
    SmartStreetGeoError
        A cell too long for Excel, an infinite number, or text UTF-8 cannot
        encode (naming the column and the 1-based data row); nothing written.
    OutputError
        The writer reported a cell it could not write (nothing written).
    """
    import datetime as dt

    import xlsxwriter

    frames = dict(frame) if isinstance(frame, Mapping) else {sheet: frame}
    if not frames:
        frames = {sheet: pd.DataFrame()}
    frames = {source: _text_as_arrow(f) for source, f in frames.items()}
    target = Path(path)
    for source, f in frames.items():
        require_encodable(f, target.name)
        _check_xlsx_cells(f, target.name, str(source), several=len(frames) > 1)
    plan = _plan_sheets(frames)
    # xlsxwriter writes the workbook around the data (header rows, column widths, frozen
    # panes, styles, properties); the data rows are added column-wise by _xlsx (why: there)
    skeleton = io.BytesIO()
    # xlsxwriter leaves its row file behind when a sheet gets no row: a folder of our own
    # (owner-only, removed whatever happens) holds it
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".xlsx-") as scratch:
        wb = xlsxwriter.Workbook(
            skeleton,
            {
                "constant_memory": True,  # inline strings, as the data rows are written
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        try:
            when = created if isinstance(created, dt.datetime) else dt.datetime(2000, 1, 1)
            if isinstance(created, dt.date) and not isinstance(created, dt.datetime):
                when = dt.datetime(created.year, created.month, created.day)
            wb.set_properties({"created": when, "author": "smartstreet-geo"})
            bold = wb.add_format({"bold": True})
            for part, table in plan:
                _write_header(wb.add_worksheet(part.name), table, bold, target.name)
        finally:
            wb.close()
    buf = io.BytesIO()
    _xlsx.rezip(_with_rows(_xlsx.read_parts(skeleton.getvalue()), plan), buf)
    atomic_write_bytes(target, buf.getvalue())
    return XlsxFile(target, tuple(p for p, _ in plan))


def _plan_sheets(frames: Mapping[str, pd.DataFrame]) -> list[tuple[XlsxSheet, pd.DataFrame]]:
    """Cut each table into sheets of at most ``XLSX_MAX_ROWS - 1`` data rows, named uniquely."""
    per_sheet = XLSX_MAX_ROWS - 1
    parts: list[tuple[str, str, int, int, pd.DataFrame]] = []
    for base, (source, table) in zip(sheet_names(list(frames)), frames.items(), strict=True):
        starts = range(0, max(len(table), 1), per_sheet)
        for k, start in enumerate(starts, start=1):
            tail = f" ({k})"
            raw = base if k == 1 else base[: 31 - len(tail)] + tail
            parts.append((raw, str(source), k, start + 1, table.iloc[start : start + per_sheet]))
    names = sheet_names([p[0] for p in parts])  # a clash with another table's name gets (n)
    return [
        (XlsxSheet(name, source, k, first, len(chunk)), chunk)
        for name, (_, source, k, first, chunk) in zip(names, parts, strict=True)
    ]


def _check_xlsx_cells(frame: pd.DataFrame, what: str, source: str, *, several: bool) -> None:
    """Refuse a cell Excel cannot hold whole (too long, or an infinite number), before writing.

    Length is counted in UTF-16 code units, as Excel counts (a character
    beyond U+FFFF is two); vectorised, and the exact count is taken only for
    values that could be over the limit.
    """
    where = f"{what}: sheet {source!r}, " if several else f"{what}: "
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values.dtype):
            continue
        if pd.api.types.is_numeric_dtype(values.dtype):
            nums = values.to_numpy(dtype=float, na_value=float("nan"))
            bad = np.isinf(nums)
            if bad.any():
                row = int(bad.nonzero()[0][0]) + 1
                raise SmartStreetGeoError(
                    f"{where}column {str(col)!r}, row {row} holds an infinite number, which a "
                    "spreadsheet cannot store; correct the value where it comes from."
                )
            continue
        texts = values.astype("str")  # missing values have no length to check
        lengths = texts.str.len().fillna(0).to_numpy()
        maybe = (lengths * 2 > XLSX_MAX_CELL_CHARS).nonzero()[0]
        for i in maybe.tolist():
            text = str(values.iloc[i])
            units = len(text.encode("utf-16-le", "surrogatepass")) // 2
            if units > XLSX_MAX_CELL_CHARS:
                raise SmartStreetGeoError(
                    f"{where}column {str(col)!r}, row {i + 1} holds {units:,} characters; an "
                    f"Excel cell holds at most {XLSX_MAX_CELL_CHARS:,} and the value would be "
                    "cut. Nothing was written: shorten the value where it comes from (or use "
                    "the CSV output, which has no such limit)."
                )


def _write_header(ws: Any, part: pd.DataFrame, bold: Any, what: str) -> None:
    """Write the header row, the column widths and the frozen header of a sheet."""
    ws.freeze_panes(1, 0)
    for j, col in enumerate(part.columns):
        # width in characters from the longest value (xlsxwriter's autofit needs every
        # cell kept in memory)
        values = part[col]
        longest = values.astype("str").str.len().max() if len(values) else 0
        width = max(len(str(col)) * 1.15, float(0 if pd.isna(longest) else longest)) + 1.5
        ws.set_column(j, j, min(width, 60.0))
    code = ws.write_row(0, 0, [str(c) for c in part.columns], bold)
    if code:
        raise OutputError(
            f"{what}: the XLSX writer could not write the header of sheet {ws.name!r} "
            f"(code {code}); nothing was written."
        )


def _with_rows(
    parts: list[tuple[str, bytes]], plan: list[tuple[XlsxSheet, pd.DataFrame]]
) -> Iterator[tuple[str, bytes | Iterable[Any]]]:
    """Put each table's data rows into its sheet part of the skeleton package.

    A generator, and each sheet's rows an iterator of blocks (:func:`_xlsx.sheet_rows`):
    :func:`_xlsx.rezip` compresses one block of one sheet at a time.
    """
    for name, data in parts:
        m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", name)
        if m is None:
            yield name, data
            continue
        table = plan[int(m.group(1)) - 1][1]
        rows, last_row = _xlsx.sheet_rows(table, first_row=2)
        if last_row:
            last_col = _xl_col(table.shape[1] - 1)
            data = re.sub(
                rb'<dimension ref="[^"]*"/>',
                f'<dimension ref="A1:{last_col}{last_row}"/>'.encode(),
                data,
                count=1,
            )
        head, sep, tail = data.partition(b"</sheetData>")
        if not sep:  # a table without columns: no header, <sheetData/>, and no rows
            yield name, data
            continue
        yield name, itertools.chain([head], rows, [sep + tail])


def _xl_col(col: int) -> str:
    """Return the letters of a 0-based column number (``0 -> "A"``, ``26 -> "AA"``)."""
    from xlsxwriter.utility import xl_col_to_name

    return str(xl_col_to_name(col))


def write_campaign(
    result: Any,
    out_dir: str | Path | StagedFolder,
    *,
    pseudonym_key: bytes | None = None,
    force: bool = False,
    extra_outputs: Mapping[str, Callable[[Path], object]] | None = None,
    map_html: bool = False,
    step: Callable[[str], None] | None = None,
    geo: str | None = None,
) -> dict[str, Path]:
    """Write every output of a campaign run into ``out_dir``, all or nothing.

    Files: ``letters.csv`` and ``letters.xlsx`` (mail merge: contact
    reference, addressee, address, post town, postcode, template id, merge
    fields, reason; the XLSX has one sheet per template), ``phone_calls.csv``
    (PSR calls: contact reference, name, numbers, nominee, needs),
    ``manual_review.csv``, ``reconciliation.csv`` (every input customer row
    once), ``rejects.csv``, ``contact_trace.csv`` (internal: each contact
    reference with its customer id and premise key, never for the letter
    house or call centre), ``outage_plan.csv`` (with an outage plan), any
    ``extra_outputs`` (e.g. ``map.html``) and,
    last, ``manifest.json`` (the run's manifest plus each output's size and
    SHA-256). The folder appears only when complete (see
    :func:`staged_output`).

    When the result carries a contact register to save
    (``result.save_register``), it is saved after every file is written and
    just before the folder is moved into place; if that move fails, this
    run's contacts are taken out of the register again.

    Parameters
    ----------
    result : CampaignResult
    out_dir : str, Path or StagedFolder
        The output folder: absent or empty, or replaced with ``force``. Or a
        :class:`StagedFolder` from :func:`staged_output` (the command line
        holds one for the whole run), which its ``with`` block commits.
    pseudonym_key : bytes, optional
        Replace customer ids in ``reconciliation.csv`` and ``manual_review.csv``
        by keyed pseudonyms (for analysis partners). ``contact_trace.csv``
        holds what the run's register holds (pseudonyms when the campaign ran
        with the key).
    force : bool, default False
        Replace an existing output folder of an earlier run.
    extra_outputs : mapping, optional
        File name -> ``writer(path)`` that writes that file, e.g.
        ``{"map.html": lambda p: maps.save_map(maps.campaign_map(result), p)}``.
        This module draws no maps itself (it imports neither maps nor campaign).
    map_html : bool, default False
        Kept for compatibility; ``True`` is refused (pass the map in ``extra_outputs``).
    step : callable, optional
        Called with ``"writing <file> (<rows> rows)"`` as each file starts (progress).
    geo : {"gpkg", "parquet"}, optional
        Also write the campaign's layers for a GIS (premises with contact category and
        reference, equipment with radius polygons, circuits in scope, outage impact):
        ``layers.gpkg`` or one GeoParquet file per layer, EPSG:27700, pseudonymous like
        the map (:func:`smartstreet_geo.geo_outputs.write_campaign_layers`).

    Returns
    -------
    dict
        Output name -> final path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from smartstreet_geo import demo, run_campaign
    >>> result = run_campaign(demo.path("campaign"))
    >>> paths = write_campaign(result, pathlib.Path(tempfile.mkdtemp()) / "out")
    >>> sorted(paths)[:3]
    ['contact_trace.csv', 'letters.csv', 'letters.xlsx']
    """
    if map_html:
        raise ParameterError(
            "write_campaign draws no map: pass extra_outputs={'map.html': writer}, e.g. "
            "lambda p: smartstreet_geo.maps.save_map(smartstreet_geo.maps.campaign_map(result), p)."
        )
    extra = dict(extra_outputs or {})
    geo_names: tuple[str, ...] = ()
    if geo is not None:
        from .geo_outputs import geo_output_names

        geo_names = geo_output_names(geo)  # type: ignore[arg-type]  # checked before any work
    if isinstance(out_dir, StagedFolder):
        layers = _stage_campaign(
            result, out_dir, pseudonym_key=pseudonym_key, extra=extra, step=step, geo=geo
        )
        _commit_with_register(result, out_dir)
        optional = {"map.html"} | (
            set() if getattr(result, "outage_plan", None) is not None else {"outage_plan.csv"}
        )
        done = {*(n for n in CAMPAIGN_OUTPUTS if n not in optional), *extra, *layers}
        return {n: out_dir.target / n for n in sorted(done)}
    expected = {*CAMPAIGN_OUTPUTS, *extra, *geo_names}
    with staged_output(out_dir, force=force, names=expected) as stage:
        _stage_campaign(result, stage, pseudonym_key=pseudonym_key, extra=extra, step=step, geo=geo)
        _commit_with_register(result, stage)
    return stage.paths


def _commit_with_register(result: Any, stage: StagedFolder) -> None:
    """Save the result's contact register, then commit ``stage``; undo the save if that fails.

    Without a register to save, the ``with`` block of :func:`staged_output`
    commits as usual. The register is duck-typed (``result.save_register``):
    this module does not import the campaign package.
    """
    save = getattr(result, "save_register", None)
    if save is None:
        return
    undo = save()
    try:
        stage.commit()
    except BaseException:
        try:
            undo()
        except Exception:  # the commit's error is the one to report
            log.warning(
                "the output folder was not written, and this run's contacts could not be taken "
                "out of the contact register again (run id %s): remove them with forget_run "
                "before the next wave",
                getattr(result, "run_id", "?"),
            )
        raise


def _rows_where(table: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """Return ``table[mask]``: a slice (views of the columns) when the rows are one run.

    A run's contacts are its letters, then its calls: each is one run of rows, and a
    slice does not copy the 2 million letters of a licence area as a mask would.
    """
    where = np.flatnonzero(mask)
    if len(where) and where[-1] - where[0] + 1 == len(where):
        return table.iloc[where[0] : where[-1] + 1]
    return table.loc[mask]


def _groups(table: pd.DataFrame, column: str) -> dict[str, pd.DataFrame]:
    """Return ``table``'s rows by ``str(column value)``, as ``groupby(sort=False, dropna=False)``.

    Groups in order of first appearance, rows in table order. Letters come sorted by
    campaign, and a template belongs to a campaign, so each template's letters are
    usually one run of rows: those groups are slices of the table (views of its columns),
    not a copy of every letter. Otherwise (nominee copies appended after the letters, two
    campaigns sharing a template) the groups are taken as ``groupby`` takes them.
    """
    if not len(table):
        return {}
    codes, names = pd.factorize(table[column], use_na_sentinel=False)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(starts) != len(names):
        return {str(t): g for t, g in table.groupby(column, sort=False, dropna=False)}
    ends = [*starts[1:].tolist(), len(codes)]
    runs = zip(starts.tolist(), ends, strict=True)
    return {str(names[codes[a]]): table.iloc[a:b] for a, b in runs}


def _stage_campaign(
    result: Any,
    stage: StagedFolder,
    *,
    pseudonym_key: bytes | None,
    extra: Mapping[str, Callable[[Path], object]],
    step: Callable[[str], None] | None = None,
    geo: str | None = None,
) -> list[str]:
    """Write a campaign's files into ``stage`` and set its manifest; return the layer files."""
    import datetime as dt

    created = result.manifest.get("run_date", result.manifest.get("created"))  # never the clock
    contacts = result.contacts
    channel = contacts["channel"]
    calls = _rows_where(contacts, (channel == "phone").to_numpy(dtype=bool))[list(PHONE_COLUMNS)]
    recon = result.reconciliation[list(RECONCILIATION_COLUMNS)]  # copy-on-write: no copy
    manual = result.manual_review[list(MANUAL_REVIEW_COLUMNS)]
    shared = shareable_outputs(  # no absolute paths; with a key, every customer id pseudonymised
        {"r": recon, "m": manual, "j": result.rejects}, pseudonym_key=pseudonym_key
    )
    recon, manual, rejects = shared["r"], shared["m"], shared["j"]
    envelopes = getattr(result, "envelopes", None)
    letter_table = (  # the letters' own columns only
        envelopes[list(LETTER_COLUMNS)]
        if envelopes is not None
        else _rows_where(contacts, (channel == "letter").to_numpy(dtype=bool))[list(LETTER_COLUMNS)]
    )
    copies = getattr(result, "nominee_copies", None)
    if copies is not None and len(copies):  # copies of outage letters for nominees
        letter_table = pd.concat([letter_table, copies[list(LETTER_COLUMNS)]], ignore_index=True)
    say = releasing(step or (lambda _label: None))  # freed memory given back per file
    when = dt.date.fromisoformat(created[:10]) if isinstance(created, str) else None
    by_template = _groups(letter_table, "template_id")
    # The XLSX is written on a second thread while the CSVs are written: its row kernel and
    # its deflate release the GIL, so on two cores it costs little more than the CSVs alone.
    # One sheet per template, continued on "<template> (2)" ... past Excel's row limit.
    say(f"writing letters.xlsx and the CSV files ({len(letter_table):,} letters)")
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xlsx") as pool:
        pending = pool.submit(
            write_xlsx, by_template or letter_table, stage.file("letters.xlsx"), created=when
        )
        try:
            tables = {
                "letters.csv": letter_table,
                "phone_calls.csv": calls,
                "manual_review.csv": manual,
                "reconciliation.csv": recon,
                "rejects.csv": rejects,
            }
            for name, table in tables.items():
                say(f"writing {name} ({len(table):,} rows)")
                write_csv(table, stage.file(name))
            trace = getattr(result, "trace", None)
            if trace is None:
                trace = pd.DataFrame(columns=list(TRACE_COLUMNS))
            done = bool((result.manifest.get("register") or {}).get("pseudonymised"))
            trace = shareable_outputs(
                {"t": trace[list(TRACE_COLUMNS)]}, pseudonym_key=None if done else pseudonym_key
            )["t"]
            say(f"writing contact_trace.csv ({len(trace):,} rows)")
            write_csv(trace, stage.file("contact_trace.csv"))
            plan = getattr(result, "outage_plan", None)
            if plan is not None:  # with [outage] plan = "backfeed": no customer ids in it
                say(f"writing outage_plan.csv ({len(plan):,} rows)")
                write_csv(plan, stage.file("outage_plan.csv"))
        except BaseException:
            concurrent.futures.wait([pending])  # the CSV's error is the one to report
            raise
        say("writing letters.xlsx")
        xlsx = pending.result()  # waits; re-raises the writer's error
    layers: list[str] = []
    if geo is not None:
        from .geo_outputs import write_campaign_layers

        say(f"writing the {geo} layers")
        layers = write_campaign_layers(
            result,
            stage,
            geo=geo,  # type: ignore[arg-type]
            pseudonym_key=pseudonym_key,
        )
    for name, writer in extra.items():
        say(f"writing {name}")
        path = stage.file(name)
        writer(path)
        if not path.is_file():
            raise OutputError(f"output folder {stage.target}: the writer of {name} wrote nothing.")
    stage.manifest = shareable_manifest(result.manifest, pseudonymised=pseudonym_key is not None)
    stage.manifest["xlsx_sheets"] = {"letters.xlsx": xlsx.layout()}
    return layers
