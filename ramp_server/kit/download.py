"""Downloader of the real SPIPOLL RAMP data (the ``pollenating_insects`` kit's public files).

The 2017 RAMP starting kit fetched ``class_codes.csv``, ``test.csv``, ``train.csv`` and
``imgs.zip`` from ``https://storage.ramp.studio/pollenating_insects`` with ``wget`` and no
checksum. This module fetches the same files with the standard library only (the kit must not
need the server's dependencies), then turns them into this project's layout:

* every transfer goes to ``<file>.part`` and resumes with an HTTP ``Range`` request (a server
  that ignores ``Range`` gets a clean restart); the received length is checked against
  ``Content-Length`` / ``Content-Range`` and, when the manifest knows it, the sha256;
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

import hashlib
import http.client
import json
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ramp_server.kit.archive import (
    CHUNK,
    DownloadError,
    check_class_codes,
    index_images,
    progress_bar,
    read_split,
    safe_extract,
    write_csv,
)
from ramp_server.kit.taxa import CLASS_NAMES

DEFAULT_BASE_URL = "https://storage.ramp.studio/pollenating_insects"
REQUIRED_FILES = ("train.csv", "test.csv", "class_codes.csv", "imgs.zip")
RECORD_NAME = "download_manifest.json"
STAGING_NAME = ".download"
USER_AGENT = "ramp-spipoll-downloader/1"


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
class FetchResult:
    """What :func:`fetch` did for one file."""

    path: Path
    size: int
    sha256: str
    resumed_from: int = 0
    restarted: bool = False


@dataclass
class DownloadReport:
    """Outcome of :func:`download`."""

    out_dir: Path
    n_train: int = 0
    n_test: int = 0
    already_present: bool = False
    fetched: list[FetchResult] = field(default_factory=list)


class _Interrupted(Exception):
    def __init__(self, have: int, total: int | None):
        super().__init__(have, total)
        self.have, self.total = have, total


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


def _unreachable(url: str, reason: object) -> DownloadError:
    host = urlsplit(url).netloc or url
    if isinstance(reason, ssl.SSLError):
        return DownloadError(
            f"cannot verify the TLS certificate of {host} ({reason}): use --base-url for a mirror"
        )
    return DownloadError(
        f"cannot reach {host}: check your connection or use --base-url for a mirror ({reason})"
    )


def _open(
    url: str, offset: int, timeout: float, validator: str | None = None
) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:  # a file changed on the server since the .part began comes back whole
            headers["If-Range"] = validator
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:  # refused, unknown host, TLS, connect timeout
        raise _unreachable(url, exc.reason) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException):
        raise _Interrupted(offset, None) from None  # connected, then dropped: retry/resume


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """``bytes START-END/TOTAL`` -> (START, TOTAL or None)."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[6:].partition("/")
    start = span.partition("-")[0]
    if not start.isdigit():
        return None
    return int(start), int(total) if total.isdigit() else None


def _fetch_once(
    url: str, dest: Path, *, sha256: str | None, size: int | None, timeout: float, progress: bool
) -> FetchResult:
    part = dest.with_name(dest.name + ".part")
    validator_file = dest.with_name(dest.name + ".part.validator")
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # longer than the real file: start again
        _drop_part(part)
        offset = 0
    if size is not None and offset == size and size > 0:
        return _finish(part, dest, _sha256(part), offset, sha256=sha256)
    validator = validator_file.read_text().strip() if offset and validator_file.exists() else None
    try:
        resp = _open(url, offset, timeout, validator)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code != 416 or not offset:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        _drop_part(part)  # our partial file does not fit the server's: restart cleanly
        offset = 0
        try:
            resp = _open(url, 0, timeout)
        except urllib.error.HTTPError as exc2:
            exc2.close()
            raise DownloadError(f"{url}: HTTP {exc2.code} {exc2.reason}") from None
    resumed_from, restarted = 0, False
    with resp:
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if resp.status == 206 and offset:
            crange = _content_range(resp.headers.get("Content-Range"))
            if crange is None or crange[0] != offset:
                _drop_part(part)
                raise _Interrupted(0, None)  # unexpected range: drop it and retry from zero
            total = (
                crange[1]
                if crange[1] is not None
                else (offset + length if length is not None else None)
            )
            resumed_from, mode = offset, "ab"
        elif resp.status == 200:
            restarted = offset > 0  # the server ignored Range: the body is the whole file
            offset, total, mode = 0, length, "wb"
        else:
            raise DownloadError(f"{url}: unexpected HTTP status {resp.status}")
        if mode == "wb":  # remember which version of the file this .part holds
            new_validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
            if new_validator and not new_validator.startswith("W/"):
                validator_file.write_text(new_validator)
            else:
                validator_file.unlink(missing_ok=True)
        if size is not None and total is not None and total != size:
            raise DownloadError(
                f"{url}: the server announces {total} bytes but the manifest expects {size}; "
                "is --base-url the right mirror?"
            )
        hasher = hashlib.sha256()
        if mode == "ab":
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    hasher.update(block)
        have = offset
        with (
            part.open(mode) as fh,
            progress_bar(total, dest.name, progress, initial=offset) as bar,
        ):
            try:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except http.client.IncompleteRead as exc:
                        fh.write(exc.partial)
                        raise _Interrupted(have + len(exc.partial), total) from None
                    except (TimeoutError, ConnectionError):
                        raise _Interrupted(have, total) from None
                    if not chunk:
                        break
                    fh.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
                    bar.update(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:  # disk full, permissions: not worth a retry
                raise DownloadError(f"cannot write {part}: {exc}") from None
    if total is not None and have < total:
        raise _Interrupted(have, total)
    if total is not None and have > total:
        _drop_part(part)
        raise DownloadError(f"{url}: received {have} bytes, more than the announced {total}")
    result = _finish(part, dest, hasher.hexdigest(), have, sha256=sha256)
    result.resumed_from, result.restarted = resumed_from, restarted
    return result


def _drop_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_name(part.name + ".validator").unlink(missing_ok=True)


def _finish(part: Path, dest: Path, digest: str, have: int, *, sha256: str | None) -> FetchResult:
    if sha256 and digest != sha256:
        _drop_part(part)
        raise DownloadError(
            f"{dest.name}: sha256 mismatch (expected {sha256}, got {digest}); the corrupt "
            "partial file was deleted: run the command again, or check the mirror"
        )
    os.replace(part, dest)
    dest.with_name(dest.name + ".part.validator").unlink(missing_ok=True)
    return FetchResult(dest, have, digest)


def fetch(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 2,
    timeout: float = 60.0,
    backoff: float = 1.0,
    progress: bool = True,
) -> FetchResult:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a previous partial file.

    A dropped connection is retried ``retries`` times (each retry resumes); when they are spent
    the ``.part`` file is kept and the error says to run again. Raises :class:`DownloadError`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            return _fetch_once(
                url, dest, sha256=sha256, size=size, timeout=timeout, progress=progress
            )
        except _Interrupted as exc:
            if attempt == retries:
                of = f" of {exc.total}" if exc.total is not None else ""
                raise DownloadError(
                    f"{url}: the connection dropped after {exc.have}{of} bytes; {part.name} is "
                    "kept: run the command again to resume"
                ) from None
            time.sleep(backoff * min(2**attempt, 10))
    raise AssertionError("unreachable")  # pragma: no cover


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
            digest = _sha256(dest)
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()
