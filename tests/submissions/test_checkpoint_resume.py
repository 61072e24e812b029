"""Every epoch-based reference submission resumes an interrupted fit where it stopped.

A two-epoch fit straight, and the same fit interrupted during its last epoch (after that
epoch's training, before its checkpoint) then run again: the second run resumes from the first
epoch's checkpoint and ends with the same predictions, to the bit. (Small: 150 training rows.)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ramp_server.kit import dataset
from ramp_server.kit.epochs import scaled_copy
from ramp_server.kit.gen_builder import BatchGeneratorBuilder
from ramp_server.kit.workflow import ImageClassifierWorkflow

SUBMISSIONS = Path(__file__).resolve().parents[2] / "submissions"
EPOCH_BASED = ["starting_kit", "centre_crop", "heuritech_cnn", "cnn_no_dropout", "small_resnet"]


class Interrupted(Exception):
    """Stands for the process being killed in the middle of a fit."""


def n_epochs(code: Path) -> int:
    return int(re.search(r"^N_EPOCHS = (\d+)", (code / "batch_classifier.py").read_text(), re.M)[1])


@pytest.mark.parametrize("submission", EPOCH_BASED)
def test_interrupted_fit_resumes_from_its_checkpoint_with_the_same_result(
    submission, tiny_kit, tmp_path, monkeypatch, capsys
):
    code = tmp_path / submission
    scaled_copy(SUBMISSIONS / submission, code, epochs=2, reason="test")
    last = n_epochs(code)
    X, y = dataset.load_split(tiny_kit / "data", "train", progress=False)
    X, y = np.asarray(X), np.asarray(y)
    train_is = np.arange(len(y)) < 150

    def fit_predict(checkpoints: Path):
        workflow = ImageClassifierWorkflow(n_jobs=1, checkpoint_dir=checkpoints)
        trained = workflow.train_submission(str(code), X, y, train_is)
        return workflow.test_submission(trained, X[~train_is])

    straight = fit_predict(tmp_path / "straight")

    report = BatchGeneratorBuilder.report

    def killed_in_last_epoch(self, *, epoch, n_epochs, **metrics):
        report(self, epoch=epoch, n_epochs=n_epochs, **metrics)
        if epoch == last:
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(BatchGeneratorBuilder, "report", killed_in_last_epoch)
        with pytest.raises(Interrupted):
            fit_predict(tmp_path / "resumed")
    capsys.readouterr()
    resumed = fit_predict(tmp_path / "resumed")
    printed = capsys.readouterr().out
    assert f"resuming after epoch {last - 1} " in printed
    assert f"epoch {last - 1}/{last} " not in printed  # the finished epochs are not trained again
    assert f"epoch {last}/{last} " in printed
    np.testing.assert_array_equal(resumed, straight)
