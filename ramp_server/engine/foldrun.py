"""The fold runner: what runs INSIDE the sandbox for one (submission, fold).

``python -m ramp_server.engine.foldrun`` reads its job from fixed paths (bound by the worker):

- ``/sandbox/submission/`` the submission's files (read-only);
- ``/sandbox/data/`` the public bundle (train images + labels, unlabelled test images);
- ``/sandbox/job/job.json`` knobs, ``/sandbox/job/fold.npz`` ``train_is`` / ``valid_is``;
- ``/sandbox/out/result.npz`` and ``/sandbox/out/status.json``: the only writable host files.

It trains the kit's workflow on the fold's training rows, predicts the validation rows, the test
images (and, when asked, the training rows), and writes the predictions and timings. A
participant exception becomes an error record whose traceback keeps only the participant's frames;
invalid predictions get their own kind. Scores are never computed here: test labels are not here.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

SUBMISSION_DIR = Path("/sandbox/submission")
DATA_DIR = Path("/sandbox/data")
JOB_DIR = Path("/sandbox/job")
RESULT_FILE = Path("/sandbox/out/result.npz")
STATUS_FILE = Path("/sandbox/out/status.json")
PROGRESS_FILE = Path("/sandbox/out/progress.jsonl")

#: error kinds the fold runner may report (the worker adds timeout, memory, killed, platform)
RUNNER_KINDS = ("participant", "invalid_predictions", "memory")


def participant_traceback(exc: BaseException, submission_dir: Path) -> str:
    """The traceback of ``exc`` restricted to frames in the submission's files."""
    root = str(submission_dir.resolve())
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.realpath(f.filename).startswith(root + os.sep)
    ]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _is_memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


def error_record(exc: BaseException, kind: str, submission_dir: Path) -> dict[str, Any]:
    """The JSON record of a failed fold."""
    message = f"{type(exc).__name__}: {exc}"
    if kind == "memory":
        message = f"out of memory ({type(exc).__name__}: {exc})"
    return {
        "ok": False,
        "error_kind": kind,
        "error_type": type(exc).__name__,
        "message": message[:4000],
        "traceback": participant_traceback(exc, submission_dir)[-20000:],
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fold(
    *,
    submission_dir: Path = SUBMISSION_DIR,
    data_dir: Path = DATA_DIR,
    job_dir: Path = JOB_DIR,
    result_file: Path = RESULT_FILE,
) -> dict[str, Any]:
    """Train and predict one fold; returns the status record (predictions go to ``result_file``)."""
    import numpy as np

    from ramp_server.kit.contract import ContractError
    from ramp_server.kit.dataset import load_public_bundle
    from ramp_server.kit.workflow import ImageClassifierWorkflow

    job = json.loads((job_dir / "job.json").read_text())
    with np.load(job_dir / "fold.npz") as fold:
        train_is, valid_is = fold["train_is"], fold["valid_is"]
    bundle = load_public_bundle(data_dir)
    workflow = ImageClassifierWorkflow(
        n_classes=int(bundle.meta.get("n_classes", 18)),
        test_batch_size=int(job.get("test_batch_size", 256)),
        n_jobs=job.get("n_jobs"),
        seed=int(job.get("seed", 0)),
    )
    X, y = bundle.train_images, np.asarray(bundle.train_labels)
    stage = "train"
    try:
        t0 = time.perf_counter()
        model = workflow.train_submission(str(submission_dir), X, y, train_is)
        train_time = time.perf_counter() - t0
        stage = "predict"
        t0 = time.perf_counter()
        valid_proba = workflow.test_submission(model, X[valid_is])
        valid_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        test_proba = workflow.test_submission(model, bundle.test_images)
        test_time = time.perf_counter() - t0
        train_proba = None
        if job.get("predict_train", True):
            train_proba = workflow.test_submission(model, X[train_is])
    except ContractError as exc:  # a contract violation: bad predictions or a malformed submission
        kind = "invalid_predictions" if stage == "predict" else "participant"
        return error_record(exc, kind, submission_dir)
    except BaseException as exc:  # noqa: BLE001 - participant code may raise anything, even SystemExit
        kind = "memory" if _is_memory_error(exc) else "participant"
        return error_record(exc, kind, submission_dir)
    arrays = {
        "valid_proba": valid_proba.astype(np.float32),
        "test_proba": test_proba.astype(np.float32),
    }
    if train_proba is not None:
        arrays["train_proba"] = train_proba.astype(np.float32)
    with open(result_file, "wb") as fh:
        np.savez(fh, **arrays)
    return {
        "ok": True,
        "train_time": train_time,
        "valid_time": valid_time,
        "test_time": test_time,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> int:
    """Entry point inside the sandbox: always writes a status record when it can."""
    os.environ.setdefault("RAMP_PROGRESS_FILE", str(PROGRESS_FILE))
    try:
        status = run_fold()
    except BaseException as exc:  # our own failure (bad bundle, bad job): a platform problem
        status = {
            "ok": False,
            "error_kind": "platform",
            "error_type": type(exc).__name__,
            "message": f"fold runner failed: {type(exc).__name__}: {exc}"[:4000],
            "traceback": traceback.format_exc()[-20000:],
        }
    status["peak_rss_mb"] = max(status.get("peak_rss_mb", 0.0), _peak_rss_mb())
    with open(STATUS_FILE, "w", encoding="utf-8") as fh:
        json.dump(status, fh)
    sys.stdout.flush()
    sys.stderr.flush()
    # skip interpreter teardown: participant threads must not delay or alter the outcome
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
