"""The submission checker the server and ``ramp-server check`` use: the contract, then a run.

:func:`check_submission` applies :func:`ramp_server.kit.contract.check_static` (never imports
participant code) and, with ``run=True``, :func:`check_run`: the kit's workflow fits the
submission on tiny random data (and, when the fit saved a checkpoint, fits again resuming from
it) and checks its predictions. Every failure is a
:class:`~ramp_server.kit.contract.ContractError` naming the file, line and field.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path

import numpy as np

from ramp_server.kit.contract import ContractError, check_static
from ramp_server.kit.taxa import N_CLASSES
from ramp_server.kit.workflow import ImageClassifierWorkflow


def _participant_frame(exc: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The innermost traceback frame inside the submission folder."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve().parent == root.resolve():
            found = (frame.filename, frame.lineno)
    return found


def check_run(path: str | os.PathLike, *, n_per_class: int = 2, seed: int = 0) -> np.ndarray:
    """Load the submission, fit it on tiny random data and check ``predict_proba``.

    The fit runs with checkpoints on; when it saved one (``gen_builder.save_checkpoint``), a
    fresh ``BatchClassifier`` is fitted again, which resumes from it (after the last epoch:
    nothing left to train), and must predict too: a state saved but not loadable fails here,
    not hours into a long training.
    """
    root = Path(path)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = rng.integers(0, 256, size=(len(y), 64, 64, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="ramp-check-") as checkpoints:
        workflow = ImageClassifierWorkflow(n_jobs=1, seed=seed, checkpoint_dir=checkpoints)
        try:
            model = workflow.train_submission(str(root), X, y)
            proba = workflow.test_submission(model, X)
            if any(Path(checkpoints).iterdir()):
                resumed = workflow.train_submission(str(root), X, y)
                workflow.test_submission(resumed, X)
            return proba
        except ContractError:
            raise
        except Exception as exc:
            file, line = _participant_frame(exc, root)
            raise ContractError(
                f"raised {type(exc).__name__}: {exc}", file=file or root, line=line, field="run"
            ) from exc


def check_submission(path: str | os.PathLike, *, run: bool = False) -> None:
    """Check a submission folder: static checks, then (``run=True``) a fit/predict on tiny data."""
    check_static(path)
    if run:
        check_run(path)
