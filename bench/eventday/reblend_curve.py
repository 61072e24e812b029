"""The full re-blend against N, after the day: the platform's own from-scratch re-blend of the
whole event (database → blender → database), and the blend computation alone on the first N
scored submissions (their predictions read once from the storage), for a curve up to N."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ramp_server.config import Settings


def full_reblend(settings: Settings, *, event: str) -> tuple[int, float]:
    """``(N, seconds)`` of one from-scratch re-blend of ``event`` through the engine's path
    (a fresh :class:`~ramp_server.engine.reblend.LiveBlend`: nothing cached)."""
    from sqlalchemy import select

    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.models import Event
    from ramp_server.engine.reblend import LiveBlend, blend_event

    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            event_id = session.scalar(select(Event.id).where(Event.name == event))
            t = time.perf_counter()
            summary = blend_event(session, settings=settings, event_id=event_id, live=LiveBlend())
            return summary.n_submissions, time.perf_counter() - t
    finally:
        engine.dispose()


def blend_curve(settings: Settings, *, event: str, points: list[int]) -> list[tuple[int, float]]:
    """``(N, seconds)`` of ``hybrid.blend`` from scratch on the first N scored submissions
    (in scoring order), for each N of ``points`` up to the number scored."""
    from sqlalchemy import select

    from ramp_server.blending.hybrid import FoldInput, blend
    from ramp_server.blending.store import read_fold_predictions
    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.models import Event, Submission, SubmissionState
    from ramp_server.engine.reblend import event_score
    from ramp_server.services.events import event_folds, event_problem
    from ramp_server.services.predictions import event_labels
    from ramp_server.storage import Storage

    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            ev = session.scalar(select(Event).where(Event.name == event))
            ids = list(
                session.scalars(
                    select(Submission.id)
                    .where(Submission.event_id == ev.id, Submission.state == SubmissionState.SCORED)
                    .order_by(Submission.finished_at, Submission.id)
                )
            )
            score = event_score(event_problem(settings=settings, event=ev), ev.official_score_name)
            valid_rows = list(event_folds(settings=settings, event=ev).valid)
            y_train, y_test = event_labels(settings=settings, event=ev)
            max_n = ev.max_n_ensemble
    finally:
        engine.dispose()
    storage = Storage.from_settings(settings)
    preds = [
        [read_fold_predictions(storage.predictions_path(event, sid, k)) for sid in ids]
        for k in range(len(valid_rows))
    ]
    out = []
    for n in sorted({p for p in points if p <= len(ids)} | {len(ids)}):
        folds = [
            FoldInput(
                rows,
                [p.valid_proba for p in preds[k][:n]],
                [p.test_proba for p in preds[k][:n]],
            )
            for k, rows in enumerate(valid_rows)
        ]
        t = time.perf_counter()
        blend(
            folds=folds,
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=[str(s) for s in ids[:n]],
            max_n_ensemble=max_n,
        )
        out.append((n, time.perf_counter() - t))
    return out
