"""The SPIPOLL pollinating-insect challenge in ramp-workflow conventions (`ramp-test` reads it)."""

import os
from pathlib import Path

import rampwf as rw

from ramp_server.kit import dataset, folds
from ramp_server.kit import workflow as kit_workflow
from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

problem_title = "Pollinating insect classification (SPIPOLL, 18 classes)"

#: labels are the class ids 0..17; the human-readable taxa are in CLASS_NAMES (taxa.py)
_prediction_label_names = list(range(N_CLASSES))
class_names = list(CLASS_NAMES)

Predictions = rw.prediction_types.make_multiclass(label_names=_prediction_label_names)
workflow = kit_workflow.ImageClassifierWorkflow(n_classes=N_CLASSES)

score_types = [
    # the official score
    rw.score_types.Accuracy(name="acc", precision=4),
    rw.score_types.NegativeLogLikelihood(name="nll", precision=4),
    # balanced accuracy WITHOUT chance adjustment (mean recall over the classes present);
    # MacroAveragedRecall would also average in classes only predicted, never true
    rw.score_types.BalancedAccuracy(name="bal_acc", precision=4, adjusted=False),
    # share of the 18 classes whose F1 exceeds 0.7
    rw.score_types.F1Above(name="f1_70", threshold=0.7, precision=4),
]

#: number of cross-validation folds (each a stratified 80/20 shuffle split, as in RAMP)
N_FOLDS = 3
#: seed of the folds: the same folds for every submission
CV_SEED = 57
#: validation share of each fold
CV_TEST_SIZE = 0.2
#: sizes of the stratified subsets used by `ramp-test --quick-test` (RAMP_TEST_MODE)
QUICK_TRAIN_SIZE = 150
QUICK_TEST_SIZE = 50


def get_cv(X, y):
    """N_FOLDS stratified shuffle splits (test_size CV_TEST_SIZE, seed CV_SEED): reproducible."""
    return folds.stratified_cv(y, n_folds=N_FOLDS, test_size=CV_TEST_SIZE, seed=CV_SEED)


def _quick_mode():
    return os.environ.get("RAMP_TEST_MODE", "") not in ("", "0")


def _read_data(path, split):
    X, y = dataset.load_split(Path(path) / "data", split)
    if _quick_mode():
        n = QUICK_TRAIN_SIZE if split == "train" else QUICK_TEST_SIZE
        keep = folds.stratified_subset(y, n=n, seed=CV_SEED)
        return X[keep], y[keep]
    return X, y


def get_train_data(path="."):
    """Training images (N×64×64×3 uint8) and class ids of ``<path>/data``."""
    return _read_data(path, "train")


def get_test_data(path="."):
    """Test images and class ids of ``<path>/data`` (the kit's local test set)."""
    return _read_data(path, "test")
