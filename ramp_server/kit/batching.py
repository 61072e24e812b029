"""Making batches of transformed images: the per-image loop, recycled batch arrays, the shared
transform threads, and the rampwf helpers (labels, splits, batch counts).

A 64-image batch of 64×64×3 float32 is 3 MiB. Allocated anew for every batch, such arrays come
back from glibc's per-thread arenas as freshly mapped pages (the arenas trim what is freed), so
each batch pays ~800 page faults — as much as the transforms themselves on small images. The
workflow recycles batch arrays instead: :class:`BufferPool` hands out an array again only when
nothing but the pool refers to it any more (the caller dropped the batch and every view of it),
so a batch that is kept is never overwritten.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class BufferPool:
    """Recycled float32 arrays, reused once the pool holds the only reference to them.

    Thread-safe. Keeps at most ``max_bytes`` of arrays (the oldest are forgotten first: an
    array still in use stays valid, the pool just stops recycling it).
    """

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = int(max_bytes)
        self._arrays: deque[np.ndarray] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 array of ``shape`` (contents undefined) that nobody else references."""
        with self._lock:
            for arr in self._arrays:
                # 3 references: the deque, ``arr`` and getrefcount's argument
                if arr.shape == shape and sys.getrefcount(arr) == 3:
                    return arr
            arr = np.empty(shape, dtype=np.float32)
            self._arrays.append(arr)
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes and len(self._arrays) > 1:
                self._bytes -= self._arrays.popleft().nbytes
            return arr

    def __getstate__(self) -> dict:  # pickled (a workflow sent to a worker): starts empty
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()
            self._bytes = 0


#: the pool the workflow's builders share by default (one process trains fold after fold)
SHARED_BUFFERS = BufferPool()


def shape_error(shape: tuple, before: tuple) -> ValueError:
    return ValueError(
        f"transform returned an array of shape {shape} after one of shape {before}: every "
        "image must give the same shape"
    )


def transform_batch(
    images: np.ndarray,
    order: np.ndarray,
    transform: Callable,
    take: Callable[[tuple[int, ...]], np.ndarray] | None = None,
) -> np.ndarray:
    """``transform`` each image into row ``order[j]`` of one float32 array (no list + stack).

    ``take(shape)`` supplies that array (a fresh one by default).
    """
    out = None
    for j, k in enumerate(order):
        x = np.asarray(transform(images[j]))
        if out is None:
            shape = (len(order), *x.shape)
            out = take(shape) if take is not None else np.empty(shape, dtype=np.float32)
        elif x.shape != out.shape[1:]:
            raise shape_error(x.shape, out.shape[1:])
        out[k] = x
    if out is None:
        return np.zeros((0,), dtype=np.float32)
    return out


def with_channels(batch: np.ndarray) -> np.ndarray:
    """Single-channel transforms get a channel axis, as in rampwf."""
    return batch[:, np.newaxis] if batch.ndim == 3 else batch


#: a pool task makes consecutive batches of about this many images in all, at most this many bytes
TASK_IMAGES = 128
TASK_BYTES = 16 << 20
#: below this time per image (transform + copy into the batch), parallel transform threads only
#: fight over the GIL (small numpy calls hold it): such transforms run one task at a time, still
#: ahead of the training loop (batches about 25% faster for ``x / 255`` on 64×64 images)
CHEAP_TRANSFORM_S = 20e-6


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def transform_pool(n_jobs: int) -> ThreadPoolExecutor:
    """The process's ``n_jobs``-thread transform pool: builders share it (no thread start-up per
    fit or prediction); keyed by pid too, as a forked child has none of its parent's threads."""
    key = (os.getpid(), n_jobs)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(n_jobs, thread_name_prefix="ramp-transform")
        return pool


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
