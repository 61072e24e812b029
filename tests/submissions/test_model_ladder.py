"""bench/model_ladder.py end to end on tiny data: the real workflow, the real blender."""

from __future__ import annotations

import importlib.util
import re

import pytest

from ramp_test_plugin import REPO_ROOT


@pytest.fixture(scope="module")
def ladder():
    spec = importlib.util.spec_from_file_location(
        "model_ladder", REPO_ROOT / "bench/model_ladder.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_ladder_trains_blends_and_prints_one_row_per_model(ladder, tiny_kit, tmp_path, capsys):
    out = tmp_path / "ladder"
    argv = [
        "--data", str(tiny_kit / "data"),
        "--submissions", "colour_features,starting_kit",
        "--folds", "2",
        "--subset", "200",
        "--epochs-scale", "0.5",
        "--out", str(out),
    ]  # fmt: skip
    assert ladder.main(argv) == 0
    printed = capsys.readouterr().out
    assert "scaled: N_EPOCHS 2 → 1" in printed  # the starting kit's copy, not the original
    assert (
        "N_EPOCHS = 2" in (REPO_ROOT / "submissions/starting_kit/batch_classifier.py").read_text()
    )
    report = (out / "ladder.md").read_text()
    rows = table_rows(report)
    assert set(rows) == {
        "majority class (prior)",
        "colour_features",
        "starting_kit",
        "hybrid model (blend)",
    }
    header = next(line for line in report.splitlines() if line.startswith("| model"))
    for column in ("acc valid", "acc test", "nll valid", "bal_acc test", "contributivity %"):
        assert column in header
    contributivity = header.strip("|").split("|").index(" contributivity % ") - 1
    shares = [float(rows[name][contributivity]) for name in ("colour_features", "starting_kit")]
    assert sum(shares) == pytest.approx(100, abs=1.5)
    for k in range(2):
        assert (out / "predictions" / "starting_kit" / f"fold_{k}.npz").is_file()
    assert re.search(r"Honest \(nested\) hybrid validation accuracy: \d\.\d{3}", report)

    # re-blending the saved predictions gives the same table without training again
    assert ladder.main([*argv, "--blend-only"]) == 0
    assert "-- starting_kit: fold" not in capsys.readouterr().out
    assert table_rows((out / "ladder.md").read_text()) == rows
