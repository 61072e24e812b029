"""Resumable HTTP download of one file, with retries and length/sha256 checks (stdlib only).

The kit must not need the server's dependencies, so this is ``urllib`` and nothing else:

* the transfer goes to ``<file>.part`` and resumes with an HTTP ``Range`` request; an
  ``If-Range`` validator (ETag or Last-Modified, kept in ``<file>.part.validator``) makes a file
  that changed on the server come back whole, and a server that ignores ``Range`` gets a clean
  restart;
* the received length is checked against ``Content-Length`` / ``Content-Range`` and the
  expected size, and the bytes against the expected sha256 when one is known;
* a dropped connection is retried with a backoff, each retry resuming; when the retries are
  spent the ``.part`` file is kept so that the next run resumes.

Used by :mod:`ramp_server.kit.download`, which knows the SPIPOLL files and their layout.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ramp_server.kit.archive import CHUNK, DownloadError, progress_bar

USER_AGENT = "ramp-spipoll-downloader/1"


@dataclass
class FetchResult:
    """What :func:`fetch` did for one file."""

    path: Path
    size: int
    sha256: str
    resumed_from: int = 0
    restarted: bool = False


class _Interrupted(Exception):
    def __init__(self, have: int, total: int | None):
        super().__init__(have, total)
        self.have, self.total = have, total


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
        return _finish(part, dest, file_sha256(part), offset, sha256=sha256)
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


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()
