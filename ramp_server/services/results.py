"""What the engine reports: fold predictions (scored here, on the server) and fold errors.

The server holds the test labels (``events/<slug>/private``); workers only return predictions.
:func:`record_fold_result` stores a fold's predictions in the blender's format, scores them with
the event's ``problem.py`` score types, and when the last fold is in, computes the CV-bagged
scores, marks the submission scored, requests a re-blend (durably) and calls the caller's
``on_scored`` callback (the dispatcher's re-blender, at once). Both functions are idempotent: a
fold reported twice is recorded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    ErrorKind,
    Event,
    FoldState,
    Score,
    Split,
    Submission,
    SubmissionFold,
    SubmissionState,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError, outbox
from ramp_server.services.blend_requests import request_blend
from ramp_server.services.board_columns import bagged_score
from ramp_server.services.events import event_folds, event_problem
from ramp_server.services.predictions import bagging_inputs, event_labels
from ramp_server.services.score_intervals import bagged_score_intervals
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)

#: ``on_scored(*, event_id, submission_id)``: told when a submission becomes scored
ScoredCallback = Callable[..., None]


class InvalidPredictions(ServiceError):
    """The predictions returned for a fold have the wrong shape or are not probabilities."""


def _checked(proba: np.ndarray, n_rows: int, n_classes: int, what: str) -> np.ndarray:
    from ramp_server.kit.contract import ContractError, check_predictions

    try:
        return check_predictions(proba, n_rows, n_classes=n_classes, field=f"{what} predictions")
    except ContractError as exc:
        raise InvalidPredictions(str(exc)) from None


def _score_rows(
    session: Session,
    event_id: int,
    submission_id: int,
    fold: int | None,
    split: Split,
    values: dict[str, float],
    intervals: dict[str, tuple[float, float]] | None = None,
) -> None:
    for name, value in values.items():
        low, high = (intervals or {}).get(name, (None, None))
        session.add(
            Score(
                event_id=event_id,
                submission_id=submission_id,
                fold=fold,
                split=split,
                score_name=name,
                value=float(value),
                ci_low=low,
                ci_high=high,
            )
        )


def record_fold_result(
    session: Session,
    *,
    settings: Settings,
    submission_id: int,
    fold: int,
    valid_proba: np.ndarray,
    test_proba: np.ndarray,
    train_proba: np.ndarray | None = None,
    train_time: float,
    valid_time: float,
    test_time: float,
    peak_memory_mb: float | None = None,
    now: datetime | None = None,
    on_scored: ScoredCallback | None = None,
    charged_s: float | None = None,
    worker_finished_at: datetime | None = None,
) -> Submission:
    """Store, score and record one fold's predictions; **commits**.

    ``valid_proba`` has one row per validation index of the fold (in the fold's order),
    ``test_proba`` one per test image, ``train_proba`` (optional) one per training index.
    Raises :class:`InvalidPredictions` (nothing recorded) when an array is not a probability
    matrix of the right shape. A fold already scored, or a cancelled submission, is left as is.
    ``on_scored(event_id=..., submission_id=...)`` is called (after the commit) by the one call
    that completes the submission; its exceptions are logged, never propagated. ``charged_s``:
    the worker seconds the fold took (charged to the participant; default: train + valid + test
    time); ``worker_finished_at``: when the worker finished it (result latency).
    """
    from ramp_server.blending.store import write_fold_predictions
    from ramp_server.kit.scoring import score_predictions

    now = now or utcnow()
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id}")
    event = sub.event
    fold_row = session.scalar(
        select(SubmissionFold).where(
            SubmissionFold.submission_id == submission_id, SubmissionFold.fold == fold
        )
    )
    if fold_row is None:
        raise NotFound(f"submission {submission_id} has no fold {fold}")
    if sub.state == SubmissionState.CANCELLED or fold_row.state == FoldState.SCORED:
        return sub
    folds = event_folds(settings=settings, event=event)
    problem = event_problem(settings=settings, event=event)
    y_train, y_test = event_labels(settings=settings, event=event)
    n_classes = len(problem.Predictions.label_names)
    tr_idx, va_idx = folds.train[fold], folds.valid[fold]
    valid = _checked(valid_proba, len(va_idx), n_classes, "validation")
    test = _checked(test_proba, len(y_test), n_classes, "test")
    train = None if train_proba is None else _checked(train_proba, len(tr_idx), n_classes, "train")

    storage = Storage.from_settings(settings)
    write_fold_predictions(
        storage.predictions_path(event.name, submission_id, fold),
        valid_indices=va_idx,
        valid_proba=valid,
        test_proba=test,
    )
    scores = {
        Split.VALID: score_predictions(problem, y_true=y_train[va_idx], y_proba=valid),
        Split.TEST: score_predictions(problem, y_true=y_test, y_proba=test),
    }
    if train is not None:
        scores[Split.TRAIN] = score_predictions(problem, y_true=y_train[tr_idx], y_proba=train)

    lock_row(session, SubmissionFold, fold_row.id)
    session.refresh(fold_row)
    if fold_row.state == FoldState.SCORED:  # a concurrent report of the same fold won
        session.rollback()
        return sub
    session.execute(delete(Score).where(Score.submission_id == submission_id, Score.fold == fold))
    for split, values in scores.items():
        _score_rows(session, event.id, submission_id, fold, split, values)
    fold_row.state = FoldState.SCORED
    fold_row.finished_at = fold_row.updated_at = now
    fold_row.train_time, fold_row.valid_time, fold_row.test_time = (
        float(train_time),
        float(valid_time),
        float(test_time),
    )
    fold_row.peak_memory_mb = None if peak_memory_mb is None else float(peak_memory_mb)
    fold_row.charged_s = float(
        charged_s if charged_s is not None else train_time + valid_time + test_time
    )
    fold_row.worker_finished_at = worker_finished_at
    fold_row.error_kind = fold_row.error_message = fold_row.traceback = None
    session.commit()

    done = _finish_if_complete(session, settings=settings, submission_id=submission_id, now=now)
    if done and on_scored is not None:
        try:
            on_scored(event_id=event.id, submission_id=submission_id)
        except Exception:  # a failing listener must not undo a recorded result
            log.exception("on_scored callback failed for submission %s", submission_id)
    session.refresh(sub)
    return sub


def _finish_if_complete(
    session: Session, *, settings: Settings, submission_id: int, now: datetime
) -> bool:
    """Bag and mark scored once every fold is scored; True for the one caller that did it."""
    lock_row(session, Submission, submission_id)
    sub = session.get(Submission, submission_id, populate_existing=True)
    if sub.state in (SubmissionState.SCORED, SubmissionState.CANCELLED, SubmissionState.ERROR):
        session.rollback()
        return False
    folds = list(
        session.scalars(
            select(SubmissionFold)
            .where(SubmissionFold.submission_id == submission_id)
            .order_by(SubmissionFold.fold)
            .execution_options(populate_existing=True)
        )
    )
    if not folds or any(f.state != FoldState.SCORED for f in folds):
        session.rollback()
        return False
    event = sub.event
    arrays = bagging_inputs(
        settings=settings, event=event, submission_id=submission_id, folds=[f.fold for f in folds]
    )
    _write_bagged(session, settings=settings, event=event, submission_id=submission_id, **arrays)
    sub.train_time = sum(f.train_time or 0.0 for f in folds)
    sub.valid_time = sum(f.valid_time or 0.0 for f in folds)
    sub.test_time = sum(f.test_time or 0.0 for f in folds)
    peaks = [f.peak_memory_mb for f in folds if f.peak_memory_mb is not None]
    sub.peak_memory_mb = max(peaks) if peaks else None
    sub.state = SubmissionState.SCORED
    sub.finished_at = now
    sub.error_kind = sub.error_message = sub.traceback = None
    request_blend(session, event_id=event.id, now=now)  # durable: survives a dispatcher restart
    outbox.notify_submission_done(session, submission=sub)  # sent once this commits
    session.commit()
    return True


def _write_bagged(
    session: Session, *, settings: Settings, event: Event, submission_id: int, **arrays: Any
) -> None:
    """(Re)write a submission's CV-bagged scores and intervals from its fold predictions."""
    from ramp_server.kit.scoring import bagged_scores

    problem = event_problem(settings=settings, event=event)
    bagged = bagged_scores(problem, **arrays)
    ci = bagged_score_intervals(
        problem, official=event.official_score_name, n_boot=settings.bootstrap_n, **arrays
    )
    session.execute(delete(Score).where(Score.submission_id == submission_id, Score.fold.is_(None)))
    _score_rows(
        session, event.id, submission_id, None, Split.VALID, bagged["valid"], ci.get(Split.VALID)
    )
    _score_rows(
        session, event.id, submission_id, None, Split.TEST, bagged["test"], ci.get(Split.TEST)
    )


def rescore_submission(session: Session, *, settings: Settings, submission: Submission) -> None:
    """Recompute a scored submission's validation and test scores, per fold and bagged (with
    their intervals), from its stored predictions with the event's current ``problem.py``;
    no retraining. Training scores (reported by the workers, whose training predictions are
    not kept) stay as they were. Flushes; the caller commits."""
    from ramp_server.kit.scoring import score_predictions

    event = submission.event
    problem = event_problem(settings=settings, event=event)
    folds = sorted(f.fold for f in submission.folds if f.state == FoldState.SCORED)
    arrays = bagging_inputs(
        settings=settings, event=event, submission_id=submission.id, folds=folds
    )
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    per_fold = zip(
        folds, arrays["valid_indices"], arrays["valid_probas"], arrays["test_probas"], strict=True
    )
    for k, va_idx, valid, test in per_fold:
        session.execute(
            delete(Score).where(
                Score.submission_id == submission.id,
                Score.fold == k,
                Score.split.in_([Split.VALID, Split.TEST]),
            )
        )
        valid_scores = score_predictions(problem, y_true=y_train[va_idx], y_proba=valid)
        _score_rows(session, event.id, submission.id, k, Split.VALID, valid_scores)
        test_scores = score_predictions(problem, y_true=y_test, y_proba=test)
        _score_rows(session, event.id, submission.id, k, Split.TEST, test_scores)
    _write_bagged(session, settings=settings, event=event, submission_id=submission.id, **arrays)
    session.flush()


def record_fold_error(
    session: Session,
    *,
    submission_id: int,
    fold: int,
    kind: ErrorKind | str,
    message: str,
    traceback: str | None = None,
    now: datetime | None = None,
    charged_s: float | None = None,
) -> Submission:
    """Mark a fold (and its submission) failed; **commits**.

    The first error of a submission is the one shown. A ``platform`` error never counts in the
    participant's daily quota (``charged_to_quota`` is cleared). Other folds still queued are
    cancelled: one failed fold fails the submission.
    """
    kind = ErrorKind(kind)
    now = now or utcnow()
    lock_row(session, Submission, submission_id)
    sub = session.get(Submission, submission_id, populate_existing=True)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id}")
    session.execute(
        update(SubmissionFold)
        .where(SubmissionFold.submission_id == submission_id, SubmissionFold.fold == fold)
        .values(
            state=FoldState.ERROR,
            error_kind=kind,
            error_message=message,
            traceback=traceback,
            finished_at=now,
            updated_at=now,
            charged_s=None if kind == ErrorKind.PLATFORM else charged_s,
        )
    )
    if sub.state not in (SubmissionState.CANCELLED, SubmissionState.SCORED):
        if sub.state != SubmissionState.ERROR:
            sub.state = SubmissionState.ERROR
            sub.error_kind = kind
            sub.error_message = message
            sub.traceback = traceback
            sub.finished_at = now
            outbox.notify_submission_done(session, submission=sub)
        session.execute(
            update(SubmissionFold)
            .where(
                SubmissionFold.submission_id == submission_id,
                SubmissionFold.state == FoldState.QUEUED,
            )
            .values(state=FoldState.CANCELLED, finished_at=now)
        )
    if kind == ErrorKind.PLATFORM:
        sub.charged_to_quota = False
    session.commit()
    session.refresh(sub)
    return sub


def bagged_scores_of(
    session: Session, *, submission_ids: list[int], score_name: str
) -> dict[int, dict[str, float]]:
    """``{submission id: {"valid": v, "test": t}}``: the bagged ``score_name`` of each."""
    if not submission_ids:
        return {}
    out: dict[int, dict[str, float]] = {}
    for split in (Split.VALID, Split.TEST):
        rows = session.execute(
            select(Score.submission_id, Score.value).where(
                Score.submission_id.in_(submission_ids), *bagged_score(split, score_name)
            )
        )
        for sid, value in rows:
            out.setdefault(sid, {})[split.value] = value
    return out


def scores_of_submission(
    session: Session, *, submission_id: int, include_test: bool
) -> list[Score]:
    """Every score row of a submission (per fold and bagged); test rows only if asked."""
    query = select(Score).where(Score.submission_id == submission_id)
    if not include_test:
        query = query.where(Score.split != Split.TEST)
    return list(session.scalars(query.order_by(Score.id)))
