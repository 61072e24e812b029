"""Transformed images kept across epochs, for transforms that are deterministic.

rampwf applies the participant's ``transform`` to every image at every epoch. When ``transform``
is a pure function of the image, every epoch after the first recomputes the same arrays: the
workflow keeps them (float32, as the batches hold them) and later epochs only gather rows, so
the batches are bit for bit what a fresh call would give.

A transform is cached only when all of these hold:

- its module does not set ``TRANSFORM_IS_RANDOM = True`` (the participant's word for it);
- applied twice to the first images it sees, it returns the same bytes (same shape and dtype);
- those calls leave the random generators it could draw from untouched: numpy's and Python's
  global ones, torch's when torch is loaded, and any ``Generator``/``RandomState``/``Random``
  object among the module's globals (random augmentation draws from one of these);
- the cache of all the builder's images fits in the memory budget (2 GiB by default);
- in the default ``"auto"`` mode, the transform is slow enough for keeping its outputs to pay:
  at least :data:`MIN_NS_PER_BYTE` per byte of output (timed on the check's second pass).

Otherwise the transform runs on every image of every batch, as in rampwf.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

#: bytes of transformed images a builder may keep (train and test transforms together)
DEFAULT_BUDGET = 2 << 30
#: images transformed twice to check that the transform is deterministic
PROBE_IMAGES = 8
#: "auto" caches a transform only when it takes at least this long per byte of output: keeping
#: a byte costs about as much (first touch of the memory, copies in and out), so a cheaper
#: transform (e.g. ``x.astype(np.float32) / 255``, ~0.2 ns/byte) is faster to run again
MIN_NS_PER_BYTE = 1.0


def _rng_states(transform: Callable) -> list:
    """Snapshots of every random generator ``transform`` could draw from."""
    states: list = [np.random.get_state(legacy=False), random.getstate()]
    torch = sys.modules.get("torch")
    if torch is not None:
        states.append(torch.random.get_rng_state().numpy().tobytes())
    for value in list(getattr(transform, "__globals__", {}).values()):
        if isinstance(value, np.random.Generator):
            states.append(value.bit_generator.state)
        elif isinstance(value, np.random.RandomState):
            states.append(value.get_state(legacy=False))
        elif isinstance(value, random.Random):
            states.append(value.getstate())
    return states


def _same_states(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, dict):  # numpy bit-generator states hold arrays
            if x.keys() != y.keys() or not all(_same_value(x[k], y[k]) for k in x):
                return False
        elif x != y:
            return False
    return True


def _same_value(x, y) -> bool:
    if isinstance(x, dict):
        return isinstance(y, dict) and _same_states([x], [y])
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and np.array_equal(x, y)
    return x == y


def is_deterministic(
    transform: Callable, images: np.ndarray
) -> tuple[bool, list[np.ndarray], float]:
    """Apply ``transform`` twice to each of ``images``.

    Returns (deterministic?, the first outputs, seconds per call of the second, warm, pass).
    """
    before = _rng_states(transform)
    first = [np.asarray(transform(x)) for x in images]
    t0 = time.perf_counter()
    second = [np.asarray(transform(x)) for x in images]
    seconds = (time.perf_counter() - t0) / max(1, len(images))
    same = all(
        a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
        for a, b in zip(first, second, strict=True)
    )
    return same and _same_states(before, _rng_states(transform)), first, seconds


class TransformCache:
    """Float32 outputs of one deterministic transform, one slot per builder position.

    Thread-safe, and each slot is computed once: a thread claims the missing slots of its
    batch, computes and stores them, then waits for those that other threads had claimed.
    """

    def __init__(self, n_slots: int, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)
        self.data = np.empty((n_slots, *shape), dtype=np.float32)  # pages touched as filled
        self.filled = np.zeros(n_slots, dtype=bool)
        self._claimed = np.zeros(n_slots, dtype=bool)
        self._cond = threading.Condition()

    def claim(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(missing slots now claimed by the caller, sorted; missing slots claimed by others)."""
        with self._cond:
            todo = np.unique(positions[~self.filled[positions]])
            taken = self._claimed[todo]
            mine, others = todo[~taken], todo[taken]
            self._claimed[mine] = True
        return mine, others

    def store(self, positions: np.ndarray, values: np.ndarray) -> None:
        self.data[positions] = values
        with self._cond:
            self.filled[positions] = True
            self._cond.notify_all()

    def release(self, positions: np.ndarray) -> None:
        """Give up claimed slots (the transform failed): a waiting thread will compute them."""
        with self._cond:
            self._claimed[positions] = False
            self._cond.notify_all()

    def wait(self, positions: np.ndarray) -> None:
        """Until each of ``positions`` is filled or no longer claimed."""
        with self._cond:
            while not np.all(self.filled[positions] | ~self._claimed[positions]):
                self._cond.wait()

    def gather(self, positions: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Copy the rows at ``positions`` into ``out`` (callers may modify their batch)."""
        return np.take(self.data, positions, axis=0, out=out)


class CachePlanner:
    """Decides, once per transform, whether a builder caches it, and holds the caches."""

    def __init__(
        self, n_slots: int, *, mode: bool | str = "auto", budget: int = DEFAULT_BUDGET
    ) -> None:
        if mode not in (True, False, "auto"):
            raise ValueError(f"cache_transforms must be True, False or 'auto', got {mode!r}")
        self.n_slots = n_slots
        self.mode = mode
        self.max_budget = int(budget)
        self.budget = self.max_budget
        self._caches: dict[int, TransformCache | None] = {}  # id(transform) -> cache or None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a pickled builder (DataLoader workers) starts empty
        return {"n_slots": self.n_slots, "mode": self.mode, "budget": self.max_budget}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def cache_for(
        self, transform: Callable, images_at: Callable[[np.ndarray], np.ndarray], probe: np.ndarray
    ) -> TransformCache | None:
        """The cache of ``transform`` (None: not cached), deciding on first use.

        ``probe`` are positions whose images (``images_at(positions)``) are checked; their
        outputs are stored in the new cache.
        """
        if self.mode is False or len(probe) == 0:
            return None
        key = id(transform)
        if key in self._caches:
            return self._caches[key]
        with self._lock:  # one check per transform, even with several pool threads
            if key not in self._caches:
                self._caches[key] = self._decide(transform, images_at, probe[:PROBE_IMAGES])
            return self._caches[key]

    def _decide(self, transform, images_at, probe: np.ndarray) -> TransformCache | None:
        if getattr(transform, "__globals__", {}).get("TRANSFORM_IS_RANDOM", False):
            return None
        probe = np.unique(probe)
        if len(probe) == 0:
            return None
        deterministic, outputs, seconds = is_deterministic(transform, images_at(probe))
        shapes = {x.shape for x in outputs}
        if not deterministic or len(shapes) != 1:
            return None
        shape = shapes.pop()
        image_bytes = max(1, int(np.prod(shape, dtype=np.int64)) * 4)
        if self.mode == "auto" and seconds * 1e9 < MIN_NS_PER_BYTE * image_bytes:
            return None  # cheaper to run again than to keep in memory
        need = self.n_slots * image_bytes
        if need > self.budget:
            return None
        self.budget -= need
        cache = TransformCache(self.n_slots, shape)
        cache.claim(probe)
        cache.store(probe, np.stack(outputs).astype(np.float32, copy=False))
        return cache

    def clear(self) -> None:
        """Drop every cache (their memory goes back); transforms are decided again on use."""
        with self._lock:
            self._caches.clear()
            self.budget = self.max_budget
