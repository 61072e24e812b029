"""The kit's data: JPEG decoding once into a 64×64×3 uint8 cache, the public bundle.

Layout of a data folder (the real RAMP kit's)::

    data/train.csv, data/test.csv      columns ``id,class`` (id = image file stem, class 0..17)
    data/class_codes.csv               columns ``class,taxon`` (optional; taxa.py is the default)
    data/imgs/<id>.jpg                 images of any size
    data/cache/<split>_images.npy      N×64×64×3 uint8, rebuilt when a source changes
    data/cache/<split>_images.json     fingerprint of the sources the cache was built from

Every bad input raises :class:`DataError` naming the file, the line and what to do. The CSVs
are read and validated by :mod:`ramp_server.kit.labels`; its public names are re-exported.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ramp_server.kit.labels import (
    SPLITS,
    DataError,
    check_split,
    data_folder,
    fix_data_hint,
    label_arrays,
    read_class_names,
    read_labels,
    split_csv,
)
from ramp_server.kit.taxa import N_CLASSES

# the public names; DataError, SPLITS, read_labels and read_class_names live in labels.py and
# are re-exported so that callers need this module only
__all__ = [
    "CACHE_VERSION",
    "IMAGE_SIZE",
    "SPLITS",
    "DataError",
    "PublicBundle",
    "cache_fingerprint",
    "export_public_bundle",
    "load_images",
    "load_public_bundle",
    "load_split",
    "read_class_names",
    "read_labels",
]

#: side of the square images the event works with (the 2015 event's resolution)
IMAGE_SIZE = 64
#: bump when the decoding changes, so old caches are rebuilt
CACHE_VERSION = 1
_CHUNK = 256


@dataclass(frozen=True)
class PublicBundle:
    """What a training worker sees: training images and labels, unlabelled test images."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    meta: dict


def _image_paths(data_dir: Path, csv_path: Path, ids: np.ndarray) -> tuple[list[str], str]:
    """Image paths of ``ids`` and the fingerprint of their (size, mtime); checks they exist."""
    imgs = data_dir / "imgs"
    if not imgs.is_dir():
        raise DataError(f"{imgs}: image folder not found; " + fix_data_hint(data_dir))
    prefix = os.path.join(str(imgs), "")
    paths = [f"{prefix}{image_id}.jpg" for image_id in ids]  # str, not Path: 16k stats stay fast
    parts = []
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DataError(
                f"{csv_path}:{i + 2}: image {path} of id {ids[i]!r} not found; "
                "restore the image or remove its line"
            ) from None
        parts.append(f"{ids[i]}\0{st.st_size}\0{st.st_mtime_ns}\n")
    return paths, hashlib.sha256("".join(parts).encode()).hexdigest()


