"""The prediction store: the one file format the engine writes and the blender reads.

One ``.npz`` file (uncompressed: loading is a plain read, no inflate) per (submission, fold)
holding

- ``valid_indices``: int64 (n_valid,), rows of the training set in this fold's validation split;
- ``valid_proba``: float32 or float16 (n_valid, n_classes), the fold model's probabilities on
  those rows only (the training rows are never needed by the blender);
- ``test_proba``: same dtype (n_test, n_classes), the fold model's probabilities on the test set.

Writes are atomic (temporary file + rename), reads validate shapes and dtypes and name the file
in every error. :class:`PredictionCache` keeps the validation part of files already read, keyed
by path, modification time and size, so a live re-blend only reads what changed.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_KEYS = ("valid_indices", "valid_proba", "test_proba")


class PredictionFileError(ValueError):
    """A prediction file is missing, unreadable or malformed (the message names the file)."""


@dataclass(frozen=True)
class FoldPredictions:
    """One fold model's predictions: validation rows (with their indices) and the test set."""

    valid_indices: np.ndarray
    valid_proba: np.ndarray
    test_proba: np.ndarray | None

    @property
    def n_classes(self) -> int:
        return int(self.valid_proba.shape[1])

    @property
    def nbytes(self) -> int:
        test = 0 if self.test_proba is None else self.test_proba.nbytes
        return int(self.valid_indices.nbytes + self.valid_proba.nbytes + test)


def _as_proba(name: str, array: np.ndarray, dtype: np.dtype, path: object) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] < 2:
        raise PredictionFileError(
            f"{path}: {name} must be 2-D (rows x classes, >= 2 classes), got shape {array.shape}"
        )
    if array.dtype.kind != "f":
        raise PredictionFileError(f"{path}: {name} must be floating point, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)


def write_fold_predictions(
    path: str | Path,
    *,
    valid_indices: np.ndarray,
    valid_proba: np.ndarray,
    test_proba: np.ndarray,
    dtype: type | np.dtype = np.float32,
) -> Path:
    """Write one fold's predictions atomically to ``path`` (float32 by default, or float16).

    Rows that failed may be NaN: the blender excludes that submission on that fold.
    """
    path = Path(path)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise ValueError(f"{path}: prediction dtype must be float16 or float32, got {dtype}")
    idx = np.asarray(valid_indices)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise PredictionFileError(f"{path}: valid_indices must be a 1-D integer array")
    valid = _as_proba("valid_proba", valid_proba, dtype, path)
    test = _as_proba("test_proba", test_proba, dtype, path)
    if len(idx) != valid.shape[0]:
        raise PredictionFileError(
            f"{path}: {len(idx)} valid_indices but valid_proba has {valid.shape[0]} rows"
        )
    if test.shape[1] != valid.shape[1]:
        raise PredictionFileError(
            f"{path}: test_proba has {test.shape[1]} classes, valid_proba {valid.shape[1]}"
        )
    buf = io.BytesIO()
    np.savez(buf, valid_indices=idx.astype(np.int64), valid_proba=valid, test_proba=test)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_fold_predictions(path: str | Path, *, load_test: bool = True) -> FoldPredictions:
    """Read and validate one fold file; ``load_test=False`` skips reading the test rows."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise PredictionFileError(f"{path}: prediction file does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise PredictionFileError(f"{path}: not a readable prediction file ({exc})") from None
    with npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise PredictionFileError(f"{path}: missing arrays {missing} (has {npz.files})")
        try:
            idx = npz["valid_indices"]
            valid = npz["valid_proba"]
            test = npz["test_proba"] if load_test else None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise PredictionFileError(f"{path}: corrupt prediction file ({exc})") from None
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise PredictionFileError(f"{path}: valid_indices must be 1-D integers, got {idx.dtype}")
    for name, arr in (("valid_proba", valid), ("test_proba", test)):
        if arr is None:
            continue
        if arr.ndim != 2 or arr.dtype not in _FLOAT_DTYPES:
            raise PredictionFileError(
                f"{path}: {name} must be a 2-D float array, got {arr.dtype} {arr.shape}"
            )
    if valid.shape[0] != idx.shape[0]:
        raise PredictionFileError(
            f"{path}: {idx.shape[0]} valid_indices but valid_proba has {valid.shape[0]} rows"
        )
    if test is not None and test.shape[1] != valid.shape[1]:
        raise PredictionFileError(
            f"{path}: test_proba has {test.shape[1]} classes, valid_proba {valid.shape[1]}"
        )
    return FoldPredictions(valid_indices=idx, valid_proba=valid, test_proba=test)


class PredictionCache:
    """LRU cache of validation predictions, keyed by (path, mtime, size), bounded in bytes.

    Thread-safe. A rewritten file (new mtime or size) is read again; test rows are not cached
    (the blender needs them only for the few picked submissions).
    """

    def __init__(self, max_bytes: int = 2 << 30) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, tuple[tuple[int, int], FoldPredictions]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, path: str | Path) -> FoldPredictions:
        """The validation part of ``path`` (``test_proba`` is None), from memory when unchanged."""
        key = str(Path(path).resolve())
        try:
            st = os.stat(key)
        except FileNotFoundError:
            raise PredictionFileError(f"{path}: prediction file does not exist") from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == stamp:
                self._items.move_to_end(key)
                self.hits += 1
                return item[1]
        preds = read_fold_predictions(key, load_test=False)
        with self._lock:
            self.misses += 1
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1].nbytes
            if preds.nbytes <= self.max_bytes:
                self._items[key] = (stamp, preds)
                self._bytes += preds.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return preds

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)
