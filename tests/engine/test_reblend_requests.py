"""A withdrawal on the web site is blended by the dispatcher running as another process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ramp_server.blending.synthetic import synthetic_proba
from ramp_server.db.models import Blend, Submission, SubmissionFold, SubmissionState, utcnow
from ramp_server.db.testing import create_test_user
from ramp_server.services import results
from ramp_server.services.blend_requests import blend_request_of
from ramp_server.services.events import event_folds
from ramp_server.storage import Storage

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _scored_submissions(session, settings, event, user, n):
    """``n`` submissions scored through the results service, as the engine reports them."""
    storage = Storage.from_settings(settings)
    y_train = np.load(storage.public_dir(event.name) / "train_labels.npy")
    y_test = np.load(storage.test_labels_path(event.name))
    folds = event_folds(settings=settings, event=event)
    ids = []
    for i in range(n):
        sub = Submission(
            event_id=event.id,
            user_id=user.id,
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
                valid_proba=synthetic_proba(rng, y_train[valid], 18, strength=1.0 + i),
                test_proba=synthetic_proba(rng, y_test, 18, strength=1.0 + i),
                train_time=1.0,
                valid_time=0.1,
                test_time=0.1,
            )
        ids.append(sub.id)
    return ids


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _wait_for_blend(session_factory, event_id, n_submissions, proc, timeout=240.0) -> Blend:
    """The newest blend once it holds ``n_submissions`` and no request is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the dispatcher exited"
        with session_factory() as s:
            last = s.scalars(
                select(Blend).where(Blend.event_id == event_id).order_by(Blend.id.desc())
            ).first()
            pending = blend_request_of(s, event_id=event_id)
            if last is not None and last.n_submissions == n_submissions and pending is None:
                return last
        time.sleep(0.2)
    raise AssertionError(f"no blend of {n_submissions} submissions within {timeout} s")


@pytest.mark.parametrize("db_backend", ["sqlite", "postgresql"])
def test_withdrawal_on_the_web_site_is_reblended_by_the_dispatcher_process(
    session, settings, session_factory, db_engine, engine_event, tmp_path
):
    from ramp_server.web.app import create_app

    ann = create_test_user(session, "ann")
    ids = _scored_submissions(session, settings, engine_event, ann, 3)
    env = {
        **os.environ,
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
        "RAMP_REBLEND_DEBOUNCE_S": "0",
        "RAMP_REBLEND_POLL_S": "0.2",
    }
    cli = Path(sys.executable).with_name("ramp-server")
    log = (tmp_path / "dispatch.log").open("w")
    proc = subprocess.Popen(
        [str(cli), "dispatch", "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        # the scores' requests, left in the database, are blended by the other process
        first = _wait_for_blend(session_factory, engine_event.id, 3, proc)
        assert any(ids[2] in picks for picks in first.details["picks"])

        with TestClient(create_app(settings, engine=db_engine)) as web:
            r = web.post(
                "/login",
                data={
                    "csrf_token": _csrf(web, "/login"),
                    "login": "ann",
                    "password": "password-ann",
                },
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            r = web.post(
                f"/submissions/{ids[2]}/withdraw",
                data={"csrf_token": _csrf(web, f"/submissions/{ids[2]}")},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text

            second = _wait_for_blend(session_factory, engine_event.id, 2, proc)
            assert second.id > first.id
            assert all(ids[2] not in picks for picks in second.details["picks"])
            page = web.get("/events/spipoll").text
            assert "re-blend pending" not in page
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "dispatch.log").read_text()[-3000:]
    with session_factory() as s:
        contributivity = {i: s.get(Submission, i).contributivity for i in ids}
    assert contributivity[ids[2]] == 0.0
    assert sum(contributivity.values()) == pytest.approx(1.0)
