"""The workers' copy of the public bundles (``ramp_server.engine.public_mirror``).

A worker given only the mirror must be able to train a fold, and the mirror must never hold
the test labels or anything else of the storage directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ramp_server.engine.public_mirror import mirror_public_bundles
from ramp_server.storage import Storage

from engine_support import TEST_LIMITS, submission_files
from ramp_test_plugin import create_test_event


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def fake_bundle(public: Path, *, finished: bool = True) -> None:
    public.mkdir(parents=True, exist_ok=True)
    (public / "train_images.npy").write_bytes(b"images")
    (public / "train_labels.npy").write_bytes(b"labels")
    if finished:
        (public / "meta.json").write_text("{}")


def test_mirror_of_a_real_event_holds_its_public_bundle_and_nothing_else(
    session, settings, event_kit, tmp_path
):
    create_test_event(session, settings=settings, kit=event_kit)
    storage = Storage.from_settings(settings)
    assert storage.test_labels_path("spipoll").is_file()  # the source does hold test labels
    mirror = tmp_path / "mirror"

    assert mirror_public_bundles(storage_dir=storage.root, target_dir=mirror) == ["spipoll"]

    public = storage.public_dir("spipoll")
    copied = files_under(mirror)
    assert copied == {
        f"events/spipoll/public/{rel}": data for rel, data in files_under(public).items()
    }
    assert "meta.json" in {Path(rel).name for rel in copied}
    for path in (mirror / "events" / "spipoll" / "public").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path  # readable by the sandbox's uid
    # a second pass finds nothing to do
    assert mirror_public_bundles(storage_dir=storage.root, target_dir=mirror) == []


def test_a_fold_trains_in_the_sandbox_from_the_mirror_alone(session, settings, event_kit, tmp_path):
    from ramp_server.engine.tasks import FoldJob, run_fold_job
    from ramp_server.services.events import event_folds

    event = create_test_event(session, settings=settings, kit=event_kit)
    storage = Storage.from_settings(settings)
    mirror = tmp_path / "mirror"
    mirror_public_bundles(storage_dir=storage.root, target_dir=mirror)
    folds = event_folds(settings=settings, event=event)

    outcome = run_fold_job(
        FoldJob(
            submission_id=1,
            fold=0,
            attempt=1,
            files=submission_files("quick"),
            bundle_dir=str(mirror / "events" / "spipoll" / "public"),
            train_is=folds.train[0],
            valid_is=folds.valid[0],
            limits=TEST_LIMITS,
            forbidden=(str(storage.root / "blobs"), str(storage.private_dir("spipoll"))),
        )
    )

    assert outcome.ok, (outcome.error_kind, outcome.error_message, outcome.log)
    assert outcome.valid_proba.shape == (len(folds.valid[0]), 18)
    assert outcome.test_proba.shape[0] == event.n_test
    assert np.allclose(outcome.valid_proba.sum(axis=1), 1.0, atol=1e-4)


def test_mirror_waits_for_meta_json_then_follows_changes_and_removals(tmp_path):
    storage, mirror = tmp_path / "storage", tmp_path / "mirror"
    public = storage / "events" / "ev1" / "public"
    fake_bundle(public, finished=False)
    assert mirror_public_bundles(storage_dir=storage, target_dir=mirror) == []
    assert not (mirror / "events" / "ev1").exists()  # half-written bundle: not given out

    (public / "meta.json").write_text("{}")
    assert mirror_public_bundles(storage_dir=storage, target_dir=mirror) == ["ev1"]
    target = mirror / "events" / "ev1" / "public"
    assert sorted(p.name for p in target.iterdir()) == [
        "meta.json",
        "train_images.npy",
        "train_labels.npy",
    ]

    (public / "train_images.npy").write_bytes(b"new images, another size")
    (public / "train_labels.npy").unlink()
    (target / ".mirror-left-by-a-crash.tmp").write_bytes(b"x")
    assert mirror_public_bundles(storage_dir=storage, target_dir=mirror) == ["ev1"]
    assert (target / "train_images.npy").read_bytes() == b"new images, another size"
    assert sorted(p.name for p in target.iterdir()) == ["meta.json", "train_images.npy"]

    (public / "meta.json").unlink()  # the event's bundle is gone from the storage
    assert mirror_public_bundles(storage_dir=storage, target_dir=mirror) == ["ev1"]
    assert not (mirror / "events" / "ev1").exists()


def test_mirror_never_follows_links_out_of_a_public_bundle(tmp_path):
    storage, mirror = tmp_path / "storage", tmp_path / "mirror"
    private = storage / "events" / "ev1" / "private"
    private.mkdir(parents=True)
    (private / "test_labels.npy").write_bytes(b"SECRET LABELS")
    public = storage / "events" / "ev1" / "public"
    fake_bundle(public)
    (public / "labels_link.npy").symlink_to(private / "test_labels.npy")
    (public / "private_dir").symlink_to(private, target_is_directory=True)
    (storage / "events" / "ev2").mkdir()
    (storage / "events" / "ev2" / "public").symlink_to(private, target_is_directory=True)

    mirror_public_bundles(storage_dir=storage, target_dir=mirror)

    copied = files_under(mirror)
    assert sorted(copied) == [
        "events/ev1/public/meta.json",
        "events/ev1/public/train_images.npy",
        "events/ev1/public/train_labels.npy",
    ]
    assert all(b"SECRET" not in data for data in copied.values())


def test_an_unmounted_storage_never_wipes_the_workers_copy(tmp_path):
    storage, mirror = tmp_path / "storage", tmp_path / "mirror"
    fake_bundle(storage / "events" / "ev1" / "public")
    mirror_public_bundles(storage_dir=storage, target_dir=mirror)
    empty = tmp_path / "empty-mount-point"
    empty.mkdir()

    assert mirror_public_bundles(storage_dir=empty, target_dir=mirror) == []
    assert (mirror / "events" / "ev1" / "public" / "meta.json").is_file()


def test_the_command_mirrors_once_and_refuses_a_negative_period(tmp_path):
    storage, mirror = tmp_path / "storage", tmp_path / "mirror"
    fake_bundle(storage / "events" / "ev1" / "public")
    command = [sys.executable, "-m", "ramp_server.engine.public_mirror"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMP_")}  # needs no setting

    done = subprocess.run(
        [*command, "--storage-dir", str(storage), "--to", str(mirror)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "event ev1 updated" in done.stderr
    assert (mirror / "events" / "ev1" / "public" / "meta.json").is_file()

    refused = subprocess.run(
        [*command, "--storage-dir", str(storage), "--to", str(mirror), "--every", "-1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--every must be 0 (once) or a positive number of seconds" in refused.stderr
