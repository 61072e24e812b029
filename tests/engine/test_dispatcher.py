"""The dispatcher end to end: DB queue → Dask worker processes → sandbox → scores in the DB."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from ramp_server.db.models import (
    FoldState,
    Score,
    Split,
    Submission,
    SubmissionFold,
    SubmissionState,
)
from ramp_server.services import submissions as submission_service

from engine_support import make_dispatcher, sandbox_processes, submission_files


def _submit(session, settings, event, user, name, folder):
    return submission_service.submit(
        session,
        settings=settings,
        event=event,
        user=user,
        name=name,
        files=submission_files(folder),
    )


def _submit_slow(session, settings, event, user):
    """The slow submission (about 6 s of fit per fold), with room for a loaded machine."""
    event.fold_time_limit_s = 120
    session.commit()
    return _submit(session, settings, event, user, "slow", "slow")


def _reload(session_factory, submission_id):
    with session_factory() as s:
        sub = s.get(Submission, submission_id)
        folds = list(
            s.scalars(select(SubmissionFold).where(SubmissionFold.submission_id == submission_id))
        )
        s.expunge_all()
        return sub, sorted(folds, key=lambda f: f.fold)


def _score_rows(session_factory, submission_id, fold=None, split=Split.VALID) -> int:
    with session_factory() as s:
        q = select(func.count(Score.id)).where(
            Score.submission_id == submission_id, Score.split == split
        )
        q = q.where(Score.fold.is_(None) if fold is None else Score.fold == fold)
        return int(s.scalar(q))


@pytest.mark.parametrize("db_backend", ["sqlite", "postgresql"])
def test_quick_submission_is_scored_per_fold_with_logs_and_times(
    session, settings, session_factory, engine_event, admin, dask_client
):
    sub = _submit(session, settings, engine_event, admin, "quick", "quick")
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()

    sub, folds = _reload(session_factory, sub.id)
    assert sub.state == SubmissionState.SCORED, (sub.error_kind, sub.error_message)
    assert sub.train_time > 0 and sub.peak_memory_mb > 0
    assert len(folds) == engine_event.n_folds
    n_scores = len(engine_event.score_types)
    for f in folds:
        assert f.state == FoldState.SCORED
        assert f.attempts == 1
        assert f.worker
        assert f.progress and f.progress["epoch"] == 1
        log = settings.storage_dir / f.log_path
        assert "epoch 1/1" in log.read_text()
        for split in (Split.TRAIN, Split.VALID, Split.TEST):
            assert _score_rows(session_factory, sub.id, f.fold, split) == n_scores
    assert _score_rows(session_factory, sub.id, None, Split.TEST) == n_scores
    # two workers, three folds: the first worker freed got fold 2 before the dispatcher
    # recorded (scored) the fold it had finished
    assert folds[2].started_at < min(f.finished_at for f in folds[:2])
    assert sandbox_processes() == []


def test_cancel_kills_the_running_sandbox_and_the_next_submission_trains(
    session, settings, session_factory, engine_event, admin, dask_client
):
    slow = _submit_slow(session, settings, engine_event, admin)
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, kwargs={"stop": stop})
    thread.start()
    try:
        _wait_for(lambda: _progress_seen(session_factory, slow.id), timeout=60)
        with session_factory() as s:
            submission_service.cancel(s, submission=s.get(Submission, slow.id))
            s.commit()
        _wait_for(lambda: not dispatcher.inflight and not sandbox_processes(), timeout=30)
    finally:
        stop.set()
        thread.join()
    sub, folds = _reload(session_factory, slow.id)
    assert sub.state == SubmissionState.CANCELLED
    assert all(f.state == FoldState.CANCELLED for f in folds)
    # killed mid-fit: no fold got to its last epoch
    assert all(f.progress is None or f.progress["epoch"] < f.progress["n_epochs"] for f in folds)
    quick = _submit(session, settings, engine_event, admin, "after-cancel", "quick")
    dispatcher.run(until_idle=True)
    dispatcher.close()
    assert _reload(session_factory, quick.id)[0].state == SubmissionState.SCORED


def test_killed_worker_mid_training_still_scores_each_fold_once(
    session, settings, session_factory, engine_event, admin, dask_client
):
    import os
    import signal

    slow = _submit_slow(session, settings, engine_event, admin)
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, kwargs={"stop": stop})
    thread.start()
    try:
        _wait_for(lambda: _progress_seen(session_factory, slow.id), timeout=60)
        with session_factory() as s:
            worker = s.scalar(
                select(SubmissionFold.worker).where(
                    SubmissionFold.submission_id == slow.id, SubmissionFold.worker.is_not(None)
                )
            )
        pids = dask_client.run(os.getpid)
        os.kill(pids[worker], signal.SIGKILL)
        _wait_for(
            lambda: _state(session_factory, slow.id) == SubmissionState.SCORED,
            40,
            lambda: _describe(session_factory, slow.id),
        )
    finally:
        stop.set()
        thread.join()
        dispatcher.close()
    sub, folds = _reload(session_factory, slow.id)
    assert sub.state == SubmissionState.SCORED
    for f in folds:
        assert f.state == FoldState.SCORED
        assert _score_rows(session_factory, sub.id, f.fold) == len(engine_event.score_types)
    assert sandbox_processes() == []


def test_dispatcher_restart_mid_training_loses_nothing(
    session, settings, session_factory, engine_event, admin, dask_client
):
    slow = _submit_slow(session, settings, engine_event, admin)
    quick = _submit(session, settings, engine_event, admin, "quick", "quick")
    first = make_dispatcher(settings, session_factory, dask_client)
    stop = threading.Event()
    thread = threading.Thread(target=first.run, kwargs={"stop": stop})
    thread.start()
    try:
        _wait_for(lambda: _progress_seen(session_factory, slow.id), timeout=60)
    finally:
        stop.set()
        thread.join()
        first.close()  # the dispatcher "dies": its folds stay marked training in the database
    _, folds = _reload(session_factory, slow.id)
    assert any(f.state == FoldState.TRAINING for f in folds)

    second = make_dispatcher(settings, session_factory, dask_client)
    second.run(until_idle=True)
    second.close()
    for sid in (slow.id, quick.id):
        sub, folds = _reload(session_factory, sid)
        assert sub.state == SubmissionState.SCORED, (sub.error_kind, sub.error_message)
        for f in folds:
            assert _score_rows(session_factory, sid, f.fold) == len(engine_event.score_types)
    assert sandbox_processes() == []


def _state(session_factory, submission_id):
    return _reload(session_factory, submission_id)[0].state


def _progress_seen(session_factory, submission_id) -> bool:
    _, folds = _reload(session_factory, submission_id)
    return any(f.state == FoldState.TRAINING and f.progress for f in folds)


def _wait_for(predicate, timeout: float, describe=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s: {describe() if describe else ''}")


def _describe(session_factory, submission_id):
    sub, folds = _reload(session_factory, submission_id)
    return [sub.state, sub.error_message] + [
        (f.fold, f.state, f.attempts, f.worker, f.error_message) for f in folds
    ]


def test_gpu_event_trains_on_cpu_workers_when_the_cluster_has_no_gpu(
    session, settings, session_factory, engine_event, admin, dask_client
):
    engine_event.uses_gpu = True
    session.commit()
    sub = _submit(session, settings, engine_event, admin, "gpu-event", "quick")
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()
    assert _state(session_factory, sub.id) == SubmissionState.SCORED


def test_platform_fault_is_retried_then_fails_without_charging_the_quota(
    session, settings, session_factory, engine_event, admin, dask_client
):
    from ramp_server.db.models import ErrorKind
    from ramp_server.storage import Storage

    settings = settings.model_copy(update={"max_fold_retries": 1})
    sub = _submit(session, settings, engine_event, admin, "unlucky", "quick")
    # the workers cannot read the public bundle: the platform's fault, not the participant's
    (Storage.from_settings(settings).public_dir(engine_event.name) / "meta.json").unlink()
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()
    sub, folds = _reload(session_factory, sub.id)
    assert sub.state == SubmissionState.ERROR
    assert sub.error_kind == ErrorKind.PLATFORM
    assert not sub.charged_to_quota
    assert "not charged to your quota" in sub.error_message
    failed = [f for f in folds if f.state == FoldState.ERROR]
    assert failed and all(f.attempts == 2 for f in failed)  # first try + one retry
