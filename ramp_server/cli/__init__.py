"""The single ``ramp-server`` console command.

Each verb group lives in its own module of this package and exposes ``register(subparsers)``,
which adds its argparse parsers and sets ``func`` (called with the parsed namespace, returns an
exit code). Handlers import their heavy dependencies lazily so that the kit's verbs
(``data``, ``check``, ``blend``) work with only the kit's dependencies installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ramp_server.logs import setup_logging

#: modules of this package that contribute verbs, in help order
COMMAND_MODULES: tuple[str, ...] = (
    "data",
    "check",
    "blend",
    "server",
    "users",
    "events",
    "teams",
    "submissions",
    "engine",
)


__all__ = ["COMMAND_MODULES", "CliError", "build_parser", "main", "setup_logging"]


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ramp-server",
        description="Open RAMP platform for the SPIPOLL challenge: data, kit checks, blending, server.",
    )
    parser.add_argument(
        "--config", default=None, help="TOML settings file (default: $RAMP_CONFIG_FILE)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"ramp-server {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
