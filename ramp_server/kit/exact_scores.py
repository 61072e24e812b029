"""Exact fast forms of rampwf's classification score types, for the server's scoring.

The server scores every fold it records (validation and test) and every bagged submission.
rampwf's score types call scikit-learn, whose input checks cost a few milliseconds a call: on an
event day that was half the dispatcher's time per fold. For the score types below, the same
arithmetic on the same arrays, in the same order, gives **bit-identical** values without the
checks; ``tests/kit/test_exact_scores.py`` compares them with rampwf on random and edge cases.

Anything else goes through rampwf, as before: a score type not listed (a subclass included),
labels that are not the class indices ``0..n-1``, probabilities that are not finite or outside
[0, 1] (where scikit-learn warns or raises its own way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: ``(y_true class indices, float64 probabilities) -> value``
ExactForm = Callable[[np.ndarray, np.ndarray], float]


def _counts(y: np.ndarray, pred: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """(true positives, true counts, predicted counts) per class, int64."""
    tp = np.bincount(y[y == pred], minlength=n)
    return tp, np.bincount(y, minlength=n), np.bincount(pred, minlength=n)


def _accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    # sklearn.accuracy_score: mean of the (true == predicted) booleans cast to float64
    return float(np.mean((y == np.argmax(proba, axis=1)).astype(np.float64)))


def _error(y: np.ndarray, proba: np.ndarray) -> float:
    return 1 - _accuracy(y, proba)


def _nll(y: np.ndarray, proba: np.ndarray) -> float:
    # sklearn.log_loss on a one-hot truth: clip, log of the whole matrix, each row's sum is its
    # true class's log (the other terms are exact zeros), mean of the negated row sums
    eps = np.finfo(proba.dtype).eps
    logs = np.log(np.clip(proba, eps, 1 - eps))
    return float(np.mean(-logs[np.arange(len(y)), y]))


def _balanced_accuracy(adjusted: bool) -> ExactForm:
    def fn(y: np.ndarray, proba: np.ndarray) -> float:
        # sklearn.balanced_accuracy_score: recall of each class present in y_true, in label
        # order (classes only predicted give NaN and are dropped), their mean
        tp, true, _ = _counts(y, np.argmax(proba, axis=1), proba.shape[1])
        present = true > 0
        per_class = tp[present] / true[present]
        score = np.mean(per_class)
        if adjusted:  # one class present: 0/0, as scikit-learn gives (and warns)
            chance = 1 / per_class.shape[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                score -= chance
                score /= 1 - chance
        return float(score)

    return fn


def _f1_above(threshold: float) -> ExactForm:
    def fn(y: np.ndarray, proba: np.ndarray) -> float:
        # sklearn.f1_score(average=None) over the labels of y_true or y_pred, as
        # 2 tp / (true + predicted) in float64; rampwf: the share above the threshold
        tp, true, predicted = _counts(y, np.argmax(proba, axis=1), proba.shape[1])
        labels = (true > 0) | (predicted > 0)
        f1 = (2 * tp[labels].astype(np.float64)) / (
            1 * true[labels].astype(np.float64) + predicted[labels].astype(np.float64)
        )
        return 1.0 * len(f1[f1 > threshold]) / len(f1)

    return fn


def exact_form(score_type: Any) -> ExactForm | None:
    """The exact fast form of a rampwf score type, or None (score it through rampwf)."""
    from rampwf import score_types as rst

    kind = type(score_type)  # exactly these classes: a subclass may score differently
    if kind is rst.Accuracy:
        return _accuracy
    if kind is rst.ClassificationError:
        return _error
    if kind is rst.NegativeLogLikelihood:
        return _nll
    if kind is rst.BalancedAccuracy:
        return _balanced_accuracy(bool(score_type.adjusted))
    if kind is rst.F1Above:
        return _f1_above(score_type.threshold)
    return None


def applies_to(predictions_cls: type, y_true: np.ndarray, y_proba: np.ndarray) -> bool:
    """Whether the exact forms may score these arrays: labels are the class indices 0..n-1 of
    the problem's ``Predictions`` class, probabilities finite and within [0, 1], shapes agree."""
    labels = getattr(predictions_cls, "label_names", None)
    if labels is None or y_proba.ndim != 2 or y_true.ndim != 1:
        return False
    n_rows, n_classes = y_proba.shape
    if list(labels) != list(range(n_classes)) or len(y_true) != n_rows or n_rows == 0:
        return False
    if y_true.dtype.kind not in "iu" or y_true.min() < 0 or y_true.max() >= n_classes:
        return False
    return bool(np.isfinite(y_proba).all() and y_proba.min() >= 0 and y_proba.max() <= 1)
