"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned for a multi-process server: WAL journal (readers never block the writer), foreign
keys on, and a long busy timeout so that concurrent writers wait instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url, update
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from ramp_server.config import Settings

SQLITE_BUSY_TIMEOUT_S = 60


def make_engine(
    settings: Settings | None = None, *, url: str | None = None, **kwargs: Any
) -> Engine:
    """An engine for ``settings.db_url`` (or an explicit ``url``).

    For a file SQLite database its directory is created, and every connection gets WAL mode,
    foreign keys and a busy timeout.
    """
    if url is None:
        if settings is None:
            raise TypeError("make_engine needs settings or url")
        url = settings.db_url
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(u, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def lock_row(session: Session, model: type, row_id: int) -> None:
    """Serialize writers on one row until the end of the current transaction.

    A no-op ``UPDATE`` as the first statement: on PostgreSQL it takes the row lock, on SQLite it
    opens the write transaction (so the reads that follow see the latest committed data and no
    other writer can interleave). Portable replacement for ``SELECT ... FOR UPDATE``.
    """
    table = model.__table__  # type: ignore[attr-defined]
    session.execute(update(table).where(table.c.id == row_id).values(id=table.c.id))


@contextmanager
def open_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on the settings' database; the engine is disposed on exit (CLI use)."""
    engine = make_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
