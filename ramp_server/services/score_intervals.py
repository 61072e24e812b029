"""Bootstrap confidence intervals of a submission's bagged scores, computed once when it is scored.

Validation: the CV-bagged predictions (each training row averaged over the folds that validated
it) on the rows validated at least once; test: the mean of the folds' test predictions. The rows
are resampled ``settings.bootstrap_n`` times with replacement (seeded: the same predictions
always get the same interval); the predictions stay fixed, so the interval shows how much the
score moves with the finite evaluation set — the noise of a leaderboard gap.
Computed for the official score and every score type with a vectorized form (accuracy, error,
NLL, balanced accuracy, macro recall); others would call rampwf once per resample.
:func:`fill_missing_intervals` (``ramp-server event fill-intervals``) computes them later for
submissions scored without them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    Event,
    Score,
    Split,
    Submission,
    SubmissionFold,
    SubmissionState,
)

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)

#: 95% percentile intervals
CONFIDENCE = 0.95
#: one fixed seed: a submission's interval is reproducible
SEED = 0

Intervals = dict[Split, dict[str, tuple[float, float]]]


def bagged_score_intervals(
    problem: ModuleType,
    *,
    official: str,
    y_train: np.ndarray,
    valid_indices: Sequence[np.ndarray],
    valid_probas: Sequence[np.ndarray],
    y_test: np.ndarray | None,
    test_probas: Sequence[np.ndarray],
    n_boot: int,
) -> Intervals:
    """``{split: {score name: (low, high)}}`` of the bagged validation and test scores (empty
    when ``n_boot`` is 0; a failure is logged and gives no interval, never a failed scoring)."""
    from ramp_server.blending.bootstrap import bootstrap_scores
    from ramp_server.blending.scores import from_rampwf
    from ramp_server.kit.scoring import bag_predictions, bag_test_predictions

    if n_boot <= 0:
        return {}
    try:
        n_classes = len(problem.Predictions.label_names)
        types = [
            from_rampwf(st, n_classes=n_classes, predictions_cls=problem.Predictions)
            for st in problem.score_types
        ]
        types = [s for s in types if s.kind != "generic" or s.name == official]
        y_train = np.asarray(y_train)
        bagged = bag_predictions(
            problem, n_samples=len(y_train), valid_indices=valid_indices, valid_probas=valid_probas
        )
        seen = ~np.isnan(bagged[:, 0])
        cases = {Split.VALID: (y_train[seen], bagged[seen])}
        if y_test is not None and len(test_probas):
            cases[Split.TEST] = (
                np.asarray(y_test),
                bag_test_predictions(problem, test_probas=test_probas),
            )
        out: Intervals = {}
        for split, (y, proba) in cases.items():
            ivs = bootstrap_scores(types, y, proba, n_boot=n_boot, confidence=CONFIDENCE, seed=SEED)
            out[split] = {s.name: (iv.low, iv.high) for s, iv in zip(types, ivs, strict=True)}
        return out
    except Exception:  # noqa: BLE001 - an interval is a nicety; the score itself must be recorded
        log.exception("bootstrap intervals failed")
        return {}


def fill_missing_intervals(session: Session, *, settings: Settings, event: Event) -> int:
    """Compute and store the intervals of the event's scored submissions whose official bagged
    score has none (scored before intervals existed, or while ``bootstrap_n`` was 0).

    Returns the number of submissions filled; each is committed on its own, so an interrupted
    run keeps what it did and a second run goes on from there.
    """
    from ramp_server.services.events import event_problem
    from ramp_server.services.predictions import bagging_inputs

    if settings.bootstrap_n <= 0:
        return 0
    missing = session.scalars(
        select(Score.submission_id)
        .join(Submission, Submission.id == Score.submission_id)
        .where(
            Score.event_id == event.id,
            Score.fold.is_(None),  # any split: the official score has an interval on both
            Score.score_name == event.official_score_name,
            Score.ci_low.is_(None),
            Submission.state == SubmissionState.SCORED,
        )
        .distinct()
        .order_by(Score.submission_id)
    ).all()
    problem = event_problem(settings=settings, event=event)
    filled = 0
    for submission_id in missing:
        folds = session.scalars(
            select(SubmissionFold.fold)
            .where(SubmissionFold.submission_id == submission_id)
            .order_by(SubmissionFold.fold)
        ).all()
        arrays = bagging_inputs(
            settings=settings, event=event, submission_id=submission_id, folds=list(folds)
        )
        intervals = bagged_score_intervals(
            problem, official=event.official_score_name, n_boot=settings.bootstrap_n, **arrays
        )
        rows = session.scalars(
            select(Score).where(Score.submission_id == submission_id, Score.fold.is_(None))
        )
        for row in rows:
            low_high = intervals.get(row.split, {}).get(row.score_name)
            if low_high is not None:
                row.ci_low, row.ci_high = low_high
        session.commit()
        filled += bool(intervals)
    return filled
