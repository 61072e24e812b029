"""Per-epoch checkpoints: the gen_builder's save/load API and the workflow's per-fit folders."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ramp_server.kit import checkpoint
from ramp_server.kit.gen_builder import BatchGeneratorBuilder
from ramp_server.kit.workflow import ImageClassifierWorkflow


def identity(x):
    return x.astype(np.float32)


def builder(tmp_path: Path | None = None, seed: int = 0) -> BatchGeneratorBuilder:
    X = np.zeros((40, 8, 8, 3), np.uint8)
    y = np.arange(40) % 4
    return BatchGeneratorBuilder(
        X, y, identity, identity, n_classes=4, n_jobs=1, seed=seed, checkpoint_dir=tmp_path
    )


def draws(gen: BatchGeneratorBuilder) -> tuple:
    """One draw of every generator a checkpoint restores (the loaders' shuffle included)."""
    shuffle = next(gen.batches(np.arange(40), batch_size=40, train=True, shuffle=True))[1]
    return (
        torch.rand(3).tolist(),
        np.random.rand(3).tolist(),
        [random.random() for _ in range(3)],
        shuffle.tolist(),
    )


def test_checkpoints_are_off_without_a_folder(monkeypatch):
    monkeypatch.delenv(checkpoint.ENV_VAR, raising=False)
    gen = builder()
    assert not gen.checkpointing
    gen.save_checkpoint({"w": torch.ones(2)}, epoch=1)  # does nothing
    assert gen.load_checkpoint() is None


def test_load_returns_the_state_and_restores_every_random_generator(tmp_path):
    gen = builder(tmp_path)
    assert gen.checkpointing and gen.load_checkpoint() is None
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    draws(gen)  # the generators have moved since the fit began
    state = {"net": {"w": torch.arange(3.0)}, "best": None, "acc": 0.5, "tag": ("a", 2)}
    gen.save_checkpoint(state, epoch=2)
    expected = draws(gen)  # what an uninterrupted fit draws next

    resumed = builder(tmp_path)  # a new process: fresh generators
    torch.manual_seed(99)
    loaded = resumed.load_checkpoint()
    assert loaded["epoch"] == 2 and loaded["acc"] == 0.5 and loaded["tag"] == ("a", 2)
    assert loaded["best"] is None
    torch.testing.assert_close(loaded["net"]["w"], torch.arange(3.0))
    assert draws(resumed) == expected
    assert list(tmp_path.iterdir()) == [tmp_path / checkpoint.FILE_NAME]  # no temporary left


def test_save_names_the_entry_that_cannot_be_read_back(tmp_path):
    gen = builder(tmp_path)
    with pytest.raises(checkpoint.CheckpointError, match=r"state\['opt'\]\['fn'\] is a function"):
        gen.save_checkpoint({"opt": {"fn": identity}}, epoch=1)
    with pytest.raises(checkpoint.CheckpointError, match="torch.from_numpy"):
        gen.save_checkpoint({"mean": np.zeros(3)}, epoch=1)
    with pytest.raises(checkpoint.CheckpointError, match="state_dict"):
        gen.save_checkpoint({"net": torch.nn.Linear(2, 2)}, epoch=1)
    with pytest.raises(checkpoint.CheckpointError, match="'epoch' is reserved"):
        gen.save_checkpoint({"epoch": 3}, epoch=3)
    assert not (tmp_path / checkpoint.FILE_NAME).exists()


def test_an_unreadable_checkpoint_names_its_file_and_the_way_out(tmp_path):
    (tmp_path / checkpoint.FILE_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="delete it to train this fold"):
        builder(tmp_path).load_checkpoint()


def test_each_fit_gets_its_own_folder_from_the_environment(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    for name in ("image_preprocessor", "batch_classifier"):
        (sub / f"{name}.py").write_text(f"# {name}\n")
    workflow = ImageClassifierWorkflow(n_classes=4)
    y = np.arange(40) % 4
    monkeypatch.delenv(checkpoint.ENV_VAR, raising=False)
    assert workflow.fit_checkpoint_dir(sub, y, np.arange(30)) is None
    monkeypatch.setenv(checkpoint.ENV_VAR, str(tmp_path / "ck"))
    fold_a = workflow.fit_checkpoint_dir(sub, y, np.arange(30))
    assert fold_a.parent == tmp_path / "ck"
    assert workflow.fit_checkpoint_dir(sub, y, np.arange(30)) == fold_a  # same fit: resumes
    assert workflow.fit_checkpoint_dir(sub, y, np.arange(10, 40)) != fold_a  # another fold
    (sub / "batch_classifier.py").write_text("# edited\n")
    assert workflow.fit_checkpoint_dir(sub, y, np.arange(30)) != fold_a  # edited code
