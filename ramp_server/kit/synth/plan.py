"""Which image gets which class and which split: class counts, stratified split, random streams.

Everything here is a pure function of ``(seed, n)``; the random stream of each image depends
on ``(seed, index)`` only, so the output does not depend on how the work is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..taxa import N_CLASSES, TRAIN_COUNTS

#: every class gets at least this many images (so each has train and test rows and can be
#: stratified into the problem's cross-validation folds)
MIN_PER_CLASS = 5
MIN_N = MIN_PER_CLASS * N_CLASSES
TEST_FRACTION = 0.2
# distinct salts keep the plan's stream and the images' streams independent
_PLAN_SALT = 0x5EED_0001
_IMAGE_SALT = 0x5EED_0002


class SynthError(ValueError):
    """Bad arguments to the synthetic-data generator (message says what to change)."""


def allocate_counts(n: int) -> list[int]:
    """Images per class for ``n`` images: largest-remainder rounding of the 2015 frequencies.

    Classes left below :data:`MIN_PER_CLASS` are topped up from the largest classes.
    """
    if n < MIN_N:
        raise SynthError(
            f"n={n} is too small: {N_CLASSES} classes need at least {MIN_PER_CLASS} images "
            f"each, so n must be >= {MIN_N}"
        )
    total = sum(TRAIN_COUNTS)
    quotas = [n * c / total for c in TRAIN_COUNTS]
    counts = [int(q) for q in quotas]
    # ties broken by class id so the allocation is fully determined
    order = sorted(range(N_CLASSES), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    for i in range(N_CLASSES):
        while counts[i] < MIN_PER_CLASS:
            donor = max(range(N_CLASSES), key=lambda j: (counts[j], -j))
            counts[donor] -= 1
            counts[i] += 1
    return counts


def n_test_images(count: int) -> int:
    """Test images of a class of ``count`` images (≈20 %, at least one, at least one left)."""
    return min(max(1, int(count * TEST_FRACTION + 0.5)), count - 1)


@dataclass(frozen=True)
class Plan:
    """The labels and split of a synthetic data set of ``n`` images."""

    seed: int
    labels: np.ndarray  # (n,) class id of image i
    is_test: np.ndarray  # (n,) bool
    counts: list[int]

    @property
    def n(self) -> int:
        return len(self.labels)


def make_plan(seed: int, n: int) -> Plan:
    """Shuffle the class allocation over the ids and pick a stratified ≈20 % test split."""
    counts = allocate_counts(n)
    rng = np.random.default_rng(np.random.SeedSequence([_PLAN_SALT, seed]))
    labels = rng.permutation(np.repeat(np.arange(N_CLASSES), counts))
    is_test = np.zeros(n, dtype=bool)
    for c, count in enumerate(counts):
        members = np.flatnonzero(labels == c)
        is_test[rng.choice(members, size=n_test_images(count), replace=False)] = True
    return Plan(seed, labels, is_test, counts)


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream that draws image ``index`` (independent of n and of the chunking)."""
    return np.random.default_rng(np.random.SeedSequence([_IMAGE_SALT, seed, index]))


def image_id(index: int) -> str:
    return f"syn_{index:06d}"
