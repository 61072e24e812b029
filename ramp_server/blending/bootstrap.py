"""Bootstrap confidence intervals for single-submission and hybrid-model scores.

Rows are resampled with replacement (the models and the ensemble's selection stay fixed: the
interval reflects the finite evaluation set, the dominant source of leaderboard noise). For
scores that are means of per-row terms (accuracy, error, NLL) all resamples are computed at
once and many submissions share the same resamples (paired intervals); other scores call the
official function on each resample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scores import ScoreType

DECOMPOSABLE = ("accuracy", "error", "nll")


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval around the point estimate."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_boot: int


def row_terms(score: ScoreType, y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row terms whose mean is the score (decomposable kinds only); proba (..., n, d)."""
    if score.kind in ("accuracy", "error"):
        hit = (np.argmax(proba, axis=-1) == y).astype(np.float64)
        return 1 - hit if score.kind == "error" else hit
    if score.kind == "nll":
        p = np.take_along_axis(proba, np.broadcast_to(y[..., None], proba.shape[:-1] + (1,)), -1)
        eps = np.finfo(proba.dtype).eps
        return -np.log(np.clip(p[..., 0], eps, 1 - eps)).astype(np.float64)
    raise ValueError(f"score {score.name!r} ({score.kind}) is not a mean of per-row terms")


def _indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_terms(
    terms: np.ndarray, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> list[Interval]:
    """Intervals for the means of ``terms`` (K, n), all resampled with the same row draws."""
    terms = np.atleast_2d(np.asarray(terms, dtype=np.float64))
    n = terms.shape[1]
    idx = _indices(n, n_boot, seed)
    counts = np.empty((n_boot, n))
    for b in range(n_boot):
        counts[b] = np.bincount(idx[b], minlength=n)
    means = counts @ terms.T / n  # (n_boot, K)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(means, [a, 1 - a], axis=0)
    return [
        Interval(float(terms[k].mean()), float(lo[k]), float(hi[k]), confidence, n_boot)
        for k in range(terms.shape[0])
    ]


def bootstrap_ci(
    score: ScoreType,
    y: np.ndarray,
    proba: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``score(y, proba)``."""
    y = np.asarray(y)
    if score.kind in DECOMPOSABLE:
        iv = bootstrap_terms(
            row_terms(score, y, proba), n_boot=n_boot, confidence=confidence, seed=seed
        )[0]
        return Interval(score(y, proba), iv.low, iv.high, confidence, n_boot)
    idx = _indices(len(y), n_boot, seed)
    values = np.array([score(y[i], proba[i]) for i in idx])
    a = (1 - confidence) / 2
    lo, hi = np.quantile(values, [a, 1 - a])
    return Interval(score(y, proba), float(lo), float(hi), confidence, n_boot)


#: scores that are functions of the confusion matrix alone
CONFUSION = ("accuracy", "error", "balanced_accuracy", "macro_recall")


def confusion_scores(score: ScoreType, conf: np.ndarray) -> np.ndarray:
    """``score`` of each confusion matrix of ``conf`` (B, d, d), rows true, columns predicted
    (scikit-learn's definitions, as :func:`~ramp_server.blending.scores.label_scores`)."""
    tp = np.diagonal(conf, axis1=1, axis2=2).astype(np.float64)
    tc, pc = conf.sum(axis=2), conf.sum(axis=1)
    if score.kind in ("accuracy", "error"):
        acc = tp.sum(axis=1) / tc.sum(axis=1)
        return 1 - acc if score.kind == "error" else acc
    present = tc > 0
    recall = np.where(present, tp / np.maximum(tc, 1), 0.0)
    if score.kind == "balanced_accuracy":
        k = present.sum(axis=1)
        s = recall.sum(axis=1) / k
        return (s - 1 / k) / (1 - 1 / k) if score.adjusted else s
    if score.kind == "macro_recall":
        return recall.sum(axis=1) / (present | (pc > 0)).sum(axis=1)
    raise ValueError(f"score {score.name!r} ({score.kind}) is not a confusion-matrix score")


def bootstrap_scores(
    scores: list[ScoreType],
    y: np.ndarray,
    proba: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    chunk: int = 64,
) -> list[Interval]:
    """Percentile bootstrap intervals of several scores of one prediction matrix (seeded).

    Resampling the n rows with replacement, ``n_boot`` times. For scores of the confusion matrix
    alone (accuracy, error, balanced accuracy, macro recall) a resample only matters through
    its counts of (true, predicted) pairs, which follow a multinomial law over the d² cells:
    ``n_boot`` multinomial draws replace ``n_boot × n`` row draws (exact, and thousands of times
    cheaper). Other scores draw row indices, ``chunk`` resamples at a time (memory
    ``chunk × n``): the NLL as a mean of per-row terms, any other score through its function on
    each resample. ``estimate`` is ``score(y, proba)``.
    """
    y = np.asarray(y)
    proba = np.asarray(proba)
    n, d = proba.shape
    rng = np.random.default_rng(seed)
    values = np.empty((len(scores), n_boot))
    by_cells = [i for i, s in enumerate(scores) if s.kind in CONFUSION]
    if by_cells:
        cells = np.bincount(y * d + np.argmax(proba, axis=1), minlength=d * d)
        conf = rng.multinomial(n, cells / n, size=n_boot).reshape(n_boot, d, d)
        for i in by_cells:
            values[i] = confusion_scores(scores[i], conf)
    by_rows = [i for i in range(len(scores)) if i not in by_cells]
    terms = {i: row_terms(scores[i], y, proba) for i in by_rows if scores[i].kind == "nll"}
    for start in range(0, n_boot if by_rows else 0, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int32 if n < 2**31 else np.int64)
        for i in by_rows:
            if i in terms:
                values[i, start : start + b] = terms[i][idx].mean(axis=1)
            else:
                values[i, start : start + b] = [scores[i](y[r], proba[r]) for r in idx]
    a = (1 - confidence) / 2
    lo, hi = np.quantile(values, [a, 1 - a], axis=1)
    return [
        Interval(s(y, proba), float(lo[i]), float(hi[i]), confidence, n_boot)
        for i, s in enumerate(scores)
    ]
