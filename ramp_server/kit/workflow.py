"""The image-preprocessor + batch-classifier workflow (rampwf's ImageClassifier API, fixed).

Same submission API as the pollenating-insects RAMP kits: ``image_preprocessor.py``
(``transform(x)``, optional ``transform_test(x)``) and ``batch_classifier.py``
(``BatchClassifier`` with ``fit(gen_builder)`` and ``predict_proba(X)``). Unlike rampwf's class:

- ``X_array`` is the decoded N×64×64×3 uint8 array: images are never decoded per epoch;
- the training order is reshuffled (seeded) every epoch;
- the validation split is stratified and uses ``transform_test``;
- transforms run on a thread pool with a prefetch queue, off the training loop, ``n_jobs`` wide;
- prediction goes in batches and its output is checked (shape, NaN, sign, normalisation);
- a torch path (datasets and loaders of tensors) and the device to use.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ramp_server.kit import contract
from ramp_server.kit.taxa import N_CLASSES


def default_n_jobs() -> int:
    """``RAMP_N_JOBS`` when set, else the CPUs this process may use."""
    env = os.environ.get("RAMP_N_JOBS")
    if env:
        return max(1, int(env))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def get_nb_minibatches(nb_samples: int, batch_size: int) -> int:
    """Number of minibatches of an epoch (the last one may be smaller)."""
    return -(-int(nb_samples) // int(batch_size))


def to_categorical(y: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot float32 matrix of integer labels."""
    y = np.asarray(y, dtype=np.int64).ravel()
    out = np.zeros((len(y), n_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def stratified_split(
    y: np.ndarray, valid_ratio: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a stratified (train, valid) split; each class keeps one training example."""
    if not 0.0 <= valid_ratio < 1.0:
        raise ValueError(f"valid_ratio must be in [0, 1), got {valid_ratio}")
    train, valid = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_valid = int(round(valid_ratio * len(members)))
        n_valid = min(n_valid, len(members) - 1)
        valid.append(members[:n_valid])
        train.append(members[n_valid:])
    train_idx = np.sort(np.concatenate(train)) if train else np.zeros(0, np.int64)
    valid_idx = np.sort(np.concatenate(valid)) if valid else np.zeros(0, np.int64)
    return train_idx, valid_idx


def _transform_batch(images: np.ndarray, order: np.ndarray, transform: Callable) -> np.ndarray:
    """``transform`` each image into row ``order[j]`` of one float32 array (no list + stack)."""
    out = None
    for j, k in enumerate(order):
        x = np.asarray(transform(images[j]))
        if out is None:
            out = np.empty((len(order), *x.shape), dtype=np.float32)
        elif x.shape != out.shape[1:]:
            raise ValueError(
                f"transform returned an array of shape {x.shape} after one of shape "
                f"{out.shape[1:]}: every image must give the same shape"
            )
        out[k] = x
    if out is None:
        return np.zeros((0,), dtype=np.float32)
    if out.ndim == 3:  # single-channel transforms get a channel axis, as in rampwf
        out = out[:, np.newaxis]
    return out


def _plain(value):
    """A JSON-friendly metric: numpy/torch scalars become Python numbers, others strings."""
    if hasattr(value, "item"):
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):  # not a single-element array/tensor
            pass
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class BatchGeneratorBuilder:
    """Handed to ``BatchClassifier.fit``: builds training/validation batches of transformed images.

    Attributes: ``n_classes``, ``n_jobs``, ``seed``, ``nb_examples`` and, importing torch lazily,
    ``device`` (CUDA when visible, else CPU) and ``use_amp`` (True on CUDA).
    """

    def __init__(
        self,
        X_array: np.ndarray,
        y_array: np.ndarray,
        transform_img: Callable,
        transform_test_img: Callable,
        *,
        n_classes: int = N_CLASSES,
        n_jobs: int | None = None,
        seed: int = 0,
        indices: np.ndarray | None = None,
    ):
        self.X_array = X_array
        self.y_array = np.asarray(y_array, dtype=np.int64)
        self.indices = (
            np.arange(len(self.y_array)) if indices is None else np.asarray(indices, np.int64)
        )
        self.transform_img = transform_img
        self.transform_test_img = transform_test_img
        self.n_classes = n_classes
        self.n_jobs = n_jobs or default_n_jobs()
        self.seed = seed
        self.nb_examples = len(self.indices)
        self._rng = np.random.default_rng(seed)
        self._pool: ThreadPoolExecutor | None = None
        self._device = None
        self._t0 = time.monotonic()

    # -- shared machinery -------------------------------------------------------------------

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.n_jobs, thread_name_prefix="ramp-transform")
        return self._pool

    def _batch(self, positions: np.ndarray, train: bool) -> tuple[np.ndarray, np.ndarray]:
        rows = self.indices[positions]
        order = np.argsort(rows)  # sorted reads are kinder to a memory-mapped cache
        # a plain ndarray: iterating a np.memmap costs a subclass object per image
        images = np.asarray(self.X_array[rows[order]])
        transform = self.transform_img if train else self.transform_test_img
        return _transform_batch(images, order, transform), self.y_array[rows]

    def _stream(
        self, plan: Iterator[np.ndarray], train: bool, convert: Callable
    ) -> Iterator[tuple]:
        """Run ``_batch`` over ``plan`` on the pool, keeping ``2*n_jobs`` batches in flight."""
        pending: deque[Future] = deque()
        try:
            for positions in plan:
                pending.append(self.pool.submit(self._batch, positions, train))
                if len(pending) >= 2 * self.n_jobs:
                    yield convert(*pending.popleft().result())
            while pending:
                yield convert(*pending.popleft().result())
        finally:
            for fut in pending:
                fut.cancel()

    def _epoch_plan(
        self, positions: np.ndarray, batch_size: int, shuffle: bool, forever: bool
    ) -> Iterator[np.ndarray]:
        while True:
            order = self._rng.permutation(positions) if shuffle else positions
            for s in range(0, len(order), batch_size):
                yield order[s : s + batch_size]
            if not forever or len(order) == 0:
                return

    def _split(self, valid_ratio: float) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 1])  # same split for generators and torch path
        return stratified_split(self.y_array[self.indices], valid_ratio, rng)

    # -- rampwf's generator API ---------------------------------------------------------------

    def get_train_valid_generators(self, batch_size: int = 256, valid_ratio: float = 0.1):
        """``(gen_train, gen_valid, nb_train, nb_valid)``: infinite generators of ``(X, Y)``.

        ``X`` is float32 (transformed images), ``Y`` one-hot float32. One epoch is
        ``get_nb_minibatches(nb_train, batch_size)`` batches; the training order is reshuffled
        at each epoch. The validation split is stratified and uses ``transform_test``.
        """
        train_pos, valid_pos = self._split(valid_ratio)

        def onehot(X, y):
            return X, to_categorical(y, self.n_classes)

        gen_train = self._stream(
            self._epoch_plan(train_pos, batch_size, shuffle=True, forever=True), True, onehot
        )
        gen_valid = self._stream(
            self._epoch_plan(valid_pos, batch_size, shuffle=False, forever=True), False, onehot
        )
        return gen_train, gen_valid, len(train_pos), len(valid_pos)

    @staticmethod
    def get_nb_minibatches(nb_samples: int, batch_size: int) -> int:
        return get_nb_minibatches(nb_samples, batch_size)

    # -- torch path ---------------------------------------------------------------------------

    @property
    def device(self):
        """``torch.device('cuda')`` when a GPU is visible, else CPU."""
        if self._device is None:
            import torch

            self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return self._device

    @property
    def use_amp(self) -> bool:
        """Whether mixed precision is advisable (on CUDA)."""
        return self.device.type == "cuda"

    def get_torch_datasets(self, valid_ratio: float = 0.1):
        """``(train_ds, valid_ds)``: ``torch.utils.data.Dataset`` of ``(x float32, y int64)``."""
        from ramp_server.kit._torch_data import TransformedDataset

        train_pos, valid_pos = self._split(valid_ratio)
        return (
            TransformedDataset(self, train_pos, train=True),
            TransformedDataset(self, valid_pos, train=False),
        )

    def get_torch_loaders(self, batch_size: int = 128, valid_ratio: float = 0.1):
        """``(train_loader, valid_loader)``: re-iterable epochs of ``(x float32, y int64)`` tensors.

        Batches are transformed on the thread pool ahead of the training loop; the training
        loader reshuffles at each epoch. ``len(loader)`` is the number of batches.
        """
        from ramp_server.kit._torch_data import BatchLoader

        train_ds, valid_ds = self.get_torch_datasets(valid_ratio)
        return (
            BatchLoader(train_ds, batch_size=batch_size, shuffle=True),
            BatchLoader(valid_ds, batch_size=batch_size, shuffle=False),
        )

    # -- progress -----------------------------------------------------------------------------

    def report(self, *, epoch: int, n_epochs: int, **metrics) -> None:
        """Print one progress line; append it as JSON to ``$RAMP_PROGRESS_FILE`` when set."""
        clean = {k: _plain(v) for k, v in metrics.items()}
        parts = [f"epoch {epoch}/{n_epochs}"]
        parts += [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in clean.items()]
        parts.append(f"({time.monotonic() - self._t0:.1f}s)")
        print("  ".join(parts), flush=True)
        target = os.environ.get("RAMP_PROGRESS_FILE")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"epoch": epoch, "n_epochs": n_epochs, **clean}) + "\n")

    def __getstate__(self) -> dict:  # e.g. torch DataLoader workers: the pool stays here
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

    def close(self) -> None:
        """Stop the transform threads (the builder stays usable: they restart on demand)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class ImageClassifierWorkflow:
    """rampwf workflow object: ``train_submission`` / ``test_submission`` over decoded images."""

    def __init__(
        self,
        *,
        n_classes: int = N_CLASSES,
        test_batch_size: int = 256,
        n_jobs: int | None = None,
        seed: int = 0,
        workflow_element_names: tuple[str, str] = contract.ELEMENT_NAMES,
    ):
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
        )
        try:
            clf.fit(builder)
        finally:
            builder.close()
        clf_file = root / f"{self.element_names[1]}.py"
        return _TrainedModel(transform, transform_test, clf, str(clf_file))

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
        )
        line = contract.method_line(clf_file, "predict_proba") if clf_file else None
        chunks = []
        try:
            plan = builder._epoch_plan(
                np.arange(len(X_array)), self.test_batch_size, shuffle=False, forever=False
            )
            for X, _ in builder._stream(plan, False, lambda X, y: (X, y)):
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
