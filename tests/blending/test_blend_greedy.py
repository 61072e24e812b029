"""The greedy selection makes exactly ramp-blend's picks (rampwf's blend_on_fold as reference)."""

from __future__ import annotations

import numpy as np
import pytest
from rampwf.prediction_types import make_multiclass

from ramp_server.blending.combine import clip_normalise, mean_of_picks
from ramp_server.blending.greedy import greedy_fold
from ramp_server.blending.scores import accuracy, from_rampwf, negative_log_likelihood

from blend_helpers import rampwf_picks, random_case


def _ours(proba, y, st, **kw):
    score = from_rampwf(st, n_classes=proba.shape[2])
    return greedy_fold(np.array(proba, copy=True), y, score, **kw).picks


def test_picks_equal_rampwf_on_random_cases(rampwf_score_type):
    n_long = 0
    for case in range(24):
        rng = np.random.default_rng(case)
        K = int(rng.integers(1, 9))
        n = int(rng.integers(4, 80))
        d = int(rng.integers(2, 6))
        dtype = (np.float32, np.float64)[case % 2]
        proba, y = random_case(
            rng, K=K, n=n, d=d, dtype=dtype, strength=rng.uniform(0.2, 3), shared=case % 3 * 0.4
        )
        if case % 4 == 0:  # coarse probabilities: many exactly tied scores
            proba = (np.round(proba * 4) / 4).astype(dtype)
        if case % 3 == 0 and K > 2:  # identical submissions
            proba[2] = proba[0]
        mi = 0.01 if case % 5 == 0 else 0.0
        ref = rampwf_picks(proba, y, rampwf_score_type, max_n_ensemble=12, min_improvement=mi)
        ours = _ours(proba, y, rampwf_score_type, max_n_ensemble=12, min_improvement=mi)
        assert ours == ref, f"case {case}: K={K} n={n} d={d} {dtype.__name__} mi={mi}"
        n_long += len(ref) >= 3
    assert n_long > 0  # some cases went beyond a few steps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["accuracy", "nll", "balanced_accuracy"])
def test_long_ensembles_equal_rampwf(kind, dtype):
    """Many weak, independent models: the ensemble grows long (margins exceed one member)."""
    from blend_helpers import RAMPWF_SCORE_TYPES

    st = RAMPWF_SCORE_TYPES[kind]()
    rng = np.random.default_rng(1)
    proba, y = random_case(rng, K=15, n=300, d=5, strength=1.0, shared=0.0, equal=True)
    proba = proba.astype(dtype)
    ref = rampwf_picks(proba, y, st, max_n_ensemble=30)
    assert len(ref) >= 10
    assert _ours(proba, y, st, max_n_ensemble=30) == ref


def test_single_submission_is_its_own_ensemble():
    rng = np.random.default_rng(1)
    proba, y = random_case(rng, K=1, n=50, d=4)
    fb = greedy_fold(proba.copy(), y, accuracy())
    assert fb.picks == [0] or set(fb.picks) == {0}
    from rampwf.score_types import Accuracy

    assert fb.picks == rampwf_picks(proba, y, Accuracy())


def test_identical_submissions_tie_goes_to_the_first():
    rng = np.random.default_rng(2)
    proba, y = random_case(rng, K=4, n=60, d=3, strength=2.0)
    proba = np.concatenate([proba[[3]], proba[[3]], proba[:3]])  # 0 and 1 identical, best
    picks = greedy_fold(proba.copy(), y, accuracy()).picks
    assert 1 not in picks  # the duplicate never wins: the first of equals is taken
    assert picks[0] == 0 or 0 not in picks[:1]


def test_max_ensemble_size_is_honoured():
    rng = np.random.default_rng(3)
    proba, y = random_case(rng, K=10, n=200, d=5, strength=0.8, shared=0.0)
    for size in (1, 2, 5):
        assert len(greedy_fold(proba.copy(), y, accuracy(), max_n_ensemble=size).picks) <= size


def test_lower_is_better_score_never_gets_worse_along_the_path():
    rng = np.random.default_rng(4)
    proba, y = random_case(rng, K=8, n=150, d=5, strength=1.0, shared=0.2)
    fb = greedy_fold(proba.copy(), y, negative_log_likelihood())
    assert all(b < a for a, b in zip(fb.scores[:-1], fb.scores[1:], strict=True))


def combine_picks(raw, picks):
    """rampwf's ``Predictions.combine(raw, picks)`` written out on raw member arrays."""
    total = None
    for i in picks:
        p = clip_normalise(raw[i])
        total = p if total is None else total.__iadd__(p)
    total /= len(picks)
    return total


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_combined_probabilities_bit_identical_to_rampwf_combine(dtype):
    rng = np.random.default_rng(5)
    proba, _ = random_case(rng, K=6, n=40, d=5, dtype=dtype)
    proba[2, :3] = 0.0  # rows of zeros: clipping matters
    picks = [3, 1, 3, 0, 5, 5, 2]
    Predictions = make_multiclass(label_names=list(range(5)))
    ref = Predictions.combine([Predictions(y_pred=p.copy()) for p in proba], picks).y_pred
    assert np.array_equal(combine_picks(list(proba), picks), ref)
    normalised = [clip_normalise(p.copy()) for p in proba]
    assert np.array_equal(mean_of_picks(normalised, picks), ref)


def test_negative_min_improvement_is_refused():
    rng = np.random.default_rng(6)
    proba, y = random_case(rng, K=2, n=10, d=3)
    with pytest.raises(ValueError, match="min_improvement"):
        greedy_fold(proba, y, accuracy(), min_improvement=-0.1)
