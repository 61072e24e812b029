"""`ramp-test --quick-test` (the real console script) passes for every folder in submissions/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ramp_test_plugin import REPO_ROOT

RAMP_TEST = str(Path(sys.executable).parent / "ramp-test")
SUBMISSIONS = sorted(
    p.name for p in (REPO_ROOT / "submissions").iterdir() if p.is_dir() and any(p.glob("*.py"))
)


def _ramp_test(tmp_path, tiny_kit, submission_dir: Path) -> subprocess.CompletedProcess:
    subs = tmp_path / "submissions"
    subs.mkdir(exist_ok=True)
    target = subs / submission_dir.name
    if not target.exists():
        shutil.copytree(submission_dir, target, ignore=shutil.ignore_patterns("training_output"))
    cmd = [
        RAMP_TEST,
        "--ramp-kit-dir", str(REPO_ROOT),
        "--ramp-data-dir", str(tiny_kit),
        "--ramp-submission-dir", str(subs),
        "--submission", submission_dir.name,
        "--quick-test",
        "--save-output",
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("submission", SUBMISSIONS)
def test_ramp_test_quick_passes_for_submission(submission, tmp_path, tiny_kit):
    proc = _ramp_test(tmp_path, tiny_kit, REPO_ROOT / "submissions" / submission)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Bagged scores" in proc.stdout
    out = tmp_path / "submissions" / submission / "training_output"
    y_train = np.load(out / "fold_0" / "y_pred_train.npz")["y_pred"]
    y_test = np.load(out / "fold_0" / "y_pred_test.npz")["y_pred"]
    assert y_train.shape[1] == y_test.shape[1] == 18
    assert np.allclose(y_train.sum(1), 1, atol=1e-3)
    assert (out / "fold_0" / "state.txt").read_text() == "scored"
    assert (out / "bagged_scores.csv").is_file()


def test_ramp_test_shows_the_contract_error_of_a_broken_submission(tmp_path, tiny_kit):
    broken = tmp_path / "src" / "broken"
    shutil.copytree(REPO_ROOT / "submissions" / "starting_kit", broken)
    clf = broken / "batch_classifier.py"
    clf.write_text(clf.read_text().replace("def fit(self, gen_builder):", "def fit(self):"))
    line = clf.read_text().splitlines().index("    def fit(self):") + 1
    proc = _ramp_test(tmp_path, tiny_kit, broken)
    assert proc.returncode != 0
    assert f"batch_classifier.py:{line}: `fit` must accept" in proc.stdout + proc.stderr
