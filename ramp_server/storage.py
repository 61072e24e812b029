"""The storage directory (``RAMP_STORAGE_DIR``): layout, immutable blobs, atomic writes.

::

    blobs/sha256/<ab>/<full-hash>                      submitted files, content-addressed
    events/<slug>/kit/                                 problem.py + starting kit (snapshot)
    events/<slug>/public/                              public bundle + folds.npz (workers read)
    events/<slug>/private/test_labels.npy              test labels (server only)
    predictions/<event>/<submission_id>/fold_<k>.npz   per-fold predictions (blender format)
    logs/<submission_id>/fold_<k>.log                  captured output of a fold

Paths stored in the database are relative to the root (:meth:`Storage.relative`), so a storage
directory can be moved.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ramp_server.config import Settings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: the event folder names the storage makes (and the public mirror copies)
EVENT_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class BlobCorrupted(RuntimeError):
    """A blob's content does not match its hash (disk corruption or tampering)."""


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage:
    """Paths of the storage directory and its content-addressed blob store."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        return cls(settings.storage_dir)

    def init(self) -> None:
        """Create the top-level directories (idempotent)."""
        for sub in ("blobs/sha256", "events", "predictions", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- paths -------------------------------------------------------------------------------
    def relative(self, path: str | Path) -> str:
        """``path`` relative to the root, as stored in the database."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def resolve(self, relative: str | Path) -> Path:
        """The absolute path of a database-stored relative path (refuses escaping the root)."""
        p = (self.root / relative).resolve()
        if p != self.root and self.root not in p.parents:
            raise ValueError(f"path {relative!r} escapes the storage directory")
        return p

    def event_dir(self, slug: str) -> Path:
        if not EVENT_SLUG.match(slug):
            raise ValueError(f"invalid event name {slug!r}")
        return self.root / "events" / slug

    def kit_dir(self, slug: str) -> Path:
        return self.event_dir(slug) / "kit"

    def public_dir(self, slug: str) -> Path:
        return self.event_dir(slug) / "public"

    def private_dir(self, slug: str) -> Path:
        return self.event_dir(slug) / "private"

    def folds_path(self, slug: str) -> Path:
        return self.public_dir(slug) / "folds.npz"

    def test_labels_path(self, slug: str) -> Path:
        return self.private_dir(slug) / "test_labels.npy"

    def predictions_path(self, slug: str, submission_id: int, fold: int) -> Path:
        return self.root / "predictions" / slug / str(int(submission_id)) / f"fold_{int(fold)}.npz"

    def predictions_dir(self, slug: str, submission_id: int) -> Path:
        return self.root / "predictions" / slug / str(int(submission_id))

    def log_path(self, submission_id: int, fold: int) -> Path:
        return self.root / "logs" / str(int(submission_id)) / f"fold_{int(fold)}.log"

    # -- blobs -------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` once (read-only file named by its SHA-256) and return the hash."""
        digest = sha256_hex(data)
        path = self.blob_path(digest)
        if path.is_file() and path.stat().st_size == len(data):
            return digest  # already stored: blobs are immutable
        atomic_write_bytes(path, data, mode=0o444)
        return digest

    def read_blob(self, sha256: str, *, verify: bool = True) -> bytes:
        """The content of a blob; with ``verify`` its hash is checked."""
        data = self.blob_path(sha256).read_bytes()
        if verify and sha256_hex(data) != sha256:
            raise BlobCorrupted(f"blob {sha256} is corrupted (its content hash differs)")
        return data
