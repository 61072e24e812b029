"""Downloader of the real SPIPOLL RAMP data (the ``pollenating_insects`` kit's public files).

The 2017 RAMP starting kit fetched ``class_codes.csv``, ``test.csv``, ``train.csv`` and
``imgs.zip`` from ``https://storage.ramp.studio/pollenating_insects`` with ``wget`` and no
checksum. This module fetches the same files with the standard library only (the kit must not
need the server's dependencies), then turns them into this project's layout:

* every transfer goes to ``<file>.part`` and resumes with an HTTP ``Range`` request (a server
  that ignores ``Range`` gets a clean restart); the received length is checked against
  ``Content-Length`` / ``Content-Range`` and, when the manifest knows it, the sha256 (the
  transfer itself is :mod:`ramp_server.kit.transfer`; :func:`fetch` is re-exported here);
* ``imgs.zip`` is extracted safely (no absolute paths, no ``..``, no links, bounded size and
  compression ratio) and each image is placed as ``imgs/<id>.jpg`` whatever folder or name
  suffix the archive uses;
* ``train.csv`` / ``test.csv`` are rewritten as ``id,class`` (ids lose a ``.jpg`` suffix if they
  carry one) and ``class_codes.csv`` as ``class,taxon`` with the names of
  :mod:`ramp_server.kit.taxa`; the files as served stay in ``.download/`` for reference;
* ``download_manifest.json`` records URL, size and sha256 of what was received; it is itself a
  valid ``--manifest`` file, so a later download (or a mirror) can be pinned to those bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ramp_server.kit.archive import (
    DownloadError,
    check_class_codes,
    index_images,
    read_split,
    safe_extract,
    write_csv,
)
from ramp_server.kit.taxa import CLASS_NAMES
from ramp_server.kit.transfer import FetchResult, fetch, file_sha256

# the public names; fetch/FetchResult (transfer) and DownloadError/safe_extract (archive) are
# re-exported so that callers need this module only
__all__ = [
    "DEFAULT_BASE_URL",
    "MANIFEST",
    "RECORD_NAME",
    "REQUIRED_FILES",
    "STAGING_NAME",
    "DownloadError",
    "DownloadReport",
    "FetchResult",
    "Manifest",
    "RemoteFile",
    "download",
    "fetch",
    "load_manifest",
    "safe_extract",
]

DEFAULT_BASE_URL = "https://storage.ramp.studio/pollenating_insects"
REQUIRED_FILES = ("train.csv", "test.csv", "class_codes.csv", "imgs.zip")
RECORD_NAME = "download_manifest.json"
STAGING_NAME = ".download"


@dataclass(frozen=True)
class RemoteFile:
    """One file of the manifest; ``sha256``/``size`` are checked when known."""

    name: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Manifest:
    """Where the files live and what they must hash to."""

    base_url: str
    files: tuple[RemoteFile, ...]

    def url(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/{name}"


#: The public files. The kit never published checksums: they are recorded at first download.
MANIFEST = Manifest(DEFAULT_BASE_URL, tuple(RemoteFile(n) for n in REQUIRED_FILES))


@dataclass
class DownloadReport:
    """Outcome of :func:`download`."""

    out_dir: Path
    n_train: int = 0
    n_test: int = 0
    already_present: bool = False
    fetched: list[FetchResult] = field(default_factory=list)


def load_manifest(path: str | Path) -> Manifest:
    """Read a JSON manifest ``{"base_url": ..., "files": [{"name", "sha256", "size"}]}``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DownloadError(f"manifest {p} does not exist") from None
    except (OSError, ValueError) as exc:
        raise DownloadError(f"manifest {p} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise DownloadError(f"manifest {p}: expected an object with a 'files' list")
    base_url = data.get("base_url", DEFAULT_BASE_URL)
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise DownloadError(f"manifest {p}: 'base_url' must be an http(s) URL, got {base_url!r}")
    files = []
    for i, entry in enumerate(data["files"]):
        where = f"manifest {p}: files[{i}]"
        if not isinstance(entry, dict) or entry.get("name") not in REQUIRED_FILES:
            raise DownloadError(f"{where}: 'name' must be one of {', '.join(REQUIRED_FILES)}")
        sha, size = entry.get("sha256"), entry.get("size")
        if sha is not None and not (
            isinstance(sha, str)
            and len(sha) == 64
            and all(c in "0123456789abcdef" for c in sha.lower())
        ):
            raise DownloadError(f"{where}: 'sha256' must be 64 hexadecimal digits")
        if size is not None and not (isinstance(size, int) and size >= 0):
            raise DownloadError(f"{where}: 'size' must be a non-negative integer")
        files.append(RemoteFile(entry["name"], sha.lower() if sha else None, size))
    missing = set(REQUIRED_FILES) - {f.name for f in files}
    if missing:
        raise DownloadError(f"manifest {p}: no entry for {', '.join(sorted(missing))}")
    return Manifest(base_url, tuple(files))


def download(
    out_dir: str | Path = "data",
    *,
    manifest: Manifest = MANIFEST,
    base_url: str | None = None,
    force: bool = False,
    keep_archive: bool = False,
    retries: int = 2,
    timeout: float = 60.0,
    backoff: float = 1.0,
    progress: bool = True,
    **extract_limits: Any,
) -> DownloadReport:
    """Fetch, verify and install the real data under ``out_dir`` (see the module docstring)."""
    out = Path(out_dir)
    if base_url:
        manifest = replace(manifest, base_url=base_url)
    record, staging = out / RECORD_NAME, out / STAGING_NAME
    if (out / "train.csv").exists() and not force:
        if record.exists():
            return DownloadReport(out, already_present=True)
        raise DownloadError(
            f"{out} already holds a data set (train.csv) that was not downloaded here: use --force "
            "to replace it, or --out another folder"
        )
    if force and staging.exists():
        shutil.rmtree(staging)  # --force starts from scratch, partial files included
    raw = staging / "raw"
    report = DownloadReport(out)
    for remote in manifest.files:
        dest = raw / remote.name
        if dest.exists():  # finished in an earlier, interrupted run (length-checked then)
            digest = file_sha256(dest)
            if not remote.sha256 or digest == remote.sha256:
                report.fetched.append(FetchResult(dest, dest.stat().st_size, digest))
                continue
            dest.unlink()
        report.fetched.append(
            fetch(
                manifest.url(remote.name),
                dest,
                sha256=remote.sha256,
                size=remote.size,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                progress=progress,
            )
        )
    check_class_codes(raw / "class_codes.csv")
    train = read_split(raw / "train.csv", "train.csv")
    test = read_split(raw / "test.csv", "test.csv")
    seen: set[str] = set()
    for label, rows in (("train.csv", train), ("test.csv", test)):
        for rid, _ in rows:
            if rid in seen:
                raise DownloadError(f"{label}: the id {rid!r} appears twice in train.csv/test.csv")
            seen.add(rid)
    extracted = staging / "extract"
    if extracted.exists():
        shutil.rmtree(extracted)
    files = safe_extract(raw / "imgs.zip", extracted, progress=progress, **extract_limits)
    index = index_images(files, "imgs.zip")
    missing = [rid for rid in seen if rid not in index]
    if missing:
        raise DownloadError(
            f"imgs.zip has no image for {len(missing)} ids of train.csv/test.csv "
            f"(first: {', '.join(sorted(missing)[:5])})"
        )
    new_imgs = staging / "imgs.new"
    if new_imgs.exists():
        shutil.rmtree(new_imgs)
    new_imgs.mkdir(parents=True)
    for rid in seen:
        os.replace(index[rid], new_imgs / f"{rid}.jpg")
    shutil.rmtree(extracted)
    for stale in ("train.csv", "test.csv", "class_codes.csv"):
        (out / stale).unlink(missing_ok=True)  # never leave a mixed old/new layout
    old_imgs = staging / "imgs.old"
    if (out / "imgs").exists():
        os.replace(out / "imgs", old_imgs)
    os.replace(new_imgs, out / "imgs")
    if old_imgs.exists():
        shutil.rmtree(old_imgs)
    write_csv(out / "class_codes.csv", ("class", "taxon"), list(enumerate(CLASS_NAMES)))
    write_csv(out / "test.csv", ("id", "class"), test)
    record_data = {
        "base_url": manifest.base_url,
        "files": [
            {
                "name": f.path.name,
                "url": manifest.url(f.path.name),
                "size": f.size,
                "sha256": f.sha256,
            }
            for f in report.fetched
        ],
        "train_rows": len(train),
        "test_rows": len(test),
        "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(record_data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, record)
    # train.csv last: its presence next to the record marks a complete download
    write_csv(out / "train.csv", ("id", "class"), train)
    if not keep_archive:
        (raw / "imgs.zip").unlink()
    report.n_train, report.n_test = len(train), len(test)
    return report
