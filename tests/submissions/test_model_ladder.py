"""bench/model_ladder.py on tiny data: the real workflow, the real blender, resumable pieces."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import pytest

from ramp_server.kit.gen_builder import BatchGeneratorBuilder

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


def column(text: str, title: str) -> int:
    header = next(line for line in text.splitlines() if line.startswith("| model"))
    return [c.strip() for c in header.strip("|").split("|")].index(title) - 1


def tiny_argv(tiny_kit, out, *extra) -> list[str]:
    return [
        "--data", str(tiny_kit / "data"),
        "--folds", "2",
        "--subset", "200",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


def test_ladder_trains_blends_and_prints_one_row_per_model(ladder, tiny_kit, tmp_path, capsys):
    out = tmp_path / "ladder"
    argv = tiny_argv(
        tiny_kit, out, "--submissions", "starting_kit,colour_features", "--epochs-scale", "0.5"
    )
    assert ladder.main(argv) == 0
    printed = capsys.readouterr().out
    assert "scaled: N_EPOCHS 2 → 1" in printed  # the starting kit's copy, not the original
    assert (
        "N_EPOCHS = 2" in (REPO_ROOT / "submissions/starting_kit/batch_classifier.py").read_text()
    )
    assert printed.index("== starting_kit fold 0") < printed.index("== colour_features fold 0")
    report = (out / "ladder.md").read_text()
    rows = table_rows(report)
    assert set(rows) == {
        "majority class (prior)",
        "colour_features",
        "starting_kit",
        "hybrid model (blend)",
    }
    for title in ("acc valid", "acc test", "nll test", "bal_acc test", "contributivity"):
        assert column(report, title) >= 0
    shares = [
        float(rows[name][column(report, "contributivity")].rstrip(" %"))
        for name in ("colour_features", "starting_kit")
    ]
    assert sum(shares) == pytest.approx(100, abs=1.5)
    assert rows["starting_kit"][column(report, "2015 acc")] == "0.31 (starting models)"
    assert re.search(r"honest \(nested\) hybrid validation accuracy \d\.\d{3}", report)
    for k in range(2):
        meta = json.loads((out / "pieces" / "starting_kit" / f"fold_{k}.json").read_text())
        assert meta["epochs"] == {"run": 1, "of": 1}
        assert {"torch", "numpy", "python", "git commit"} <= set(meta["versions"])
        assert meta["machine"] and meta["train_s"] > 0 and "acc test" in meta["scores"]
        assert (out / "pieces" / "starting_kit" / f"fold_{k}.npz").is_file()
    assert not (out / "work" / "starting_kit" / "fold_0" / "checkpoints").exists()

    # the table of the saved pieces, without training again
    assert ladder.main([*argv, "--blend-only"]) == 0
    assert "== starting_kit" not in capsys.readouterr().out
    assert table_rows((out / "ladder.md").read_text()) == rows


def test_ladder_rerun_skips_finished_piece(ladder, tiny_kit, tmp_path, capsys):
    out = tmp_path / "ladder"
    argv = tiny_argv(tiny_kit, out, "--submissions", "colour_features", "--only-folds", "1")
    assert ladder.main(argv) == 0
    piece = out / "pieces" / "colour_features" / "fold_1.json"
    written = piece.stat().st_mtime_ns
    assert not (out / "pieces" / "colour_features" / "fold_0.json").exists()
    capsys.readouterr()

    assert ladder.main(argv) == 0
    printed = capsys.readouterr().out
    assert "== colour_features fold 1: finished, skipped (acc valid" in printed
    assert "epoch 1/1" not in printed  # not trained again
    assert piece.stat().st_mtime_ns == written

    # other settings make the finished piece stale: it is trained again
    assert ladder.main([*argv, "--epochs-scale", "0.5"]) == 0
    assert "stale (epochs_scale changed): training again" in capsys.readouterr().out
    assert piece.stat().st_mtime_ns != written


def test_ladder_resumes_an_interrupted_piece_from_its_checkpoint(
    ladder, tiny_kit, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "ladder"
    argv = tiny_argv(tiny_kit, out, "--submissions", "starting_kit", "--only-folds", "0")
    report = BatchGeneratorBuilder.report

    def killed_in_epoch_2(self, *, epoch, n_epochs, **metrics):
        report(self, epoch=epoch, n_epochs=n_epochs, **metrics)
        if epoch == 2:
            raise KeyboardInterrupt  # as Ctrl-C or a kill would, after epoch 1's checkpoint

    with monkeypatch.context() as patch:
        patch.setattr(BatchGeneratorBuilder, "report", killed_in_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            ladder.main(argv)
    assert not (out / "pieces" / "starting_kit" / "fold_0.json").exists()
    assert list((out / "work" / "starting_kit" / "fold_0" / "checkpoints").glob("*/*.pt"))
    capsys.readouterr()

    assert ladder.main(argv) == 0
    printed = capsys.readouterr().out
    assert re.search(
        r"== starting_kit fold 0 \(of 2\): \d+ training rows; resuming after epoch 1\n", printed
    )
    assert "epoch 1/2 " not in printed and "epoch 2/2 " in printed
    meta = json.loads((out / "pieces" / "starting_kit" / "fold_0.json").read_text())
    assert meta["epochs"] == {"run": 2, "of": 2}
    assert [s["resumed_after_epoch"] for s in meta["sessions"]] == [None, 1]
    assert [e["epoch"] for e in meta["learning_curve"]] == [1, 2]


def test_ladder_collect_rebuilds_the_table_from_committed_pieces_alone(
    ladder, tiny_kit, tmp_path, capsys
):
    out, committed = tmp_path / "run", tmp_path / "committed"
    argv = tiny_argv(tiny_kit, out, "--submissions", "colour_features", "--only-folds", "0")
    assert ladder.main(argv) == 0
    readme = tmp_path / "README.md"
    begin, end = ladder.lt.BEGIN, ladder.lt.END
    readme.write_text(f"# Kit\n\nprose above\n{begin}\nold table\n{end}\nprose below\n")

    collect = ["--collect", "--out", str(out), "--to", str(committed), "--readme", str(readme)]
    assert ladder.main([*collect, "--data", str(tmp_path / "no-data-here")]) == 0
    assert "collected colour_features fold 0" in capsys.readouterr().out
    text = readme.read_text()
    assert text.startswith("# Kit\n\nprose above\n") and text.endswith(f"{end}\nprose below\n")
    assert "old table" not in text
    rows = table_rows(text)
    assert rows["colour_features"][column(text, "acc test")].startswith("**0.")
    for name in ("starting_kit", "heuritech_cnn", "small_resnet"):
        assert rows[name][column(text, "acc valid")] == "*not finished yet*"
    assert rows["heuritech_cnn"][column(text, "2015 acc")] == "**0.71** (best)"
    assert (committed / "ladder.md").read_text().startswith(text[text.index("| model") :][:200])

    # collecting again copies nothing new and writes the same table
    assert ladder.main(collect) == 0
    assert "0 new piece(s)" in capsys.readouterr().out
    assert readme.read_text() == text


def test_readme_ladder_table_is_built_from_the_committed_pieces(ladder):
    """The README's table is what bench/ladder/'s pieces give (run --collect after a change)."""
    committed = REPO_ROOT / "bench" / "ladder"
    if not list(committed.glob("pieces/*/fold_*.json")):
        pytest.skip("no committed ladder pieces yet")
    sys.path.insert(0, str(REPO_ROOT))
    problem = ladder.load_problem()
    pieces = ladder.lp.finished_pieces(committed)
    table = ladder.lt.build_table(pieces, problem, list(ladder.lt.LADDER_ORDER))
    block = ladder.lt.format_table(table) + "\n\n" + ladder.lt.caption(table)
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(ladder.lt.BEGIN) + len(ladder.lt.BEGIN)
    assert readme[start : readme.index(ladder.lt.END)].strip() == block.strip()
