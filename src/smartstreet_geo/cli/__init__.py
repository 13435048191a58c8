"""The ``smartstreet-geo`` command.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)``; the parser's ``func`` default is called with the
parsed arguments and returns the exit code.

Exit codes: 0 success (inputs usable), 1 the inputs or configuration are not
usable, an output cannot be written, or anything else failed (one line
``error: ...`` on stderr says why; ``--debug`` shows the traceback), 2 wrong
usage of the command, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Outputs are all or nothing (:func:`smartstreet_geo.export.staged_output`):
a failed or interrupted run leaves an earlier result as it was.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module

from ..errors import SmartStreetGeoError
from ._common import ConsoleFormatter, console_text

__all__ = ["main"]

#: Sub-command modules, in the order ``--help`` lists them.
_COMMANDS = ("validate", "near", "circuits", "run", "map", "demo", "purge")

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
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and debug logging"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a command whose module is not there yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


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
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[handler])
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
