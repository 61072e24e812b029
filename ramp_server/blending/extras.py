"""The blend's expensive extras, computed apart from the hybrid scores and contributivities.

A re-blend writes the picks, contributivities and hybrid scores first (:mod:`.incremental`);
:func:`blend_extras` then computes, from the same :class:`~.hybrid.BlendResult`,

- Shapley values of the hybrid validation score (:mod:`.shapley`): exact up to
  ``shapley_exact_max`` players, else sampled permutations, at most ``shapley_permutations``
  and ``shapley_seconds`` (at least two permutations);
- the 95% bootstrap intervals of the combined validation and test scores (``n_boot``
  resamples);
- the nested honest validation curve, when given (``IncrementalBlender.nested_valid_scores``
  keeps it up to date at the cost of an update; ``hybrid.blend(nested=True)`` from scratch).

Every part has its own time in ``time_s``, so the caller can write them with their own
timestamp. Their cost depends on the players (the picked candidates) and the rows, not on the
number of candidates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .bootstrap import bootstrap_ci
from .hybrid import BlendResult
from .scores import ScoreType
from .shapley import HybridGame, ShapleyResult, shapley_values


@dataclass
class BlendExtras:
    """Shapley values (``players``: candidate indices of ``result.names``), bootstrap
    intervals (``ci95[name] = [low, high]``), the nested curve, and the time of each part."""

    shapley: ShapleyResult | None
    players: list[int]
    ci95: dict[str, list[float]]
    nested_valid_scores: list[float] = field(default_factory=list)
    time_s: dict[str, float] = field(default_factory=dict)

    @property
    def nested_valid(self) -> float | None:
        return self.nested_valid_scores[-1] if self.nested_valid_scores else None


def blend_extras(
    result: BlendResult,
    *,
    y_train: np.ndarray,
    score: ScoreType,
    y_test: np.ndarray | None = None,
    shapley_seconds: float | None = 5.0,
    shapley_permutations: int = 200,
    shapley_exact_max: int = 10,
    n_boot: int = 200,
    seed: int = 0,
    nested: Callable[[], list[float]] | None = None,
) -> BlendExtras:
    """The extras of ``result`` (see the module docstring); ``nested`` computes the nested
    curve (e.g. ``blender.nested_valid_scores``), None to skip it."""
    times: dict[str, float] = {}
    y_train = np.asarray(y_train)
    t0 = time.perf_counter()
    shap, players = None, []
    if any(result.picks):
        game = HybridGame(
            members=result.members_valid,
            picks=result.picks,
            rows=result.valid_rows,
            y=y_train,
            score=score,
        )
        shap = shapley_values(
            game,
            exact_max=shapley_exact_max,
            n_permutations=shapley_permutations,
            max_seconds=shapley_seconds,
            seed=seed,
        )
        players = list(game.players)
    times["shapley"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ci: dict[str, list[float]] = {}
    if n_boot and result.combined_valid_proba is not None:
        iv = bootstrap_ci(
            score,
            y_train[result.combined_valid_mask],
            result.combined_valid_proba,
            n_boot=n_boot,
            seed=seed,
        )
        ci["combined_valid"] = [iv.low, iv.high]
    if n_boot and y_test is not None and result.combined_test_proba is not None:
        iv = bootstrap_ci(score, y_test, result.combined_test_proba, n_boot=n_boot, seed=seed)
        ci["combined_test"] = [iv.low, iv.high]
    times["bootstrap"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nested_scores = nested() if nested is not None else []
    times["nested"] = time.perf_counter() - t0
    return BlendExtras(shap, players, ci, nested_scores, times)
