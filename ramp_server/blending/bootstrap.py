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
