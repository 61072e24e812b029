"""Fair share with real worker processes and the real sandbox: one participant's burst does not
hold back another participant's single submission (FIFO would make it wait for the whole burst).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from ramp_server.db.models import FoldState, Submission, SubmissionFold
from ramp_server.services import submissions as submission_service
from ramp_server.services.participants import join_event

from engine_support import SUBMISSIONS, make_dispatcher
from ramp_test_plugin import create_test_user

BURST = 6


def _napper() -> dict[str, bytes]:
    """A correct submission whose fit sleeps about 1.5 s (``slow`` with fewer steps)."""
    return {
        p.name: p.read_text().replace("N_STEPS = 12", "N_STEPS = 3").encode()
        for p in sorted((SUBMISSIONS / "slow").glob("*.py"))
    }


def _folds(session_factory, submission_ids) -> list[SubmissionFold]:
    with session_factory() as s:
        rows = list(
            s.scalars(
                select(SubmissionFold).where(SubmissionFold.submission_id.in_(submission_ids))
            )
        )
        s.expunge_all()
    return rows


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_burst_does_not_delay_another_participants_submission_by_more_than_a_fold(
    session, settings, session_factory, engine_event, dask_client
):
    event = engine_event
    event.fold_time_limit_s = 120
    ann, bob = create_test_user(session, "ann"), create_test_user(session, "bob")
    for u in (ann, bob):
        join_event(session, event=event, user=u)
    session.commit()
    files = _napper()
    burst = [
        submission_service.submit(
            session, settings=settings, event=event, user=ann, name=f"a{i}", files=files
        ).id
        for i in range(BURST)
    ]
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, kwargs={"stop": stop})
    thread.start()
    try:
        # bob submits once both workers are busy with ann's burst
        _wait_for(
            lambda: sum(f.state == FoldState.TRAINING for f in _folds(session_factory, burst)) >= 2,
            120,
        )
        single = submission_service.submit(
            session, settings=settings, event=event, user=bob, name="b", files=files
        )
        submitted_at = single.submitted_at

        def bob_started() -> bool:
            return any(f.started_at for f in _folds(session_factory, [single.id]))

        _wait_for(bob_started, 180)
        started = min(f.started_at for f in _folds(session_factory, [single.id]) if f.started_at)
        ann_folds = _folds(session_factory, burst)
        # ann still had folds waiting when bob's first fold started: bob went ahead of them
        waiting = [
            f
            for f in ann_folds
            if f.state == FoldState.QUEUED or (f.started_at or started) > started
        ]
        assert len(waiting) >= BURST * event.n_folds // 2, "bob waited for most of the burst"
        # and he waited no longer than about one of ann's folds (+ the dispatcher's rounds)
        durations = [
            (f.finished_at - f.started_at).total_seconds()
            for f in ann_folds
            if f.finished_at and f.started_at
        ]
        longest = max(durations, default=30.0)
        waited = (started - submitted_at).total_seconds()
        assert waited <= longest + 5.0, (waited, durations)
        _wait_for(
            lambda: all(f.state == FoldState.SCORED for f in _folds(session_factory, [single.id])),
            180,
        )
    finally:
        with session_factory() as s:  # the rest of the burst is not needed
            for sid in burst:
                sub = s.get(Submission, sid)
                if sub.state.value in ("queued", "training"):
                    submission_service.cancel(s, submission=sub)
            s.commit()
        stop.set()
        thread.join(60)
        dispatcher.close()
