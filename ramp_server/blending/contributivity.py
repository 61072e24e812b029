"""Contributivity from the picks, and RAMP's historical contributivity (credit propagation).

Contributivity (RAMP's definition): on each fold a submission gets its share of the fold's
greedy picks (``count / n_picks``); shares are averaged over the folds, so all submissions
together sum to 1 (shown as percentages).

Historical contributivity: when submitting, a participant may credit earlier submissions it
built on (percentages, the rest being self-credit). Processing submissions from the newest to
the oldest, each one first receives its own contributivity, then passes the credited share of
everything it holds so far (its own plus what newer submissions passed to it) to the sources it
credits. Credit therefore flows transitively towards older work and the total is conserved.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np


def fold_contributivity(picks: Sequence[Sequence[int]], n_candidates: int) -> np.ndarray:
    """(K, F) share of each fold's picks divided by the number of folds (rampwf's ``fold_i``)."""
    n_folds = len(picks)
    out = np.zeros((n_candidates, n_folds))
    for f, fold_picks in enumerate(picks):
        for i in fold_picks:
            out[i, f] += 1.0 / len(fold_picks)
    return out / max(n_folds, 1)


def contributivity(picks: Sequence[Sequence[int]], n_candidates: int) -> np.ndarray:
    """(K,) contributivity fractions summing to 1 (all zeros when nothing was picked)."""
    per_fold = fold_contributivity(picks, n_candidates)
    total = per_fold.sum()
    return per_fold.sum(axis=1) / total if total > 0 else np.zeros(n_candidates)


def rounded_percentages(values: np.ndarray) -> np.ndarray:
    """Integer percentages as ramp-blend prints them (``round(100 * share)``)."""
    values = np.asarray(values, dtype=float)
    total = values.sum()
    if total <= 0:
        return np.zeros(len(values), dtype=int)
    return np.round(values * (100 / total)).astype(int)


def historical_contributivity(
    *,
    order: Sequence[Hashable],
    contributivity: Mapping[Hashable, float],
    credits: Mapping[Hashable, Sequence[tuple[Hashable, float]]],
) -> dict[Hashable, float]:
    """Propagate contributivity along credits, newest to oldest (RAMP's rule).

    ``order`` lists the submissions from the oldest to the newest; ``credits[target]`` lists
    ``(source, percent)`` pairs (percent of 100; what is left is self-credit). A credit must
    point to an older submission of ``order``; credits to unknown submissions are ignored (the
    share stays with the target). The result sums to the sum of ``contributivity``.
    """
    position = {s: i for i, s in enumerate(order)}
    if len(position) != len(order):
        raise ValueError("order lists a submission twice")
    hist = {s: 0.0 for s in order}
    for target in reversed(order):
        hist[target] += float(contributivity.get(target, 0.0))
        pairs = [(src, pct) for src, pct in credits.get(target, ()) if src in position]
        total_pct = sum(pct for _, pct in pairs)
        if any(pct < 0 for _, pct in pairs) or total_pct > 100 + 1e-9:
            raise ValueError(
                f"credits of submission {target!r} must be non-negative and sum to at most 100 "
                f"(got {total_pct:g})"
            )
        held = hist[target]
        for src, pct in pairs:
            if position[src] >= position[target]:
                raise ValueError(
                    f"submission {target!r} credits {src!r}, which is not older than it"
                )
            share = held * pct / 100.0
            hist[src] += share
            hist[target] -= share
    return hist
