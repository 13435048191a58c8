"""The ``smartstreet-geo`` command.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)``; the parser's ``func`` default is called with the
parsed arguments and returns the exit code.

Exit codes: 0 success (inputs usable), 1 the inputs or configuration are not
usable (the message says why), 2 wrong usage of the command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import import_module

from ..errors import SmartStreetGeoError

__all__ = ["main"]

#: Sub-command modules, in the order ``--help`` lists them.
_COMMANDS = ("validate", "near", "circuits", "run", "map", "demo")

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except SmartStreetGeoError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
