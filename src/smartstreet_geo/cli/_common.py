"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ColumnMappingError
from ..export import OutputError
from ..io import NetworkReadResult, ReadResult

if TYPE_CHECKING:
    from ..export import StagedFolder

_KINDS = ("customers", "equipment", "edges", "substations")

#: ``--out -``: the table goes to standard output (and the console lines to stderr).
STDOUT = Path("-")
#: Whether standard output carries data this run (then :func:`echo` writes to stderr).
_data_on_stdout = False


def add_common_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Add ``-q/--quiet``, ``-v/--verbose`` and ``--debug``, before or after the sub-command.

    The top-level parser holds the defaults; a sub-command's copies default to
    "not given" (``argparse.SUPPRESS``) so that ``smartstreet-geo --debug near``
    and ``smartstreet-geo near --debug`` are the same and neither undoes the other.
    An option the sub-command already defines is left to it.
    """
    given = parser._option_string_actions
    default = {} if top else {"default": argparse.SUPPRESS}
    if "--quiet" not in given and "-q" not in given:
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress bars; log errors only",
            **({"default": False} if top else default),
        )
    if "--verbose" not in given and "-v" not in given:
        parser.add_argument(
            "-v",
            "--verbose",
            action="count",
            help="log what is done (counts and file names, never personal data)",
            **({"default": 0} if top else default),
        )
    if "--debug" not in given:
        parser.add_argument(
            "--debug",
            action="store_true",
            help="show full tracebacks and debug logging",
            **({"default": False} if top else default),
        )


class HelpFormatter(argparse.HelpFormatter):
    """Wrap paragraphs as usual but keep indented lines (the examples) as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        para: list[str] = []

        def flush() -> None:
            if para:
                out.append(super(HelpFormatter, self)._fill_text(" ".join(para), width, indent))
                para.clear()

        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                flush()
                out.append(indent + line if line.strip() else "")
            else:
                para.append(line.strip())
        flush()
        return "\n".join(out)


def data_on_stdout(flag: bool) -> None:
    """Say whether standard output carries data (``--out -``): console lines then go to stderr."""
    global _data_on_stdout
    _data_on_stdout = flag


def is_stdout(out: Path | None) -> bool:
    """Return whether ``--out`` is ``-`` (standard output)."""
    return out is not None and str(out) == "-"


def write_stdout(data: bytes) -> None:
    """Write ``data`` to standard output as bytes (a table for a pipe)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def warn(text: str) -> None:
    """Print a warning line on stderr (counts, ids and paths only)."""
    print(f"warning: {console_text(text)}", file=sys.stderr)


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """Add the options every input-reading command shares (mapping, CRS, encoding, checks)."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="KIND:COLUMN=CANONICAL",
        help="map a column name, e.g. --map customers:MPAN=customer_id "
        f"(KIND is one of {', '.join(_KINDS)}); repeat as needed",
    )
    parser.add_argument(
        "--crs", help="CRS of a geometry column that has none of its own, e.g. EPSG:27700"
    )
    parser.add_argument(
        "--encoding", help="text encoding of CSV inputs (default UTF-8, BOM or not), e.g. cp1252"
    )
    parser.add_argument(
        "--no-postcode-check",
        action="store_true",
        help="do not check customer coordinates against their postcode districts",
    )
    loc = parser.add_argument_group(
        "placing customers without coordinates (by UPRN, then address, then postcode)"
    )
    loc.add_argument(
        "--locate-uprn", type=Path, metavar="FILE", help="OS Open UPRN CSV/zip/Parquet"
    )
    loc.add_argument(
        "--locate-addresses", type=Path, metavar="FILE", help="AddressBase Plus CSV/zip"
    )
    loc.add_argument(
        "--locate-codepoint", type=Path, metavar="FILE", help="OS Code-Point Open zip or folder"
    )


def column_maps(specs: Sequence[str]) -> dict[str, dict[str, str]]:
    """Parse ``--map`` values into ``{kind: {file column: canonical}}``."""
    maps: dict[str, dict[str, str]] = {k: {} for k in _KINDS}
    for spec in specs:
        kind, sep, rest = spec.partition(":")
        src, eq, dst = rest.partition("=")
        if not sep or not eq or kind not in maps or not src or not dst:
            raise ColumnMappingError(
                f"--map {spec!r}: write KIND:COLUMN=CANONICAL, e.g. customers:MPAN=customer_id, "
                f"with KIND one of {', '.join(_KINDS)}."
            )
        maps[kind][src] = dst
    return maps


