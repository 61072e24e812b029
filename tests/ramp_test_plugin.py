"""The project's pytest plugin (``pytest_plugins`` of ``tests/conftest.py``): shared fixtures and
the helpers every test folder uses, one per job.

- Databases on SQLite AND PostgreSQL: a test that asks for ``db_url``, ``settings``,
  ``session_factory`` or ``session`` runs twice, ``[sqlite]`` and ``[postgresql]``.
- The tiny synthetic kit (``tiny_kit``, ``kit_copy``), an event kit and an open event.
- :data:`REPO_ROOT`, :func:`free_port`, :func:`create_test_user`, :func:`create_test_event`,
  :func:`score_folds` (the engine's stand-in: synthetic predictions of every fold reported
  through the results service) and :func:`create_scored_submissions`.

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
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ramp_server.config import Settings, load_settings
from ramp_server.db.engine import make_engine, make_session_factory
from ramp_server.db.migrate import upgrade
from ramp_server.db.models import Base
from ramp_server.kit.folder import REPO_ROOT, write_kit_folder
from ramp_server.kit.taxa import N_CLASSES

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
#: images in the tiny data set: enough for the quick-test subset of problem.py
TINY_N = 400

__all__ = [
    "REPO_ROOT",
    "TINY_N",
    "free_port",
    "make_tiny_data",
    "read_starting_kit",
    "score_folds",
]


# -- the tiny kit ------------------------------------------------------------------------------


def make_tiny_data(data_dir: Path, *, n: int = TINY_N, seed: int = 0) -> Path:
    """Write a tiny kit data folder with the synthetic SPIPOLL generator."""
    from ramp_server.kit.synth import generate

    generate(data_dir, seed=seed, n=n, n_jobs=1, progress=False)
    return data_dir


@pytest.fixture(scope="session")
def tiny_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only kit root holding ``data/`` (tiny, cache already built). Do not modify it."""
    from ramp_server.kit import dataset

    root = tmp_path_factory.mktemp("tiny_kit")
    make_tiny_data(root / "data")
    for split in dataset.SPLITS:
        dataset.load_split(root / "data", split, progress=False)
    return root


@pytest.fixture
def kit_copy(tiny_kit: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of :func:`tiny_kit` (with its cache)."""
    root = tmp_path / "kit"
    shutil.copytree(tiny_kit, root)
    return root


# -- databases ---------------------------------------------------------------------------------


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
    """A kit folder for events: the repo's problem.py + starting kit + the tiny data (read-only)."""
    root = write_kit_folder(tmp_path_factory.mktemp("event_kit"))
    shutil.copytree(tiny_kit / "data", root / "data")
    return root


def read_starting_kit() -> dict[str, bytes]:
    """``{filename: bytes}`` of the repo's starting-kit submission (a valid upload)."""
    folder = REPO_ROOT / "submissions" / "starting_kit"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


@pytest.fixture(scope="session")
def starting_kit_files() -> dict[str, bytes]:
    """:func:`read_starting_kit`, as a fixture."""
    return read_starting_kit()


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


def fake_proba(rng: np.random.Generator, y: np.ndarray, quality: float | None) -> np.ndarray:
    """Probabilities putting ``quality`` of the mass on the true class and the rest on random
    Dirichlet(0.3) noise; ``quality=None``: uniform Dirichlet rows (float32), labels ignored."""
    if quality is None:
        return rng.dirichlet(np.ones(N_CLASSES), size=len(y)).astype(np.float32)
    noise = rng.dirichlet(np.full(N_CLASSES, 0.3), size=len(y))
    return quality * np.eye(N_CLASSES)[y] + (1 - quality) * noise


def score_folds(
    session: Session,
    settings: Settings,
    submission_id: int,
    *,
    quality: float | None = None,
    seed: int = 0,
    folds: Sequence[int] | None = None,
    with_train: bool = False,
    train_time: float | Sequence[float] = 1.0,
    valid_time: float = 0.1,
    test_time: float = 0.1,
    peak_memory_mb: float | Sequence[float] | None = None,
    on_scored=None,  # noqa: ANN001 - results.ScoredCallback
) -> None:
    """The engine's stand-in: report ``folds`` (default: all) of a submission through
    ``results.record_fold_result`` with :func:`fake_proba` predictions (seeded by ``seed``).
    ``train_time`` and ``peak_memory_mb`` are one value for every fold or one per fold."""
    from ramp_server.db.models import Submission
    from ramp_server.services import results
    from ramp_server.services.events import event_folds
    from ramp_server.services.predictions import event_labels

    event = session.get(Submission, submission_id).event
    y_train, y_test = event_labels(settings=settings, event=event)
    cv = event_folds(settings=settings, event=event)
    rng = np.random.default_rng(seed)
    for k in folds if folds is not None else range(event.n_folds):
        valid = fake_proba(rng, y_train[cv.valid[k]], quality)
        test = fake_proba(rng, y_test, quality)
        train = fake_proba(rng, y_train[cv.train[k]], quality) if with_train else None
        results.record_fold_result(
            session,
            settings=settings,
            submission_id=submission_id,
            fold=k,
            valid_proba=valid,
            test_proba=test,
            train_proba=train,
            train_time=_of_fold(train_time, k),
            valid_time=valid_time,
            test_time=test_time,
            peak_memory_mb=_of_fold(peak_memory_mb, k),
            on_scored=on_scored,
        )


def _of_fold(value, k: int):  # noqa: ANN001, ANN202 - a number, a sequence of them or None
    return value[k] if isinstance(value, Sequence) else value


def create_scored_submissions(
    session: Session, *, settings: Settings, event, user_id: int, n: int
) -> list[int]:
    """``n`` submissions of ``user_id``, submitted a second apart, each scored on every fold by
    :func:`score_folds` with predictions of increasing quality; their ids."""
    from ramp_server.db.models import Submission, SubmissionFold, SubmissionState, utcnow

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
        session.add_all(SubmissionFold(submission_id=sub.id, fold=k) for k in range(event.n_folds))
        session.commit()
        score_folds(session, settings, sub.id, quality=min(0.9, 0.2 + 0.1 * i), seed=i)
        ids.append(sub.id)
    return ids


@pytest.fixture
def event(session: Session, settings: Settings, event_kit: Path):
    """An open event ``spipoll`` (no delay, no quota) on the test database."""
    return create_test_event(session, settings=settings, kit=event_kit)
