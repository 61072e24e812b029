"""Offline blending of a kit's saved outputs, as rampwf's ``ramp-blend`` (same files, same CSVs).

Reads ``<submissions>/<name>/training_output[/<data_label>]/fold_<k>/y_pred_{train,test}.npz``
(what ``ramp-test --save-output`` writes; ``problem.load_y_pred`` is honoured) and, with
``save_output``, writes ``<submissions>/training_output[/<data_label>]/`` ``contributivities.csv``,
``bagged_scores_combined.csv`` and ``bagged_scores_foldwise_best.csv`` with ramp-blend's columns.
Each file is read once (a fold's best single model twice), the test predictions only for the
submissions a fold picked.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from .contributivity import rounded_percentages
from .hybrid import BlendResult, FoldInput, blend
from .npz import read_npz_view
from .scores import ScoreType, from_rampwf


class OfflineBlendError(ValueError):
    """Bad kit, submission list or saved outputs (the message says which and what to do)."""


class _Futures(Sequence):
    """A sequence whose items are the results of futures (waited for on access)."""

    def __init__(self, futures: list[Future]) -> None:
        self._futures = futures

    def __len__(self) -> int:
        return len(self._futures)

    def __getitem__(self, i):  # noqa: ANN001 - int index, as a list
        return self._futures[i].result()


class _FoldStack:
    """One fold's validation predictions of every submission in one array, filled by readers."""

    def __init__(self, n_submissions: int, n_rows: int) -> None:
        self.shape = (n_submissions, n_rows)
        self.array: np.ndarray | None = None
        self._lock = threading.Lock()

    def row(self, i: int, full: np.ndarray) -> np.ndarray | None:
        """Row ``i`` of the array (allocated like ``full`` on first use), None if ``full``
        (a submission's predictions on all training rows) does not fit in it."""
        if full.ndim != 2:
            return None
        with self._lock:
            if self.array is None:
                self.array = np.empty((*self.shape, full.shape[1]), dtype=full.dtype)
        if full.shape[1] != self.array.shape[2] or full.dtype != self.array.dtype:
            return None
        return self.array[i]


def load_kit_problem(kit_dir: str | os.PathLike) -> ModuleType:
    """The kit's ``problem.py`` as a fresh module."""
    try:
        from ramp_server.kit.scoring import load_problem
    except ImportError:  # the kit package without its scoring module
        from rampwf.utils.testing import assert_read_problem

        return assert_read_problem(str(kit_dir))
    return load_problem(kit_dir)


def list_submissions(submissions_dir: Path, data_label: str | None = None) -> list[str]:
    """Submissions with saved outputs, in directory order (ramp-blend's order, its tie rule)."""
    out = []
    for name in os.listdir(submissions_dir):
        path = submissions_dir / name / "training_output"
        if data_label is not None:
            path = path / data_label
        if name != "training_output" and path.is_dir():
            out.append(name)
    return out


def _labels_index(problem: ModuleType, y: np.ndarray) -> np.ndarray:
    gt = problem.Predictions(y_true=y)
    return np.argmax(np.asarray(gt.y_pred), axis=1)