def _decode(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        # JPEG DCT scaling: decode big photos directly at >= 2x the target size (much faster)
        img.draft("RGB", (IMAGE_SIZE * 2, IMAGE_SIZE * 2))
        img = img.convert("RGB")
        if img.size != (IMAGE_SIZE, IMAGE_SIZE):
            img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
        return np.asarray(img, dtype=np.uint8)


def _decode_chunk(paths: list[str], lines: range, csv_path: Path) -> np.ndarray:
    out = np.empty((len(paths), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for k, (path, line) in enumerate(zip(paths, lines, strict=True)):
        try:
            out[k] = _decode(path)
        except Exception as exc:  # PIL raises many types for broken files
            raise DataError(
                f"{csv_path}:{line}: image {path} cannot be decoded ({type(exc).__name__}: "
                f"{exc}); replace it with a valid JPEG or remove its line"
            ) from exc
    return out


def _default_jobs() -> int:
    env = os.environ.get("RAMP_N_JOBS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _build_cache(
    paths: list[str], csv_path: Path, out: Path, *, n_jobs: int | None, progress: bool
) -> None:
    from tqdm.auto import tqdm

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.npy")
    arr = np.lib.format.open_memmap(
        tmp, mode="w+", dtype=np.uint8, shape=(len(paths), IMAGE_SIZE, IMAGE_SIZE, 3)
    )
    try:
        starts = range(0, len(paths), _CHUNK)
        # PIL releases the GIL while decoding and resizing: threads scale without pickling
        with (
            ThreadPoolExecutor(max_workers=n_jobs or _default_jobs()) as pool,
            tqdm(
                total=len(paths),
                desc=f"decoding {csv_path.stem} images",
                unit="img",
                disable=not progress,
            ) as bar,
        ):
            futures = {
                pool.submit(
                    _decode_chunk,
                    paths[s : s + _CHUNK],
                    range(s + 2, s + 2 + len(paths[s : s + _CHUNK])),
                    csv_path,
                ): s
                for s in starts
            }
            for fut, s in futures.items():
                chunk = fut.result()
                arr[s : s + len(chunk)] = chunk
                bar.update(len(chunk))
        arr.flush()
        del arr
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fingerprint(csv_raw: bytes, images_digest: str) -> dict:
    return {
        "version": CACHE_VERSION,
        "image_size": IMAGE_SIZE,
        "csv_sha256": hashlib.sha256(csv_raw).hexdigest(),
        "images_sha256": images_digest,
    }


def load_split(
    data_dir: str | os.PathLike,
    split: str,
    *,
    n_jobs: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N×64×64×3 uint8, memory-mapped) and labels (int64) of a split.

    The first call decodes every image into ``data/cache``; later calls map the cache
    (well under a second) unless a CSV or an image changed, which rebuilds it.
    """
    check_split(split)
    root = data_folder(data_dir)
    csv_path = split_csv(root, split)
    raw = csv_path.read_bytes()
    ids, classes = label_arrays(csv_path, raw)
    paths, images_digest = _image_paths(root, csv_path, ids)
    fingerprint = _fingerprint(raw, images_digest)
    cache = root / "cache" / f"{split}_images.npy"
    stamp = cache.with_suffix(".json")
    try:
        fresh = json.loads(stamp.read_text()) == fingerprint and cache.is_file()
    except (OSError, ValueError):
        fresh = False
    if fresh:
        try:
            X = np.load(cache, mmap_mode="r")
        except (OSError, ValueError):
            fresh = False
        else:
            fresh = X.shape == (len(paths), IMAGE_SIZE, IMAGE_SIZE, 3) and X.dtype == np.uint8
    if not fresh:
        stamp.unlink(missing_ok=True)
        _build_cache(paths, csv_path, cache, n_jobs=n_jobs, progress=progress)
        tmp_stamp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        tmp_stamp.write_text(json.dumps(fingerprint, indent=1))
        os.replace(tmp_stamp, stamp)
        X = np.load(cache, mmap_mode="r")
    return X, classes


def load_images(data_dir: str | os.PathLike, split: str, **kwargs) -> np.ndarray:
    """Only the images of a split (see :func:`load_split`)."""
    return load_split(data_dir, split, **kwargs)[0]


def cache_fingerprint(data_dir: str | os.PathLike, split: str) -> dict | None:
    """The fingerprint of the current cache of a split (``None`` when not built)."""
    stamp = Path(data_dir) / "cache" / f"{split}_images.json"
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


def export_public_bundle(
    data_dir: str | os.PathLike, out_dir: str | os.PathLike, *, progress: bool = True
) -> Path:
    """Write what workers may see: training images + labels, test images, meta (no test labels)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X_train, y_train = load_split(data_dir, "train", progress=progress)
    X_test, _ = load_split(data_dir, "test", progress=progress)
    for name, arr in (
        ("train_images", X_train),
        ("train_labels", y_train),
        ("test_images", X_test),
    ):
        tmp = out / f".{name}.{os.getpid()}.tmp.npy"
        np.save(tmp, np.ascontiguousarray(arr))
        os.replace(tmp, out / f"{name}.npy")
    meta = {
        "n_classes": N_CLASSES,
        "class_names": read_class_names(data_dir),
        "image_size": IMAGE_SIZE,
        "n_train": int(len(y_train)),
        "n_test": int(len(X_test)),
        "train_ids": read_labels(data_dir, "train")["id"].tolist(),
        "test_ids": read_labels(data_dir, "test")["id"].tolist(),
        "fingerprints": {s: cache_fingerprint(data_dir, s) for s in SPLITS},
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return out


def load_public_bundle(bundle_dir: str | os.PathLike) -> PublicBundle:
    """Memory-map a bundle written by :func:`export_public_bundle`."""
    root = Path(bundle_dir)
    arrays = {}
    for name in ("train_images", "train_labels", "test_images"):
        path = root / f"{name}.npy"
        if not path.is_file():
            raise DataError(
                f"{path}: file not found; export the bundle with "
                "ramp_server.kit.dataset.export_public_bundle"
            )
        arrays[name] = np.load(path, mmap_mode="r")
    meta_path = root / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{meta_path}: file not found; re-export the bundle") from None
    if len(arrays["train_images"]) != len(arrays["train_labels"]):
        raise DataError(f"{root}: train_images and train_labels differ in length; re-export")
    return PublicBundle(meta=meta, **arrays)
