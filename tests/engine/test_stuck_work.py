"""Stuck work cannot stay stuck: a worker frozen with SIGSTOP in the middle of a fold, with every
piece a real process (``dask scheduler``, two ``dask worker``, ``ramp-server dispatch``,
``ramp-server serve``), on SQLite and PostgreSQL.

The dispatcher must notice the silent worker within ``RAMP_WORKER_TIMEOUT_S``, requeue the fold
(not charged), retire the worker, and the other worker must train it; the submission (its API
status and its page) says what happened, and the operations view shows the retired worker.
"""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest
from sqlalchemy import select

from ramp_server.db.models import EngineWorker, FoldState, Submission, SubmissionFold
from ramp_server.services.accounts import create_api_token
from ramp_server.services.participants import join_event

from engine_support import SUBMISSIONS, Processes, sandbox_processes, wait_until, web_up
from ramp_test_plugin import create_test_user

WORKER_TIMEOUT_S = 4


def _slow_folder(tmp):  # noqa: ANN001, ANN202 - about 15 s of fit per fold
    folder = tmp / "slower"
    folder.mkdir(exist_ok=True)
    for p in (SUBMISSIONS / "slow").glob("*.py"):
        (folder / p.name).write_text(p.read_text().replace("N_STEPS = 12", "N_STEPS = 30"))
    return folder


def _training_on(session_factory, submission_id: int) -> dict[str, int]:
    """``{worker address: fold}`` of the submission's folds training and reporting progress."""
    with session_factory() as s:
        rows = s.execute(
            select(SubmissionFold.worker, SubmissionFold.fold).where(
                SubmissionFold.submission_id == submission_id,
                SubmissionFold.state == FoldState.TRAINING,
                SubmissionFold.progress.is_not(None),
                SubmissionFold.worker.is_not(None),
            )
        ).all()
    return dict(rows)


def _worker_pid(procs: Processes, address: str) -> tuple[str, int]:
    """The name and pid of the worker process listening at ``address`` (from its log)."""
    for name, proc in procs.procs.items():
        if name.startswith("worker") and re.search(re.escape(address) + r"\b", procs.log(name)):
            return name, proc.pid
    raise AssertionError(f"no worker process logged {address}")


@pytest.mark.parametrize("db_backend", ["sqlite", "postgresql"])
def test_a_frozen_worker_is_retired_and_its_fold_retrained_elsewhere(
    session, settings, session_factory, engine_event, tmp_path
):
    event = engine_event
    event.fold_time_limit_s = 300  # far above the heartbeat timeout: that is what fires
    user = create_test_user(session, "fay")
    join_event(session, event=event, user=user)
    _, token = create_api_token(session, user=user, name="stuck")
    session.commit()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAMP_")},
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
        "RAMP_SECRET_KEY": settings.secret_key,
        "RAMP_WORKER_TIMEOUT_S": str(WORKER_TIMEOUT_S),
        "RAMP_REBLEND_DEBOUNCE_S": "0",
        "DASK_LOGGING__DISTRIBUTED": "info",  # the workers log their address
    }
    procs = Processes(tmp_path, env)
    frozen_pid = None
    try:
        procs.start("scheduler")
        for name in ("worker-a", "worker-b"):
            procs.start(name, "--nthreads", "1")
        procs.start("web")
        procs.start("dispatcher")
        wait_until(lambda: web_up(procs.url), 180, "the web server answers", procs)
        auth = {"Authorization": f"Bearer {token}"}
        files = [
            ("files", (p.name, p.read_bytes(), "text/x-python"))
            for p in sorted(_slow_folder(tmp_path).glob("*.py"))
        ]
        r = httpx.post(
            f"{procs.url}/api/events/{event.name}/submissions",
            data={"name": "slow"},
            files=files,
            headers=auth,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]

        # both workers train a fold of it; freeze one in the middle of its fold
        training = wait_until(
            lambda: (t := _training_on(session_factory, sid)) and len(t) == 2 and t,
            180,
            "two folds training on the two workers",
            procs,
        )
        address, fold = sorted(training.items())[0]
        name, frozen_pid = _worker_pid(procs, address)
        os.kill(frozen_pid, signal.SIGSTOP)
        frozen_at = time.monotonic()

        def requeued() -> bool:
            with session_factory() as s:
                row = s.scalar(
                    select(SubmissionFold).where(
                        SubmissionFold.submission_id == sid, SubmissionFold.fold == fold
                    )
                )
                return (
                    bool(row.notes)
                    and row.state != FoldState.TRAINING
                    or (bool(row.notes) and row.attempts >= 2)
                )

        wait_until(requeued, 90, "the frozen worker's fold is requeued", procs)
        noticed_s = time.monotonic() - frozen_at
        assert noticed_s < WORKER_TIMEOUT_S + 30  # bounded: the timeout plus a few rounds

        def scored() -> bool:
            with session_factory() as s:
                return s.get(Submission, sid).state.value == "scored"

        wait_until(scored, 300, "the submission is scored on the other worker", procs)
        with session_factory() as s:
            row = s.scalar(
                select(SubmissionFold).where(
                    SubmissionFold.submission_id == sid, SubmissionFold.fold == fold
                )
            )
            assert row.state == FoldState.SCORED and row.attempts == 2
            assert row.worker != address  # retrained elsewhere
            assert row.notes[0]["worker"] == address
            assert "stopped responding" in row.notes[0]["what"]
            worker = s.scalar(select(EngineWorker).where(EngineWorker.address == address))
            assert worker.status == "retired" and "no heartbeat" in worker.note
            others = s.scalars(select(EngineWorker).where(EngineWorker.address != address))
            assert {w.status for w in others} == {"running"}

        # what the participant and the organisers see
        status = httpx.get(f"{procs.url}/api/submissions/{sid}", headers=auth, timeout=10).json()
        notes = [n for f in status["folds"] for n in f["notes"]]
        assert len(notes) == 1 and "stopped responding" in notes[0]["what"]
        assert "not charged" in notes[0]["what"]
    finally:
        procs.stop_all()
    deadline = time.monotonic() + 30
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sandbox_processes() == []
