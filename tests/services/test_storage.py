"""The storage directory: content-addressed immutable blobs, atomic writes, safe paths."""

from __future__ import annotations

import hashlib

import pytest

from ramp_server.storage import BlobCorrupted, Storage, atomic_write_bytes


def test_blobs_are_content_addressed_read_only_and_stored_once(tmp_path):
    storage = Storage(tmp_path)
    data = b"print('hello')\n"
    digest = storage.put_blob(data)
    assert digest == hashlib.sha256(data).hexdigest()
    path = storage.blob_path(digest)
    assert path.relative_to(tmp_path).parts[:3] == ("blobs", "sha256", digest[:2])
    assert not path.stat().st_mode & 0o222
    assert storage.put_blob(data) == digest
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary left behind
    assert storage.read_blob(digest) == data


def test_a_corrupted_blob_is_detected(tmp_path):
    storage = Storage(tmp_path)
    digest = storage.put_blob(b"x = 1\n")
    path = storage.blob_path(digest)
    path.chmod(0o644)
    path.write_bytes(b"x = 2\n")
    with pytest.raises(BlobCorrupted, match=digest):
        storage.read_blob(digest)


def test_paths_never_escape_the_storage_dir(tmp_path):
    storage = Storage(tmp_path)
    with pytest.raises(ValueError, match="escapes"):
        storage.resolve("../outside")
    with pytest.raises(ValueError, match="invalid event name"):
        storage.event_dir("../x")
    with pytest.raises(ValueError, match="sha256"):
        storage.blob_path("../../etc/passwd")


def test_layout_matches_the_architecture(tmp_path):
    storage = Storage(tmp_path)
    assert storage.relative(storage.predictions_path("ev", 7, 2)) == "predictions/ev/7/fold_2.npz"
    assert storage.relative(storage.log_path(7, 2)) == "logs/7/fold_2.log"
    assert storage.relative(storage.test_labels_path("ev")) == "events/ev/private/test_labels.npy"
    assert storage.relative(storage.folds_path("ev")) == "events/ev/public/folds.npz"


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "a" / "file.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
