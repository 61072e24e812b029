"""Shapley-value contribution of each submission to the hybrid model's validation score.

The game: a coalition ``T`` of submissions is worth the bagged validation score of the hybrid
model with every member outside ``T`` removed from each fold's ensemble (the remaining members
keep their pick counts as weights); a fold left without members predicts uniform probabilities,
and so does the empty coalition. Submissions never picked are dummy players (value 0). Unlike
the greedy contributivity, the Shapley value does not depend on the order of the picks, and the
values add up to ``v(all) - v(empty)`` (exactly, for the sampled estimate too: each permutation's
marginal gains telescope).

Exact over all coalitions up to ``exact_max`` players; beyond, Monte-Carlo over random
permutations with a stated error bound: Hoeffding's half-width
``w * sqrt(ln(2 / (1 - confidence)) / (2 M))`` per player, where ``w = 2 (max - min)`` is the
range of a marginal gain for a bounded score, plus the normal-approximation half-width from the
sample standard deviation (the only one available for unbounded scores such as NLL).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .scores import ScoreType


def fast_score(score: ScoreType, y: np.ndarray, proba: np.ndarray) -> float:
    """The score of ``proba``, computed directly in numpy for the known kinds."""
    if score.kind in ("accuracy", "error"):
        acc = float(np.mean(np.argmax(proba, axis=1) == y))
        return 1 - acc if score.kind == "error" else acc
    if score.kind == "nll":
        eps = np.finfo(proba.dtype).eps
        return float(np.mean(-np.log(np.clip(proba[np.arange(len(y)), y], eps, 1 - eps))))
    return score(y, proba)


@dataclass
class ShapleyResult:
    """Shapley values (in player order) and how they were obtained."""

    values: np.ndarray
    empty_value: float
    full_value: float
    exact: bool
    n_permutations: int = 0
    confidence: float = 0.95
    hoeffding_bound: float | None = None  # per-player half-width, None for unbounded scores
    normal_bound: np.ndarray | None = None  # per-player z * std / sqrt(M)
    time_s: float = 0.0


class HybridGame:
    """The coalition game above, built from a blend's per-fold members (see ``BlendResult``)."""

    def __init__(
        self,
        *,
        members: Sequence[dict[int, np.ndarray]],
        picks: Sequence[Sequence[int]],
        rows: Sequence[np.ndarray],
        y: np.ndarray,
        score: ScoreType,
    ) -> None:
        self.players = sorted({i for fold in picks for i in fold})
        self.score = score
        pos = {p: j for j, p in enumerate(self.players)}
        self.folds = []
        used = np.zeros(len(y), dtype=bool)
        for fold_members, fold_picks, r in zip(members, picks, rows, strict=True):
            if not fold_picks:
                continue
            counts = np.bincount([pos[i] for i in fold_picks], minlength=len(self.players))
            self.folds.append((r, counts, {pos[i]: a for i, a in fold_members.items()}))
            used[r] = True
        self.rows = np.flatnonzero(used)
        self.y = np.asarray(y)[self.rows]
        d = next(iter(self.folds[0][2].values())).shape[1] if self.folds else 2
        self.n_classes = d
        self.local = np.full(len(y), -1)
        self.local[self.rows] = np.arange(len(self.rows))

    @property
    def n_players(self) -> int:
        return len(self.players)

    def _score(self, fold_sums: list[np.ndarray | None], fold_weights: list[float]) -> float:
        total = np.zeros((len(self.rows), self.n_classes))
        count = np.zeros(len(self.rows))
        for (r, _, _), s, w in zip(self.folds, fold_sums, fold_weights, strict=True):
            loc = self.local[r]
            total[loc] += s / w if w > 0 else 1.0 / self.n_classes
            count[loc] += 1
        return fast_score(self.score, self.y, total / count[:, None])

    def value(self, coalition: np.ndarray) -> float:
        """v(coalition), ``coalition`` a boolean mask over players."""
        sums, weights = [], []
        for r, counts, arrays in self.folds:
            w = 0.0
            s = np.zeros((len(r), self.n_classes))
            for j, a in arrays.items():
                if coalition[j] and counts[j]:
                    s += counts[j] * a
                    w += counts[j]
            sums.append(s)
            weights.append(w)
        return self._score(sums, weights)

    def walk(self, order: Sequence[int]) -> np.ndarray:
        """v of every prefix of ``order`` (length n_players + 1, starting with the empty set)."""
        sums = [np.zeros((len(r), self.n_classes)) for r, _, _ in self.folds]
        weights = [0.0] * len(self.folds)
        out = [self._score(sums, weights)]
        for j in order:
            for f, (_, counts, arrays) in enumerate(self.folds):
                if counts[j] and j in arrays:
                    sums[f] += counts[j] * arrays[j]
                    weights[f] += counts[j]
            out.append(self._score(sums, weights))
        return np.array(out)


def exact_shapley(value: Callable[[np.ndarray], float], n: int) -> tuple[np.ndarray, float, float]:
    """Exact Shapley values of an ``n``-player game by enumerating the 2^n coalitions."""
    cache: dict[int, float] = {}

    def v(bits: int) -> float:
        if bits not in cache:
            mask = np.array([(bits >> j) & 1 for j in range(n)], dtype=bool)
            cache[bits] = float(value(mask))
        return cache[bits]

    phi = np.zeros(n)
    fact = [math.factorial(i) for i in range(n + 1)]
    for j in range(n):
        others = [o for o in range(n) if o != j]
        for size in range(n):
            weight = fact[size] * fact[n - size - 1] / fact[n]
            for subset in combinations(others, size):
                bits = sum(1 << o for o in subset)
                phi[j] += weight * (v(bits | (1 << j)) - v(bits))
    return phi, v(0), v((1 << n) - 1)


def shapley_values(
    game: HybridGame,
    *,
    exact_max: int = 10,
    n_permutations: int = 200,
    max_seconds: float | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> ShapleyResult:
    """Shapley values of ``game``'s players: exact up to ``exact_max`` players, else sampled."""
    t0 = time.perf_counter()
    n = game.n_players
    if n == 0:
        v0 = game.walk([])[0] if game.folds else float("nan")
        return ShapleyResult(np.zeros(0), v0, v0, True, time_s=time.perf_counter() - t0)
    if n <= exact_max:
        phi, v0, vn = exact_shapley(game.value, n)
        return ShapleyResult(
            phi, v0, vn, True, confidence=confidence, time_s=time.perf_counter() - t0
        )
    rng = np.random.default_rng(seed)
    gains = []
    v0 = vn = float("nan")
    for m in range(n_permutations):
        order = rng.permutation(n)
        values = game.walk(order)
        v0, vn = values[0], values[-1]
        g = np.empty(n)
        g[order] = np.diff(values)
        gains.append(g)
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds and m >= 1:
            break
    gains_arr = np.array(gains)
    M = len(gains_arr)
    phi = gains_arr.mean(axis=0)
    log_term = math.log(2 / (1 - confidence))
    width = 2 * (game.score.maximum - game.score.minimum)
    hoeffding = width * math.sqrt(log_term / (2 * M)) if math.isfinite(width) else None
    z = _normal_quantile(0.5 + confidence / 2)
    normal = z * gains_arr.std(axis=0, ddof=1) / math.sqrt(M) if M > 1 else None
    return ShapleyResult(
        phi, float(v0), float(vn), False, M, confidence, hoeffding, normal, time.perf_counter() - t0
    )


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
