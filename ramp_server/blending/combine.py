"""Combining probabilities exactly as rampwf's multiclass ``Predictions.combine`` does.

rampwf clips every member's probabilities to ``[1e-15, 1 - 1e-15]``, renormalises each row and
takes the NaN-ignoring mean over members (a sequential sum divided by the count, in the members'
dtype). The helpers below perform the same floating-point operations in the same order, so the
combined arrays are bit-identical to rampwf's, but they work on running sums instead of
re-stacking every member at every step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CLIP_LOW = 10**-15
CLIP_HIGH = 1 - 10**-15


def clip_normalise(proba: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Clip to ``[1e-15, 1 - 1e-15]`` and renormalise rows (in place when ``out is proba``)."""
    p = np.clip(proba, CLIP_LOW, CLIP_HIGH, out=out)
    p /= np.sum(p, axis=-1, keepdims=True)
    return p


def mean_of_picks(
    normalised: Sequence[np.ndarray] | np.ndarray, picks: Sequence[int]
) -> np.ndarray:
    """The uniform mean of ``normalised[i] for i in picks`` (repeats act as weights)."""
    total = np.array(normalised[picks[0]], copy=True)
    for i in picks[1:]:
        total += normalised[i]
    total /= len(picks)
    return total


def bag_scores(
    predictions: Sequence[np.ndarray | None],
    rows: Sequence[np.ndarray] | None,
    y_true: np.ndarray,
    score,
) -> tuple[list[float], np.ndarray, np.ndarray]:
    """rampwf's CV bagging (``get_score_cv_bags``) of per-fold predictions.

    ``predictions[f]`` covers ``rows[f]`` of ``y_true`` (all rows when ``rows`` is None); a
    ``None`` fold is skipped. Returns the score of each prefix of folds (the last one is the
    bagged score), the bagged probabilities and the mask of rows that got a prediction.
    """
    n = len(y_true)
    total: np.ndarray | None = None
    count = np.zeros(n, dtype=np.intp)
    scores: list[float] = []
    for f, pred in enumerate(predictions):
        if pred is None:
            continue
        # rampwf stores each fold in a float64 NaN array, then clips/renormalises it again.
        p = clip_normalise(np.asarray(pred, dtype=np.float64))
        if total is None:
            total = np.zeros((n, p.shape[1]), dtype=np.float64)
        idx = slice(None) if rows is None else rows[f]
        total[idx] += p
        count[idx] += 1
        valid = count > 0
        bagged = total[valid] / count[valid, None]
        scores.append(float(score(y_true[valid], bagged)))
    if total is None:
        return [], np.empty((0, 0)), np.zeros(n, dtype=bool)
    valid = count > 0
    return scores, total[valid] / count[valid, None], valid
