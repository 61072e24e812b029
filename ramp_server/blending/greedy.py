"""Caruana's greedy forward selection with replacement on one fold, as rampwf's ``ramp-blend``.

rampwf's ``blend_on_fold`` (reproduced decision for decision):

1. score every candidate alone on its *raw* probabilities; start from the best one (the first
   in candidate order on a tie);
2. repeat while the ensemble has fewer than ``max_n_ensemble`` members: score the current
   ensemble (uniform mean of clipped and renormalised members), then scan the candidates in
   order, each tried as one more member; a candidate replaces the running best when it improves
   on the running best score by more than ``min_improvement``; append the last such candidate,
   or stop when there is none.

Tie rule (same as ramp-blend): among candidates with equal score the *first in candidate order*
wins, both for the starting model and at every step (a later one must be strictly better).

The loop is resumable (:class:`GreedyPath`: picks, scores and every scan's scores), so that
:mod:`.foldstate` can judge new candidates along a kept path and continue it from any step
with the same code. Scoring all candidates at a step is :class:`.candidates.Candidates`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .candidates import Candidates
from .combine import clip_normalise
from .scores import ScoreType

__all__ = [
    "Candidates",
    "FoldBlend",
    "GreedyPath",
    "advance_path",
    "check_settings",
    "first_pick",
    "greedy_fold",
    "scan_step",
    "start_path",
]


@dataclass
class FoldBlend:
    """The outcome of the greedy selection on one fold (indices into the fold's candidates)."""

    picks: list[int]
    scores: list[float]  # official score of the ensemble after each pick
    n_candidates: int


def _scan(
    approx: np.ndarray,
    delta: float,
    base: float,
    official,
    min_improvement: float,
) -> tuple[int, float]:
    """rampwf's candidate scan on gains (higher is better); exact where within ``delta``.

    Returns (winner or -1, its official gain). Only candidates that beat every earlier one
    (within ``delta``) can be accepted, so only those are visited.
    """
    exact: dict[int, float] = {}

    def value(i: int) -> float:
        if i not in exact:
            exact[i] = official(i)
        return exact[i]

    if not len(approx):
        return -1, base
    prev_max = np.concatenate(([-np.inf], np.maximum.accumulate(approx)[:-1]))
    visit = np.flatnonzero(
        (approx > prev_max - 2 * delta) & (approx > base + min_improvement - 2 * delta)
    )
    best, best_i, best_exact = base, -1, True
    for i in visit:
        s = float(approx[i])
        threshold = best + min_improvement
        if delta and abs(s - threshold) <= 2 * delta:
            s = value(int(i))
            if not best_exact:
                best = value(best_i)
                best_exact = True
                threshold = best + min_improvement
            is_exact = True
        else:
            is_exact = delta == 0
        if s > threshold:
            best, best_i, best_exact = s, int(i), is_exact
    if best_i >= 0 and not best_exact:
        best = value(best_i)
    return best_i, best


@dataclass
class GreedyPath:
    """A greedy path so far: enough to continue it, or to judge any of its steps again.

    ``picks`` index the candidates' array (``Candidates.proba``); ``scores[j]`` is the official
    score of the ensemble ``picks[: j + 1]``; ``scans[j]`` holds the scan made on that ensemble:
    ``sign *`` the approximate score of every candidate of the array (higher is better), in
    array order. A path that stopped on ``max_n_ensemble`` has one scan fewer than picks.
    """

    picks: list[int]
    scores: list[float]
    scans: list[np.ndarray]


def first_pick(singles: np.ndarray, delta: float, exact: Callable[[int], float]) -> int:
    """Step 1: the best single model (position in ``singles``, first on a tie).

    ``singles`` are ``sign *`` the approximate scores of the *raw* predictions, in candidate
    order; ``exact(i)`` is ``sign *`` candidate ``i``'s official score on its raw predictions,
    asked only for candidates within ``2 * delta`` of the top.
    """
    top = singles.max()
    near = np.flatnonzero(singles >= top - 2 * delta) if delta else [int(np.argmax(singles))]
    if len(near) > 1:
        return int(near[int(np.argmax([exact(int(i)) for i in near]))])
    return int(near[0])


def start_path(proba: np.ndarray, first: int, y: np.ndarray, score: ScoreType):
    """The one-member path ``[first]`` (``proba`` normalised) and its running sum."""
    total = np.array(proba[first], copy=True)
    return GreedyPath([first], [score(y, total / np.asarray(1, total.dtype))], []), total


def scan_step(
    cands: Candidates,
    approx: np.ndarray,
    total: np.ndarray,
    k: int,
    base: float,
    *,
    min_improvement: float,
    order: np.ndarray | None = None,
) -> tuple[int, float]:
    """One scan on the ensemble ``total`` of ``k`` members (``base``: its ``sign *`` official
    score): the winner's array index (or -1) and ``sign *`` the new ensemble's official score.

    ``approx`` holds ``sign *`` the approximate score of every candidate of ``cands`` (array
    order); ``order`` lists the array indices in candidate order (None: the same order), which
    decides ties.
    """
    sign = -1.0 if cands.score.is_lower_the_better else 1.0
    ranked = approx if order is None else approx[order]

    def official(i: int) -> float:
        j = i if order is None else int(order[i])
        return sign * cands.official_candidate(total, k, j)

    winner, base = _scan(ranked, cands.delta, base, official, min_improvement)
    if winner >= 0 and order is not None:
        winner = int(order[winner])
    return winner, base


def advance_path(
    cands: Candidates,
    path: GreedyPath,
    total: np.ndarray,
    *,
    max_n_ensemble: int,
    min_improvement: float,
    order: np.ndarray | None = None,
) -> int:
    """Continue ``path`` (``total``: the running sum of its picks, updated in place) with every
    candidate until no candidate improves or the ensemble is full; returns the steps scanned."""
    sign = -1.0 if cands.score.is_lower_the_better else 1.0
    n_steps = 0
    while len(path.picks) < max_n_ensemble:
        k = len(path.picks)
        approx = sign * cands.scores(total, k)
        path.scans.append(approx)
        n_steps += 1
        winner, base = scan_step(
            cands,
            approx,
            total,
            k,
            sign * path.scores[-1],
            min_improvement=min_improvement,
            order=order,
        )
        if winner < 0:
            break
        # ``base`` is the official score of the new ensemble: the scan scored exactly the
        # array ``(total + P_winner) / (k + 1)`` that the next step would score again
        path.picks.append(winner)
        path.scores.append(sign * base)
        total += cands.proba[winner]
    return n_steps


def check_settings(max_n_ensemble: int, min_improvement: float) -> None:
    if min_improvement < 0:
        raise ValueError("min_improvement must be >= 0")
    if max_n_ensemble < 1:
        raise ValueError("max_n_ensemble must be >= 1")


def greedy_fold(
    proba: np.ndarray,
    y: np.ndarray,
    score: ScoreType,
    *,
    max_n_ensemble: int = 80,
    min_improvement: float = 0.0,
) -> FoldBlend:
    """Greedy selection on one fold. ``proba`` (K, n, d) raw probabilities of the K candidates
    on the fold's validation rows (normalised in place), ``y`` (n,) integer labels."""
    check_settings(max_n_ensemble, min_improvement)
    K = proba.shape[0]
    if K == 0:
        return FoldBlend([], [], 0)
    if not proba.flags.c_contiguous:
        proba = np.ascontiguousarray(proba)
    y = np.asarray(y, dtype=np.intp)
    sign = -1.0 if score.is_lower_the_better else 1.0
    cands = Candidates(proba, y, score)
    # 1. best single model on raw predictions (rampwf scores each Predictions as given)
    singles = sign * cands.singles()
    first = first_pick(singles, cands.delta, lambda i: sign * score(y, proba[i]))
    if not cands.normalised:  # from now on members are clipped and renormalised
        clip_normalise(proba, out=proba)
    path, total = start_path(proba, first, y, score)
    advance_path(cands, path, total, max_n_ensemble=max_n_ensemble, min_improvement=min_improvement)
    return FoldBlend(picks=path.picks, scores=path.scores, n_candidates=K)
