"""Progress reports: the dispatcher's terminal line (participant code writes them) and the
progress log that keeps every epoch of every fold (the learning curves)."""

from __future__ import annotations

from ramp_server.engine.progress_relay import _describe_progress, clean_progress


def test_progress_line_shows_epoch_and_float_metrics():
    progress = clean_progress({"epoch": 3, "n_epochs": 15, "loss": 1.23456, "valid_acc": 0.4})
    assert _describe_progress(progress) == "epoch 3/15, loss 1.235, valid_acc 0.400"


def test_progress_line_cannot_forge_log_lines():
    forged = "1\n2026-11-28 INFO ramp_server: submission 9 scored\x1b[2J"
    assert _describe_progress(clean_progress({"epoch": forged, "n_epochs": 2})) is None
    line = _describe_progress(
        clean_progress({"epoch": 1, "n_epochs": forged, "bad\nkey": 0.5, "ok": 0.25})
    )
    assert line == "epoch 1/?, ok 0.250"
    assert _describe_progress(clean_progress({"epoch": True})) is None


def _log_rows(session_factory, submission_id):
    from sqlalchemy import select

    from ramp_server.db.models import ProgressEntry

    with session_factory() as s:
        rows = s.scalars(
            select(ProgressEntry)
            .where(ProgressEntry.submission_id == submission_id)
            .order_by(ProgressEntry.fold, ProgressEntry.epoch)
        ).all()
        return [(r.fold, r.epoch, r.n_epochs, r.valid_acc, r.metrics) for r in rows]


def _publish(submission_id: int, fold: int, reports: list) -> None:
    """Run on a Dask worker: publish ``reports`` as a fold's sandbox does."""
    from distributed import get_worker

    from ramp_server.engine.tasks import PROGRESS_TOPIC

    worker = get_worker()
    for item in reports:
        worker.log_event(
            PROGRESS_TOPIC,
            {"submission_id": submission_id, "fold": fold, "worker": "w", "progress": item},
        )


def test_relay_keeps_every_epoch_heard_between_two_drains(
    session, settings, session_factory, engine_event, admin, dask_client
):
    """Several epochs reported between two drains all reach the progress log (the fold's row
    keeps only the latest); a report of a fold that does not exist is dropped."""
    import time

    from ramp_server.db.models import SubmissionFold
    from ramp_server.engine.progress_relay import ProgressRelay
    from ramp_server.services import submissions

    from engine_support import submission_files

    sub = submissions.submit(
        session,
        settings=settings,
        event=engine_event,
        user=admin,
        name="relayed",
        files=submission_files("quick"),
    )
    relay = ProgressRelay(client=dask_client, sessions=session_factory)
    try:
        reports = [
            {"epoch": e, "n_epochs": 3, "valid_acc": 0.2 * e, "loss": 1.0 / e} for e in (1, 2, 3)
        ]
        dask_client.submit(_publish, sub.id, 1, reports, pure=False).result(timeout=60)
        dask_client.submit(_publish, sub.id + 999, 0, reports, pure=False).result(timeout=60)
        deadline = time.monotonic() + 60
        while len(_log_rows(session_factory, sub.id)) < 3 and time.monotonic() < deadline:
            relay.drain(running=[])
            time.sleep(0.2)
    finally:
        relay.close()
    assert _log_rows(session_factory, sub.id) == [
        (1, 1, 3, 0.2, {"loss": 1.0}),
        (1, 2, 3, 0.4, {"loss": 0.5}),
        (1, 3, 3, 0.6000000000000001, {"loss": 1.0 / 3}),
    ]
    assert _log_rows(session_factory, sub.id + 999) == []
    with session_factory() as s:
        fold = s.query(SubmissionFold).filter_by(submission_id=sub.id, fold=1).one()
        assert fold.progress["epoch"] == 3


def test_learning_curves_of_a_trained_submission_are_persisted(
    session, settings, session_factory, engine_event, admin, dask_client
):
    """A submission reporting ``valid_acc`` at each of its 4 epochs, trained by the real
    dispatcher in the sandbox: every fold's 4 epochs are in the progress log."""
    from ramp_server.db.models import Submission, SubmissionState
    from ramp_server.services import progress, submissions

    from engine_support import make_dispatcher, submission_files

    sub = submissions.submit(
        session,
        settings=settings,
        event=engine_event,
        user=admin,
        name="curves",
        files=submission_files("curves"),
    )
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()
    with session_factory() as s:
        scored = s.get(Submission, sub.id)
        assert scored.state == SubmissionState.SCORED, scored.error_message
        curves = progress.learning_curves(s, submission_id=sub.id)
    assert [c.fold for c in curves] == list(range(engine_event.n_folds))
    for curve in curves:
        assert curve.n_epochs == 4
        assert [e for e, _ in curve.points] == [1, 2, 3, 4]
        assert all(0.0 <= acc <= 1.0 for _, acc in curve.points)
    rows = _log_rows(session_factory, sub.id)
    assert len(rows) == 4 * engine_event.n_folds
    assert all(set(metrics) == {"loss"} for *_, metrics in rows)
