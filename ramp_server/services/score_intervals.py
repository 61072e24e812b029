"""Bootstrap confidence intervals of a submission's bagged scores, computed once when it is scored.

Validation: the CV-bagged predictions (each training row averaged over the folds that validated
it) on the rows validated at least once; test: the mean of the folds' test predictions. The rows
are resampled ``settings.bootstrap_n`` times with replacement (seeded: the same predictions
always get the same interval); the predictions stay fixed, so the interval shows how much the
score moves with the finite evaluation set — the noise of a leaderboard gap.
Computed for the official score and every score type with a vectorized form (accuracy, error,
NLL, balanced accuracy, macro recall); others would call rampwf once per resample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from ramp_server.db.models import Split

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
