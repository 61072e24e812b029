"""Pytest fixtures for database tests on SQLite AND PostgreSQL (imported by tests' conftests).

Use ``from ramp_server.db.testing import *`` in a ``conftest.py`` (or list this module in the root
conftest's ``pytest_plugins``). A test that asks for ``db_url``, ``settings``, ``session_factory``
or ``session`` runs twice: ``[sqlite]`` and ``[postgresql]``.

PostgreSQL: one fresh database per test session (``ramp_test_<pid>_<random>`` on the server of
``RAMP_TEST_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
migrated once with Alembic, emptied after every test and dropped at the end. If the server is
unreachable the fixture fails (it never skips): start PostgreSQL or fix the URL.
SQLite: one migrated template file per session, copied for every test.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ramp_server.config import Settings, load_settings
from ramp_server.db.engine import make_engine, make_session_factory
from ramp_server.db.migrate import upgrade
from ramp_server.db.models import Base
from ramp_server.kit.folder import REPO_ROOT, write_kit_folder

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")

__all__ = [
    "create_test_event",
    "create_test_user",
    "db_backend",
    "event",
    "event_kit",
    "db_engine",
    "db_url",
    "postgres_template_url",
    "session",
    "session_factory",
    "settings",
    "sqlite_template_path",
    "starting_kit_files",
]


def _admin_url() -> str:
    return os.environ.get("RAMP_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_template_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped at the end)."""
    from sqlalchemy import create_engine

    admin = make_url(_admin_url())
    name = f"ramp_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure is reported the same way
        admin_engine.dispose()
        pytest.fail(
            f"PostgreSQL is required for the database tests but {admin.render_as_string()} is "
            f"unreachable ({type(exc).__name__}: {exc}). Start it (scripts/test does) or set "
            "RAMP_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url=url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test."""
    path = tmp_path_factory.mktemp("sqlite_template") / "ramp.sqlite3"
    engine = make_engine(url=f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: every database test runs on both."""
    return request.param


def _empty_postgres(url: str) -> None:
    # DELETE beats TRUNCATE on tiny tables (TRUNCATE rewrites files): ~10x faster per test
    engine = make_engine(url=url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database of the current backend."""
    if db_backend == "sqlite":
        template = request.getfixturevalue("sqlite_template_path")
        path = tmp_path / "db" / "ramp.sqlite3"
        path.parent.mkdir()
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_template_url")
    try:
        yield url
    finally:
        _empty_postgres(url)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings on the test database with a fresh storage directory."""
    storage = tmp_path / "storage"
    storage.mkdir()
    return load_settings(storage_dir=storage, database_url=db_url)


@pytest.fixture
def db_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session; the test commits what it wants visible to other sessions."""
    s = session_factory()
    yield s
    s.rollback()
    s.close()


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- domain fixtures: a kit, users, an event --------------------------------------------------


@pytest.fixture(scope="session")
def event_kit(tiny_kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kit folder for events: the repo's problem.py + starting kit + the tiny data (read-only).

    Needs the ``tiny_kit`` fixture of ``tests/conftest.py``.
    """
    root = write_kit_folder(tmp_path_factory.mktemp("event_kit"))
    shutil.copytree(tiny_kit / "data", root / "data")
    return root


@pytest.fixture(scope="session")
def starting_kit_files() -> dict[str, bytes]:
    """``{filename: bytes}`` of the repo's starting-kit submission (a valid upload)."""
    folder = REPO_ROOT / "submissions" / "starting_kit"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


def create_test_user(session: Session, name: str, *, admin: bool = False):
    """A committed user ``name`` (password ``password-<name>``, hashed with cheap argon2
    parameters: the production ones cost ~1 s on a busy 2-core machine)."""
    from argon2 import PasswordHasher

    from ramp_server.db.models import User

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    user = User(
        name=name,
        email=f"{name}@example.org",
        password_hash=cheap.hash(f"password-{name}"),
        is_admin=admin,
    )
    session.add(user)
    session.commit()
    return user


def create_test_event(
    session: Session, *, settings: Settings, kit: Path, slug: str = "spipoll", **rules
):
    """A committed event created from ``kit`` through the events service."""
    from ramp_server.services.events import create_event_from_kit

    ev = create_event_from_kit(session, settings=settings, slug=slug, kit_dir=kit, **rules)
    session.commit()
    return ev


def create_scored_submissions(
    session: Session, *, settings: Settings, event, user_id: int, n: int
) -> list[int]:
    """``n`` submissions of ``user_id``, each scored on every fold through the results service
    (as the engine reports them) with synthetic predictions of increasing quality; their ids."""
    from datetime import timedelta

    import numpy as np

    from ramp_server.blending.synthetic import synthetic_proba
    from ramp_server.db.models import Submission, SubmissionFold, SubmissionState, utcnow
    from ramp_server.kit.taxa import N_CLASSES as n_classes
    from ramp_server.services import results
    from ramp_server.services.events import event_folds
    from ramp_server.storage import Storage

    storage = Storage.from_settings(settings)
    y_train = np.load(storage.public_dir(event.name) / "train_labels.npy")
    y_test = np.load(storage.test_labels_path(event.name))
    folds = event_folds(settings=settings, event=event)
    ids = []
    for i in range(n):
        sub = Submission(
            event_id=event.id,
            user_id=user_id,
            name=f"m{i}",
            state=SubmissionState.TRAINING,
            submitted_at=utcnow() + timedelta(seconds=i),
        )
        session.add(sub)
        session.flush()
        session.add_all(
            SubmissionFold(submission_id=sub.id, fold=k) for k in range(len(folds.valid))
        )
        session.commit()
        rng = np.random.default_rng(i)
        for k, valid in enumerate(folds.valid):
            results.record_fold_result(
                session,
                settings=settings,
                submission_id=sub.id,
                fold=k,
                valid_proba=synthetic_proba(rng, y_train[valid], n_classes, strength=1.0 + i),
                test_proba=synthetic_proba(rng, y_test, n_classes, strength=1.0 + i),
                train_time=1.0,
                valid_time=0.1,
                test_time=0.1,
            )
        ids.append(sub.id)
    return ids


@pytest.fixture
def event(session: Session, settings: Settings, event_kit: Path):
    """An open event ``spipoll`` (no delay, no quota) on the test database."""
    return create_test_event(session, settings=settings, kit=event_kit)
