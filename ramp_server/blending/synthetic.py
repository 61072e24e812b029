"""Synthetic saved outputs in rampwf's layout, for the blender's tests, benchmark and demos.

:func:`write_synthetic_kit` writes a minimal kit (``problem.py`` + ``data/labels.npz`` with the
labels and the CV folds) and, for each submission, what ``ramp-test --save-output`` writes:
``submissions/<name>/training_output/fold_<k>/y_pred_{train,test}.npz`` (``y_pred``, float64,
``savez_compressed``). Submissions are noisy classifiers of varied quality whose errors are
partly shared (as real models' are), so the greedy blend behaves as on a real event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROBLEM_PY = '''"""Synthetic kit for blending (written by ramp_server.blending.synthetic)."""
import os

import numpy as np
import rampwf as rw

problem_title = "Synthetic blending kit"
_N_CLASSES = {n_classes}
Predictions = rw.prediction_types.make_multiclass(label_names=list(range(_N_CLASSES)))
workflow = rw.workflows.Classifier()
score_types = [
    rw.score_types.Accuracy(name="acc", precision=4),
    rw.score_types.NegativeLogLikelihood(name="nll", precision=4),
    rw.score_types.BalancedAccuracy(name="bal_acc", precision=4, adjusted=False),
    rw.score_types.ClassificationError(name="error", precision=4),
]


def _labels(path):
    return np.load(os.path.join(path, "data", "labels.npz"))


def get_train_data(path="."):
    y = _labels(path)["y_train"]
    return np.zeros((len(y), 1)), y


def get_test_data(path="."):
    y = _labels(path)["y_test"]
    return np.zeros((len(y), 1)), y


def get_cv(X, y):
    folds = np.load(os.path.join(os.path.dirname(__file__), "data", "labels.npz"))
    n_folds = int(folds["n_folds"])
    for k in range(n_folds):
        yield folds[f"train_{{k}}"], folds[f"valid_{{k}}"]
'''


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def synthetic_labels(
    rng: np.random.Generator, n: int, n_classes: int, *, skew: float = 1.0
) -> np.ndarray:
    """Imbalanced labels (class c has weight 1 / (1 + c) ** skew)."""
    w = 1.0 / (1.0 + np.arange(n_classes)) ** skew
    return rng.choice(n_classes, size=n, p=w / w.sum())


def synthetic_proba(
    rng: np.random.Generator,
    y: np.ndarray,
    n_classes: int,
    *,
    strength: float,
    shared: np.ndarray | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Probabilities of one noisy model: signal ``strength`` on the true class + noise."""
    logits = rng.standard_normal((len(y), n_classes)) * 1.2
    if shared is not None:
        logits += shared
    logits[np.arange(len(y)), y] += strength
    return softmax(logits * rng.uniform(0.8, 1.6)).astype(dtype)


def write_synthetic_kit(
    kit_dir: str | Path,
    *,
    n_submissions: int,
    n_train: int,
    n_test: int,
    n_classes: int = 18,
    n_folds: int = 3,
    seed: int = 0,
    failed: dict[str, list[int]] | None = None,
    duplicate_of: dict[int, int] | None = None,
    progress: bool = False,
) -> list[str]:
    """Write a kit with ``n_submissions`` saved outputs; returns the submission names.

    ``failed`` maps a name to folds whose outputs are NaN (a failed fold); ``duplicate_of`` maps
    a submission index to an earlier one whose outputs it copies (identical submissions).
    """
    kit = Path(kit_dir)
    (kit / "data").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y_train = synthetic_labels(rng, n_train, n_classes)
    y_test = synthetic_labels(rng, n_test, n_classes)
    perm = rng.permutation(n_train)
    valid = [np.sort(v) for v in np.array_split(perm, n_folds)]
    folds = {"n_folds": n_folds, "y_train": y_train, "y_test": y_test}
    for k, v in enumerate(valid):
        folds[f"valid_{k}"] = v
        folds[f"train_{k}"] = np.setdiff1d(np.arange(n_train), v)
    np.savez(kit / "data" / "labels.npz", **folds)
    (kit / "problem.py").write_text(PROBLEM_PY.format(n_classes=n_classes), encoding="utf-8")
    shared_train = rng.standard_normal((n_train, n_classes)) * 0.8
    shared_test = rng.standard_normal((n_test, n_classes)) * 0.8
    names = [f"sub_{i:04d}" for i in range(n_submissions)]
    failed = failed or {}
    duplicate_of = duplicate_of or {}
    iterator = range(n_submissions)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="writing synthetic outputs", unit="submission")
    for i in iterator:
        out = kit / "submissions" / names[i] / "training_output"
        strength = rng.uniform(0.3, 3.0)
        for k in range(n_folds):
            fold_dir = out / f"fold_{k}"
            fold_dir.mkdir(parents=True, exist_ok=True)
            if i in duplicate_of:
                src = kit / "submissions" / names[duplicate_of[i]] / "training_output"
                for split in ("train", "test"):
                    data = (src / f"fold_{k}" / f"y_pred_{split}.npz").read_bytes()
                    (fold_dir / f"y_pred_{split}.npz").write_bytes(data)
                continue
            tr = synthetic_proba(rng, y_train, n_classes, strength=strength, shared=shared_train)
            te = synthetic_proba(rng, y_test, n_classes, strength=strength, shared=shared_test)
            if k in failed.get(names[i], []):
                tr[:] = np.nan
                te[:] = np.nan
            np.savez_compressed(fold_dir / "y_pred_train.npz", y_pred=tr)
            np.savez_compressed(fold_dir / "y_pred_test.npz", y_pred=te)
    return names
