"""Helpers of the web tests (imported as ``web_helpers``: tests/ is not a package)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[2]
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


def starting_kit_files() -> dict[str, bytes]:
    base = REPO_ROOT / "submissions" / "starting_kit"
    return {f: (base / f).read_bytes() for f in ("image_preprocessor.py", "batch_classifier.py")}


def score_submission(session, settings, submission_id: int, *, seed: int = 0) -> None:  # noqa: ANN001
    """Report predictions for every fold through the results service (as the engine does)."""
    from ramp_server.db.models import Submission
    from ramp_server.services import events, results

    sub = session.get(Submission, submission_id)
    event = sub.event
    folds = events.event_folds(settings=settings, event=event)
    rng = np.random.default_rng(seed)
    for k in range(event.n_folds):
        n_valid = len(folds.valid[k])
        valid = rng.dirichlet(np.ones(18), size=n_valid).astype(np.float32)
        test = rng.dirichlet(np.ones(18), size=event.n_test).astype(np.float32)
        results.record_fold_result(
            session,
            settings=settings,
            submission_id=submission_id,
            fold=k,
            valid_proba=valid,
            test_proba=test,
            train_time=1.5 + k,
            valid_time=0.2,
            test_time=0.3,
            peak_memory_mb=512.0,
        )
