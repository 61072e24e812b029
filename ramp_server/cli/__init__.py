"""The single ``ramp-server`` console command.

Each verb group lives in its own module of this package and exposes ``register(subparsers)``,
which adds its argparse parsers and sets ``func`` (called with the parsed namespace, returns an
exit code). Handlers import their heavy dependencies lazily so that the kit's verbs
(``data``, ``check``, ``blend``) work with only the kit's dependencies installed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

#: modules of this package that contribute verbs, in help order
COMMAND_MODULES: tuple[str, ...] = (
    "data",
    "check",
    "blend",
    "server",
    "users",
    "events",
    "submissions",
    "engine",
)


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def setup_logging() -> None:
    """INFO logs of the platform on stderr; Dask's own chatter only from WARNING up."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # the local cluster's worker processes configure their logging from the environment
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


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
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a verb group not written yet
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.register(sub)
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
