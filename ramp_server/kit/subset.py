"""A stratified subset of a data folder, in the same kit layout (the demo profile's data).

The subset keeps every class in its proportions (and at least a few images of each, so a
stratified CV still works), hard-links the images when the file system allows it (no extra
disk), and records where it came from in ``subset.json`` (the demo quotes it on its event page).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ramp_server.kit import dataset
from ramp_server.kit.dataset import DataError
from ramp_server.kit.folds import stratified_subset

#: the file a subset folder records its origin in
RECORD_NAME = "subset.json"
#: images of each class kept at least (3 folds need 3 per class)
MIN_PER_CLASS = 3
#: what a subset folder may hold (an interrupted run leaves some of it; a re-run completes it)
_OURS = {"imgs", "cache", "train.csv", "test.csv", "class_codes.csv", RECORD_NAME}


@dataclass(frozen=True)
class SubsetSummary:
    """What :func:`write_subset` wrote."""

    source: str
    n_train: int
    n_test: int
    n_train_source: int
    n_test_source: int
    seed: int

    def describe(self) -> str:
        """One sentence for people: how much of the source the subset keeps."""
        total = self.n_train_source + self.n_test_source
        return (
            f"a stratified subset of {self.n_train:,} training and {self.n_test:,} test images "
            f"of the {total:,} images of the full data set"
        )


def read_subset_record(data_dir: str | os.PathLike) -> SubsetSummary | None:
    """The record of a subset folder, or None for a full data folder."""
    path = Path(data_dir) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        return SubsetSummary(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:  # not JSON, or not the fields of a subset record
        raise DataError(
            f"{path}: not a subset record written by `ramp-server data subset` ({exc}); "
            "remove it, or choose another folder"
        ) from None


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copy2(src, dst)


def write_subset(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_train: int,
    n_test: int,
    seed: int = 0,
) -> SubsetSummary:
    """Write a stratified subset of ``source`` into ``out`` (train.csv, test.csv, imgs/).

    Re-running with the same arguments leaves an identical folder; a folder holding another
    subset is replaced. ``source`` is never modified.
    """
    src = Path(source).resolve()
    dst = Path(out).resolve()
    if src == dst or src in dst.parents or dst in src.parents:
        raise DataError(
            f"{dst}: the subset and its source {src} must not contain one another: "
            "choose a separate folder for --out"
        )
    if dst.exists() and not dst.is_dir():
        raise DataError(f"{dst} is a file: choose a folder for --out")
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if value < MIN_PER_CLASS * 18:
            raise DataError(
                f"{name}={value} is too small: keep at least {MIN_PER_CLASS * 18} images "
                f"({MIN_PER_CLASS} per class for the 18 classes)"
            )
    tables = {split: dataset.read_labels(src, split) for split in ("train", "test")}
    parts = {
        split: tables[split].iloc[
            stratified_subset(
                tables[split]["class"].to_numpy(), n=n, seed=seed, min_per_class=MIN_PER_CLASS
            )
        ]
        for split, n in (("train", n_train), ("test", n_test))
    }
    summary = SubsetSummary(
        source=str(src),
        n_train=len(parts["train"]),
        n_test=len(parts["test"]),
        n_train_source=len(tables["train"]),
        n_test_source=len(tables["test"]),
        seed=seed,
    )
    if read_subset_record(dst) == summary and (dst / "imgs").is_dir():
        return summary  # the same selection is already there: keep its image cache warm
    foreign = sorted(p.name for p in dst.iterdir() if p.name not in _OURS) if dst.exists() else []
    if foreign:
        raise DataError(
            f"{dst} holds {', '.join(foreign[:3])}, so it is not a subset folder: choose an "
            "empty folder for --out"
        )
    (dst / RECORD_NAME).unlink(missing_ok=True)  # written last: marks a complete subset
    shutil.rmtree(dst / "imgs", ignore_errors=True)
    (dst / "imgs").mkdir(parents=True)
    for split, part in parts.items():
        for image_id in part["id"]:
            image = src / "imgs" / f"{image_id}.jpg"
            if not image.is_file():
                raise DataError(
                    f"{image}: missing image of {split}.csv (id {image_id}); re-create the source "
                    "data with `ramp-server data synth` or `ramp-server data download`"
                )
            _link_or_copy(image, dst / "imgs" / image.name)
        part.to_csv(dst / f"{split}.csv", index=False)
    if (src / "class_codes.csv").is_file():
        shutil.copy2(src / "class_codes.csv", dst / "class_codes.csv")
    (dst / RECORD_NAME).write_text(json.dumps(asdict(summary), indent=1), encoding="utf-8")
    return summary
