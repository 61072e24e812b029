"""Scoring and CV bagging with the problem's score types agree with rampwf and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from rampwf.utils.combine import get_score_cv_bags
from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss

from ramp_server.kit import scoring
from ramp_server.kit.taxa import N_CLASSES

from ramp_test_plugin import REPO_ROOT


@pytest.fixture(scope="module")
def problem():
    return scoring.check_problem(scoring.load_problem(REPO_ROOT))


def _proba(rng, n):
    logits = rng.normal(size=(n, N_CLASSES)) * 2
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def test_load_problem_returns_a_fresh_module_each_call():
    a, b = scoring.load_problem(REPO_ROOT), scoring.load_problem(REPO_ROOT)
    assert a is not b and a.workflow is not b.workflow


def test_score_predictions_match_scikit_learn(problem):
    rng = np.random.default_rng(0)
    y = rng.integers(0, N_CLASSES, 300)
    p = _proba(rng, 300)
    p[np.arange(150), y[:150]] += 1  # half of the rows right
    p /= p.sum(1, keepdims=True)
    scores = scoring.score_predictions(problem, y_true=y, y_proba=p)
    assert scoring.score_names(problem)[0] == "acc"
    assert scores["acc"] == pytest.approx(accuracy_score(y, p.argmax(1)))
    assert scores["nll"] == pytest.approx(log_loss(y, p, labels=range(N_CLASSES)))
    assert scores["bal_acc"] == pytest.approx(balanced_accuracy_score(y, p.argmax(1)))
    assert 0 <= scores["f1_70"] <= 1


def test_bag_predictions_average_the_folds_that_validated_each_row(problem):
    rng = np.random.default_rng(1)
    n = 10
    folds = [np.array([0, 1, 2, 3]), np.array([2, 3, 4, 5])]
    probas = [_proba(rng, 4), _proba(rng, 4)]
    bagged = scoring.bag_predictions(problem, n_samples=n, valid_indices=folds, valid_probas=probas)
    assert np.allclose(bagged[0], probas[0][0]) and np.allclose(bagged[5], probas[1][3])
    assert np.allclose(bagged[2], (probas[0][2] + probas[1][0]) / 2)
    assert np.all(np.isnan(bagged[6:]))


def test_bagged_scores_equal_rampwfs_cv_bagging(problem):
    rng = np.random.default_rng(2)
    y_train = rng.integers(0, N_CLASSES, 200)
    y_test = rng.integers(0, N_CLASSES, 60)
    cv = problem.get_cv(None, y_train)
    valid_probas = [_proba(rng, len(va)) for _, va in cv]
    test_probas = [_proba(rng, 60) for _ in cv]
    ours = scoring.bagged_scores(
        problem,
        y_train=y_train,
        valid_indices=[va for _, va in cv],
        valid_probas=valid_probas,
        y_test=y_test,
        test_probas=test_probas,
    )
    P = problem.Predictions
    for st in problem.score_types:
        _, valid = get_score_cv_bags(
            st,
            [P(y_pred=p) for p in valid_probas],
            P(y_true=y_train),
            test_is_list=[va for _, va in cv],
        )
        _, test = get_score_cv_bags(st, [P(y_pred=p) for p in test_probas], P(y_true=y_test))
        assert ours["valid"][st.name] == pytest.approx(valid[-1])
        assert ours["test"][st.name] == pytest.approx(test[-1])
