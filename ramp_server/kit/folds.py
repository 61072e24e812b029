"""Cross-validation folds and the quick-test subset of the challenge (deterministic)."""

from __future__ import annotations

import numpy as np


def stratified_cv(y, *, n_folds: int, test_size: float = 0.2, seed: int = 0):
    """``n_folds`` stratified shuffle splits ``(train_is, valid_is)``, as in the RAMP image kits.

    Each fold validates on ``test_size`` of the rows (stratified); folds may overlap, so a row
    can be validated zero, one or several times (bagging averages where several).
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(y)
    cv = StratifiedShuffleSplit(n_splits=n_folds, test_size=test_size, random_state=seed)
    return [(tr, va) for tr, va in cv.split(np.zeros(len(y)), y)]


def stratified_subset(y, *, n: int, seed: int = 0, min_per_class: int = 3) -> np.ndarray:
    """Sorted positions of about ``n`` rows of ``y`` in the class proportions of ``y``.

    Every class keeps at least ``min_per_class`` rows (or all it has), so a stratified CV of
    the subset stays possible. Deterministic for a given ``seed``.
    """
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.maximum(np.round(counts * n / len(y)).astype(int), min_per_class)
    chosen = []
    for c, k in zip(classes, np.minimum(quota, counts), strict=True):
        chosen.append(rng.permutation(np.flatnonzero(y == c))[:k])
    return np.sort(np.concatenate(chosen))
