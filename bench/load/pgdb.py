"""A throwaway PostgreSQL database for one bench run: created before, dropped after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_database(
    admin_url: str = PG_ADMIN_URL, *, prefix: str = "ramp_bench"
) -> Iterator[str]:
    """Create an empty database ``<prefix>_<pid>`` on ``admin_url``'s server, yield its URL,
    drop it (closing its connections) on the way out, whatever happened."""
    from sqlalchemy import create_engine, make_url, text

    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
