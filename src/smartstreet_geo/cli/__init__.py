"""The ``smartstreet-geo`` command.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)``; the parser's ``func`` default is called with the
parsed arguments and returns the exit code.

Conventions on every command: ``-q/--quiet``, ``-v/--verbose`` and ``--debug``
before or after the sub-command; ``--out -`` writes a single-table output to
standard output (the counts then go to stderr); warnings and errors go to
stderr, counts and results to stdout; ``--help`` ends with examples.

Exit codes: 0 success (inputs usable), 1 the inputs or configuration are not
usable, an output cannot be written, ``--strict`` found warnings or rejects, or
anything else failed (one line ``error: ...`` on stderr says why; ``--debug``
shows the traceback), 2 wrong usage of the command, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM).
Outputs are all or nothing (:func:`smartstreet_geo.export.staged_output`):
a failed or interrupted run leaves an earlier result as it was.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module

from ..errors import SmartStreetGeoError
from ._common import (
    ConsoleFormatter,
    HelpFormatter,
    add_common_options,
    console_text,
    data_on_stdout,
)

__all__ = ["main"]

#: Sub-command modules, in the order ``--help`` lists them.
_COMMANDS = ("validate", "near", "circuits", "run", "partition", "map", "demo", "purge")

#: The examples that end each command's ``--help`` (indented lines are shown as they are).
EXAMPLES = {
    "validate": """examples:
  smartstreet-geo validate --customers customers.csv --equipment equipment.csv --out checks
  smartstreet-geo validate --customers customers.parquet --strict --out - > rejects.csv""",
    "near": """examples:
  smartstreet-geo near --customers customers.csv --equipment equipment.csv \\
      --radius oltc_transformer=50,lv_capacitor=30,link_box_switch=20 --out pairs.csv
  smartstreet-geo near ... --radius 50 --out - | head     (CSV on stdout, counts on stderr)
  smartstreet-geo near ... --radius 50 --out pairs.gpkg --geo gpkg   (QGIS layers too)""",
    "circuits": """examples:
  smartstreet-geo circuits --network edges.parquet --substations substations.parquet \\
      --customers customers.csv --circuit WGN01-F1 --isolate WGN01-F1-E0005 --out circuits""",
    "run": """examples:
  smartstreet-geo run campaign.toml --out wave1
  smartstreet-geo run campaign.toml --out wave1 --strict -q   (exit 1 on any warning)
  smartstreet-geo run campaign.toml --out wave1 --workers 2   (partitioned customers)""",
    "partition": """examples:
  smartstreet-geo partition campaign.toml --out customers_parts --partitions 8
      then in campaign.toml: [inputs] customers = "customers_parts"
  smartstreet-geo run campaign.toml --out wave1 --scheduler tcp://10.0.0.5:8786""",
    "map": """examples:
  smartstreet-geo map --customers customers.csv --equipment equipment.csv --tiles none \\
      --out map.html""",
    "demo": """examples:
  smartstreet-geo demo --out demo-run
  smartstreet-geo demo --out demo-run --force -q""",
    "purge": """examples:
  smartstreet-geo purge wave1 --dry-run
  smartstreet-geo purge wave1""",
}

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every available sub-command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="smartstreet-geo",
        description="Who to tell about new LV network equipment: validate inputs, "
        "find customers near equipment, run contact campaigns.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a command whose module is not there yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.add_parser(sub)
        command = sub.choices[name]
        add_common_options(command)
        command.formatter_class = HelpFormatter
        if command.epilog is None:
            command.epilog = EXAMPLES.get(name)
    return parser


def _log_level(args: argparse.Namespace) -> int:
    if args.debug:
        return logging.DEBUG
    if args.verbose:
        return logging.INFO
    if args.quiet:
        return logging.ERROR
    return logging.WARNING


def _os_error(exc: OSError) -> str:
    """One line for an operating-system error: what failed, on which path (no data)."""
    what = (exc.strerror or type(exc).__name__).lower()
    if exc.filename is None:
        return what
    if exc.filename2 is not None:
        return f"{what}: {exc.filename} -> {exc.filename2}"
    return f"{what}: {exc.filename}"


@contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143), so staging folders and locks are cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        print("terminated", file=sys.stderr)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Called as the ``smartstreet-geo`` program (``argv`` None), the objects the
    imports made, and those left when the command ends, are frozen out of the
    garbage collector (:func:`gc.freeze`): the collections during the run and at
    exit would otherwise walk all of them again and again, 0.1 s and 0.5 s on the
    demo campaign, to free nothing (the operating system frees the rest at exit).
    """
    code = _main(argv, freeze=argv is None)
    if argv is None:
        gc.freeze()
    return code


def _only_our_info(record: logging.LogRecord) -> bool:
    """Keep smartstreet-geo's own messages, and other libraries' warnings and errors only.

    Libraries that set their loggers' levels themselves (dask.distributed logs every
    worker start at INFO) would otherwise fill the console of a plain run.
    """
    return record.levelno >= logging.WARNING or record.name.startswith("smartstreet_geo")


def _main(argv: Sequence[str] | None, *, freeze: bool = False) -> int:
    parser = build_parser()
    if freeze:
        gc.freeze()  # the modules: they live as long as the process
    args = parser.parse_args(argv)
    data_on_stdout(False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter("%(levelname)s %(name)s: %(message)s"))
    if not (getattr(args, "verbose", 0) or getattr(args, "debug", False)):
        handler.addFilter(_only_our_info)  # e.g. a Dask cluster's start-up chatter
    logging.basicConfig(level=_log_level(args), handlers=[handler])
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _terminate_cleanly():
            code: int = args.func(args)
    except SmartStreetGeoError as exc:
        if args.debug:
            raise
        print(f"error: {console_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a permission refused half-way: one line
        if args.debug:
            raise
        print(f"error: {console_text(_os_error(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        # The type only: a message from deep inside a library may quote a value from the data.
        print(
            f"error: unexpected {type(exc).__name__} (a bug in smartstreet-geo); "
            "run again with --debug to see where, and please report it",
            file=sys.stderr,
        )
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
