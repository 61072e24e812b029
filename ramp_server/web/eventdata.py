"""What the event page shows of the event's data: taxa with sample images, class frequencies.

Read from the event's public bundle (files, never the database). Sample strips are PNGs cut
from ``train_images.npy`` (memory-mapped) and cached in memory: the bundle never changes once
the event exists. The score charts are :mod:`ramp_server.web.event_charts`.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from markupsafe import Markup

from ramp_server.kit import taxa
from ramp_server.web import charts

SAMPLE_GRID = (3, 2)  # columns, rows of sample photos per taxon
SAMPLES_PER_TAXON = SAMPLE_GRID[0] * SAMPLE_GRID[1]
_lock = threading.Lock()


@dataclass(frozen=True)
class TaxonCard:
    id: int
    name: str
    count: int
    share: float


def _labels(public_dir: Path) -> np.ndarray | None:
    path = public_dir / "train_labels.npy"
    if not path.is_file():
        return None
    y = np.load(path, mmap_mode="r")
    if y.ndim == 2:  # one-hot
        y = np.asarray(y).argmax(axis=1)
    return np.asarray(y, dtype=np.int64)


@lru_cache(maxsize=32)
def _meta_names(meta_path: str, mtime: float) -> tuple[str, ...] | None:
    try:
        names = json.loads(Path(meta_path).read_text(encoding="utf-8")).get("class_names")
    except (OSError, ValueError):
        return None
    if isinstance(names, list) and len(names) == taxa.N_CLASSES:
        return tuple(str(n) for n in names)
    return None


def class_names(public_dir: Path) -> list[str]:
    """Human names of the classes: the bundle's ``meta.json``, else :mod:`ramp_server.kit.taxa`."""
    meta = public_dir / "meta.json"
    names = _meta_names(str(meta), meta.stat().st_mtime) if meta.is_file() else None
    return list(names) if names else list(taxa.CLASS_NAMES)


@lru_cache(maxsize=32)
def _counts_cached(public_dir: str, mtime: float) -> tuple[int, ...] | None:
    y = _labels(Path(public_dir))
    if y is None:
        return None
    return tuple(int(c) for c in np.bincount(y, minlength=taxa.N_CLASSES)[: taxa.N_CLASSES])


def taxon_cards(public_dir: Path) -> tuple[list[TaxonCard], bool]:
    """The 18 taxa with their training counts; ``False`` when counts come from the 2015 table."""
    path = public_dir / "train_labels.npy"
    counts = _counts_cached(str(path.parent), path.stat().st_mtime) if path.is_file() else None
    from_bundle = counts is not None
    if counts is None:
        counts = tuple(taxa.TRAIN_COUNTS)
    total = sum(counts) or 1
    names = class_names(public_dir)
    cards = [TaxonCard(i, names[i], counts[i], counts[i] / total) for i in range(taxa.N_CLASSES)]
    return cards, from_bundle


def frequency_chart(cards: list[TaxonCard]) -> Markup:
    ordered = sorted(cards, key=lambda c: -c.count)
    return charts.bar_chart(
        [(c.name, c.share) for c in ordered], title="Share of each taxon in the training set"
    )


@lru_cache(maxsize=128)
def _strip_png(public_dir: str, class_id: int, mtime: float) -> bytes | None:
    from PIL import Image

    base = Path(public_dir)
    images_path = base / "train_images.npy"
    y = _labels(base)
    if y is None or not images_path.is_file():
        return None
    idx = np.flatnonzero(y == class_id)[:SAMPLES_PER_TAXON]
    if idx.size == 0:
        return None
    with _lock:  # one decoder at a time: cheap, and the cache absorbs repeats
        images = np.load(images_path, mmap_mode="r")
        tiles = [np.asarray(images[i], dtype=np.uint8) for i in idx]
    h, w = tiles[0].shape[:2]
    cols, rows = SAMPLE_GRID
    strip = np.full((h * rows, w * cols, 3), 24, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        strip[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile[..., :3]
    buf = io.BytesIO()
    Image.fromarray(strip).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def sample_strip_png(public_dir: Path, class_id: int) -> bytes | None:
    """A PNG grid of up to 6 training images of ``class_id`` (``None`` without data)."""
    path = public_dir / "train_images.npy"
    if not path.is_file():
        return None
    return _strip_png(str(public_dir), class_id, path.stat().st_mtime)
