"""What the event page shows: taxa with sample images, class frequencies, score charts.

Sample strips are PNGs cut from the event's public bundle (``train_images.npy``, memory-mapped)
and cached in memory: the bundle never changes once the event exists.
"""

from __future__ import annotations

import bisect
import io
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import Blend, Event, Score, Split, Submission, SubmissionState, User
from ramp_server.kit import taxa
from ramp_server.web import charts

#: most submissions drawn in the scores-over-time chart
MAX_POINTS = 1500
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


def official_score_type(event: Event) -> dict:
    for st in event.score_types or []:
        if st.get("name") == event.official_score_name:
            return st
    return {"name": event.official_score_name, "precision": 4, "is_lower_better": False}


def scores_over_time(db: Session, event: Event) -> Markup:
    """Every scored submission's validation score over time, with the running-best front."""
    st = official_score_type(event)
    rows = db.execute(
        select(Submission.submitted_at, Score.value, Submission.name, User.name)
        .join(Score, Score.submission_id == Submission.id)
        .join(User, User.id == Submission.user_id)
        .where(
            Submission.event_id == event.id,
            Submission.state == SubmissionState.SCORED,
            Score.fold.is_(None),
            Score.split == Split.VALID,
            Score.score_name == st["name"],
        )
        .order_by(Submission.submitted_at)
    ).all()
    pts = [(r[0].timestamp(), float(r[1])) for r in rows]
    titles = [f"{r[3]} / {r[2]}: {r[1]:.4f}" for r in rows]
    front = charts.running_best(pts, lower_is_better=bool(st.get("is_lower_better")))
    if len(pts) > MAX_POINTS:  # keep the page light: an even sample (the front is drawn whole)
        step = len(pts) / MAX_POINTS
        keep = [int(i * step) for i in range(MAX_POINTS)]
        pts, titles = [pts[i] for i in keep], [titles[i] for i in keep]
    return charts.xy_chart(
        [
            charts.Series("submissions", pts, "points", charts.PALETTE[0], titles),
            charts.Series("Pareto front (best so far)", front, "step", charts.PALETTE[1]),
        ],
        y_label=f"validation {st['name']}",
        title="Scores over time",
        empty_text="no scored submission yet",
    )


def hybrid_over_time(db: Session, event: Event) -> Markup:
    """The blended (hybrid) model's validation score at each re-blend vs the best single one."""
    st = official_score_type(event)
    blends = db.execute(
        select(Blend.computed_at, Blend.combined_valid, Blend.details)
        .where(Blend.event_id == event.id, Blend.combined_valid.is_not(None))
        .order_by(Blend.computed_at)
    ).all()
    hybrid = [(b[0].timestamp(), float(b[1])) for b in blends]
    best_single: list[tuple[float, float]] = []
    for at, _value, details in blends:
        best = (details or {}).get("best_single_valid")
        if best is not None:
            best_single.append((at.timestamp(), float(best)))
    if not best_single and hybrid:
        # Fall back to the running best of the submissions' own scores at each blend.
        rows = db.execute(
            select(Submission.submitted_at, Score.value)
            .join(Score, Score.submission_id == Submission.id)
            .where(
                Submission.event_id == event.id,
                Submission.state == SubmissionState.SCORED,
                Score.fold.is_(None),
                Score.split == Split.VALID,
                Score.score_name == st["name"],
            )
        ).all()
        front = charts.running_best(
            [(t.timestamp(), float(v)) for t, v in rows],
            lower_is_better=bool(st.get("is_lower_better")),
        )
        times = [t for t, _ in front]
        for at, _v in hybrid:
            k = bisect.bisect_right(times, at)
            if k:
                best_single.append((at, front[k - 1][1]))
    return charts.xy_chart(
        [
            charts.Series("hybrid model", hybrid, "line", charts.PALETTE[2]),
            charts.Series("best single submission", best_single, "step", charts.PALETTE[0]),
        ],
        y_label=f"validation {st['name']}",
        title="Hybrid model vs best single submission",
        empty_text="no blend computed yet",
        width=560,
        height=320,
    )


def contributivity_chart(db: Session, event: Event, *, top: int = 15) -> Markup:
    rows = db.execute(
        select(Submission.name, User.name, Submission.contributivity)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, Submission.contributivity > 0)
        .order_by(Submission.contributivity.desc())
        .limit(top)
    ).all()
    if not rows:
        return charts.xy_chart(
            [], empty_text="no contributivity yet (computed by the blender)", width=560, height=200
        )
    return charts.bar_chart(
        [(f"{r[1]} / {r[0]}", float(r[2])) for r in rows],
        color=charts.PALETTE[2],
        title="Contributivity to the hybrid model",
    )


def last_blend(db: Session, event: Event) -> Blend | None:
    return db.scalar(
        select(Blend).where(Blend.event_id == event.id).order_by(Blend.computed_at.desc()).limit(1)
    )
