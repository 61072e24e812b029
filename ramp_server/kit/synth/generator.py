"""Writing a synthetic data set in the RAMP kit layout, in parallel and atomically."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..taxa import CLASS_NAMES
from .photo import render
from .plan import SynthError, image_id, image_rng, make_plan

JPEG_QUALITY = 90
CHUNK = 256
TMP_PREFIX = ".synth-tmp-"
LAYOUT_FILES = ("train.csv", "test.csv", "class_codes.csv")


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    seed: int
    n: int
    n_train: int
    n_test: int
    #: images per class id (train + test)
    class_counts: tuple[int, ...]
    seconds: float


def _render_chunk(job: tuple[str, int, list[int], list[int]]) -> int:
    """Worker: render and save the images of one chunk of indices."""
    imgs_dir, seed, indices, labels = job
    for index, label in zip(indices, labels, strict=True):
        pixels = render(label, image_rng(seed, index))
        Image.fromarray(pixels).save(
            os.path.join(imgs_dir, f"{image_id(index)}.jpg"), quality=JPEG_QUALITY
        )
    return len(indices)


def _check_args(out_dir: Path, seed: int, n: int, n_jobs: int | None) -> None:
    for name, value in (("seed", seed), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise SynthError(f"{name} must be an integer, got {value!r}")
    if seed < 0:
        raise SynthError(f"seed must be >= 0, got {seed}")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1
    ):
        raise SynthError(f"n_jobs must be a positive integer or None, got {n_jobs!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthError(f"output path {out_dir} exists and is not a directory: choose a folder")


def _clean_stale(out_dir: Path) -> None:
    """Remove temporary folders left by interrupted runs whose process is gone."""
    for tmp in out_dir.glob(TMP_PREFIX + "*"):
        try:
            pid = int(tmp.name[len(TMP_PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def _write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _install(tmp: Path, out_dir: Path) -> None:
    """Move the finished layout into place; ``train.csv`` last, so it marks completeness."""
    for name in LAYOUT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    old = None
    if (out_dir / "imgs").exists():
        old = out_dir / f"{TMP_PREFIX}{os.getpid()}-old-{uuid.uuid4().hex[:8]}"
        (out_dir / "imgs").rename(old)
    (tmp / "imgs").rename(out_dir / "imgs")
    for name in ("class_codes.csv", "test.csv", "train.csv"):
        (tmp / name).replace(out_dir / name)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver avoids forking a parent that may hold threads (torch, dask); spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def generate(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    n: int = 20348,
    n_jobs: int | None = None,
    progress: bool = True,
) -> SynthSummary:
    """Write a synthetic SPIPOLL-like data set in the RAMP kit layout into ``out_dir``.

    ``out_dir/train.csv`` and ``out_dir/test.csv`` (``id,class``, stratified ≈80/20),
    ``out_dir/imgs/<id>.jpg`` (64×64 RGB) and ``out_dir/class_codes.csv`` (``class,taxon``).
    The same ``seed`` and ``n`` give byte-identical files whatever ``n_jobs`` (default: all
    cores). The layout is built in a temporary folder and moved into place at the end, so an
    interrupted run never leaves a layout that looks complete; an existing layout in
    ``out_dir`` (CSV files and ``imgs/``) is replaced, other files are left alone.
    """
    out_dir = Path(out_dir)
    _check_args(out_dir, seed, n, n_jobs)
    t0 = time.perf_counter()
    plan = make_plan(int(seed), int(n))
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(out_dir)
    tmp = out_dir / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    imgs = tmp / "imgs"
    imgs.mkdir(parents=True)
    try:
        jobs = [
            (
                str(imgs),
                int(seed),
                list(range(i, min(i + CHUNK, n))),
                plan.labels[i : i + CHUNK].tolist(),
            )
            for i in range(0, n, CHUNK)
        ]
        workers = min(n_jobs or os.cpu_count() or 1, len(jobs))
        from tqdm.auto import tqdm

        with tqdm(total=n, desc="synth images", unit="img", disable=not progress) as bar:
            if workers == 1:
                for job in jobs:
                    bar.update(_render_chunk(job))
            else:
                with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
                    for done in pool.map(_render_chunk, jobs):
                        bar.update(done)
        rows = {True: [], False: []}
        for i in range(n):
            rows[bool(plan.is_test[i])].append(f"{image_id(i)},{int(plan.labels[i])}")
        _write_csv(tmp / "train.csv", "id,class", rows[False])
        _write_csv(tmp / "test.csv", "id,class", rows[True])
        codes = [
            f'{c},"{name}"' if "," in name else f"{c},{name}" for c, name in enumerate(CLASS_NAMES)
        ]
        _write_csv(tmp / "class_codes.csv", "class,taxon", codes)
        _install(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SynthSummary(
        out_dir=out_dir,
        seed=int(seed),
        n=int(n),
        n_train=len(rows[False]),
        n_test=len(rows[True]),
        class_counts=tuple(plan.counts),
        seconds=time.perf_counter() - t0,
    )
