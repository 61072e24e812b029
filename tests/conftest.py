"""Shared fixtures: a tiny kit data folder (the synthetic generator's when available)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

# The SQLite + PostgreSQL database fixtures, shared by every test folder (one session-wide
# PostgreSQL template, not one per folder).
pytest_plugins = ["ramp_server.db.testing"]

#: repository root (problem.py, submissions/)
REPO_ROOT = Path(__file__).resolve().parents[1]
#: images in the tiny data set: enough for the quick-test subset of problem.py
TINY_N = 400


def _write_random_kit(data_dir: Path, *, n: int, seed: int) -> None:
    """Small random JPEGs in the kit layout, each class with its own tint (learnable a bit)."""
    from PIL import Image

    from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

    rng = np.random.default_rng(seed)
    imgs = data_dir / "imgs"
    imgs.mkdir(parents=True, exist_ok=True)
    y = np.concatenate([np.arange(N_CLASSES)] * 4 + [rng.integers(0, N_CLASSES, n - 4 * N_CLASSES)])
    rng.shuffle(y)
    tints = rng.integers(40, 216, size=(N_CLASSES, 3))
    n_test = n // 5
    for split, labels in (("train", y[n_test:]), ("test", y[:n_test])):
        lines = ["id,class"]
        for i, c in enumerate(labels):
            image_id = f"{split}_{i:05d}"
            h, w = (64, 64) if i % 7 else (90, 120)  # some photos are not 64×64
            noise = rng.normal(0, 40, size=(h, w, 3))
            img = np.clip(tints[c] + noise, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(imgs / f"{image_id}.jpg", quality=90)
            lines.append(f"{image_id},{c}")
        (data_dir / f"{split}.csv").write_text("\n".join(lines) + "\n")
    codes = ["class,taxon"] + [f"{i},{name}" for i, name in enumerate(CLASS_NAMES)]
    (data_dir / "class_codes.csv").write_text("\n".join(codes) + "\n", encoding="utf-8")


def make_tiny_data(data_dir: Path, *, n: int = TINY_N, seed: int = 0) -> Path:
    """Write a tiny kit data folder: the synthetic generator's output, or random JPEGs."""
    try:
        from ramp_server.kit.synth import generate
    except ImportError:
        generate = None
    if generate is not None:
        generate(data_dir, seed=seed, n=n, n_jobs=1, progress=False)
    else:
        _write_random_kit(data_dir, n=n, seed=seed)
    return data_dir


@pytest.fixture(scope="session")
def tiny_kit(tmp_path_factory) -> Path:
    """A read-only kit root holding ``data/`` (tiny, cache already built). Do not modify it."""
    from ramp_server.kit import dataset

    root = tmp_path_factory.mktemp("tiny_kit")
    make_tiny_data(root / "data")
    for split in dataset.SPLITS:
        dataset.load_split(root / "data", split, progress=False)
    return root


@pytest.fixture
def kit_copy(tiny_kit, tmp_path) -> Path:
    """A private, modifiable copy of :func:`tiny_kit` (with its cache)."""
    root = tmp_path / "kit"
    shutil.copytree(tiny_kit, root)
    return root
