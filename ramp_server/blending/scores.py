"""Score types over plain arrays, with the vectorized forms the greedy blender uses.

A :class:`ScoreType` scores ``(y_true, proba)`` where ``y_true`` holds integer class indices and
``proba`` is (n_rows, n_classes). ``function`` is the *official* value (bit-identical to rampwf's
score type of the same name, since it calls the same scikit-learn code on the same arrays);
``kind`` names a vectorized form used to score many candidate ensembles in one pass:

- ``"accuracy"`` / ``"error"``: exact (integer counts divided by n, as scikit-learn does);
- ``"balanced_accuracy"``, ``"macro_recall"``: from per-class counts, within ``1e-12``;
- ``"nll"``: from the probability of the true class only, within a dtype-dependent tolerance;
- ``"generic"``: no vectorized form, every candidate goes through ``function``.

Candidates whose approximate score is within the tolerance of a decision are re-scored with
``function``, so decisions (picks) are always those of the official score.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LABEL_KINDS = ("accuracy", "error", "balanced_accuracy", "macro_recall")
KINDS = (*LABEL_KINDS, "nll", "generic")


@dataclass(frozen=True)
class ScoreType:
    """A score over ``(y_true int labels, proba)``; see the module docstring."""

    name: str
    is_lower_the_better: bool
    function: Callable[[np.ndarray, np.ndarray], float] = field(repr=False)
    kind: str = "generic"
    minimum: float = -np.inf
    maximum: float = np.inf
    precision: int = 4
    adjusted: bool = False  # balanced accuracy only

    def __call__(self, y_true: np.ndarray, proba: np.ndarray) -> float:
        return float(self.function(np.asarray(y_true), np.asarray(proba)))

    @property
    def worst(self) -> float:
        return self.maximum if self.is_lower_the_better else self.minimum

    def is_better(self, a: float, b: float) -> bool:
        return a < b if self.is_lower_the_better else a > b


def _onehot(y: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(y), n_classes), dtype=np.float64)
    out[np.arange(len(y)), y] = 1.0
    return out


def accuracy(name: str = "accuracy", precision: int = 4) -> ScoreType:
    from sklearn.metrics import accuracy_score

    return ScoreType(
        name,
        False,
        lambda y, p: accuracy_score(y, np.argmax(p, axis=1)),
        "accuracy",
        0.0,
        1.0,
        precision,
    )


def classification_error(name: str = "error", precision: int = 4) -> ScoreType:
    from sklearn.metrics import accuracy_score

    return ScoreType(
        name,
        True,
        lambda y, p: 1 - accuracy_score(y, np.argmax(p, axis=1)),
        "error",
        0.0,
        1.0,
        precision,
    )


def negative_log_likelihood(name: str = "nll", precision: int = 4) -> ScoreType:
    from sklearn.metrics import log_loss

    return ScoreType(
        name, True, lambda y, p: log_loss(_onehot(y, p.shape[1]), p), "nll", 0.0, np.inf, precision
    )


def balanced_accuracy(
    name: str = "balanced_accuracy", precision: int = 4, adjusted: bool = False
) -> ScoreType:
    from sklearn.metrics import balanced_accuracy_score

    def fn(y: np.ndarray, p: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return balanced_accuracy_score(y, np.argmax(p, axis=1), adjusted=adjusted)

    return ScoreType(name, False, fn, "balanced_accuracy", 0.0, 1.0, precision, adjusted)


def macro_averaged_recall(name: str = "macro_recall", precision: int = 4) -> ScoreType:
    from sklearn.metrics import recall_score

    def fn(y: np.ndarray, p: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return recall_score(y, np.argmax(p, axis=1), average="macro")

    return ScoreType(name, False, fn, "macro_recall", 0.0, 1.0, precision)


BUILTIN: dict[str, Callable[..., ScoreType]] = {
    "accuracy": accuracy,
    "error": classification_error,
    "nll": negative_log_likelihood,
    "balanced_accuracy": balanced_accuracy,
    "macro_recall": macro_averaged_recall,
}


def from_rampwf(score_type: Any, *, n_classes: int, predictions_cls: Any = None) -> ScoreType:
    """Wrap a rampwf score type (``problem.score_types[i]``) as an array :class:`ScoreType`.

    The official value is rampwf's own ``score_function`` on ``Predictions`` built from the
    arrays (or its bit-identical fast form, :mod:`ramp_server.kit.exact_scores`); rampwf's
    classification score types get their vectorized form.
    """
    from rampwf import score_types as rst
    from rampwf.prediction_types import make_multiclass

    from ramp_server.kit.exact_scores import applies_to, exact_form

    kind = "generic"
    if isinstance(score_type, rst.Accuracy):
        kind = "accuracy"
    elif isinstance(score_type, rst.ClassificationError):
        kind = "error"
    elif isinstance(score_type, rst.NegativeLogLikelihood):
        kind = "nll"
    elif isinstance(score_type, rst.BalancedAccuracy):
        kind = "balanced_accuracy"
    elif isinstance(score_type, rst.MacroAveragedRecall):
        kind = "macro_recall"
    cls = predictions_cls or make_multiclass(label_names=list(range(n_classes)))
    if getattr(cls, "n_columns", n_classes) != n_classes:
        raise ValueError(
            f"score type {score_type.name!r}: Predictions has {cls.n_columns} classes, "
            f"the predictions {n_classes}"
        )

    exact = exact_form(score_type)

    def fn(y: np.ndarray, p: np.ndarray) -> float:
        y, p = np.asarray(y), np.asarray(p)
        if exact is not None and p.dtype == np.float64 and applies_to(cls, y, p):
            return exact(y, p)  # bit-identical to rampwf's, without scikit-learn's checks
        gt = cls(y_pred=_onehot(y, n_classes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return score_type.score_function(gt, cls(y_pred=p))

    return ScoreType(
        name=score_type.name,
        is_lower_the_better=bool(score_type.is_lower_the_better),
        function=fn,
        kind=kind,
        minimum=float(getattr(score_type, "minimum", -np.inf)),
        maximum=float(getattr(score_type, "maximum", np.inf)),
        precision=int(getattr(score_type, "precision", 4)),
        adjusted=bool(getattr(score_type, "adjusted", False)),
    )


def label_scores(
    score: ScoreType, tp: np.ndarray, pred_count: np.ndarray, true_count: np.ndarray
) -> np.ndarray:
    """Vectorized label-based scores of many candidates from per-class counts.

    ``tp`` and ``pred_count`` are (K, n_classes): true positives and predicted counts of each
    candidate; ``true_count`` (n_classes,) the class frequencies of ``y_true``.
    """
    n = float(true_count.sum())
    if score.kind in ("accuracy", "error"):
        acc = tp.sum(axis=1) / n
        return 1 - acc if score.kind == "error" else acc
    present = true_count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, tp / np.maximum(true_count, 1), 0.0)
    if score.kind == "balanced_accuracy":
        s = np.mean(recall[:, present], axis=1)
        if score.adjusted:
            chance = 1 / present.sum()
            s = (s - chance) / (1 - chance)
        return s
    if score.kind == "macro_recall":
        n_labels = (present[None, :] | (pred_count > 0)).sum(axis=1)
        return recall.sum(axis=1) / n_labels
    raise ValueError(f"score kind {score.kind!r} is not label-based")
