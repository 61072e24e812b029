"""Helpers of the web tests (imported as ``web_helpers``: tests/ is not a package)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ramp_test_plugin import score_folds

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct-horse-9"
#: Debian's chromium package, driven by Playwright (no browser download)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: the browser tests run on SQLite only (the database paths are covered by the other tests)
SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def screenshot_dir(tmp_path: Path, *parts: str) -> Path:
    """Where screenshots go: $RAMP_SCREENSHOT_DIR if set (scripts/test sets it, CI keeps the
    folder as an artefact), else ``tmp_path``; ``parts`` name a subfolder."""
    target = Path(os.environ.get("RAMP_SCREENSHOT_DIR") or tmp_path).joinpath(*parts)
    target.mkdir(parents=True, exist_ok=True)
    return target


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The CSRF token the page at ``path`` embeds in its forms."""
    page = client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def signup(client: TestClient, name: str, *, email: str | None = None) -> None:
    """Sign ``name`` up through the form (the client is then logged in)."""
    token = csrf_of(client, "/signup")
    r = client.post(
        "/signup",
        data={
            "csrf_token": token,
            "name": name,
            "email": email or f"{name}@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def post_form(client: TestClient, path: str, data: dict | None = None, **kw):  # noqa: ANN201
    """POST a form with the session's CSRF token."""
    token = csrf_of(client, "/password-reset")
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kw)


def join(client: TestClient, event_name: str = "spipoll") -> None:
    r = post_form(client, f"/events/{event_name}/join", follow_redirects=False)
    assert r.status_code == 303, r.text


def score_submission(session, settings, submission_id: int, *, seed: int = 0) -> None:  # noqa: ANN001
    """Report random predictions for every fold (as the engine does): 1.5, 2.5, 3.5 s, 512 MB."""
    score_folds(
        session,
        settings,
        submission_id,
        seed=seed,
        train_time=(1.5, 2.5, 3.5),
        valid_time=0.2,
        test_time=0.3,
        peak_memory_mb=512.0,
    )


def make_admin(session, client: TestClient, name: str = "root") -> None:  # noqa: ANN001
    signup(client, name)
    from ramp_server.db.models import User

    user = session.query(User).filter_by(name=name).one()
    user.is_admin = True
    session.commit()


def queue_one(session, settings, event, name: str = "queued"):  # noqa: ANN001, ANN201
    from ramp_server.services import accounts, participants, submissions

    from ramp_test_plugin import read_starting_kit

    user = accounts.sign_up(
        session, name=f"u_{name}", email=f"{name}@example.org", password=PASSWORD
    )
    participants.join_event(session, event=event, user=user)
    session.commit()
    return submissions.submit(
        session, settings=settings, event=event, user=user, name=name, files=read_starting_kit()
    )
