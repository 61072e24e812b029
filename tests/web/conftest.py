"""Web fixtures: the app on a real database (SQLite and PostgreSQL), a real event, helpers,
the app served by uvicorn on a loopback port and headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ramp_test_plugin import REPO_ROOT
from web_helpers import CHROMIUM, CHROMIUM_ARGS


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


@pytest.fixture
def live_server(app) -> Iterator[str]:  # noqa: ANN001
    """The app served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium (/usr/bin/chromium) launched by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
