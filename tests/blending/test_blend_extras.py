"""The blend's extras (Shapley values, bootstrap intervals, nested score), computed apart."""

from __future__ import annotations

import numpy as np

from ramp_server.blending.bootstrap import bootstrap_ci
from ramp_server.blending.extras import blend_extras
from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.incremental import IncrementalBlender
from ramp_server.blending.scores import accuracy
from ramp_server.blending.shapley import HybridGame, shapley_values

from blend_helpers import random_folds


def _case(K=10, seed=0):
    rng = np.random.default_rng(seed)
    valid, test, rows, y_train, y_test = random_folds(
        rng, K=K, n_train=300, n_test=40, d=4, strength=1.2
    )
    folds = [FoldInput(rows[f], valid[f], test[f]) for f in range(3)]
    return folds, y_train, y_test


def test_extras_equal_what_the_live_blend_computes_in_one_go():
    folds, y_train, y_test = _case()
    blender = IncrementalBlender()
    kw = dict(folds=folds, y_train=y_train, y_test=y_test, score=accuracy(), max_n_ensemble=12)
    result = blender.update(**kw)
    extras = blend_extras(
        result,
        y_train=y_train,
        y_test=y_test,
        score=accuracy(),
        n_boot=100,
        nested=blender.nested_valid_scores,
    )
    game = HybridGame(
        members=result.members_valid,
        picks=result.picks,
        rows=result.valid_rows,
        y=y_train,
        score=accuracy(),
    )
    reference = shapley_values(game)
    assert extras.players == game.players
    assert np.array_equal(extras.shapley.values, reference.values)
    valid = bootstrap_ci(
        accuracy(), y_train[result.combined_valid_mask], result.combined_valid_proba, n_boot=100
    )
    test = bootstrap_ci(accuracy(), y_test, result.combined_test_proba, n_boot=100)
    assert extras.ci95 == {
        "combined_valid": [valid.low, valid.high],
        "combined_test": [test.low, test.high],
    }
    assert extras.nested_valid_scores == blend(**kw, nested=True).nested_valid_scores
    assert set(extras.time_s) == {"shapley", "bootstrap", "nested"}


def test_shapley_sampling_stops_at_its_budget():
    folds, y_train, y_test = _case(K=30, seed=3)
    result = blend(folds=folds, y_train=y_train, y_test=y_test, score=accuracy())
    n_players = len({i for p in result.picks for i in p})
    assert n_players > 3
    kw = dict(y_train=y_train, score=accuracy(), shapley_exact_max=3, n_boot=0)
    by_count = blend_extras(result, shapley_permutations=7, shapley_seconds=None, **kw)
    assert not by_count.shapley.exact and by_count.shapley.n_permutations == 7
    by_time = blend_extras(result, shapley_permutations=10_000, shapley_seconds=0.0, **kw)
    assert by_time.shapley.n_permutations == 2  # the least that gives a spread
    assert by_count.ci95 == {} and by_count.nested_valid_scores == []
