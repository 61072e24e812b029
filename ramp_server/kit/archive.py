"""The served SPIPOLL files → the kit's layout: safe unzipping and checks of the served CSVs.

Used by :mod:`ramp_server.kit.download` after the transfer. ``imgs.zip`` is extracted with every
member checked before the first byte is written (no absolute or ``..`` paths, no links, bounded
member count, total size and compression ratio); the served ``train.csv`` / ``test.csv`` rows are
validated (plain file-name ids, class ids of the 18 taxa) and rewritten as ``id,class``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from ramp_server.kit.taxa import N_CLASSES

CHUNK = 1 << 20
# zip-bomb guards
MAX_RATIO = 100.0
MAX_TOTAL_BYTES = 64 << 30
MAX_MEMBERS = 500_000

# ids become file names: nothing that could leave imgs/ or hide a file
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class DownloadError(Exception):
    """A user-facing download problem (printed without traceback)."""


def progress_bar(total: int | None, desc: str, progress: bool, initial: int = 0) -> tqdm:
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
        leave=False,
    )


def _member_target(root: Path, info: zipfile.ZipInfo, archive: Path) -> Path | None:
    """The safe extraction path of a member, ``None`` for directories."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DownloadError(f"{archive.name}: refusing the symbolic link {name!r}")
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (parts and len(parts[0]) == 2 and parts[0][1] == ":"):
        raise DownloadError(f"{archive.name}: refusing the absolute path {name!r}")
    if ".." in parts or "\x00" in name:
        raise DownloadError(f"{archive.name}: refusing the path {name!r} (leaves the folder)")
    parts = [p for p in parts if p not in ("", ".")]
    if info.is_dir() or not parts:
        return None
    target = root.joinpath(*parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise DownloadError(f"{archive.name}: refusing the path {name!r} (leaves the folder)")
    return target


def safe_extract(
    archive: str | Path,
    dest_dir: str | Path,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
    progress: bool = True,
) -> list[Path]:
    """Extract the regular files of a zip archive under ``dest_dir``; returns their paths.

    Everything is checked before the first byte is written: absolute or ``..`` paths, links,
    member count, total uncompressed size (and free disk space), compression ratio.
    """
    archive, root = Path(archive), Path(dest_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(f"{archive}: not a readable zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise DownloadError(f"{archive.name}: {len(infos)} members, more than {max_members}")
        root.mkdir(parents=True, exist_ok=True)
        plan = [(i, t) for i in infos if (t := _member_target(root, i, archive)) is not None]
        total = sum(i.file_size for i, _ in plan)
        if total > max_total_bytes:
            raise DownloadError(
                f"{archive.name}: would expand to {total} bytes, more than the {max_total_bytes} "
                "allowed (a zip bomb?)"
            )
        for info, _ in plan:
            if info.file_size > (1 << 20) and info.file_size > max_ratio * max(
                info.compress_size, 1
            ):
                raise DownloadError(
                    f"{archive.name}: member {info.filename!r} expands {info.file_size} bytes from "
                    f"{info.compress_size}: compression ratio above {max_ratio:g} (a zip bomb?)"
                )
        free = shutil.disk_usage(root).free
        if total > free:
            raise DownloadError(
                f"{archive.name}: needs {total} bytes free in {root}, {free} available"
            )
        written: list[Path] = []
        with progress_bar(total, f"unzip {archive.name}", progress) as bar:
            for info, target in plan:
                target.parent.mkdir(parents=True, exist_ok=True)
                copied = 0
                try:
                    with zf.open(info) as src, target.open("wb") as dst:
                        while block := src.read(CHUNK):
                            copied += len(block)
                            if copied > info.file_size:
                                raise DownloadError(
                                    f"{archive.name}: member {info.filename!r} is longer than declared"
                                )
                            dst.write(block)
                            bar.update(len(block))
                except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
                    raise DownloadError(
                        f"{archive.name}: cannot extract {info.filename!r}: {exc}"
                    ) from None
                written.append(target)
    return written


def read_split(path: Path, label: str) -> list[tuple[str, int]]:
    """Rows of a served train/test CSV as (normalized id, class)."""
    rows: list[tuple[str, int]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "class"} <= set(reader.fieldnames):
            raise DownloadError(
                f"{label}: expected the columns 'id,class', found {reader.fieldnames}"
            )
        for line, row in enumerate(reader, start=2):
            raw_id, raw_cls = (row["id"] or "").strip(), (row["class"] or "").strip()
            if not _SAFE_ID.fullmatch(raw_id):
                raise DownloadError(
                    f"{label}, line {line}: id {raw_id!r} is not a plain file name "
                    "(letters, digits, '_', '-', '.')"
                )
            if not raw_cls.isdigit() or int(raw_cls) >= N_CLASSES:
                raise DownloadError(
                    f"{label}, line {line}: class {raw_cls!r} is not a class id 0..{N_CLASSES - 1}"
                )
            rows.append((normalize_id(raw_id), int(raw_cls)))
    return rows


def normalize_id(raw: str) -> str:
    stem, dot, ext = raw.rpartition(".")
    return stem if dot and ext.lower() in ("jpg", "jpeg") else raw


def index_images(files: list[Path], archive: str) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in files:
        for key in {path.name, normalize_id(path.name)}:
            if key in index and index[key] != path:
                raise DownloadError(
                    f"{archive}: two images answer to the id {key!r}: {index[key]}, {path}"
                )
            index[key] = path
    return index


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def check_class_codes(path: Path) -> None:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "class" not in reader.fieldnames:
            raise DownloadError(
                f"class_codes.csv: expected a 'class' column, found {reader.fieldnames}"
            )
        ids = sorted(int(r["class"]) for r in reader if (r["class"] or "").strip().isdigit())
    if ids != list(range(N_CLASSES)):
        raise DownloadError(
            f"class_codes.csv: expected the class ids 0..{N_CLASSES - 1}, found {ids[:5]}..: "
            "is this the 18-class pollenating_insects data?"
        )
