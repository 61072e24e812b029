"""The image-preprocessor + batch-classifier workflow (rampwf's ImageClassifier API, fixed).

Same submission API as the pollenating-insects RAMP kits: ``image_preprocessor.py``
(``transform(x)``, optional ``transform_test(x)``) and ``batch_classifier.py``
(``BatchClassifier`` with ``fit(gen_builder)`` and ``predict_proba(X)``). Unlike rampwf's class:

- ``X_array`` is the decoded N×64×64×3 uint8 array: images are never decoded per epoch;
- the training order is reshuffled (seeded) every epoch;
- the validation split is stratified and uses ``transform_test``;
- transforms run on a thread pool with a prefetch queue, off the training loop, ``n_jobs`` wide
  (one thread for transforms measured under ``CHEAP_TRANSFORM_S`` per image: parallel threads
  would only contend for the GIL);
- a deterministic transform runs once per image: later epochs reuse its outputs (see
  :mod:`ramp_server.kit.transform_cache`; ``TRANSFORM_IS_RANDOM = True`` in the preprocessor
  module turns this off);
- prediction goes in batches and its output is checked (shape, NaN, sign, normalisation);
- a torch path (datasets and loaders of tensors) and the device to use;
- per-epoch checkpoints when ``RAMP_CHECKPOINT_DIR`` (or ``checkpoint_dir``) names a folder: an
  interrupted fit resumes at its next epoch (see :mod:`ramp_server.kit.checkpoint`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ramp_server.kit import checkpoint, contract
from ramp_server.kit.batching import (
    default_n_jobs,
    get_nb_minibatches,
    stratified_split,
    to_categorical,
)
from ramp_server.kit.gen_builder import BatchGeneratorBuilder
from ramp_server.kit.taxa import N_CLASSES


class ImageClassifierWorkflow:
    """rampwf workflow object: ``train_submission`` / ``test_submission`` over decoded images.

    ``checkpoint_dir``: the folder under which each fit keeps its checkpoints, in a subfolder
    named by :func:`~ramp_server.kit.checkpoint.fit_key`; None (default) reads
    ``RAMP_CHECKPOINT_DIR`` at each fit, and checkpoints are off when that is unset too.
    """

    def __init__(
        self,
        *,
        n_classes: int = N_CLASSES,
        test_batch_size: int = 256,
        n_jobs: int | None = None,
        seed: int = 0,
        workflow_element_names: tuple[str, str] = contract.ELEMENT_NAMES,
        checkpoint_dir: str | os.PathLike | None = None,
    ):
        self.checkpoint_dir = checkpoint_dir
        self.n_classes = n_classes
        self.test_batch_size = test_batch_size
        self.n_jobs = n_jobs
        self.seed = seed
        self.element_names = list(workflow_element_names)

    def train_submission(self, module_path, X_array, y_array, train_is=None):
        """Check, load and fit the submission; returns ``(transform, transform_test, clf)``."""
        root = Path(module_path)
        contract.check_static(root)
        pre = contract.load_module(root / f"{self.element_names[0]}.py")
        cls_module = contract.load_module(root / f"{self.element_names[1]}.py")
        transform = pre.transform
        transform_test = getattr(pre, "transform_test", transform)
        clf = cls_module.BatchClassifier()
        indices = None
        if train_is is not None:
            indices = np.arange(len(y_array))[train_is]
        builder = BatchGeneratorBuilder(
            X_array,
            y_array,
            transform,
            transform_test,
            n_classes=self.n_classes,
            n_jobs=self.n_jobs,
            seed=self.seed,
            indices=indices,
            checkpoint_dir=self.fit_checkpoint_dir(root, y_array, indices),
        )
        try:
            clf.fit(builder)
        finally:
            builder.close()
        clf_file = root / f"{self.element_names[1]}.py"
        return _TrainedModel(transform, transform_test, clf, str(clf_file))

    def fit_checkpoint_dir(self, root: Path, y_array, indices) -> Path | None:
        """The checkpoint folder of one fit of the submission in ``root``, or None (off)."""
        base = self.checkpoint_dir
        base = checkpoint.root_from_env() if base is None else Path(base)
        if base is None:
            return None
        rows = np.arange(len(y_array)) if indices is None else indices
        files = [root / f"{name}.py" for name in self.element_names]
        key = checkpoint.fit_key(files, rows=rows, labels=np.asarray(y_array)[rows], seed=self.seed)
        return base / key

    def test_submission(self, trained_model, X_array) -> np.ndarray:
        """Predict ``X_array`` in batches of ``test_batch_size``; checked n×n_classes probabilities."""
        transform, transform_test, clf = trained_model[:3]
        clf_file = getattr(trained_model, "clf_file", None)
        builder = BatchGeneratorBuilder(
            X_array,
            np.zeros(len(X_array), dtype=np.int64),
            transform,
            transform_test,
            n_classes=self.n_classes,
            n_jobs=self.n_jobs,
            seed=self.seed,
            cache_transforms=False,  # one pass: nothing to reuse
        )
        line = contract.method_line(clf_file, "predict_proba") if clf_file else None
        chunks = []
        try:
            batches = builder.batches(
                np.arange(len(X_array)), batch_size=self.test_batch_size, train=False
            )
            for X, _ in batches:
                out = clf.predict_proba(X)
                chunks.append(
                    contract.check_predictions(
                        out, len(X), n_classes=self.n_classes, file=clf_file, line=line
                    )
                )
        finally:
            builder.close()
        if not chunks:
            return np.zeros((0, self.n_classes))
        return np.concatenate(chunks)


class _TrainedModel(tuple):
    """``(transform, transform_test, clf)`` as rampwf returns it, plus where the classifier lives."""

    def __new__(cls, transform, transform_test, clf, clf_file):
        self = super().__new__(cls, (transform, transform_test, clf))
        self.clf_file = clf_file
        return self

    def __getnewargs__(self):
        return (*self, self.clf_file)


__all__ = [
    "BatchGeneratorBuilder",
    "ImageClassifierWorkflow",
    "default_n_jobs",
    "get_nb_minibatches",
    "stratified_split",
    "to_categorical",
]
