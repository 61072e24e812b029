"""A copy of the events' public bundles, and nothing else, for Dask workers.

Workers need ``events/<event>/public/`` at the same path as on the server, but never the rest
of the storage directory (test labels under ``events/<event>/private/``, code blobs,
predictions, logs). A container volume or a shared folder cannot expose one sub-folder per
event out of a tree, so the deployment keeps a mirror: a folder laid out like the storage
directory that holds only ``events/<event>/public/``, and gives the workers that folder,
mounted where the server has its storage directory.

Run it next to the server (``docker-compose.yml``'s ``public-mirror`` service)::

    python -m ramp_server.engine.public_mirror --storage-dir /var/ramp --to /mirror --every 5

It needs no settings, database or secret. Each file is copied to a temporary name and renamed,
and ``meta.json`` (the file workers check first) last, so a worker sees a new bundle only once
it is complete. Symbolic links and special files are never followed or copied.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ramp_server.logs import setup_logging
from ramp_server.storage import EVENT_SLUG

log = logging.getLogger(__name__)

#: written last by ``dataset.export_public_bundle``: a bundle without it is not finished
BUNDLE_MARKER = "meta.json"


def _regular_files(root: Path, *, with_temporaries: bool = False) -> dict[str, Path]:
    """Regular files under ``root`` by relative POSIX path; links and special files skipped,
    and this module's temporary files unless ``with_temporaries``."""
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
        for name in filenames:
            path = base / name
            if path.is_symlink() or not path.is_file():
                continue
            if name.startswith(".mirror-") and not with_temporaries:
                continue
            found[path.relative_to(root).as_posix()] = path
    return found


def _same(src: Path, dst: Path) -> bool:
    if not dst.is_file() or dst.is_symlink():
        return False
    a, b = src.stat(), dst.stat()
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _copy_atomically(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(dst.parent, 0o755)  # the sandbox reads the bundle as an unprivileged uid
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".mirror-", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)  # keeps the mtime: the next pass sees the file unchanged
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mirror_one(src: Path, dst: Path) -> bool:
    """Bring ``dst`` to the content of the public bundle ``src``; True if anything changed."""
    wanted = _regular_files(src)
    changed = False
    # meta.json last: its arrival tells a worker that the bundle is complete
    for rel in sorted(wanted, key=lambda r: (r == BUNDLE_MARKER, r)):
        if not _same(wanted[rel], dst / rel):
            _copy_atomically(wanted[rel], dst / rel)
            changed = True
    if dst.is_dir():
        # also the temporary files of an interrupted earlier pass
        for rel, path in _regular_files(dst, with_temporaries=True).items():
            if rel not in wanted:
                path.unlink()
                changed = True
    return changed


def mirror_public_bundles(*, storage_dir: str | Path, target_dir: str | Path) -> list[str]:
    """Make ``target_dir/events/<event>/public`` a copy of each finished public bundle of
    ``storage_dir`` (one whose ``meta.json`` exists), and remove the mirrored events that the
    storage no longer has. Returns the names of the events whose copy changed.

    A ``storage_dir`` without an ``events/`` folder (not initialised, or not mounted) changes
    nothing: an empty source must never wipe the workers' copy.
    """
    source_events = Path(storage_dir) / "events"
    target_events = Path(target_dir) / "events"
    if not source_events.is_dir():
        log.warning("public mirror: %s does not exist yet: nothing to mirror", source_events)
        return []
    changed: list[str] = []
    present: set[str] = set()
    for event_dir in sorted(source_events.iterdir()):
        public = event_dir / "public"
        if (
            not EVENT_SLUG.match(event_dir.name)  # anything else is skipped
            or event_dir.is_symlink()
            or public.is_symlink()
            or not (public / BUNDLE_MARKER).is_file()
        ):
            continue
        present.add(event_dir.name)
        if _mirror_one(public, target_events / event_dir.name / "public"):
            changed.append(event_dir.name)
    if target_events.is_dir():
        for stale in sorted(target_events.iterdir()):
            if stale.name not in present and stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
                changed.append(stale.name)
    return changed


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m ramp_server.engine.public_mirror``."""
    parser = argparse.ArgumentParser(
        prog="python -m ramp_server.engine.public_mirror",
        description="Copy the events' public bundles (only them) of a storage directory into a "
        "folder to give to Dask workers, at the same relative paths.",
    )
    parser.add_argument(
        "--storage-dir",
        required=True,
        type=Path,
        help="the server's storage directory (RAMP_STORAGE_DIR), read only",
    )
    parser.add_argument("--to", required=True, type=Path, help="the workers' folder to fill")
    parser.add_argument(
        "--every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="mirror again every SECONDS until stopped (default 0: once, then exit)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: mirror once, or every ``--every`` seconds until stopped."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.every < 0:
        parser.error("--every must be 0 (once) or a positive number of seconds")
    setup_logging()
    args.to.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            for name in mirror_public_bundles(storage_dir=args.storage_dir, target_dir=args.to):
                log.info("public mirror: event %s updated in %s", name, args.to)
        except OSError as exc:  # a full disk, a vanished file: say so, try again next round
            if not args.every:
                print(f"public mirror: error: {exc}", file=sys.stderr)
                return 1
            log.error("public mirror: %s (retrying in %g s)", exc, args.every)
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
