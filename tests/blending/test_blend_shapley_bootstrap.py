"""Shapley contributions to the hybrid score, and bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_server.blending.bootstrap import bootstrap_ci, bootstrap_terms, row_terms
from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.scores import accuracy, balanced_accuracy, negative_log_likelihood
from ramp_server.blending.shapley import HybridGame, shapley_values

from blend_helpers import random_folds


def _game(score, seed=0, K=8):
    rng = np.random.default_rng(seed)
    valid, test, rows, y_train, y_test = random_folds(
        rng, K=K, n_train=300, n_test=40, d=4, strength=1.2
    )
    folds = [FoldInput(rows[f], valid[f], test[f]) for f in range(3)]
    res = blend(folds=folds, y_train=y_train, y_test=y_test, score=score, max_n_ensemble=12)
    game = HybridGame(
        members=res.members_valid, picks=res.picks, rows=res.valid_rows, y=y_train, score=score
    )
    return res, game, y_train


@pytest.mark.parametrize("score", [accuracy(), negative_log_likelihood()], ids=["acc", "nll"])
def test_exact_shapley_values_sum_to_the_gain_over_the_empty_ensemble(score):
    res, game, y = _game(score)
    assert 1 <= game.n_players <= 10
    sv = shapley_values(game)
    assert sv.exact
    assert sv.values.sum() == pytest.approx(sv.full_value - sv.empty_value, abs=1e-12)
    assert sv.full_value == pytest.approx(res.combined_valid, abs=1e-9)
    # the empty ensemble predicts uniform probabilities
    uniform = np.full((len(y), 4), 0.25)
    assert sv.empty_value == pytest.approx(score(y, uniform))


def test_sampled_shapley_is_within_its_stated_bound_of_the_exact_values():
    _, game, _ = _game(accuracy(), seed=3)
    exact = shapley_values(game)
    sampled = shapley_values(game, exact_max=0, n_permutations=150, seed=1)
    assert not sampled.exact and sampled.n_permutations == 150
    # the estimates telescope: their sum is exactly the full gain
    assert sampled.values.sum() == pytest.approx(exact.values.sum(), abs=1e-12)
    assert np.all(np.abs(sampled.values - exact.values) <= sampled.hoeffding_bound)
    assert np.all(np.abs(sampled.values - exact.values) <= 3 * sampled.normal_bound + 1e-12)


def test_unpicked_submissions_are_not_players():
    res, game, _ = _game(accuracy(), K=10)
    picked = {i for fold in res.picks for i in fold}
    assert set(game.players) == picked


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_rows():
    rng = np.random.default_rng(0)
    widths = []
    for n in (200, 3200):
        y = rng.integers(0, 3, n)
        p = rng.random((n, 3))
        p[np.arange(n), y] += 0.6
        p /= p.sum(1, keepdims=True)
        iv = bootstrap_ci(accuracy(), y, p, n_boot=400, seed=1)
        assert iv.low <= iv.estimate <= iv.high
        assert iv.estimate == accuracy()(y, p)
        widths.append(iv.high - iv.low)
    assert widths[1] < widths[0] / 2


def test_bootstrap_is_deterministic_and_paired_across_submissions():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 500)
    p = rng.dirichlet(np.ones(4), size=(3, 500))
    terms = row_terms(negative_log_likelihood(), y, p)
    a = bootstrap_terms(terms, n_boot=200, seed=5)
    b = bootstrap_terms(terms, n_boot=200, seed=5)
    assert a == b and len(a) == 3
    assert a[0].estimate == pytest.approx(negative_log_likelihood()(y, p[0]), rel=1e-6)


def test_bootstrap_of_a_non_decomposable_score_uses_the_official_function():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 150)
    p = rng.dirichlet(np.ones(3), size=150)
    iv = bootstrap_ci(balanced_accuracy(), y, p, n_boot=60, seed=0)
    assert iv.low <= iv.estimate <= iv.high
    with pytest.raises(ValueError, match="not a mean of per-row terms"):
        row_terms(balanced_accuracy(), y, p)
