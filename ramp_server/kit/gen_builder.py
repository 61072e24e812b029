"""The ``gen_builder`` handed to ``BatchClassifier.fit``: batches of transformed images.

rampwf's generator API (``get_train_valid_generators``, ``get_nb_minibatches``), a torch path
(datasets and loaders, the device, AMP), ``report`` for progress and per-epoch checkpoints
(``save_checkpoint``/``load_checkpoint``, see :mod:`ramp_server.kit.checkpoint`), over the
decoded N×64×64×3 uint8 array. See :mod:`ramp_server.kit.workflow` for what it fixes in rampwf's.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ramp_server.kit import checkpoint
from ramp_server.kit.batching import (
    CHEAP_TRANSFORM_S,
    SHARED_BUFFERS,
    TASK_BYTES,
    TASK_IMAGES,
    BufferPool,
    default_n_jobs,
    get_nb_minibatches,
    shape_error,
    stratified_split,
    to_categorical,
    transform_batch,
    transform_pool,
    with_channels,
)
from ramp_server.kit.taxa import N_CLASSES
from ramp_server.kit.transform_cache import DEFAULT_BUDGET, CachePlanner


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

    ``cache_transforms``: ``"auto"`` (default) keeps the outputs of a deterministic transform
    that is slow enough for it to pay, so later epochs reuse them; ``True`` keeps those of any
    deterministic transform; ``False`` never keeps any. At most ``cache_budget`` bytes are kept.
    See :mod:`ramp_server.kit.transform_cache`.

    ``checkpoint_dir``: the folder of this fit's checkpoint (None: checkpoints off); the
    workflow sets it from ``RAMP_CHECKPOINT_DIR``. See :mod:`ramp_server.kit.checkpoint`.
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
        cache_transforms: bool | str = "auto",
        cache_budget: int = DEFAULT_BUDGET,
        buffers: BufferPool | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
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
        # a deterministic transform may run once per image, later epochs reusing its outputs
        self._planner = CachePlanner(self.nb_examples, mode=cache_transforms, budget=cache_budget)
        # batch arrays, recycled once the caller dropped them (by default from a pool that the
        # process's builders share: a worker trains fold after fold, submission after submission)
        self._buffers = buffers if buffers is not None else SHARED_BUFFERS
        self._scratch = threading.local()
        self._batch_bytes = 0
        # None until measured; then True for transforms too cheap to gain from parallel threads
        self._cheap: dict[bool, bool | None] = {True: None, False: None}  # train, valid
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future] = set()  # tasks of this builder's streams, not yet handed over
        self._device = None
        self._t0 = time.monotonic()
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self._elapsed_before = 0.0  # training time of earlier runs of this fit (checkpoints)

    # -- shared machinery -------------------------------------------------------------------

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = transform_pool(self.n_jobs)
        return self._pool

    def _images_at(self, positions: np.ndarray) -> np.ndarray:
        """The images at sorted ``positions``, in a per-thread scratch array (not handed out)."""
        rows = self.indices[positions]
        scratch = getattr(self._scratch, "images", None)
        shape = (len(rows), *self.X_array.shape[1:])
        if scratch is None or scratch.shape[0] < len(rows) or scratch.shape[1:] != shape[1:]:
            scratch = self._scratch.images = np.empty(shape, dtype=self.X_array.dtype)
        # np.take into a plain ndarray: no memmap subclass object per image, no fresh pages
        return np.take(self.X_array, rows, axis=0, out=scratch[: len(rows)])

    def _batch(self, positions: np.ndarray, train: bool) -> tuple[np.ndarray, np.ndarray]:
        rows = self.indices[positions]
        transform = self.transform_img if train else self.transform_test_img
        cache = self._planner.cache_for(transform, self._images_at, positions)
        if cache is None:
            order = np.argsort(rows)  # sorted reads are kinder to a memory-mapped cache
            images = self._images_at(positions[order])
            X = transform_batch(images, order, transform, self._buffers.take)
        else:
            while True:  # compute the missing images once, even across threads
                mine, others = cache.claim(positions)
                if len(mine):
                    try:
                        images = self._images_at(mine)
                        values = transform_batch(images, np.arange(len(mine)), transform)
                        if values.shape[1:] != cache.shape:
                            raise shape_error(values.shape[1:], cache.shape)
                    except BaseException:
                        cache.release(mine)
                        raise
                    cache.store(mine, values)
                if not len(others):
                    break
                cache.wait(others)  # then claim again what a failed thread gave up
            X = cache.gather(positions, self._buffers.take((len(positions), *cache.shape)))
        self._batch_bytes = X.nbytes
        return with_channels(X), self.y_array[rows]

    def _stream(
        self, plan: Iterator[np.ndarray], train: bool, convert: Callable
    ) -> Iterator[tuple]:
        """Run ``_batch`` over ``plan`` on the pool, ``2*n_jobs`` tasks in flight (two on one
        thread once the first task showed a cheap transform).

        A task makes a few consecutive batches (about ``TASK_IMAGES`` images, at most
        ``TASK_BYTES``): one hand-over between threads per task rather than per batch.
        """
        pending: deque[Future] = deque()
        plan = iter(plan)

        def run(group: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
            t0 = time.perf_counter()
            out = [self._batch(positions, train) for positions in group]
            if self._cheap[train] is None and self.n_jobs > 1:
                per_image = (time.perf_counter() - t0) / max(1, sum(len(g) for g in group))
                self._cheap[train] = per_image < CHEAP_TRANSFORM_S
            return out

        try:
            for first in plan:
                n = max(1, TASK_IMAGES // max(1, len(first)))
                if self._batch_bytes:
                    n = max(1, min(n, TASK_BYTES // self._batch_bytes))
                else:
                    n = 1  # output size unknown yet
                group = [first, *itertools.islice(plan, n - 1)]
                # a cheap transform: one producer thread, still ahead of the training loop
                cheap = self._cheap[train]
                pool = transform_pool(1) if cheap else self.pool
                pending.append(pool.submit(run, group))
                self._pending.add(pending[-1])
                if len(pending) >= 2 * (1 if cheap else self.n_jobs):
                    done = pending.popleft()
                    self._pending.discard(done)
                    for item in done.result():
                        yield convert(*item)
            while pending:
                done = pending.popleft()
                self._pending.discard(done)
                for item in done.result():
                    yield convert(*item)
        finally:
            for fut in pending:
                fut.cancel()
                self._pending.discard(fut)

    def _epoch_plan(
        self, positions: np.ndarray, batch_size: int, shuffle: bool, forever: bool
    ) -> Iterator[np.ndarray]:
        while True:
            order = self._rng.permutation(positions) if shuffle else positions
            for s in range(0, len(order), batch_size):
                yield order[s : s + batch_size]
            if not forever or len(order) == 0:
                return

    def batches(
        self,
        positions: np.ndarray,
        *,
        batch_size: int,
        train: bool,
        shuffle: bool = False,
        forever: bool = False,
        convert: Callable | None = None,
    ) -> Iterator[tuple]:
        """Batches of the images at ``positions`` (``transform`` if ``train``, else
        ``transform_test``), made ahead on the transform threads; ``convert(X, y)`` maps each
        ``(X, y)`` (default: as is). ``shuffle`` reorders each epoch; ``forever`` repeats."""
        plan = self._epoch_plan(positions, batch_size, shuffle, forever)
        return self._stream(plan, train, convert or (lambda X, y: (X, y)))

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

        gen_train = self.batches(
            train_pos, batch_size=batch_size, train=True, shuffle=True, forever=True, convert=onehot
        )
        gen_valid = self.batches(
            valid_pos, batch_size=batch_size, train=False, forever=True, convert=onehot
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

    # -- checkpoints ----------------------------------------------------------------------------

    @property
    def checkpointing(self) -> bool:
        """Whether ``save_checkpoint`` keeps anything (a checkpoint folder is configured)."""
        return self.checkpoint_dir is not None

    @property
    def elapsed_s(self) -> float:
        """Seconds of this fit so far, earlier runs resumed from a checkpoint included."""
        return self._elapsed_before + time.monotonic() - self._t0

    def save_checkpoint(self, state: dict, *, epoch: int) -> None:
        """Keep ``state`` as the fit's checkpoint after ``epoch`` finished epochs, with the
        random generators' states; a no-op unless ``checkpointing``.

        ``state`` is a dict of tensors, numbers, strings, None, lists, tuples and dicts (e.g.
        ``{"net": net.state_dict(), "optimizer": optimizer.state_dict()}``); anything else
        raises :class:`~ramp_server.kit.checkpoint.CheckpointError` naming the entry. Call it at
        the end of each epoch; the previous checkpoint is replaced atomically.
        """
        if self.checkpoint_dir is None:
            return
        rng = checkpoint.capture_rng(self._rng)
        saved = checkpoint.Checkpoint(
            epoch=int(epoch), state=state, elapsed_s=self.elapsed_s, rng=rng
        )
        checkpoint.save(self.checkpoint_dir, saved)

    def load_checkpoint(self) -> dict | None:
        """The last saved ``state`` plus its ``"epoch"``, or None (no checkpoint, or off).

        It also puts torch's, numpy's, Python's and the loaders' random generators back where
        they were at that save: call it once the set-up is done (network, optimizer, data),
        just before the epoch loop, and start the loop at the returned ``"epoch"``.
        """
        if self.checkpoint_dir is None:
            return None
        saved = checkpoint.load(self.checkpoint_dir)
        if saved is None:
            return None
        checkpoint.restore_rng(saved.rng, self._rng)
        self._elapsed_before = saved.elapsed_s
        print(
            f"resuming after epoch {saved.epoch} from {self.checkpoint_dir} "
            f"({saved.elapsed_s:.0f}s of training before)",
            flush=True,
        )
        return {**saved.state, "epoch": saved.epoch}

    def __getstate__(self) -> dict:  # e.g. torch DataLoader workers: the pool stays here
        state = self.__dict__.copy()
        state["_pool"] = None
        state["_pending"] = set()
        state["_buffers"] = BufferPool()
        state["_scratch"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._scratch = threading.local()

    def close(self) -> None:
        """Cancel this builder's queued transforms and free its cached ones (the builder stays
        usable: both come back on demand)."""
        for fut in list(self._pending):  # the threads are shared: cancel only our tasks
            fut.cancel()
        self._pending.clear()
        self._pool = None
        self._planner.clear()
