"""``ramp-server data``: fetch the real SPIPOLL data, generate the synthetic set, describe a folder.

Only kit dependencies are imported (lazily): these verbs work without the server's packages.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from ramp_server.cli import CliError

#: the 2015 event's number of images (train + test)
DEFAULT_N = 20348


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data download``, ``data synth``, ``data subset`` and ``data info``."""
    parser = subparsers.add_parser(
        "data",
        help="get the challenge's images (real or synthetic) and describe them",
        description="Get the challenge's data into the kit layout (train.csv, test.csv, "
        "class_codes.csv, imgs/<id>.jpg) and describe a data folder.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser(
        "download",
        help="download the real SPIPOLL RAMP images (resumable, verified)",
        description="Download the public files of the 2017 RAMP kit (train.csv, test.csv, "
        "class_codes.csv, imgs.zip), verify them, unzip safely and write the kit layout. "
        "An interrupted run resumes where it stopped.",
    )
    p.add_argument(
        "--out", metavar="DIR", default="data", help="data folder to write (default: data)"
    )
    p.add_argument(
        "--base-url", metavar="URL", default=None, help="mirror URL holding the four files"
    )
    p.add_argument(
        "--manifest",
        metavar="FILE",
        default=None,
        help="JSON manifest of URLs and sha256 to verify against (e.g. a previous "
        "download_manifest.json)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace what --out holds and download again"
    )
    p.add_argument("--keep-archive", action="store_true", help="keep imgs.zip after unzipping it")
    p.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=2,
        help="automatic resumes of a dropped transfer (default: 2)",
    )
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=60.0,
        help="network timeout in seconds (default: 60)",
    )
    p.set_defaults(func=_download)

    p = sub.add_parser(
        "synth",
        help="generate the synthetic SPIPOLL-like data set (deterministic)",
        description="Write a synthetic SPIPOLL-like data set in the kit layout: the 18 taxa at "
        "the 2015 frequencies, split about 80/20 into train.csv and test.csv. The same seed "
        "gives identical files.",
    )
    p.add_argument(
        "--out", metavar="DIR", default="data", help="data folder to write (default: data)"
    )
    p.add_argument("--seed", metavar="N", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--n",
        metavar="N",
        type=int,
        default=DEFAULT_N,
        help=f"number of images (default: {DEFAULT_N})",
    )
    p.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        default=None,
        help="worker processes (default: all CPU cores)",
    )
    p.add_argument(
        "--force", action="store_true", help="overwrite a folder holding the downloaded real data"
    )
    p.set_defaults(func=_synth)

    p = sub.add_parser(
        "subset",
        help="write a stratified subset of a data folder (e.g. a demo profile)",
        description="Write a stratified subset of a data folder in the same layout: every "
        "class keeps its proportion (and at least 3 images); images are hard-linked when "
        "possible; subset.json records the origin. The same arguments give the same subset.",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        default="data",
        help="data folder to take the images from (default: data)",
    )
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write the subset to")
    p.add_argument(
        "--n-train", metavar="N", type=int, required=True, help="training images to keep"
    )
    p.add_argument("--n-test", metavar="N", type=int, required=True, help="test images to keep")
    p.add_argument("--seed", metavar="N", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_subset)

    p = sub.add_parser(
        "info",
        help="count the images of each class in a data folder",
        description="Print the number of training and test images of each taxon, the "
        "missing images and where the data came from.",
    )
    p.add_argument(
        "--dir", metavar="DIR", default="data", help="data folder to describe (default: data)"
    )
    p.set_defaults(func=_info)


def _download(args: argparse.Namespace) -> int:
    from ramp_server.kit import download as dl

    if args.base_url and not args.base_url.startswith(("http://", "https://")):
        raise CliError(f"--base-url must be an http:// or https:// URL, got {args.base_url!r}")
    if args.retries < 0:
        raise CliError(f"--retries must be 0 or more, got {args.retries}")
    if args.timeout <= 0:
        raise CliError(f"--timeout must be positive, got {args.timeout}")
    try:
        manifest = dl.load_manifest(args.manifest) if args.manifest else dl.MANIFEST
        report = dl.download(
            args.out,
            manifest=manifest,
            base_url=args.base_url,
            force=args.force,
            keep_archive=args.keep_archive,
            retries=args.retries,
            timeout=args.timeout,
        )
    except dl.DownloadError as exc:
        raise CliError(str(exc)) from None
    record = Path(args.out) / dl.RECORD_NAME
    if report.already_present:
        print(f"{args.out}: the real data is already there ({record}); --force downloads it again")
        return 0
    print(
        f"wrote {args.out}: {report.n_train} training and {report.n_test} test images; "
        f"sizes and sha256 recorded in {record}"
    )
    return 0


