"""The `egiz` command: one console script, one subcommand module per component."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from egiz import __version__
from egiz.contracts.errors import EgizError

#: Subcommand modules in the order `egiz --help` lists them. Each defines
#: ``register(subparsers)`` adding its parser with ``set_defaults(func=...)``; ``func(args)``
#: returns the exit code.
COMMANDS = ("demo", "sim", "edge", "cloud", "model", "ledger", "certs", "schema")


def build_parser() -> argparse.ArgumentParser:
    """Return the full argument parser of `egiz`."""
    parser = argparse.ArgumentParser(
        prog="egiz",
        description="Egiz: digital-twin monitoring for industrial sites.",
    )
    parser.add_argument("--version", action="version", version=f"egiz {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"egiz.cli.{name}")
        except ModuleNotFoundError as err:
            # A component whose optional dependencies are not installed (an edge box has no
            # FastAPI) still lets every other subcommand work.
            if err.name and err.name.startswith("egiz.cli."):
                continue
            _missing_extra(sub, name, err)
            continue
        module.register(sub)
    return parser


def _missing_extra(sub: argparse._SubParsersAction, name: str, err: ModuleNotFoundError) -> None:
    def explain(_args: argparse.Namespace) -> int:
        raise EgizError(
            f"`egiz {name}` needs the Python package {err.name!r}, which is not installed "
            f"(fix: pip install 'egiz[{_EXTRA.get(name, 'dev')}]')"
        )

    p = sub.add_parser(name, help=f"(unavailable: {err.name} not installed)")
    p.set_defaults(func=explain)


_EXTRA = {"sim": "simulators", "edge": "edge", "cloud": "cloud", "model": "train", "demo": "dev"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run `egiz`; errors print as one line (``--debug`` shows the traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.debug:
        # Protocol libraries log every request at INFO; an operator wants our lines only.
        for noisy in ("asyncua", "httpx", "httpcore", "uvicorn.access", "amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except EgizError as err:
        if args.debug:
            raise
        print(f"egiz: error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # the last line of defence: one line, never a bare traceback
        if args.debug:
            raise
        print(
            f"egiz: error: {type(err).__name__}: {err} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
