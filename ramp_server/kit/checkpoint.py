"""Per-epoch checkpoints of a fit, so that an interrupted fold resumes at its next epoch.

A submission opts in with two calls on its ``gen_builder`` (see ``submissions/*/``)::

    checkpoint = gen_builder.load_checkpoint()   # None, or the last saved state + "epoch"
    start = 0 if checkpoint is None else checkpoint["epoch"]
    for epoch in range(start, n_epochs):
        ...                                       # train one epoch
        gen_builder.save_checkpoint({"net": net.state_dict(), ...}, epoch=epoch + 1)

Checkpoints are on only when a folder is configured: ``RAMP_CHECKPOINT_DIR`` (or the workflow's
``checkpoint_dir``); otherwise saving does nothing and loading returns None, so the platform's
sandbox, which never sets it, is unaffected. The workflow gives each fit its own subfolder, named
after the submission's code, the training rows and the seed (:func:`fit_key`): the folds of one
``ramp-test`` run never share a checkpoint, and edited code never resumes from an old one.

One file per fit, ``checkpoint.pt``, replaced atomically (temporary file, fsync, rename) at each
save, written by ``torch.save`` and read by ``torch.load(weights_only=True)``: the state may hold
tensors, numbers, strings, None, lists, tuples and dicts (state dicts of modules, optimizers,
schedulers and grad scalers are all of these), nothing that would need unpickling code. Next to
it go the epoch, the training time so far and the random generators' states: torch's (CPU and
CUDA), numpy's global one, Python's ``random`` and the builder's own (the loaders' shuffles).
Loading restores them all, so a fold resumed after epoch k draws the same shuffles, dropout
masks and augmentations as one that was never interrupted.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: environment variable naming the folder under which fits keep their checkpoints
ENV_VAR = "RAMP_CHECKPOINT_DIR"
#: the one file of a fit's checkpoint folder
FILE_NAME = "checkpoint.pt"
#: version of the file's layout (a file of another version is ignored, with a message)
FORMAT = 1

_SCALARS = (type(None), bool, int, float, str)


class CheckpointError(ValueError):
    """A state that cannot be saved, or a checkpoint file that cannot be read (names which)."""


@dataclass(frozen=True)
class Checkpoint:
    """What one ``checkpoint.pt`` holds."""

    epoch: int
    state: dict
    elapsed_s: float
    rng: dict


def root_from_env() -> Path | None:
    """The folder named by ``RAMP_CHECKPOINT_DIR``, or None when unset or empty."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value) if value else None


def fit_key(files: Iterable[Path], *, rows: np.ndarray, labels: np.ndarray, seed: int) -> str:
    """16 hex digits naming one fit: the submission files' bytes, the training rows and labels,
    the seed. A checkpoint is resumed only by the same code on the same rows."""
    digest = hashlib.sha256(f"ramp-checkpoint-{FORMAT}-{seed}".encode())
    for file in sorted(Path(f) for f in files):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def check_saveable(value, where: str = "state") -> None:
    """Raise :class:`CheckpointError` naming the first part of ``value`` that
    ``torch.load(weights_only=True)`` would refuse."""
    import torch

    if isinstance(value, _SCALARS) or isinstance(value, torch.Tensor | torch.dtype | torch.Size):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _SCALARS):
                raise CheckpointError(
                    f"save_checkpoint: {where} has a key of type {type(key).__name__}: "
                    "use strings or numbers as keys"
                )
            check_saveable(item, f"{where}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_saveable(item, f"{where}[{i}]")
        return
    hint = ""
    if isinstance(value, np.ndarray | np.generic):
        hint = " (convert numpy values with torch.from_numpy(...) or .item())"
    elif hasattr(value, "state_dict"):
        hint = " (save its .state_dict() instead)"
    raise CheckpointError(
        f"save_checkpoint: {where} is a {type(value).__name__}, which torch.load(weights_only="
        f"True) cannot read back: keep to tensors, numbers, strings, None, lists, tuples and "
        f"dicts{hint}"
    )


def capture_rng(generator: np.random.Generator) -> dict:
    """The states of torch's, numpy's, Python's and ``generator``'s random generators."""
    import torch

    name, key, pos, has_gauss, gauss = np.random.get_state()
    rng = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": random.getstate(),
        "builder": generator.bit_generator.state,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict, generator: np.random.Generator) -> None:
    """Put the generators back where :func:`capture_rng` found them."""
    import torch

    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        if len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])
    legacy = rng["numpy"]
    key = legacy["key"].numpy().astype(np.uint32)
    np.random.set_state((legacy["name"], key, legacy["pos"], legacy["has_gauss"], legacy["gauss"]))
    random.setstate(rng["python"])
    generator.bit_generator.state = rng["builder"]


def save(directory: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``directory/checkpoint.pt`` atomically; returns the path."""
    import torch

    if not isinstance(checkpoint.state, dict):
        raise CheckpointError(
            f"save_checkpoint: the state must be a dict (e.g. {{'net': net.state_dict()}}), "
            f"got {type(checkpoint.state).__name__}"
        )
    if "epoch" in checkpoint.state:
        raise CheckpointError(
            "save_checkpoint: 'epoch' is reserved (pass it as epoch=...; load_checkpoint() "
            "returns it under that key): rename that entry of the state"
        )
    check_saveable(checkpoint.state)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "epoch": int(checkpoint.epoch),
        "elapsed_s": float(checkpoint.elapsed_s),
        "state": checkpoint.state,
        "rng": checkpoint.rng,
    }
    path = directory / FILE_NAME
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{FILE_NAME}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut only once the folder is synced
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def load(directory: str | os.PathLike) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None when there is none (or of another format)."""
    import torch

    path = Path(directory) / FILE_NAME
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); delete it to train "
            "this fold from the start"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        print(f"{path}: checkpoint of another format, ignored (training from the start)")
        return None
    return Checkpoint(
        epoch=int(payload["epoch"]),
        state=payload["state"],
        elapsed_s=float(payload["elapsed_s"]),
        rng=payload["rng"],
    )
