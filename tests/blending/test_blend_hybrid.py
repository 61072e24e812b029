"""Whole blends (picks, contributivity, combined scores) equal rampwf's over the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from rampwf import score_types as rst

from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.scores import from_rampwf

from blend_helpers import rampwf_blend_reference, random_folds


def _ours(valid, test, rows, y_train, y_test, st, **kw):
    d = valid[0][0].shape[1]
    folds = [FoldInput(rows[f], valid[f], test[f]) for f in range(len(rows))]
    return blend(
        folds=folds, y_train=y_train, y_test=y_test, score=from_rampwf(st, n_classes=d), **kw
    )


def _assert_same(res, ref):
    assert res.picks == ref["picks"]
    assert np.array_equal(res.fold_contributivity, ref["shares"])
    assert res.combined_valid_scores == ref["combined_valid"]
    assert res.combined_test_scores == ref["combined_test"]
    assert res.foldwise_best_valid_scores == ref["foldwise_valid"]
    assert res.foldwise_best_test_scores == ref["foldwise_test"]
    assert res.contributivity.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "score_type",
    [rst.Accuracy(name="acc"), rst.NegativeLogLikelihood(name="nll"), rst.ClassificationError()],
    ids=["accuracy", "nll", "error"],
)
def test_blend_equals_rampwf_blend_submissions(score_type):
    for case in range(6):
        rng = np.random.default_rng(case)
        K = int(rng.integers(1, 7))
        dtype = (np.float32, np.float64)[case % 2]
        data = random_folds(rng, K=K, n_train=150, n_test=60, d=4, dtype=dtype)
        if case % 3 == 2 and K > 1:  # identical submissions on every fold
            for f in range(3):
                data[0][f][1] = data[0][f][0].copy()
                data[1][f][1] = data[1][f][0].copy()
        _assert_same(_ours(*data, score_type), rampwf_blend_reference(*data, score_type))


def test_submission_with_nan_rows_is_left_out_of_that_fold_only():
    rng = np.random.default_rng(11)
    valid, test, rows, y_train, y_test = random_folds(rng, K=5, n_train=180, n_test=50, d=3)
    best = 2
    for f in range(3):  # make candidate 2 clearly the best everywhere
        valid[f][best] = np.eye(3)[y_train[rows[f]]] * 0.9 + 0.1 / 3
    valid[1][best] = valid[1][best].copy()
    valid[1][best][4] = np.nan  # its fold 1 failed on a row
    st = rst.Accuracy(name="acc")
    res = _ours(valid, test, rows, y_train, y_test, st)
    assert best not in res.picks[1]
    assert best in res.picks[0] and best in res.picks[2]
    ref = rampwf_blend_reference(valid, test, rows, y_train, y_test, st, exclude={(1, best)})
    _assert_same(res, ref)


def test_missing_fold_predictions_are_left_out():
    rng = np.random.default_rng(12)
    valid, test, rows, y_train, y_test = random_folds(rng, K=4, n_train=120, n_test=40, d=3)
    valid[0][3] = None  # never scored on fold 0
    st = rst.Accuracy(name="acc")
    res = _ours(valid, test, rows, y_train, y_test, st)
    assert 3 not in res.picks[0]
    valid[0][3] = valid[0][0]  # placeholder for the reference, excluded anyway
    ref = rampwf_blend_reference(valid, test, rows, y_train, y_test, st, exclude={(0, 3)})
    _assert_same(res, ref)


def test_test_predictions_are_read_only_for_picked_submissions():
    rng = np.random.default_rng(13)
    valid, test, rows, y_train, y_test = random_folds(rng, K=8, n_train=150, n_test=40, d=4)
    asked: set[tuple[int, int]] = set()

    def loader(f):
        def load(i):
            asked.add((f, i))
            return test[f][i]

        return load

    folds = [FoldInput(rows[f], valid[f], loader(f)) for f in range(3)]
    res = blend(
        folds=folds, y_train=y_train, y_test=y_test, score=from_rampwf(rst.Accuracy(), n_classes=4)
    )
    assert asked == {(f, i) for f in range(3) for i in set(res.picks[f])}


def test_nested_score_selects_on_one_half_and_scores_the_other():
    from ramp_server.blending.combine import bag_scores, clip_normalise, mean_of_picks
    from ramp_server.blending.greedy import greedy_fold
    from ramp_server.blending.hybrid import _halves

    rng = np.random.default_rng(14)
    valid, test, rows, y_train, y_test = random_folds(rng, K=6, n_train=240, n_test=30, d=3)
    st = rst.Accuracy(name="acc")
    score = from_rampwf(st, n_classes=3)
    res = _ours(valid, test, rows, y_train, y_test, st, nested=True)
    preds = []
    for f in range(3):
        y_f = y_train[rows[f]]
        a, b = _halves(y_f)
        assert not set(a) & set(b) and len(a) + len(b) == len(y_f)
        out = np.empty((len(y_f), 3))
        for sel, ev in ((a, b), (b, a)):
            stack = np.stack([v[sel] for v in valid[f]])
            picks = greedy_fold(stack, y_f[sel], score).picks
            normed = [clip_normalise(v[ev].copy()) for v in valid[f]]
            out[ev] = mean_of_picks(normed, picks)
        preds.append(out)
    assert res.nested_valid_scores == bag_scores(preds, rows, y_train, score)[0]
