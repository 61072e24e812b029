"""Loading a ``problem.py``, checking its names, scoring and CV-bagging with its score types.

The server scores every fold with these functions (the engine never scores: test labels stay
on the server). Scores are the numbers ``ramp-test`` prints: rampwf's ``Predictions`` and score
types, or for the common classification scores their bit-identical fast forms
(:mod:`ramp_server.kit.exact_scores`).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

_counter = itertools.count()

#: name → (kind, what it must be) for every name a problem.py must define
REQUIRED_NAMES = {
    "problem_title": "a string",
    "Predictions": "a rampwf prediction type (rw.prediction_types.make_multiclass(...))",
    "workflow": "a workflow object with train_submission and test_submission",
    "score_types": "a non-empty list of rampwf score types",
    "get_cv": "a function get_cv(X, y) returning (train_is, valid_is) pairs",
    "get_train_data": "a function get_train_data(path='.')",
    "get_test_data": "a function get_test_data(path='.')",
}


class ProblemError(ValueError):
    """A problem.py cannot be loaded or lacks a required name."""


def load_problem(kit_dir: str | os.PathLike) -> ModuleType:
    """Import ``<kit_dir>/problem.py`` as a fresh module (never cached between calls)."""
    path = Path(kit_dir) / "problem.py"
    if not path.is_file():
        raise ProblemError(f"{path}: file not found; a kit needs a problem.py at its root")
    spec = importlib.util.spec_from_file_location(f"_ramp_problem_{next(_counter)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_problem(problem: ModuleType) -> ModuleType:
    """Raise :class:`ProblemError` naming the first missing or ill-typed name; returns problem."""
    where = getattr(problem, "__file__", "problem.py")
    for name, what in REQUIRED_NAMES.items():
        if not hasattr(problem, name):
            raise ProblemError(f"{where}: missing `{name}`: it must be {what}")
    checks = {
        "problem_title": isinstance(problem.problem_title, str) and problem.problem_title,
        "Predictions": isinstance(problem.Predictions, type)
        and len(getattr(problem.Predictions, "label_names", [])) > 0,
        "workflow": callable(getattr(problem.workflow, "train_submission", None))
        and callable(getattr(problem.workflow, "test_submission", None)),
        "score_types": isinstance(problem.score_types, (list, tuple))
        and len(problem.score_types) > 0
        and all(
            hasattr(st, "name")
            and hasattr(st, "is_lower_the_better")
            and callable(st.score_function)
            for st in problem.score_types
        ),
        "get_cv": callable(problem.get_cv),
        "get_train_data": callable(problem.get_train_data),
        "get_test_data": callable(problem.get_test_data),
    }
    for name, ok in checks.items():
        if not ok:
            raise ProblemError(f"{where}: `{name}` must be {REQUIRED_NAMES[name]}")
    names = [st.name for st in problem.score_types]
    if len(set(names)) != len(names):
        raise ProblemError(f"{where}: score type names must be unique, got {names}")
    return problem


def score_names(problem: ModuleType) -> list[str]:
    """Names of the problem's score types (the first is the official score)."""
    return [st.name for st in problem.score_types]


def score_predictions(problem: ModuleType, *, y_true, y_proba) -> dict[str, float]:
    """Every score type of the problem on (class ids, n×n_classes probabilities)."""
    y_true = np.asarray(y_true)
    y_proba = np.asarray(y_proba, dtype=np.float64)
    if len(y_true) != len(y_proba):
        raise ValueError(f"{len(y_true)} labels but {len(y_proba)} prediction rows")
    from ramp_server.kit.exact_scores import applies_to, exact_form

    exact = applies_to(problem.Predictions, y_true, y_proba)
    out: dict[str, float] = {}
    truth = pred = None
    for st in problem.score_types:
        form = exact_form(st) if exact else None
        if form is not None:
            out[st.name] = form(y_true, y_proba)
            continue
        if truth is None:
            truth = problem.Predictions(y_true=y_true)
            pred = problem.Predictions(y_pred=y_proba)
        out[st.name] = float(st.score_function(truth, pred))
    return out


def bag_predictions(
    problem: ModuleType,
    *,
    n_samples: int,
    valid_indices: Sequence[np.ndarray],
    valid_probas: Sequence[np.ndarray],
) -> np.ndarray:
    """CV-bagged validation predictions (rampwf's way): each row averaged over the folds that
    validated it (probabilities clipped and renormalised first); NaN rows were never validated.
    """
    combined = []
    for idx, proba in zip(valid_indices, valid_probas, strict=True):
        p = problem.Predictions(n_samples=n_samples)
        p.set_valid_in_train(problem.Predictions(y_pred=np.asarray(proba)), np.asarray(idx))
        combined.append(p)
    return problem.Predictions.combine(combined).y_pred


def bag_test_predictions(problem: ModuleType, *, test_probas: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the folds' test predictions (rampwf's ``Predictions.combine``)."""
    preds = [problem.Predictions(y_pred=np.asarray(p)) for p in test_probas]
    return problem.Predictions.combine(preds).y_pred


def bagged_scores(
    problem: ModuleType,
    *,
    y_train,
    valid_indices: Sequence[np.ndarray],
    valid_probas: Sequence[np.ndarray],
    y_test=None,
    test_probas: Sequence[np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """``{'valid': {score: value}, 'test': {...}}`` of the bagged folds, as ``ramp-test`` prints.

    Valid: scored on the rows validated by at least one fold; test: the mean over folds.
    """
    y_train = np.asarray(y_train)
    out: dict[str, dict[str, float]] = {}
    bagged = bag_predictions(
        problem, n_samples=len(y_train), valid_indices=valid_indices, valid_probas=valid_probas
    )
    seen = ~np.isnan(bagged[:, 0])
    out["valid"] = _score_rows(problem, y_train, bagged, seen)
    if y_test is not None and test_probas:
        test = bag_test_predictions(problem, test_probas=test_probas)
        out["test"] = score_predictions(problem, y_true=y_test, y_proba=test)
    return out


def _score_rows(problem, y_true, y_proba, rows) -> dict[str, float]:
    # rampwf's Predictions.set_slice(rows) keeps these rows of both, in order
    return score_predictions(problem, y_true=np.asarray(y_true)[rows], y_proba=y_proba[rows])
