"""``ramp-server data subset`` and :func:`ramp_server.kit.subset.write_subset`."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_server.cli import main
from ramp_server.kit import dataset
from ramp_server.kit.dataset import DataError
from ramp_server.kit.subset import read_subset_record, write_subset


def test_subset_keeps_class_proportions_and_every_class(tiny_kit, tmp_path):
    src = tiny_kit / "data"
    summary = write_subset(src, tmp_path / "sub", n_train=120, n_test=60, seed=0)
    full = dataset.read_labels(src, "train")
    part = dataset.read_labels(tmp_path / "sub", "train")
    assert summary.n_train == len(part) and abs(len(part) - 120) <= 18
    assert set(part["id"]) <= set(full["id"])
    assert set(part["class"]) == set(full["class"])  # no class vanishes
    assert part["class"].value_counts().min() >= 3
    share_full = full["class"].value_counts(normalize=True).sort_index()
    share_part = part["class"].value_counts(normalize=True).sort_index()
    assert np.abs(share_full - share_part).max() < 0.05
    # the subset is a kit data folder: its images load and match the source's pixels
    X, y = dataset.load_split(tmp_path / "sub", "train", progress=False)
    assert X.shape == (len(part), 64, 64, 3) and list(y) == list(part["class"])
    assert read_subset_record(tmp_path / "sub") == summary
    assert read_subset_record(src) is None
    assert "120" in summary.describe() or str(summary.n_train) in summary.describe()


def test_subset_is_deterministic_and_a_rerun_keeps_the_folder(tiny_kit, tmp_path):
    src = tiny_kit / "data"
    write_subset(src, tmp_path / "a", n_train=100, n_test=60, seed=3)
    write_subset(src, tmp_path / "b", n_train=100, n_test=60, seed=3)
    for name in ("train.csv", "test.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    stamp = (tmp_path / "a" / "imgs").stat().st_mtime_ns
    write_subset(src, tmp_path / "a", n_train=100, n_test=60, seed=3)
    assert (tmp_path / "a" / "imgs").stat().st_mtime_ns == stamp  # nothing rewritten
    other = write_subset(src, tmp_path / "a", n_train=80, n_test=60, seed=3)
    assert len(list((tmp_path / "a" / "imgs").iterdir())) == other.n_train + other.n_test


def test_subset_refuses_a_folder_holding_other_files(tiny_kit, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="notes.txt.*not a subset folder"):
        write_subset(tiny_kit / "data", tmp_path / "out", n_train=100, n_test=60)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_subset_refuses_folders_containing_one_another(kit_copy):
    data = kit_copy / "data"
    with pytest.raises(DataError, match="must not contain one another"):
        write_subset(data, data / "sub", n_train=100, n_test=60)
    with pytest.raises(DataError, match="must not contain one another"):  # would delete it
        write_subset(data / "imgs", data, n_train=100, n_test=60)
    assert len(list((data / "imgs").iterdir())) == 400


def test_subset_refuses_a_file_or_a_foreign_record_as_output(tiny_kit, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        write_subset(tiny_kit / "data", tmp_path / "file", n_train=100, n_test=60)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "subset.json").write_text('{"something": "else"}')
    with pytest.raises(DataError, match="subset.json: not a subset record"):
        write_subset(tiny_kit / "data", tmp_path / "out", n_train=100, n_test=60)


def test_subset_names_a_missing_image(kit_copy, tmp_path):
    victim = dataset.read_labels(kit_copy / "data", "train")["id"].iloc[0]
    (kit_copy / "data" / "imgs" / f"{victim}.jpg").unlink()
    with pytest.raises(DataError, match=f"{victim}.jpg: missing image of train.csv"):
        write_subset(kit_copy / "data", tmp_path / "sub", n_train=400, n_test=60)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-train", "10", "--n-test", "60"], "n_train=10 is too small"),
        (["--n-train", "100", "--n-test", "60", "--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_data_subset_cli_rejects_bad_arguments(tiny_kit, tmp_path, capsys, argv, message):
    code = main(
        ["data", "subset", "--from", str(tiny_kit / "data"), "--out", str(tmp_path / "s"), *argv]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def _subset_cli(source, out, *extra: str) -> int:
    return main(["data", "subset", "--from", str(source), "--out", str(out), *extra])


def test_data_subset_cli_says_how_to_create_missing_source(tmp_path, capsys):
    code = _subset_cli(tmp_path / "nothing", tmp_path / "s", "--n-train", "100", "--n-test", "60")
    assert code == 2
    assert "ramp-server data synth" in capsys.readouterr().err


def test_data_subset_cli_writes_the_subset(tiny_kit, tmp_path, capsys):
    code = _subset_cli(tiny_kit / "data", tmp_path / "s", "--n-train", "100", "--n-test", "60")
    assert code == 0
    assert "stratified subset of" in capsys.readouterr().out
    record = read_subset_record(tmp_path / "s")
    assert len(dataset.read_labels(tmp_path / "s", "test")) == record.n_test
