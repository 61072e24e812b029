"""What every database verb of ``ramp-server`` opens: settings, the database, one session.

:func:`service_session` is the one place where a verb's settings are read (``--config``,
``RAMP_*``), its database opened and closed, its session committed or rolled back, and a
service's :class:`~ramp_server.services.ServiceError` turned into a :class:`CliError` (printed
without a traceback, exit code 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ramp_server.cli import CliError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ramp_server.config import Settings


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings honouring ``--config``, ``RAMP_DATABASE_URL`` and ``RAMP_STORAGE_DIR``."""
    from ramp_server.config import load_settings

    try:
        return load_settings(getattr(args, "config", None))
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc


@contextmanager
def service_session(
    args: argparse.Namespace, *, settings: Settings | None = None
) -> Iterator[tuple[Settings, Session]]:
    """``(settings, session)`` for one verb: committed when the block ends normally, rolled
    back on an error; a :class:`ServiceError` becomes a :class:`CliError` with its message."""
    from ramp_server.db.engine import open_database, session_scope
    from ramp_server.services import ServiceError

    settings = settings or settings_from_args(args)
    with open_database(settings) as factory:
        try:
            with session_scope(factory) as session:
                yield settings, session
        except ServiceError as exc:
            raise CliError(str(exc)) from exc