def blend_kit(
    *,
    ramp_kit_dir: str | os.PathLike = ".",
    ramp_data_dir: str | os.PathLike = ".",
    ramp_submission_dir: str | os.PathLike = "submissions",
    submissions: Sequence[str] | str = "ALL",
    data_label: str | None = None,
    score_type_index: int = 0,
    min_improvement: float = 0.0,
    max_n_ensemble: int = 80,
    nested: bool = False,
    save_output: bool = False,
    progress: bool = True,
) -> tuple[BlendResult, ScoreType, dict[str, np.ndarray]]:
    """Blend a kit's saved outputs. Returns the result, the score type and the label arrays."""
    from rampwf.utils.io import load_y_pred

    kit = Path(ramp_kit_dir)
    problem = load_kit_problem(kit)
    sub_dir = Path(ramp_submission_dir)
    if not sub_dir.is_dir() and (kit / sub_dir).is_dir():
        sub_dir = kit / sub_dir
    if not sub_dir.is_dir():
        raise OfflineBlendError(
            f"{sub_dir}: submission directory not found (--ramp-submission-dir)"
        )
    if isinstance(submissions, str):
        if submissions != "ALL":
            raise OfflineBlendError("--submissions must be 'ALL' or a list of names")
        submissions = list_submissions(sub_dir, data_label)
    submissions = list(submissions)
    if not submissions:
        raise OfflineBlendError(
            f"{sub_dir}: no submission has saved outputs (run `ramp-test --save-output` first)"
        )
    kwargs = {"data_label": data_label} if data_label is not None else {}
    X_train, y_train = problem.get_train_data(path=str(ramp_data_dir), **kwargs)
    try:
        _, y_test = problem.get_test_data(path=str(ramp_data_dir), **kwargs)
    except FileNotFoundError:
        y_test = None
    cv = list(problem.get_cv(X_train, y_train))
    n_classes = len(problem.Predictions.label_names)
    try:
        st = problem.score_types[score_type_index]
    except IndexError:
        raise OfflineBlendError(
            f"--score-type-index {score_type_index}: problem.py has {len(problem.score_types)} "
            "score types"
        ) from None
    score = from_rampwf(st, n_classes=n_classes, predictions_cls=problem.Predictions)
    y_idx = _labels_index(problem, np.asarray(y_train))
    y_test_idx = None if y_test is None else _labels_index(problem, np.asarray(y_test))

    def fold_dir(name: str, k: int) -> Path:
        out = sub_dir / name / "training_output"
        if data_label is not None:
            out = out / data_label
        return out / f"fold_{k}"

    # Without a problem.load_y_pred, rampwf reads np.load(...)["y_pred"]: read the same array
    # with one inflate call per file (see .npz), and only the fold's validation rows.
    custom_loader = hasattr(problem, "load_y_pred")

    def load(
        name: str,
        k: int,
        suffix: str,
        rows: np.ndarray | None = None,
        stack: _FoldStack | None = None,
        slot: int = 0,
    ) -> np.ndarray | None:
        path = fold_dir(name, k)
        try:
            if custom_loader:
                p = np.asarray(
                    load_y_pred(
                        problem, data_path=str(ramp_data_dir), input_path=str(path), suffix=suffix
                    )
                )
            else:
                p = read_npz_view(path / f"y_pred_{suffix}.npz", "y_pred")
            if rows is None:
                return p if p.flags.writeable else np.array(p)
            out = stack.row(slot, p) if stack is not None else None
            if out is None:
                return np.ascontiguousarray(p[rows])
            return np.take(p, rows, axis=0, out=out)
        except (FileNotFoundError, OSError) as exc:
            warnings.warn(
                f"{path}: no y_pred_{suffix} ({exc}); {name} left out of fold {k}", stacklevel=2
            )
            return None

    # Inflating releases the GIL: reader threads read all folds' files in the background (fold
    # by fold), and each fold is blended in its own thread as soon as its files are in, so later
    # folds are read while the first ones are being blended.
    n_cpu = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(8, max(2, n_cpu))) as pool:
        folds = []
        for k, (_, valid_is) in enumerate(cv):
            valid_is = np.asarray(valid_is)
            # the readers write each submission's rows straight into one (K, n, d) array
            stack = _FoldStack(len(submissions), len(valid_is))
            futures = [
                pool.submit(load, name, k, "train", valid_is, stack, i)
                for i, name in enumerate(submissions)
            ]

            def test_loader(i: int, _k: int = k) -> np.ndarray | None:
                return load(submissions[i], _k, "test")

            def raw_valid(i: int, _k: int = k, _rows: np.ndarray = valid_is) -> np.ndarray | None:
                return load(submissions[i], _k, "train", _rows)

            folds.append(
                FoldInput(
                    valid_is,
                    _Futures(futures),
                    test_loader if y_test is not None else None,
                    stacked=lambda _stack=stack: _stack.array,
                    raw_valid=raw_valid,
                )
            )
        result = blend(
            folds=folds,
            y_train=y_idx,
            y_test=y_test_idx,
            score=score,
            names=submissions,
            max_n_ensemble=max_n_ensemble,
            min_improvement=min_improvement,
            nested=nested,
            progress=progress,
            threads=len(folds),
        )
    if save_output:
        out = sub_dir / "training_output"
        if data_label is not None:
            out = out / data_label
        write_outputs(result, out)
    return result, score, {"y_train": y_idx, "y_test": y_test_idx}


def contributivity_frame(result: BlendResult) -> pd.DataFrame:
    """ramp-blend's contributivity table (integer percentages, fold shares), sorted."""
    df = pd.DataFrame()
    df["submission"] = np.array(result.names)
    df["contributivity"] = np.zeros(len(result.names))
    for k in range(result.fold_contributivity.shape[1]):
        c_k = result.fold_contributivity[:, k]
        df[f"fold_{k}"] = c_k
        df["contributivity"] += c_k
    df["contributivity"] = rounded_percentages(df["contributivity"].to_numpy())
    return df.sort_values("contributivity", ascending=False)


def bagged_frame(score_name: str, valid: list[float], test: list[float]) -> pd.DataFrame:
    """ramp-blend's bagged score table: index (step, n_bag), one column per score."""
    parts = {"valid": pd.DataFrame({score_name: dict(enumerate(valid))})}
    if test:
        parts["test"] = pd.DataFrame({score_name: dict(enumerate(test))})
    df = pd.concat(parts)
    df.columns = df.columns.rename("score")
    df.index = df.index.rename(["step", "n_bag"])
    return df


def write_outputs(result: BlendResult, out_dir: Path) -> None:
    """Write the three CSV files of ramp-blend into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contributivity_frame(result).to_csv(out_dir / "contributivities.csv", index=False)
    bagged_frame(
        result.score_name, result.combined_valid_scores, result.combined_test_scores
    ).to_csv(out_dir / "bagged_scores_combined.csv")
    bagged_frame(
        result.score_name, result.foldwise_best_valid_scores, result.foldwise_best_test_scores
    ).to_csv(out_dir / "bagged_scores_foldwise_best.csv")
