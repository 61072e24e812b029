"""The model ladder's pieces: one (model, fold) result each, written as soon as it exists.

A piece is two files under ``<root>/pieces/<model>/``:

- ``fold_<k>.npz`` (compressed): ``valid_indices`` (int32), ``valid_proba`` and ``test_proba``
  (float16: ~0.2 MB a piece on the full synthetic set, small enough to commit), ``valid_y`` and
  ``test_y`` (int8): the labels travel with the predictions, so the table and the blend are
  rebuilt from pieces alone, without the data set;
- ``fold_<k>.json``, written last (it marks the piece finished): the key that decides whether a
  re-run may skip the piece (the submission's code hash, the epochs scale, the data), the scores,
  the epochs actually run and the learning curve, the training and prediction times, the
  machine, the package versions and the git commit.

Both files are written atomically (temporary file + rename). Half-trained pieces live apart,
in ``<root>/work/<model>/fold_<k>/`` (checkpoints, progress reports), and are never committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ramp_server.storage import atomic_write_bytes

REPO = Path(__file__).resolve().parents[1]
#: the submission files whose bytes identify a model's code
CODE_FILES = ("image_preprocessor.py", "batch_classifier.py")


@dataclass
class Piece:
    """One finished (model, fold): its record (the JSON) and its predictions."""

    meta: dict
    valid_indices: np.ndarray
    valid_proba: np.ndarray
    test_proba: np.ndarray
    valid_y: np.ndarray
    test_y: np.ndarray

    @property
    def model(self) -> str:
        return self.meta["model"]

    @property
    def fold(self) -> int:
        return int(self.meta["fold"])


def piece_paths(root: Path, model: str, fold: int) -> tuple[Path, Path]:
    """``(npz, json)`` of one piece under ``root``."""
    folder = Path(root) / "pieces" / model
    return folder / f"fold_{fold}.npz", folder / f"fold_{fold}.json"


def work_dir(root: Path, model: str, fold: int) -> Path:
    """Where an unfinished piece keeps its checkpoints and progress reports."""
    return Path(root) / "work" / model / f"fold_{fold}"


def code_sha256(submission_dir: Path) -> str:
    """Hash of the submission's two files (the original code, before any epochs scaling)."""
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update(name.encode() + b"\0" + (Path(submission_dir) / name).read_bytes() + b"\0")
    return digest.hexdigest()


def data_key(y: np.ndarray, y_test: np.ndarray, n_folds: int, cv_seed: int) -> dict:
    """What identifies the data and folds of a piece (labels hashed, sizes, the CV)."""
    labels = hashlib.sha256(
        np.asarray(y, np.int64).tobytes() + np.asarray(y_test, np.int64).tobytes()
    )
    return {
        "n_train": int(len(y)),
        "n_test": int(len(y_test)),
        "labels_sha256": labels.hexdigest()[:16],
        "n_folds": int(n_folds),
        "cv_seed": int(cv_seed),
    }


def write_piece(root: Path, piece: Piece) -> Path:
    """Write ``piece`` under ``root`` (predictions first, the record last); returns the JSON."""
    npz_path, json_path = piece_paths(root, piece.model, piece.fold)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        valid_indices=np.asarray(piece.valid_indices, np.int32),
        valid_proba=np.asarray(piece.valid_proba, np.float16),
        test_proba=np.asarray(piece.test_proba, np.float16),
        valid_y=np.asarray(piece.valid_y, np.int8),
        test_y=np.asarray(piece.test_y, np.int8),
    )
    atomic_write_bytes(npz_path, buf.getvalue())
    text = json.dumps(piece.meta, indent=1, sort_keys=True) + "\n"
    atomic_write_bytes(json_path, text.encode("utf-8"))
    return json_path


def read_meta(json_path: Path) -> dict | None:
    """A piece's record, or None when the piece is not finished (no readable JSON)."""
    try:
        return json.loads(Path(json_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        print(f"{json_path}: unreadable piece record ({exc}); the piece will be trained again")
        return None


def read_piece(json_path: Path) -> Piece:
    """One finished piece (record and predictions); errors name the file."""
    meta = read_meta(json_path)
    if meta is None:
        raise FileNotFoundError(f"{json_path}: no finished piece here")
    npz_path = Path(json_path).with_suffix(".npz")
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{npz_path}: unreadable piece predictions ({exc})") from exc
    missing = {"valid_indices", "valid_proba", "test_proba", "valid_y", "test_y"} - set(arrays)
    if missing:
        raise ValueError(f"{npz_path}: missing arrays {sorted(missing)}; train the piece again")
    return Piece(meta=meta, **arrays)


def finished_pieces(root: Path) -> list[Piece]:
    """Every finished piece under ``root``, by model then fold."""
    pieces = []
    for json_path in sorted(Path(root).glob("pieces/*/fold_*.json")):
        if read_meta(json_path) is not None:
            pieces.append(read_piece(json_path))
    return sorted(pieces, key=lambda p: (p.model, p.fold))


def key_difference(old: dict, new: dict) -> str:
    """Which parts of two piece keys differ ("" when none)."""
    return ", ".join(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def machine() -> str:
    """The CPU model, its CPU count and the GPU (or "no GPU")."""
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M).group(1).strip()
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {device}"


def versions() -> dict[str, str]:
    """Python, the packages that shape a result, and the repository's commit."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("torch", "numpy", "scikit-learn", "ramp-workflow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    found["git commit"] = commit or "unknown"
    return found


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_progress(path: Path) -> list[dict]:
    """The epoch reports of a fit (``gen_builder.report``'s JSON lines), the last per epoch."""
    by_epoch: dict[int, dict] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            report = json.loads(line)
            by_epoch[int(report["epoch"])] = report
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a kill
    return [by_epoch[k] for k in sorted(by_epoch)]
