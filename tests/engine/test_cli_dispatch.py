"""``ramp-server dispatch --until-idle``: trains everything queued, then exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from ramp_server.db.models import Blend, Submission, SubmissionState
from ramp_server.services import submissions as submission_service

from engine_support import submission_files


def test_dispatch_until_idle_trains_everything_queued_and_exits(
    session, settings, session_factory, engine_event, admin
):
    ids = [
        submission_service.submit(
            session,
            settings=settings,
            event=engine_event,
            user=admin,
            name=name,
            files=submission_files(folder),
        ).id
        for name, folder in (("quick", "quick"), ("broken", "raises_in_fit"))
    ]
    env = {
        **os.environ,
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
        "RAMP_REBLEND_DEBOUNCE_S": "0",
    }
    cli = Path(sys.executable).with_name("ramp-server")
    proc = subprocess.run(
        [str(cli), "dispatch", "--until-idle", "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 submission(s) scored" in proc.stdout
    with session_factory() as s:
        states = [s.get(Submission, i).state for i in ids]
        blends = s.scalars(select(Blend).where(Blend.event_id == engine_event.id)).all()
    assert states == [SubmissionState.SCORED, SubmissionState.ERROR]
    # the re-blend hook ran before the command exited: the scored submission is blended
    assert blends and blends[-1].n_submissions == 1


def test_dispatch_refuses_unsafe_mode_without_opt_in(settings):
    env = {
        **os.environ,
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
        "RAMP_SANDBOX": "unsafe-none",
    }
    cli = Path(sys.executable).with_name("ramp-server")
    proc = subprocess.run(
        [str(cli), "dispatch", "--until-idle"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "RAMP_ALLOW_UNSAFE_SANDBOX=true" in proc.stderr


def test_background_dispatcher_of_serve_trains_and_stops(
    session, settings, session_factory, engine_event, admin
):
    import time

    from ramp_server.engine.background import start_background_dispatcher

    sid = submission_service.submit(
        session,
        settings=settings,
        event=engine_event,
        user=admin,
        name="bg",
        files=submission_files("quick"),
    ).id
    handle = start_background_dispatcher(settings)
    try:
        deadline = time.monotonic() + 180
        state = None
        while time.monotonic() < deadline and handle.alive:
            with session_factory() as s:
                state = s.get(Submission, sid).state
            if state == SubmissionState.SCORED:
                break
            time.sleep(0.3)
    finally:
        handle.stop()
    assert handle.error is None
    assert state == SubmissionState.SCORED
    assert not handle.alive
