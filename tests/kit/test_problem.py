"""problem.py: loads, passes rampwf's and our checks, reproducible stratified folds, quick mode."""

from __future__ import annotations

import numpy as np
import pytest
from rampwf.utils import testing as rw_testing

from ramp_server.kit import scoring
from ramp_server.kit.scoring import ProblemError
from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

from ramp_test_plugin import REPO_ROOT


@pytest.fixture
def problem():
    return scoring.check_problem(scoring.load_problem(REPO_ROOT))


def test_problem_passes_rampwf_reading_checks(tiny_kit, capsys):
    problem = rw_testing.assert_read_problem(str(REPO_ROOT))
    rw_testing.assert_title(str(REPO_ROOT))
    assert "Pollinating insect classification (SPIPOLL, 18 classes)" in capsys.readouterr().out
    X_train, y_train, X_test, y_test = rw_testing.assert_data(str(REPO_ROOT), str(tiny_kit))
    assert X_train.shape[1:] == X_test.shape[1:] == (64, 64, 3)
    cv = rw_testing.assert_cv(str(REPO_ROOT), str(tiny_kit))
    assert len(cv) == problem.N_FOLDS == 3
    names = [st.name for st in rw_testing.assert_score_types(str(REPO_ROOT))]
    assert names == ["acc", "nll", "bal_acc", "f1_70"]


def test_problem_labels_are_the_18_taxa_with_readable_names(problem):
    assert problem.Predictions.label_names == list(range(N_CLASSES))
    assert problem.class_names == CLASS_NAMES
    assert problem.class_names[3] == "Apis mellifera"


def test_cv_is_stratified_and_reproducible(problem, tiny_kit):
    X, y = problem.get_train_data(path=str(tiny_kit))
    cv1, cv2 = problem.get_cv(X, y), problem.get_cv(X, y)
    assert len(cv1) == problem.N_FOLDS
    for (tr1, va1), (tr2, va2) in zip(cv1, cv2, strict=True):
        assert np.array_equal(tr1, tr2) and np.array_equal(va1, va2)
        assert len(np.intersect1d(tr1, va1)) == 0 and len(tr1) + len(va1) == len(y)
        share = np.bincount(y[va1], minlength=N_CLASSES) / np.bincount(y, minlength=N_CLASSES)
        present = np.bincount(y, minlength=N_CLASSES) >= 10
        assert np.all(np.abs(share[present] - problem.CV_TEST_SIZE) < 0.15)
    assert not np.array_equal(cv1[0][1], cv1[1][1])


def test_quick_mode_uses_a_small_deterministic_stratified_subset(problem, tiny_kit, monkeypatch):
    X_full, y_full = problem.get_train_data(path=str(tiny_kit))
    monkeypatch.setenv("RAMP_TEST_MODE", "1")
    X1, y1 = problem.get_train_data(path=str(tiny_kit))
    X2, y2 = problem.get_train_data(path=str(tiny_kit))
    assert len(y1) <= max(problem.QUICK_TRAIN_SIZE + 2 * N_CLASSES, len(y_full))
    assert np.array_equal(y1, y2) and np.array_equal(X1, X2)
    assert set(np.unique(y1)) == set(np.unique(y_full))
    Xt, yt = problem.get_test_data(path=str(tiny_kit))
    assert len(yt) <= problem.QUICK_TEST_SIZE + 2 * N_CLASSES
    problem.get_cv(X1, y1)  # a stratified CV of the subset is possible


def test_balanced_accuracy_is_not_chance_adjusted(problem):
    y = np.repeat(np.arange(N_CLASSES), 3)
    always_bee = np.zeros((len(y), N_CLASSES))
    always_bee[:, 3] = 1
    scores = scoring.score_predictions(problem, y_true=y, y_proba=always_bee)
    assert scores["bal_acc"] == pytest.approx(1 / N_CLASSES)
    assert scores["acc"] == pytest.approx(1 / N_CLASSES)


def test_check_problem_names_a_missing_function(tmp_path):
    source = (REPO_ROOT / "problem.py").read_text()
    (tmp_path / "problem.py").write_text(source.replace("def get_cv(", "def _get_cv("))
    with pytest.raises(ProblemError, match="missing `get_cv`"):
        scoring.check_problem(scoring.load_problem(tmp_path))


def test_load_problem_reports_a_missing_file(tmp_path):
    with pytest.raises(ProblemError, match=r"problem\.py: file not found"):
        scoring.load_problem(tmp_path)
