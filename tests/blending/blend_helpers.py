"""Helpers of the blending tests: random prediction sets and rampwf's blender as reference."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from rampwf import score_types as rst
from rampwf.prediction_types import make_multiclass
from rampwf.utils.combine import blend_on_fold


def random_case(rng, *, K, n, d, dtype=np.float64, strength=1.0, shared=0.7, equal=False):
    """K noisy models' probabilities (K, n, d) and labels (n,)."""
    y = rng.integers(0, d, n)
    common = rng.normal(size=(1, n, d)) * shared
    logits = common + rng.normal(size=(K, n, d))
    weights = np.ones((K, 1, 1)) if equal else rng.random((K, 1, 1))
    logits += (strength * weights) * np.eye(d)[y][None]
    p = np.exp(logits)
    p /= p.sum(-1, keepdims=True)
    return p.astype(dtype), y


def rampwf_picks(proba, y, score_type, *, max_n_ensemble=80, min_improvement=0.0):
    """rampwf's blend_on_fold on the same arrays (the reference)."""
    d = proba.shape[2]
    Predictions = make_multiclass(label_names=list(range(d)))
    gt = Predictions(y_true=y)
    preds = [Predictions(y_pred=np.array(p, copy=True)) for p in proba]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        picks = blend_on_fold(
            preds, gt, score_type, max_n_ensemble=max_n_ensemble, min_improvement=min_improvement
        )
    return [int(i) for i in picks]


RAMPWF_SCORE_TYPES = {
    "accuracy": lambda: rst.Accuracy(name="acc"),
    "nll": lambda: rst.NegativeLogLikelihood(name="nll"),
    "balanced_accuracy": lambda: rst.BalancedAccuracy(name="bal_acc", adjusted=False),
    "balanced_accuracy_adjusted": lambda: rst.BalancedAccuracy(name="bal_acc_adj"),
    "macro_recall": lambda: rst.MacroAveragedRecall(name="macro_recall"),
    "error": lambda: rst.ClassificationError(name="error"),
    "f1_above (generic)": lambda: rst.F1Above(name="f1_70", threshold=0.7),
}


def rampwf_blend_reference(valid, test, rows, y_train, y_test, score_type, *, exclude=()):
    """rampwf's blend_submissions over arrays: per-fold picks, fold shares, bagged scores.

    ``valid[f][i]``/``test[f][i]`` are candidate i's arrays on fold f; ``exclude`` lists
    (fold, candidate) pairs left out of that fold (as our blender does for failed folds).
    """
    from rampwf.utils.combine import get_score_cv_bags

    d = valid[0][0].shape[1]
    Predictions = make_multiclass(label_names=list(range(d)))
    K, F = len(valid[0]), len(valid)
    shares = np.zeros((K, F))
    comb_v, comb_t, best_v, best_t, picks_all = [], [], [], [], []
    for f in range(F):
        keep = [i for i in range(K) if (f, i) not in exclude]
        gt = Predictions(y_true=y_train[rows[f]])
        pv = [Predictions(y_pred=valid[f][i].copy()) for i in keep]
        pt = [Predictions(y_pred=test[f][i].copy()) for i in keep]
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local = blend_on_fold(pv, gt, score_type)
        picks = [keep[j] for j in local]
        picks_all.append(picks)
        for i in picks:
            shares[i, f] += 1.0 / len(picks)
        comb_v.append(Predictions.combine(pv, local))
        comb_t.append(Predictions.combine(pt, local))
        best_v.append(pv[local[0]])
        best_t.append(pt[local[0]])
    shares /= F
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {
            "picks": picks_all,
            "shares": shares,
            "combined_valid": get_score_cv_bags(
                score_type, comb_v, Predictions(y_true=y_train), test_is_list=rows
            )[1],
            "combined_test": get_score_cv_bags(score_type, comb_t, Predictions(y_true=y_test))[1],
            "foldwise_valid": get_score_cv_bags(
                score_type, best_v, Predictions(y_true=y_train), test_is_list=rows
            )[1],
            "foldwise_test": get_score_cv_bags(score_type, best_t, Predictions(y_true=y_test))[1],
        }
    return out


def random_folds(rng, *, K, n_train, n_test, d, F=3, dtype=np.float64, strength=1.5):
    """Random per-fold predictions of K candidates: (valid, test, rows, y_train, y_test)."""
    y_train = rng.integers(0, d, n_train)
    y_test = rng.integers(0, d, n_test)
    rows = [np.sort(r) for r in np.array_split(rng.permutation(n_train), F)]
    quality = rng.uniform(0.2, strength, K)

    def proba(y, q):
        logits = rng.normal(size=(len(y), d))
        logits[np.arange(len(y)), y] += q
        p = np.exp(logits)
        return (p / p.sum(1, keepdims=True)).astype(dtype)

    valid = [[proba(y_train[r], quality[i]) for i in range(K)] for r in rows]
    test = [[proba(y_test, quality[i]) for i in range(K)] for _ in rows]
    return valid, test, rows, y_train, y_test
