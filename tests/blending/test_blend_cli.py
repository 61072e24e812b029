"""`ramp-server blend` end to end against the real `ramp-blend` on the same saved outputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ramp_server.blending.synthetic import write_synthetic_kit
from ramp_server.cli import main

BIN = Path(sys.executable).parent
OUTPUTS = ("contributivities.csv", "bagged_scores_combined.csv", "bagged_scores_foldwise_best.csv")


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("score_type_index", [0, 1], ids=["accuracy", "nll"])
def test_cli_writes_the_same_files_as_ramp_blend(tmp_path, score_type_index):
    kit = tmp_path / "kit"
    write_synthetic_kit(
        kit,
        n_submissions=7,
        n_train=450,
        n_test=150,
        n_classes=5,
        seed=score_type_index,
        duplicate_of={4: 1},
    )
    args = ["--save-output", "--score-type-index", str(score_type_index)]
    _run([str(BIN / "ramp-blend"), *args, "--ignore-warning"], cwd=kit)
    out = kit / "submissions" / "training_output"
    theirs = {name: (out / name).read_text() for name in OUTPUTS}
    shutil.rmtree(out)
    stdout = _run([str(BIN / "ramp-server"), "blend", *args], cwd=kit)
    for name in OUTPUTS:
        assert (out / name).read_text() == theirs[name], name
    assert "combined" in stdout and "fold 0:" in stdout


def test_cli_accepts_a_submission_list_and_reports_a_missing_directory(tmp_path, capsys):
    kit = tmp_path / "kit"
    names = write_synthetic_kit(kit, n_submissions=3, n_train=150, n_test=30, n_classes=3)
    code = main(
        [
            "blend",
            "--ramp-kit-dir",
            str(kit),
            "--ramp-data-dir",
            str(kit),
            "--ramp-submission-dir",
            str(kit / "submissions"),
            "--submissions",
            str(names[:2]),
            "--nested",
            "--shapley",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert names[2] not in out and "nested (honest)" in out and "Shapley" in out
    code = main(["blend", "--ramp-kit-dir", str(kit), "--ramp-submission-dir", str(tmp_path / "x")])
    assert code == 2
    assert "submission directory not found" in capsys.readouterr().err
