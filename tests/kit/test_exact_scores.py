"""The fast forms of rampwf's score types give bit-identical values, and step aside otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rampwf as rw

from ramp_server.kit import exact_scores, scoring
from ramp_server.kit.taxa import N_CLASSES

from ramp_test_plugin import REPO_ROOT

SCORE_TYPES = [
    rw.score_types.Accuracy(name="acc"),
    rw.score_types.ClassificationError(name="err"),
    rw.score_types.NegativeLogLikelihood(name="nll"),
    rw.score_types.BalancedAccuracy(name="bal_acc", adjusted=False),
    rw.score_types.BalancedAccuracy(name="bal_acc_adjusted", adjusted=True),
    rw.score_types.F1Above(name="f1_70", threshold=0.7),
    rw.score_types.F1Above(name="f1_50", threshold=0.5),
]
Predictions = rw.prediction_types.make_multiclass(label_names=list(range(N_CLASSES)))


@pytest.fixture(scope="module")
def problem():
    return scoring.check_problem(scoring.load_problem(REPO_ROOT))


def _rampwf(st, y: np.ndarray, proba: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(st.score_function(Predictions(y_true=y), Predictions(y_pred=proba)))


def _proba(rng: np.random.Generator, y: np.ndarray, right: float, sharp: float) -> np.ndarray:
    p = np.exp(rng.normal(size=(len(y), N_CLASSES)) * sharp)
    hit = rng.random(len(y)) < right
    p[np.flatnonzero(hit), y[hit]] += p.sum(1)[hit]
    return p / p.sum(1, keepdims=True)


def _cases():
    rng = np.random.default_rng(0)
    weights = np.r_[28.0, np.ones(N_CLASSES - 1)]  # imbalanced, as SPIPOLL
    for n in (1, 2, 3, 17, 100, 801, 3201, 4000):
        for right, sharp in ((0.3, 1.0), (0.7, 3.0), (0.95, 0.3)):
            y = rng.choice(N_CLASSES, size=n, p=weights / weights.sum())
            yield f"n{n}-right{right}", y, _proba(rng, y, right, sharp)
    y = rng.integers(0, 3, 500)  # most classes absent from the truth, some predicted
    yield "few-true-classes", y, _proba(rng, y, 0.5, 2.0)
    y = rng.integers(0, N_CLASSES, 300)
    one_hot = np.eye(N_CLASSES)[rng.integers(0, N_CLASSES, 300)]  # exact 0s and 1s: clipped
    yield "one-hot-predictions", y, one_hot
    yield "uniform-rows-argmax-ties", y, np.full((300, N_CLASSES), 1 / N_CLASSES)
    yield "one-class-predicted", y, np.tile(np.eye(N_CLASSES)[4] * 0.9 + 0.1 / N_CLASSES, (300, 1))
    y32 = rng.integers(0, N_CLASSES, 1000)
    p32 = _proba(rng, y32, 0.6, 2.0).astype(np.float32).astype(np.float64)  # as stored
    yield "float32-stored", y32, p32


CASES = list(_cases())


@pytest.mark.parametrize("name,y,proba", CASES, ids=[c[0] for c in CASES])
def test_exact_forms_are_bit_identical_to_rampwf(name, y, proba):
    assert exact_scores.applies_to(Predictions, y, proba)
    for st in SCORE_TYPES:
        form = exact_scores.exact_form(st)
        assert form is not None, st.name
        ours, theirs = form(y, proba), _rampwf(st, y, proba)
        assert ours == theirs or (np.isnan(ours) and np.isnan(theirs)), (name, st.name)


def test_score_predictions_and_bagged_scores_equal_rampwfs_own(problem):
    rng = np.random.default_rng(3)
    y_train = rng.integers(0, N_CLASSES, 1200)
    cv = problem.get_cv(None, y_train)
    valid = [va for _, va in cv]
    probas = [_proba(rng, y_train[va], 0.6, 2.0) for va in valid]
    bagged = scoring.bagged_scores(
        problem, y_train=y_train, valid_indices=valid, valid_probas=probas
    )["valid"]
    rows = bagged_rows = scoring.bag_predictions(
        problem, n_samples=len(y_train), valid_indices=valid, valid_probas=probas
    )
    seen = ~np.isnan(rows[:, 0])
    for st in problem.score_types:
        assert bagged[st.name] == _rampwf(st, y_train[seen], bagged_rows[seen]), st.name
    fold = scoring.score_predictions(problem, y_true=y_train[valid[0]], y_proba=probas[0])
    for st in problem.score_types:
        assert fold[st.name] == _rampwf(st, y_train[valid[0]], probas[0]), st.name


def test_exact_forms_step_aside_for_what_rampwf_handles_its_own_way():
    y = np.array([0, 1, 2, 3])
    p = np.full((4, N_CLASSES), 1 / N_CLASSES)
    assert exact_scores.applies_to(Predictions, y, p)
    assert not exact_scores.applies_to(Predictions, y.astype(float), p)  # not class indices
    assert not exact_scores.applies_to(Predictions, np.array([0, 1, 2, N_CLASSES]), p)
    above = p.copy()
    above[0, 0] = 1.2
    assert not exact_scores.applies_to(Predictions, y, above)  # above 1: sklearn raises
    assert not exact_scores.applies_to(Predictions, y, -p)  # below 0: sklearn raises
    nan = p.copy()
    nan[0, 0] = np.nan
    assert not exact_scores.applies_to(Predictions, y, nan)
    assert not exact_scores.applies_to(Predictions, y[:3], p)  # shapes disagree
    named = rw.prediction_types.make_multiclass(label_names=[f"t{i}" for i in range(N_CLASSES)])
    assert not exact_scores.applies_to(named, y, p)  # labels are names, not indices

    class Stricter(rw.score_types.Accuracy):
        def __call__(self, y_true, y_pred):
            return 0.0

    assert exact_scores.exact_form(Stricter()) is None  # a subclass may score differently
    assert exact_scores.exact_form(rw.score_types.MacroAveragedRecall()) is None


def test_score_predictions_falls_back_to_rampwf_beyond_the_exact_forms(problem):
    # probabilities that do not sum to one (still within [0, 1]) take the exact path; values
    # slightly above one take rampwf's, which raises as ramp-test would
    y = np.array([0, 1, 2, 3])
    p = np.full((4, N_CLASSES), 1 / N_CLASSES)
    p[0, 0] = 1.2
    with pytest.raises(ValueError, match="greater than 1"):
        scoring.score_predictions(problem, y_true=y, y_proba=p)