def _synth(args: argparse.Namespace) -> int:
    from ramp_server.kit.download import RECORD_NAME

    try:
        from ramp_server.kit.synth import MIN_N, SynthError, generate
    except ImportError as exc:
        if exc.name and exc.name.startswith("ramp_server"):
            raise CliError("the synthetic generator (ramp_server.kit.synth) is missing") from None
        raise
    if args.n < MIN_N:
        raise CliError(
            f"--n {args.n} is too small: at least {MIN_N} images ({MIN_N // 18} per class for "
            f"the 18 classes); the 2015 event had {DEFAULT_N}"
        )
    if args.seed < 0:
        raise CliError(f"--seed must be 0 or more, got {args.seed}")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise CliError(f"--jobs must be 1 or more, got {jobs}")
    out = Path(args.out)
    record = out / RECORD_NAME
    if record.exists() and not args.force:
        raise CliError(
            f"{out} holds the downloaded real data ({record}): use --force to overwrite it "
            "with synthetic images, or --out another folder"
        )
    try:
        summary = generate(out, seed=args.seed, n=args.n, n_jobs=jobs, progress=True)
    except SynthError as exc:
        raise CliError(str(exc)) from None
    record.unlink(missing_ok=True)  # the folder no longer holds the downloaded data
    print(
        f"wrote {out}: {summary.n_train} training and {summary.n_test} test synthetic images "
        f"(seed {args.seed}, {summary.seconds:.0f} s)"
    )
    return 0


def _subset(args: argparse.Namespace) -> int:
    from ramp_server.kit.dataset import DataError
    from ramp_server.kit.subset import write_subset

    if args.seed < 0:
        raise CliError(f"--seed must be 0 or more, got {args.seed}")
    if not Path(args.source, "train.csv").is_file():
        raise CliError(
            f"{args.source}/train.csv does not exist: create the data first with "
            "`ramp-server data synth` or `ramp-server data download`"
        )
    try:
        summary = write_subset(
            args.source, args.out, n_train=args.n_train, n_test=args.n_test, seed=args.seed
        )
    except DataError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {args.out}: {summary.describe()} (seed {summary.seed})")
    return 0


def _count_split(data_dir: Path, split: str) -> tuple[dict[int, int], int]:
    """Images per class of ``<split>.csv`` and how many of its images are missing."""
    from ramp_server.kit.taxa import N_CLASSES

    path = data_dir / f"{split}.csv"
    if not path.is_file():
        raise CliError(
            f"{path} does not exist: create the data with `ramp-server data synth` or "
            "`ramp-server data download`"
        )
    counts = dict.fromkeys(range(N_CLASSES), 0)
    missing = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "class"} <= set(reader.fieldnames):
            raise CliError(f"{path}: expected the columns 'id,class', found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            value = (row["class"] or "").strip()
            if not value.isdigit() or int(value) >= N_CLASSES:
                raise CliError(
                    f"{path}, line {line}: class {value!r} is not a class id 0..{N_CLASSES - 1}"
                )
            counts[int(value)] += 1
            if not (data_dir / "imgs" / f"{(row['id'] or '').strip()}.jpg").is_file():
                missing += 1
    return counts, missing


def _info(args: argparse.Namespace) -> int:
    from ramp_server.kit.download import RECORD_NAME
    from ramp_server.kit.taxa import CLASS_NAMES

    data_dir = Path(args.dir)
    if not data_dir.is_dir():
        raise CliError(
            f"{data_dir} does not exist: create it with `ramp-server data synth` or "
            "`ramp-server data download`"
        )
    train, train_missing = _count_split(data_dir, "train")
    test, test_missing = _count_split(data_dir, "test")
    n_train, n_test = sum(train.values()), sum(test.values())
    record = data_dir / RECORD_NAME
    if record.is_file():
        meta = json.loads(record.read_text(encoding="utf-8"))
        source = f"real SPIPOLL data from {meta.get('base_url')} ({meta.get('downloaded_at')})"
    else:
        source = "not downloaded here (synthetic or copied)"
    print(f"{data_dir}: {source}")
    width = max(len(name) for name in CLASS_NAMES)
    print(f"{'id':>3}  {'taxon':<{width}}  {'train':>6}  {'test':>6}  {'share':>6}")
    for cid, name in enumerate(CLASS_NAMES):
        share = train[cid] / n_train if n_train else 0.0
        print(f"{cid:>3}  {name:<{width}}  {train[cid]:>6}  {test[cid]:>6}  {share:>6.1%}")
    print(f"{'':>3}  {'total':<{width}}  {n_train:>6}  {n_test:>6}")
    if train_missing or test_missing:
        print(f"missing images: {train_missing} of train.csv, {test_missing} of test.csv")
        return 1
    return 0
