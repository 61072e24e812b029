"""A withdrawal on the web site is blended by the dispatcher running as another process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ramp_server.db.models import Blend, Submission
from ramp_server.services.blend_requests import blend_request_of

from ramp_test_plugin import create_scored_submissions, create_test_user

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


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
    ids = create_scored_submissions(
        session, settings=settings, event=engine_event, user_id=ann.id, n=3
    )
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
