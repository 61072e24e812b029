"""Web fixtures: the app on a real database (SQLite and PostgreSQL), a real event, helpers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import REPO_ROOT


@pytest.fixture(scope="session")
def web_kit(tiny_kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kit folder: the repository's problem.py and starting kit, the tiny data set."""
    root = tmp_path_factory.mktemp("web_kit")
    shutil.copy(REPO_ROOT / "problem.py", root / "problem.py")
    shutil.copytree(
        REPO_ROOT / "submissions" / "starting_kit",
        root / "submissions" / "starting_kit",
        ignore=shutil.ignore_patterns("__pycache__", "training_output"),
    )
    (root / "data").symlink_to(tiny_kit / "data", target_is_directory=True)
    return root


@pytest.fixture
def app(settings, db_engine):  # noqa: ANN001, ANN201
    from ramp_server.web.app import create_app

    return create_app(settings, engine=db_engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as c:
        yield c


@pytest.fixture
def other_client(app) -> Iterator[TestClient]:  # noqa: ANN001
    """A second browser (another participant)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def make_event(session, settings, web_kit):  # noqa: ANN001, ANN201
    """Create an event from the kit through the events service (rules as keyword arguments)."""
    from ramp_server.services import events

    def make(slug: str = "spipoll", **rules):  # noqa: ANN202, ANN003
        event = events.create_event_from_kit(
            session, settings=settings, slug=slug, kit_dir=web_kit, **rules
        )
        session.commit()
        return event

    return make


@pytest.fixture
def event(make_event):  # noqa: ANN001, ANN201
    return make_event()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with minimal cost parameters: the same code paths, ~100x faster sign-ups.

    The default parameters cost ~0.4 s per hash on the CI machine; the web tests sign up dozens
    of users.
    """
    from argon2 import PasswordHasher

    from ramp_server.services import passwords

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: fast)