#: Characters that would act on the terminal instead of being shown: C0/C1 controls (an
#: ESC starts a terminal escape sequence), DEL, and the Unicode bidirectional controls that
#: reorder what is shown (a "Trojan Source" id). Line feeds are kept: messages have lines.
_UNSHOWABLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def console_text(text: object) -> str:
    r"""Return ``text`` with terminal-active characters written as visible escapes.

    An id or a campaign name from an input file reaches the console in
    counts, warnings and errors; an ESC or a right-to-left override in it must
    be shown, not obeyed.

    Examples
    --------
    >>> console_text("EQ\x1b[31m1 \u202eabc")
    'EQ\\x1b[31m1 \\u202eabc'
    """
    return _UNSHOWABLE.sub(lambda m: ascii(m.group())[1:-1], str(text))


class ConsoleFormatter(logging.Formatter):
    """A log formatter whose output is :func:`console_text` (log lines quote ids)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` and escape terminal-active characters."""
        return console_text(super().format(record))


def note(text: str) -> None:
    """Print a one-line note on stderr (counts and paths only)."""
    print(f"note: {console_text(text)}", file=sys.stderr)


def staged_out_dir(
    out: Path, *, force: bool, names: Collection[str] | None
) -> AbstractContextManager[StagedFolder]:
    """Hold ``--out`` for the whole run: checked and locked now, written all or nothing.

    Enter it before the work: a path that is a file or a dangling link, a
    read-only folder, a non-empty folder without ``--force``, or another run
    writing the same folder is refused before anything is computed.
    """
    from ..export import staged_output

    return staged_output(out, force=force, names=names, report=note, what="--out")


def out_file(out: Path, *, force: bool) -> AbstractContextManager[Path]:
    """Hold the single output file ``--out`` for the whole run (checked, locked)."""
    from ..export import output_file

    return output_file(out, force=force, report=note, what="--out")


def prepare_out_dir(out: Path, *, force: bool) -> Path:
    """Create ``out``; refuse a file, a dangling link, a read-only or non-empty folder.

    Prefer :func:`staged_out_dir` (all or nothing); this one writes in place.
    """
    from ..export import _absolute, _check_folder_target, _ensure_parent

    target = _absolute(out, "--out")
    if target.exists() and not target.is_dir():
        raise OutputError(f"--out {out}: is a file, not a folder; choose a folder name.")
    _ensure_parent(target, "--out", out)
    _check_folder_target(target, force=force, names=None, what="--out", shown=out)
    target.mkdir(exist_ok=True, mode=0o700)
    return out


def echo(text: str = "") -> None:
    """Print a line of console output (counts only; never personal data).

    On stdout, or on stderr when stdout carries the data (``--out -``).
    """
    print(console_text(text), file=sys.stderr if _data_on_stdout else sys.stdout)


def read_customers_arg(args: argparse.Namespace, maps: dict[str, dict[str, str]]) -> ReadResult:
    """Read ``--customers`` with the shared input options."""
    from ..io import read_customers

    refs = {
        "uprn_gazetteer": getattr(args, "locate_uprn", None),
        "addresses": getattr(args, "locate_addresses", None),
        "codepoint": getattr(args, "locate_codepoint", None),
    }
    return read_customers(
        args.customers,
        columns=maps["customers"] or None,
        crs=args.crs,
        encoding=args.encoding,
        check_postcodes=not args.no_postcode_check,
        locate=refs if any(refs.values()) else None,
    )


def read_equipment_arg(args: argparse.Namespace, maps: dict[str, dict[str, str]]) -> ReadResult:
    """Read ``--equipment`` with the shared input options."""
    from ..io import read_equipment

    return read_equipment(
        args.equipment, columns=maps["equipment"] or None, crs=args.crs, encoding=args.encoding
    )


def read_network_arg(
    args: argparse.Namespace, maps: dict[str, dict[str, str]]
) -> NetworkReadResult:
    """Read ``--network`` (and ``--substations``) with the shared input options."""
    from ..io import read_network

    return read_network(
        args.network,
        args.substations,
        edge_columns=maps["edges"] or None,
        substation_columns=maps["substations"] or None,
        crs=args.crs,
        encoding=args.encoding,
    )


def report_read(label: str, r: ReadResult) -> None:
    """Print a file's counts (no personal data)."""
    echo(f"{label}: read {r.n_input:,}, valid {r.n_valid:,}, rejected {r.n_rejected:,}")


def check_out_file(out: Path, *, force: bool, example: str) -> None:
    """Refuse a folder, a dangling link or an existing file (without ``--force``) as ``--out``."""
    from ..export import check_output_file

    if out.is_dir():
        raise OutputError(f"--out {out}: is a folder; give a file name such as {example}.")
    check_output_file(out, force=force, what="--out")
