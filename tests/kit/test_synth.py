"""The synthetic SPIPOLL generator: determinism, frequencies, split, layout, bad arguments."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ramp_server.kit.synth import MIN_N, SynthError, allocate_counts, generate, n_test_images
from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES, TRAIN_COUNTS

N = 120


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("serial")
    return out, generate(out, seed=3, n=N, n_jobs=1, progress=False)


def test_same_seed_gives_byte_identical_files_whatever_n_jobs(serial, tmp_path):
    out, _ = serial
    again = generate(tmp_path / "parallel", seed=3, n=N, n_jobs=2, progress=False)
    first, second = _files(out), _files(again.out_dir)
    assert len(first) == N + 3
    assert first == second


def test_different_seed_gives_different_images(serial, tmp_path):
    out, _ = serial
    other = generate(tmp_path, seed=4, n=MIN_N, n_jobs=1, progress=False)
    a, b = _files(out), _files(other.out_dir)
    common = [k for k in b if k.startswith("imgs/")]
    assert len(common) == MIN_N and all(k in a for k in common)
    assert sum(a[k] == b[k] for k in common) == 0
    assert a["train.csv"] != b["train.csv"]


def _largest_remainder(n: int) -> list[int]:
    total = sum(TRAIN_COUNTS)
    quotas = [Fraction(n * c, total) for c in TRAIN_COUNTS]
    counts = [q.numerator // q.denominator for q in quotas]
    by_remainder = sorted(range(N_CLASSES), key=lambda i: quotas[i] - counts[i], reverse=True)
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


@pytest.mark.parametrize("n", [20348, 5000, 1234])
def test_class_counts_are_the_largest_remainder_allocation_of_2015_frequencies(n):
    counts = allocate_counts(n)
    assert counts == _largest_remainder(n)
    assert sum(counts) == n
    assert np.argmax(counts) == CLASS_NAMES.index("Apis mellifera")


def test_small_n_still_gives_every_class_a_few_images():
    counts = allocate_counts(MIN_N)
    assert sum(counts) == MIN_N
    assert min(counts) >= 5
    # at n=300 a few classes fall below 5: they are topped up from the biggest class
    lr = _largest_remainder(300)
    assert min(lr) < 5
    apis = CLASS_NAMES.index("Apis mellifera")
    expected = [max(c, 5) for c in lr]
    expected[apis] -= sum(expected) - 300
    assert allocate_counts(300) == expected


def test_layout_has_kit_csvs_and_decodable_64x64_rgb_images(serial):
    out, summary = serial
    train = pd.read_csv(out / "train.csv")
    test = pd.read_csv(out / "test.csv")
    codes = pd.read_csv(out / "class_codes.csv")
    assert list(train.columns) == ["id", "class"] == list(test.columns)
    assert list(codes.columns) == ["class", "taxon"]
    assert codes["taxon"].tolist() == CLASS_NAMES
    assert codes["class"].tolist() == list(range(N_CLASSES))
    ids = pd.concat([train["id"], test["id"]])
    assert ids.is_unique and len(ids) == N
    assert ids.str.fullmatch(r"syn_\d{6}").all()
    assert (len(train), len(test)) == (summary.n_train, summary.n_test)
    assert sorted(p.stem for p in (out / "imgs").iterdir()) == sorted(ids)
    for i in ids:
        with Image.open(out / "imgs" / f"{i}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (64, 64)
            assert np.asarray(im).std() > 5  # a picture, not a blank


def test_split_is_stratified_about_80_20(serial):
    out, summary = serial
    train = pd.read_csv(out / "train.csv")
    test = pd.read_csv(out / "test.csv")
    per_class = pd.concat([train, test])["class"].value_counts().sort_index()
    assert per_class.tolist() == list(summary.class_counts) == allocate_counts(N)
    test_counts = test["class"].value_counts().reindex(range(N_CLASSES), fill_value=0)
    assert test_counts.tolist() == [n_test_images(c) for c in summary.class_counts]
    assert (train["class"].value_counts().reindex(range(N_CLASSES), fill_value=0) >= 3).all()
    assert 0.17 < len(test) / N < 0.23


def test_rerun_replaces_the_previous_layout_and_cleans_temporary_folders(tmp_path):
    stale = tmp_path / ".synth-tmp-999999999-dead"
    (stale / "imgs").mkdir(parents=True)
    generate(tmp_path, seed=1, n=MIN_N + 10, n_jobs=1, progress=False)
    (tmp_path / "keep.txt").write_text("not ours")
    generate(tmp_path, seed=2, n=MIN_N, n_jobs=1, progress=False)
    assert len(os.listdir(tmp_path / "imgs")) == MIN_N
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "class_codes.csv", "imgs", "keep.txt", "test.csv", "train.csv",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": MIN_N - 1}, f"n must be >= {MIN_N}"),
        ({"n": 0}, f"n must be >= {MIN_N}"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"n_jobs": 0}, "n_jobs must be a positive integer"),
    ],
)
def test_bad_arguments_raise_a_clear_error_and_write_nothing(tmp_path, kwargs, message):
    with pytest.raises(SynthError, match=message):
        generate(tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_output_path_that_is_a_file_is_rejected(tmp_path):
    target = tmp_path / "data"
    target.write_text("a file")
    with pytest.raises(SynthError, match="not a directory"):
        generate(target, n=MIN_N, progress=False)
    assert target.read_text() == "a file"
