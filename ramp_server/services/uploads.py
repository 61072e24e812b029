"""Upload validation, without the database: file names, sizes, UTF-8 Python that compiles,
the kit's static contract (participant code is parsed, never imported), submission names, and
bounded reading of zip archives and folders. :mod:`.submissions` adds the rules that need the
database (deadline, delay, quota, uniqueness).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ramp_server.kit.contract import PARSE_LOCK
from ramp_server.services import ServiceError

REQUIRED_FILES = ("image_preprocessor.py", "batch_classifier.py")
SUBMISSION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUBMISSION_NAME_MAX = 40
FILE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")


class SubmissionRejected(ServiceError):
    """The upload breaks a rule; the message says which and how to fix it."""


# -- validation without the database -----------------------------------------------------------


def check_submission_name(name: str) -> str:
    """The stripped name, or :class:`SubmissionRejected` explaining the rule."""
    name = name.strip()
    if not name:
        raise SubmissionRejected("the submission name is empty: give it a short name")
    if len(name) > SUBMISSION_NAME_MAX:
        raise SubmissionRejected(
            f"the submission name has {len(name)} characters; at most {SUBMISSION_NAME_MAX}"
        )
    if not SUBMISSION_NAME_RE.match(name):
        raise SubmissionRejected(
            f"submission name {name!r}: use letters, digits, '_', '-' and '.', starting with a "
            "letter or digit"
        )
    return name


def check_files(files: Mapping[str, bytes], *, max_bytes: int) -> dict[str, str]:
    """Validate uploaded files; returns ``{filename: source text}``.

    Refuses unsafe or unexpected names, missing files, sizes above ``max_bytes`` (all files
    together), binary or non-UTF-8 content, Python that does not compile, and code that breaks
    the kit's static contract (checked without importing it).
    """
    for filename in files:
        if not FILE_NAME_RE.match(filename):
            raise SubmissionRejected(
                f"file name {filename!r} is not allowed: plain names like batch_classifier.py "
                "(no folders, no '..', no hidden files)"
            )
        if filename not in REQUIRED_FILES:
            raise SubmissionRejected(
                f"unexpected file {filename!r}: a submission has exactly "
                f"{' and '.join(REQUIRED_FILES)}"
            )
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise SubmissionRejected(
            f"missing file(s) {', '.join(missing)}: a submission needs {' and '.join(REQUIRED_FILES)}"
        )
    total = sum(len(b) for b in files.values())
    if total > max_bytes:
        big = ", ".join(f"{f} {len(b):,} bytes" for f, b in files.items())
        raise SubmissionRejected(
            f"the files are too large ({big}; {total:,} bytes in all): this event accepts at "
            f"most {max_bytes:,} bytes per submission"
        )
    sources: dict[str, str] = {}
    for filename in REQUIRED_FILES:
        data = files[filename]
        nul = data.find(b"\0")
        if nul >= 0:
            raise SubmissionRejected(
                f"{filename}: binary content (NUL byte at offset {nul}): upload the Python "
                "source file"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise SubmissionRejected(
                f"{filename}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
                "file as UTF-8"
            ) from None
        if not text.strip():
            raise SubmissionRejected(f"{filename}: the file is empty")
        try:
            with PARSE_LOCK:  # see kit.contract.PARSE_LOCK
                compile(text, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise SubmissionRejected(
                f"{filename}:{exc.lineno}: syntax error: {exc.msg}; fix it and check locally "
                "with ramp-test"
            ) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise SubmissionRejected(f"{filename}: cannot be compiled ({exc})") from None
        sources[filename] = text
    _check_contract(files)
    return sources


def _check_contract(files: Mapping[str, bytes]) -> None:
    from ramp_server.kit.contract import ContractError, check_static

    with tempfile.TemporaryDirectory(prefix="ramp_check_") as tmp:
        for filename, data in files.items():
            (Path(tmp) / filename).write_bytes(data)
        try:
            check_static(tmp)  # never imports participant code
        except ContractError as exc:
            where = Path(exc.file).name if exc.file else ""
            if where and exc.line:
                where += f":{exc.line}"
            raise SubmissionRejected(f"{where + ': ' if where else ''}{exc.message}") from None


MAX_ARCHIVE_ENTRIES = 16


def files_from_zip(data: bytes, *, max_bytes: int) -> dict[str, bytes]:
    """The ``.py`` files of an uploaded zip archive, read with bounds (zip bombs are refused).

    Entries may sit in one top folder; other names, nested folders, links and more than
    :data:`MAX_ARCHIVE_ENTRIES` entries are refused; no more than ``max_bytes`` are ever
    decompressed, whatever the archive's headers claim.
    """
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SubmissionRejected("the archive is not a valid zip file") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        raise SubmissionRejected(
            f"the archive has {len(infos)} files; a submission has {len(REQUIRED_FILES)}"
        )
    out: dict[str, bytes] = {}
    budget = max_bytes
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if (
            len(parts) > 2
            or any(p in ("", ".", "..") for p in parts)
            or info.filename.startswith("/")
        ):
            raise SubmissionRejected(
                f"archive entry {info.filename!r}: put the files at the top of the archive or "
                "in one folder (no absolute paths, no '..')"
            )
        name = parts[-1]
        if name in out:
            raise SubmissionRejected(f"archive entry {name!r} appears twice")
        if info.file_size > budget:
            raise SubmissionRejected(
                f"archive entry {info.filename!r} unpacks to {info.file_size:,} bytes: this "
                f"event accepts at most {max_bytes:,} bytes per submission"
            )
        with archive.open(info) as fh:
            try:
                content = fh.read(budget + 1)  # never trust the declared size
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise SubmissionRejected(
                    f"archive entry {info.filename!r} is corrupt ({exc})"
                ) from None
        if len(content) > budget:
            raise SubmissionRejected(
                f"the archive unpacks to more than {max_bytes:,} bytes: this event accepts at "
                f"most {max_bytes:,} bytes per submission"
            )
        budget -= len(content)
        out[name] = content
    return out


def files_from_dir(path: str | Path, *, max_bytes: int) -> dict[str, bytes]:
    """The files of a submission folder (regular files at its top; caches ignored)."""
    folder = Path(path)
    if not folder.is_dir():
        raise SubmissionRejected(f"{folder}: submission folder not found")
    out: dict[str, bytes] = {}
    total = 0
    for f in sorted(folder.iterdir()):
        if f.name == "__pycache__" or f.name.startswith(".") or f.is_dir():
            continue
        if f.is_symlink() or not f.is_file():
            raise SubmissionRejected(f"{f}: not a regular file")
        total += f.stat().st_size
        if total > max_bytes:
            raise SubmissionRejected(
                f"{folder}: the files are larger than the {max_bytes:,} bytes this event accepts"
            )
        out[f.name] = f.read_bytes()
    return out
