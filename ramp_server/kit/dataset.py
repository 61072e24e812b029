"""The kit's data: CSV validation, JPEG decoding once into a 64×64×3 uint8 cache, public bundle.

Layout of a data folder (the real RAMP kit's)::

    data/train.csv, data/test.csv      columns ``id,class`` (id = image file stem, class 0..17)
    data/class_codes.csv               columns ``class,taxon`` (optional; taxa.py is the default)
    data/imgs/<id>.jpg                 images of any size
    data/cache/<split>_images.npy      N×64×64×3 uint8, rebuilt when a source changes
    data/cache/<split>_images.json     fingerprint of the sources the cache was built from

Every bad input raises :class:`DataError` naming the file, the line and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

if TYPE_CHECKING:  # pandas is imported lazily: the sandbox's bundle loader never needs it
    import pandas as pd

#: side of the square images the event works with (the 2015 event's resolution)
IMAGE_SIZE = 64
SPLITS = ("train", "test")
#: bump when the decoding changes, so old caches are rebuilt
CACHE_VERSION = 1
_CHUNK = 256

_FIX_DATA = (
    "create it with `ramp-server data synth --out {d}` (synthetic SPIPOLL) "
    "or `ramp-server data download --out {d}` (the real images)"
)


class DataError(ValueError):
    """Invalid or missing kit data; the message names the file, line and the fix."""


@dataclass(frozen=True)
class PublicBundle:
    """What a training worker sees: training images and labels, unlabelled test images."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    meta: dict


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


def _data_dir(data_dir: str | os.PathLike) -> Path:
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError(f"data folder {path} not found: " + _FIX_DATA.format(d=path))
    return path


def _csv_path(data_dir: Path, split: str) -> Path:
    path = data_dir / f"{split}.csv"
    if not path.is_file():
        raise DataError(f"{path}: file not found; " + _FIX_DATA.format(d=data_dir))
    return path


def _parse_plain(text: str) -> tuple[list[str], list[int]] | None:
    """Ids and classes of a plain, valid ``id,class`` CSV (no quotes, nothing to report), else
    None: pandas and the checks below then parse it and name what is wrong."""
    if '"' in text or "\r" in text:
        return None
    lines = text.split("\n")
    if lines[0].replace(" ", "") != "id,class":
        return None
    ids: list[str] = []
    classes: list[int] = []
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split(",")
        if len(fields) != 2:
            return None
        image_id, code = fields[0].strip(), fields[1].strip()
        if not image_id or not code.isdigit() or not code.isascii() or int(code) >= N_CLASSES:
            return None
        ids.append(image_id)
        classes.append(int(code))
    if len(set(ids)) != len(ids):
        return None
    return ids, classes


def _label_arrays(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Validated ids (object array of str) and classes (int64) of a split CSV's bytes."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8 CSV") from exc
    plain = _parse_plain(text)  # the common case, without pandas: ~10x faster
    if plain is not None:
        ids = np.empty(len(plain[0]), dtype=object)
        ids[:] = plain[0]
        return ids, np.array(plain[1], dtype=np.int64)
    df = _parse_text(path, text)
    return df["id"].to_numpy(dtype=object), df["class"].to_numpy(dtype=np.int64)


def _parse_labels(path: Path, raw: bytes) -> pd.DataFrame:
    """Validate the bytes of a split CSV; returns a frame with ``id`` (str), ``class`` (int64)."""
    import pandas as pd

    ids, classes = _label_arrays(path, raw)
    return pd.DataFrame({"id": ids.astype(str), "class": classes})


def _parse_text(path: Path, text: str) -> pd.DataFrame:
    """The pandas parse of a split CSV, naming the file, line and field of any problem."""
    import io

    import pandas as pd

    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc}); expected columns id,class") from exc
    columns = [c.strip() for c in df.columns]
    df.columns = columns
    missing = [c for c in ("id", "class") if c not in columns]
    extra = [c for c in columns if c not in ("id", "class")]
    if missing or extra:
        details = []
        if missing:
            details.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            details.append(f"unexpected column(s) {', '.join(extra)}")
        raise DataError(
            f"{path}:1: header {','.join(columns)!r}: {'; '.join(details)}; "
            "the header must be exactly `id,class`"
        )
    ids = df["id"].str.strip()
    for i in np.flatnonzero((ids == "").to_numpy()):
        raise DataError(f"{path}:{i + 2}: field id is empty; every row needs an image id")
    classes = pd.to_numeric(df["class"].str.strip(), errors="coerce")
    bad = classes.isna() | (classes % 1 != 0) | (classes < 0) | (classes >= N_CLASSES)
    for i in np.flatnonzero(bad.to_numpy()):
        raise DataError(
            f"{path}:{i + 2}: field class: unknown class {df['class'].iloc[i]!r} for id "
            f"{ids.iloc[i]!r}; classes are the integers 0..{N_CLASSES - 1} (see class_codes.csv)"
        )
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        lines = [str(i + 2) for i in np.flatnonzero((ids == first).to_numpy())]
        raise DataError(
            f"{path}:{lines[1]}: field id: duplicate id {first!r} (lines {', '.join(lines)}); "
            "each image must appear once"
        )
    return pd.DataFrame({"id": ids.to_numpy(dtype=str), "class": classes.to_numpy("int64")})


def read_labels(data_dir: str | os.PathLike, split: str) -> pd.DataFrame:
    """The validated ``id,class`` table of a split (``class`` as int64)."""
    _check_split(split)
    path = _csv_path(_data_dir(data_dir), split)
    return _parse_labels(path, path.read_bytes())


def read_class_names(data_dir: str | os.PathLike) -> list[str]:
    """Class names from ``class_codes.csv`` when present, else the 18 taxa of taxa.py."""
    path = Path(data_dir) / "class_codes.csv"
    if not path.is_file():
        return list(CLASS_NAMES)
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if [c.strip() for c in df.columns[:2]] != ["class", "taxon"]:
        raise DataError(f"{path}:1: the header must start with `class,taxon`")
    names = list(CLASS_NAMES)
    df.columns = [c.strip() for c in df.columns]
    for i, (code, taxon) in enumerate(zip(df["class"], df["taxon"], strict=True)):
        if not code.strip().isdigit() or int(code) >= N_CLASSES:
            raise DataError(
                f"{path}:{i + 2}: field class: unknown class {code!r}; "
                f"classes are 0..{N_CLASSES - 1}"
            )
        names[int(code)] = taxon.strip()
    return names


def _image_paths(data_dir: Path, csv_path: Path, ids: np.ndarray) -> tuple[list[str], str]:
    """Image paths of ``ids`` and the fingerprint of their (size, mtime); checks they exist."""
    imgs = data_dir / "imgs"
    if not imgs.is_dir():
        raise DataError(f"{imgs}: image folder not found; " + _FIX_DATA.format(d=data_dir))
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
    _check_split(split)
    root = _data_dir(data_dir)
    csv_path = _csv_path(root, split)
    raw = csv_path.read_bytes()
    ids, classes = _label_arrays(csv_path, raw)
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
