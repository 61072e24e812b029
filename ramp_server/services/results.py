"""What the engine reports: fold predictions (scored here, on the server) and fold errors.

The server holds the test labels (``events/<slug>/private``); workers only return predictions.
:func:`record_fold_result` stores a fold's predictions in the blender's format, scores them with
the event's ``problem.py`` score types, and when the last fold is in, computes the CV-bagged
scores, marks the submission scored and calls the :data:`on_scored` callbacks (the re-blender).
Both functions are idempotent: a fold reported twice is recorded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Blend,
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
from ramp_server.services import NotFound, ServiceError
from ramp_server.services.blend_requests import request_blend
from ramp_server.services.events import event_folds, event_problem
from ramp_server.services.score_intervals import bagged_score_intervals
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)

#: callbacks ``f(*, settings, event_id, submission_id)`` run after a submission becomes scored
#: (outside the transaction; an exception is logged, never propagated)
on_scored: list[Callable[..., None]] = []


class InvalidPredictions(ServiceError):
    """The predictions returned for a fold have the wrong shape or are not probabilities."""


@lru_cache(maxsize=16)
def _test_labels(path: str, mtime_ns: int) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _labels(settings: Settings, event: Event) -> tuple[np.ndarray, np.ndarray]:
    storage = Storage.from_settings(settings)
    test = storage.test_labels_path(event.name)
    train = storage.public_dir(event.name) / "train_labels.npy"
    return (
        _test_labels(str(train), train.stat().st_mtime_ns),
        _test_labels(str(test), test.stat().st_mtime_ns),
    )


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
) -> Submission:
    """Store, score and record one fold's predictions; **commits**.

    ``valid_proba`` has one row per validation index of the fold (in the fold's order),
    ``test_proba`` one per test image, ``train_proba`` (optional) one per training index.
    Raises :class:`InvalidPredictions` (nothing recorded) when an array is not a probability
    matrix of the right shape. A fold already scored, or a cancelled submission, is left as is.
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
    y_train, y_test = _labels(settings, event)
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
    fold_row.error_kind = fold_row.error_message = fold_row.traceback = None
    session.commit()

    if _finish_if_complete(session, settings=settings, submission_id=submission_id, now=now):
        for callback in list(on_scored):
            try:
                callback(settings=settings, event_id=event.id, submission_id=submission_id)
            except Exception:  # a failing listener must not undo a recorded result
                log.exception("on_scored callback %r failed for %s", callback, submission_id)
    session.refresh(sub)
    return sub


def bagging_inputs(
    *, settings: Settings, event: Event, submission_id: int, folds: list[int]
) -> dict[str, Any]:
    """The stored fold predictions and the labels that a submission's bagged scores (and their
    intervals) are computed from, as keyword arguments of ``bagged_scores``."""
    from ramp_server.blending.store import read_fold_predictions

    storage = Storage.from_settings(settings)
    preds = [
        read_fold_predictions(storage.predictions_path(event.name, submission_id, k)) for k in folds
    ]
    y_train, y_test = _labels(settings, event)
    return {
        "y_train": y_train,
        "valid_indices": [p.valid_indices for p in preds],
        "valid_probas": [np.asarray(p.valid_proba, dtype=np.float64) for p in preds],
        "y_test": y_test,
        "test_probas": [np.asarray(p.test_proba, dtype=np.float64) for p in preds],
    }


def _finish_if_complete(
    session: Session, *, settings: Settings, submission_id: int, now: datetime
) -> bool:
    """Bag and mark scored once every fold is scored; True for the one caller that did it."""
    from ramp_server.kit.scoring import bagged_scores

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
    problem = event_problem(settings=settings, event=event)
    arrays = bagging_inputs(
        settings=settings, event=event, submission_id=submission_id, folds=[f.fold for f in folds]
    )
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
    sub.train_time = sum(f.train_time or 0.0 for f in folds)
    sub.valid_time = sum(f.valid_time or 0.0 for f in folds)
    sub.test_time = sum(f.test_time or 0.0 for f in folds)
    peaks = [f.peak_memory_mb for f in folds if f.peak_memory_mb is not None]
    sub.peak_memory_mb = max(peaks) if peaks else None
    sub.state = SubmissionState.SCORED
    sub.finished_at = now
    sub.error_kind = sub.error_message = sub.traceback = None
    request_blend(session, event_id=event.id, now=now)  # durable: survives a dispatcher restart
    session.commit()
    return True


def record_fold_error(
    session: Session,
    *,
    submission_id: int,
    fold: int,
    kind: ErrorKind | str,
    message: str,
    traceback: str | None = None,
    now: datetime | None = None,
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
        )
    )
    if sub.state not in (SubmissionState.CANCELLED, SubmissionState.SCORED):
        if sub.state != SubmissionState.ERROR:
            sub.state = SubmissionState.ERROR
            sub.error_kind = kind
            sub.error_message = message
            sub.traceback = traceback
            sub.finished_at = now
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


def scored_fold_count(session: Session, *, submission_id: int) -> int:
    """How many folds of the submission are scored (the submission page shows k of F)."""
    return int(
        session.scalar(
            select(func.count(SubmissionFold.id)).where(
                SubmissionFold.submission_id == submission_id,
                SubmissionFold.state == FoldState.SCORED,
            )
        )
        or 0
    )


def record_blend(
    session: Session,
    *,
    event_id: int,
    score_name: str,
    n_submissions: int,
    combined_valid: float | None,
    combined_test: float | None,
    foldwise_best_valid: float | None = None,
    foldwise_best_test: float | None = None,
    nested_valid: float | None = None,
    contributivity: dict[int, float] | None = None,
    historical_contributivity: dict[int, float] | None = None,
    shapley: dict[int, float] | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Blend:
    """Store one re-blend of an event and the per-submission columns it computed; **commits**.

    Submissions of the event missing from ``contributivity`` (resp. the other dicts, when
    given) get 0: they were not selected by this blend.
    """
    blend = Blend(
        event_id=event_id,
        computed_at=now or utcnow(),
        score_name=score_name,
        n_submissions=n_submissions,
        combined_valid=combined_valid,
        combined_test=combined_test,
        foldwise_best_valid=foldwise_best_valid,
        foldwise_best_test=foldwise_best_test,
        nested_valid=nested_valid,
        details=details,
    )
    session.add(blend)
    columns = {
        "contributivity": contributivity,
        "historical_contributivity": historical_contributivity,
        "shapley": shapley,
    }
    for column, values in columns.items():
        if values is None:
            continue
        session.execute(
            update(Submission)
            .where(Submission.event_id == event_id, Submission.state == SubmissionState.SCORED)
            .values({column: 0.0})
        )
        for sid, value in values.items():
            session.execute(
                update(Submission)
                .where(Submission.id == sid, Submission.event_id == event_id)
                .values({column: float(value)})
            )
    session.commit()
    return blend


def latest_blend(session: Session, *, event_id: int) -> Blend | None:
    """The newest blend of an event (None before the first)."""
    return session.scalar(
        select(Blend)
        .where(Blend.event_id == event_id)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(1)
    )
