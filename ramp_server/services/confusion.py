"""A scored submission's bagged validation confusion matrix and per-taxon accuracy.

Computed from the stored fold predictions, bagged as the submission's validation score is
(:func:`ramp_server.kit.scoring.bag_predictions`: each training row averaged over the folds
that validated it), on the rows validated at least once. The predicted taxon of a row is its
most probable class. Reading the fold files and bagging them costs a few hundred milliseconds
at full size: the result is memoized per prediction-file version, so a page reloaded (or a
submission looked at by many participants) is computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ramp_server.db.models import FoldState, Submission, SubmissionState
from ramp_server.services.events import event_problem
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

#: submissions whose confusion summaries stay memoized in the process
CACHE_SIZE = 64


@dataclass(frozen=True)
class Confusion:
    """The bagged validation confusion of one submission.

    ``matrix[i][j]``: the share of the validated rows of true taxon ``i`` predicted as taxon
    ``j`` (each row sums to 1; a taxon absent from the validated rows has a row of zeros);
    ``counts`` the same as numbers of rows. ``accuracy[i]``: the share of taxon ``i``'s rows
    predicted right (its recall; None when it has no row); ``frequency[i]``: taxon ``i``'s share
    of the validated rows.
    """

    labels: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    accuracy: tuple[float | None, ...]
    frequency: tuple[float, ...]
    support: tuple[int, ...]
    n_rows: int
    overall_accuracy: float

    def as_json(self) -> dict[str, Any]:
        """The JSON API's form: per-taxon records and the matrices."""
        return {
            "n_rows": self.n_rows,
            "accuracy": self.overall_accuracy,
            "labels": list(self.labels),
            "matrix": [list(r) for r in self.matrix],
            "counts": [list(r) for r in self.counts],
            "taxa": [
                {
                    "index": i,
                    "name": name,
                    "accuracy": self.accuracy[i],
                    "frequency": self.frequency[i],
                    "support": self.support[i],
                }
                for i, name in enumerate(self.labels)
            ],
        }


def taxon_names(n_classes: int, label_names: Any = None) -> tuple[str, ...]:
    """Display names of the classes: the SPIPOLL taxa when there are 18, else the problem's
    label names (or the class numbers)."""
    from ramp_server.kit.taxa import CLASS_NAMES

    if n_classes == len(CLASS_NAMES):
        return tuple(CLASS_NAMES)
    names = list(label_names or [])
    return tuple(str(names[i]) if i < len(names) else str(i) for i in range(n_classes))


def confusion_from_predictions(
    *, y_true: np.ndarray, y_proba: np.ndarray, labels: tuple[str, ...]
) -> Confusion:
    """The confusion of probability rows ``y_proba`` (rows with NaN are left out) against the
    class indices ``y_true``."""
    n_classes = len(labels)
    y_proba = np.asarray(y_proba, dtype=np.float64)
    seen = ~np.isnan(y_proba).any(axis=1)
    truth = np.asarray(y_true)[seen].astype(np.int64)
    pred = np.argmax(y_proba[seen], axis=1)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (truth, pred), 1)
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(support[:, None] > 0, counts / support[:, None], 0.0)
    n = int(support.sum())
    return Confusion(
        labels=labels,
        matrix=tuple(tuple(float(v) for v in row) for row in matrix),
        counts=tuple(tuple(int(v) for v in row) for row in counts),
        accuracy=tuple(float(matrix[i, i]) if support[i] else None for i in range(n_classes)),
        frequency=tuple(float(s / n) if n else 0.0 for s in support),
        support=tuple(int(s) for s in support),
        n_rows=n,
        overall_accuracy=float(np.trace(counts) / n) if n else 0.0,
    )


@lru_cache(maxsize=CACHE_SIZE)
def _bagged_confusion(
    problem: ModuleType, files: tuple[tuple[str, int], ...], labels_file: tuple[str, int]
) -> Confusion:
    # the keys carry each file's mtime (and the problem module is reloaded when its file
    # changes): a rescored fold, changed labels or a fixed problem.py miss the cache
    from ramp_server.blending.store import read_fold_predictions
    from ramp_server.kit.scoring import bag_predictions

    y_train = np.load(labels_file[0], allow_pickle=False)
    preds = [read_fold_predictions(path, load_test=False) for path, _ in files]
    bagged = bag_predictions(
        problem,
        n_samples=len(y_train),
        valid_indices=[p.valid_indices for p in preds],
        valid_probas=[np.asarray(p.valid_proba, dtype=np.float64) for p in preds],
    )
    labels = taxon_names(bagged.shape[1], getattr(problem.Predictions, "label_names", None))
    return confusion_from_predictions(y_true=y_train, y_proba=bagged, labels=labels)


def _version(path: Any) -> tuple[str, int]:
    return str(path), path.stat().st_mtime_ns


def bagged_confusion(*, settings: Settings, submission: Submission) -> Confusion | None:
    """The submission's bagged validation confusion; None unless it is scored with every fold's
    predictions stored (a failed, cancelled or still running submission has none)."""
    if submission.state != SubmissionState.SCORED:
        return None
    folds = [f.fold for f in submission.folds if f.state == FoldState.SCORED]
    if not folds or len(folds) != len(submission.folds):
        return None
    storage = Storage.from_settings(settings)
    event = submission.event
    paths = [storage.predictions_path(event.name, submission.id, k) for k in folds]
    if not all(p.is_file() for p in paths):
        return None
    problem = event_problem(settings=settings, event=event)
    labels_file = _version(storage.public_dir(event.name) / "train_labels.npy")
    return _bagged_confusion(problem, tuple(_version(p) for p in paths), labels_file)
