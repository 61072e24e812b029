"""An event's labels and its submissions' stored fold predictions, as the scoring code reads them.

The training labels come from the event's public bundle, the test labels from its private
folder (server side only). Both are memoized per file version: scoring a fold, bagging a
submission and blending the event read the same arrays.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ramp_server.db.models import Event
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings


@lru_cache(maxsize=16)
def _load(path: str, mtime_ns: int) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _cached(path: Any) -> np.ndarray:
    return _load(str(path), path.stat().st_mtime_ns)


def event_labels(
    *, settings: Settings, event: Event, require_test: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(y_train, y_test)`` of the event; ``y_test`` is None when its file is missing and
    ``require_test`` is False (an event made without test labels can still be blended)."""
    storage = Storage.from_settings(settings)
    train = storage.public_dir(event.name) / "train_labels.npy"
    test = storage.test_labels_path(event.name)
    if not require_test and not test.is_file():
        return _cached(train), None
    return _cached(train), _cached(test)


def bagging_inputs(
    *, settings: Settings, event: Event, submission_id: int, folds: list[int]
) -> dict[str, Any]:
    """The stored fold predictions and the labels that a submission's bagged scores (and their
    intervals) are computed from, as keyword arguments of ``kit.scoring.bagged_scores``."""
    from ramp_server.blending.store import read_fold_predictions

    storage = Storage.from_settings(settings)
    preds = [
        read_fold_predictions(storage.predictions_path(event.name, submission_id, k)) for k in folds
    ]
    y_train, y_test = event_labels(settings=settings, event=event)
    return {
        "y_train": y_train,
        "valid_indices": [p.valid_indices for p in preds],
        "valid_probas": [np.asarray(p.valid_proba, dtype=np.float64) for p in preds],
        "y_test": y_test,
        "test_probas": [np.asarray(p.test_proba, dtype=np.float64) for p in preds],
    }
