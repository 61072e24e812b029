"""Engine fixtures: a real Dask LocalCluster (worker processes), the real sandbox, a real database.

Engine tests run on SQLite by default (``db_backend`` is overridden below); the end-to-end test
is parametrized on PostgreSQL too. Sandbox limits are short so that the area stays quick.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine_support
from engine_support import EVENT_RULES, SECRET_MARKER
from ramp_test_plugin import create_test_event, create_test_user


@pytest.fixture(scope="session", autouse=True)
def _session_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let ``sandbox_processes`` recognise this session's sandboxes by the paths they bind."""
    engine_support.SESSION_TMP[:] = [f"{tmp_path_factory.getbasetemp()}/"]


@pytest.fixture(params=["sqlite"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Engine tests use SQLite unless a test parametrizes ``db_backend`` itself."""
    return request.param


@pytest.fixture(scope="session")
def dask_client() -> Iterator:
    """A LocalCluster of two single-threaded worker processes whose environment holds secrets."""
    from distributed import Client, LocalCluster

    planted = {
        "RAMP_SECRET_KEY": SECRET_MARKER,
        "RAMP_DATABASE_URL": f"postgresql://user:{SECRET_MARKER}@db/ramp",
        "GITHUB_TOKEN": SECRET_MARKER,
    }
    saved = {k: os.environ.get(k) for k in planted}
    os.environ.update(planted)
    try:
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def engine_event(session, settings, event_kit):
    """An event with short limits; the storage also holds a planted secret file."""
    ev = create_test_event(session, settings=settings, kit=event_kit, **EVENT_RULES)
    (Path(settings.storage_dir) / "secret.txt").write_text(SECRET_MARKER)
    return ev


@pytest.fixture
def admin(session):
    return create_test_user(session, "alice", admin=True)
