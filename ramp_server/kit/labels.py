"""The kit's labels: reading and validating ``train.csv`` / ``test.csv`` and ``class_codes.csv``.

A split CSV has the columns ``id,class`` (id = image file stem, class 0..17); ``class_codes.csv``
(optional; taxa.py is the default) has ``class,taxon``. Every bad input raises :class:`DataError`
naming the file, the line, the field and what to do. :mod:`ramp_server.kit.dataset` builds the
image cache on these checks and re-exports the public names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ramp_server.kit.taxa import CLASS_NAMES, N_CLASSES

if TYPE_CHECKING:  # pandas is imported lazily: the sandbox's bundle loader never needs it
    import pandas as pd

SPLITS = ("train", "test")

_FIX_DATA = (
    "create it with `ramp-server data synth --out {d}` (synthetic SPIPOLL) "
    "or `ramp-server data download --out {d}` (the real images)"
)


def fix_data_hint(data_dir: str | os.PathLike) -> str:
    """How to create a missing data folder or file (the end of a :class:`DataError` message)."""
    return _FIX_DATA.format(d=data_dir)


class DataError(ValueError):
    """Invalid or missing kit data; the message names the file, line and the fix."""


def check_split(split: str) -> None:
    """Raise ``ValueError`` unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


def data_folder(data_dir: str | os.PathLike) -> Path:
    """The data folder as a path; :class:`DataError` (with the fix) when it is missing."""
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError(f"data folder {path} not found: " + fix_data_hint(path))
    return path


def split_csv(data_dir: Path, split: str) -> Path:
    """The ``<split>.csv`` of a data folder; :class:`DataError` (with the fix) when missing."""
    path = data_dir / f"{split}.csv"
    if not path.is_file():
        raise DataError(f"{path}: file not found; " + fix_data_hint(data_dir))
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
        if not _is_file_name(image_id):
            return None  # the pandas path names the line
        ids.append(image_id)
        classes.append(int(code))
    if len(set(ids)) != len(ids):
        return None
    return ids, classes


def _is_file_name(image_id: str) -> bool:
    """An id names ``imgs/<id>.jpg`` inside the data folder, never a path out of it."""
    return not ("/" in image_id or "\\" in image_id or image_id.startswith(".") or "\0" in image_id)


def label_arrays(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
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

    ids, classes = label_arrays(path, raw)
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
    for i, image_id in enumerate(ids):
        if not _is_file_name(image_id):
            raise DataError(
                f"{path}:{i + 2}: field id {image_id!r} is not a plain file name: the image is "
                "imgs/<id>.jpg, so an id may not contain '/', '\\' or start with '.'"
            )
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
    check_split(split)
    path = split_csv(data_folder(data_dir), split)
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
