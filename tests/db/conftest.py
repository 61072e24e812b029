"""Database fixtures on SQLite and PostgreSQL (see ramp_server.db.testing)."""

from ramp_server.db.testing import *  # noqa: F403
