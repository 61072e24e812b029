"""The model ladder: every submission trained through the kit's workflow, blended, one table.

Resumable, piece by piece. A piece is one (submission, CV fold): the kit's
``ImageClassifierWorkflow`` trains the submission on the fold's training rows and predicts the
fold's validation rows and the test set (on the GPU when one is visible); the piece (float16
predictions with their labels, scores, epochs and learning curve, times, machine, package
versions) is written under ``<out>/pieces/`` as soon as it exists (see ``ladder_pieces.py``).
A re-run skips the finished pieces whose code, epochs and data are unchanged, and resumes an
interrupted one from its last epoch's checkpoint (``RAMP_CHECKPOINT_DIR`` per piece, in
``<out>/work/``). The table (``ladder_table.py``: accuracy, NLL, balanced accuracy,
contributivity, the 2015 event's figures beside them) is rebuilt from whatever pieces exist.

    .venv/bin/python bench/model_ladder.py --data data                 # everything, 3 folds
    .venv/bin/python bench/model_ladder.py --only-folds 0 --out /work/ladder-out   # fold 0 only
    .venv/bin/python bench/model_ladder.py --quick                     # shortened: a subset
    .venv/bin/python bench/model_ladder.py --subset 4000 --epochs-scale 0.25 --folds 2
    .venv/bin/python bench/model_ladder.py --blend-only --out DIR      # the table of DIR's pieces
    .venv/bin/python bench/model_ladder.py --collect --out /work/ladder-out

Pieces run fold by fold, each fold's models cheapest first (``LADDER_ORDER``). ``--collect``
copies the finished pieces of ``--out`` into the committed ``bench/ladder/`` (``--to``),
rebuilds the table there from all its pieces (``bench/ladder/ladder.md``) and writes it into
the README between the ladder markers. ``--epochs-scale`` trains a copy of each submission
whose ``N_EPOCHS`` is multiplied by the factor (at least 1); ``colour_features`` has no epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ladder_pieces, ladder_table

import ladder_pieces as lp  # noqa: E402
import ladder_table as lt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "bench" / "ladder"
QUICK = {"subset": 1500, "test_subset": 500, "epochs_scale": 0.2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data", help="kit data folder")
    parser.add_argument("--submissions", default="", help="comma-separated names (default: all)")
    parser.add_argument("--folds", type=int, default=None, help="CV folds (default: the kit's)")
    parser.add_argument(
        "--only-folds", default="", help="comma-separated fold indices to train (default: all)"
    )
    parser.add_argument("--epochs-scale", type=float, default=None, help="multiply N_EPOCHS")
    parser.add_argument("--subset", type=int, default=None, help="stratified training subset")
    parser.add_argument("--test-subset", type=int, default=None, help="stratified test subset")
    parser.add_argument(
        "--quick", action="store_true", help=f"shortened run (defaults {QUICK}, each overridable)"
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="workflow threads")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "model_ladder",
        help="pieces, checkpoints and the table of this run",
    )  # fmt: skip
    parser.add_argument("--blend-only", action="store_true", help="table of --out's pieces only")
    parser.add_argument(
        "--collect", action="store_true",
        help="copy --out's finished pieces into --to, rebuild its table and the README's",
    )  # fmt: skip
    parser.add_argument("--to", type=Path, default=COMMITTED, help="committed pieces (--collect)")
    parser.add_argument(
        "--readme",
        type=Path,
        default=REPO / "README.md",
        help="README whose table --collect writes",
    )
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    if args.epochs_scale is None:
        args.epochs_scale = 1.0
    return args


def load_problem():
    from ramp_server.blending.offline import load_kit_problem

    return load_kit_problem(REPO)


def load_data(args, problem):
    from ramp_server.kit import dataset, folds

    X, y = dataset.load_split(args.data, "train")
    X_test, y_test = dataset.load_split(args.data, "test")
    if args.subset:
        keep = folds.stratified_subset(y, n=args.subset, seed=problem.CV_SEED)
        X, y = np.asarray(X[keep]), y[keep]
    if args.test_subset:
        keep = folds.stratified_subset(y_test, n=args.test_subset, seed=problem.CV_SEED)
        X_test, y_test = np.asarray(X_test[keep]), y_test[keep]
    n_folds = args.folds or problem.N_FOLDS
    cv = folds.stratified_cv(
        y, n_folds=n_folds, test_size=problem.CV_TEST_SIZE, seed=problem.CV_SEED
    )
    return np.asarray(X), np.asarray(y), np.asarray(X_test), np.asarray(y_test), cv


def submission_names(args) -> list[str]:
    """The submissions to train, in the ladder's order (cheapest first), then the others."""
    sub_dir = REPO / "submissions"
    available = sorted(p.name for p in sub_dir.iterdir() if (p / "batch_classifier.py").is_file())
    asked = [n for n in args.submissions.split(",") if n] or available
    unknown = sorted(set(asked) - set(available))
    if unknown:
        raise SystemExit(f"--submissions: no folder submissions/{unknown[0]} with the two files")
    rank = {n: i for i, n in enumerate(lt.LADDER_ORDER)}
    return sorted(asked, key=lambda n: (rank.get(n, len(rank)), n))


class Ladder:
    """Trains the pieces of one run: the data, the folds and the settings they share."""

    def __init__(self, args, problem, X, y, X_test, y_test, cv):
        self.args, self.problem = args, problem
        self.X, self.y, self.X_test, self.y_test, self.cv = X, y, X_test, y_test, cv
        self.data_key = lp.data_key(y, y_test, len(cv), problem.CV_SEED)
        self.machine = lp.machine()
        self.scores = lt.score_types(problem)

    def key(self, name: str) -> dict:
        """What a finished piece must match to be skipped."""
        return {
            "code_sha256": lp.code_sha256(REPO / "submissions" / name),
            "epochs_scale": self.args.epochs_scale,
            "data": self.data_key,
            "subset": [self.args.subset, self.args.test_subset],
        }

    def run_piece(self, name: str, fold: int) -> None:
        """Train one piece unless it is finished; resume it when it was interrupted."""
        from ramp_server.kit import checkpoint
        from ramp_server.kit.epochs import scaled_copy
        from ramp_server.kit.workflow import ImageClassifierWorkflow

        out, key = self.args.out, self.key(name)
        versions = lp.versions()  # the commit whose code this piece trains (read at its start)
        _, json_path = lp.piece_paths(out, name, fold)
        label = f"{name} fold {fold}"
        meta = lp.read_meta(json_path)
        if meta is not None and meta.get("key") == key:
            s = meta["scores"]
            print(
                f"== {label}: finished, skipped (acc valid {s['acc valid']:.3f}, test "
                f"{s['acc test']:.3f}; {meta['train_s']:.0f} s on {meta['machine']})",
                flush=True,
            )
            return
        if meta is not None:
            diff = lp.key_difference(meta.get("key", {}), key)
            print(f"== {label}: the finished piece is stale ({diff} changed): training again")
        work = lp.work_dir(out, name, fold)
        code_dir = work / "code"
        changes = scaled_copy(
            REPO / "submissions" / name, code_dir, scale=self.args.epochs_scale, reason="ladder"
        )
        train_is, valid_is = self.cv[fold]
        workflow = ImageClassifierWorkflow(
            n_classes=self.problem.N_CLASSES,
            n_jobs=self.args.n_jobs,
            checkpoint_dir=work / "checkpoints",
        )
        fit_dir = workflow.fit_checkpoint_dir(code_dir, self.y, np.arange(len(self.y))[train_is])
        before = checkpoint.load(fit_dir)
        sessions = _append_session(work, None if before is None else before.epoch)
        scaled = ", ".join(f"{k} {a} → {b}" for k, (a, b) in changes.items())
        print(
            f"== {label} (of {len(self.cv)}): {len(train_is)} training rows"
            + (f"; scaled: {scaled}" if scaled else "")
            + (f"; resuming after epoch {before.epoch}" if before else ""),
            flush=True,
        )
        progress = work / "progress.jsonl"
        previous = os.environ.get("RAMP_PROGRESS_FILE")
        os.environ["RAMP_PROGRESS_FILE"] = str(progress)
        try:
            t0 = time.perf_counter()
            trained = workflow.train_submission(str(code_dir), self.X, self.y, train_is)
            t1 = time.perf_counter()
            valid_proba = workflow.test_submission(trained, self.X[valid_is])
            test_proba = workflow.test_submission(trained, self.X_test)
            t2 = time.perf_counter()
        finally:
            if previous is None:
                os.environ.pop("RAMP_PROGRESS_FILE", None)
            else:
                os.environ["RAMP_PROGRESS_FILE"] = previous
        curve = lp.read_progress(progress)
        last = curve[-1] if curve else {}
        scores = lt.score_row(self.scores, self.y[valid_is], valid_proba, self.y_test, test_proba)
        meta = {
            "model": name,
            "fold": int(fold),
            "key": key,
            "scores": scores,
            "epochs": {"run": last.get("epoch"), "of": last.get("n_epochs")},
            "learning_curve": curve,
            "sessions": sessions,
            "train_s": round((before.elapsed_s if before else 0.0) + t1 - t0, 3),
            "predict_s": round(t2 - t1, 1),
            "train_rows": int(len(train_is)),
            "train_class_counts": np.bincount(self.y, minlength=self.problem.N_CLASSES).tolist(),
            "machine": self.machine,
            "versions": versions,
            "finished": lp.now(),
            "command": "bench/model_ladder.py " + shlex.join(sys.argv[1:]),
        }
        piece = lp.Piece(
            meta=meta,
            valid_indices=valid_is,
            valid_proba=valid_proba,
            test_proba=test_proba,
            valid_y=self.y[valid_is],
            test_y=self.y_test,
        )
        lp.write_piece(out, piece)
        shutil.rmtree(work / "checkpoints", ignore_errors=True)  # the piece replaces them
        print(
            f"-- {label}: acc valid {scores['acc valid']:.3f}, test {scores['acc test']:.3f}; "
            f"trained {meta['train_s']:.0f} s; written {json_path}",
            flush=True,
        )


def _append_session(work: Path, resumed_after: int | None) -> list[dict]:
    """Record this run's start in the piece's work folder; returns every session so far."""
    path = work / "sessions.json"
    try:
        sessions = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        sessions = []
    sessions.append({"started": lp.now(), "resumed_after_epoch": resumed_after})
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sessions))
    return sessions


def collect(src: Path, dest: Path) -> int:
    """Copy ``src``'s finished pieces into ``dest`` (new or changed ones); returns how many."""
    if src.resolve() == dest.resolve():
        raise SystemExit("--collect: --out and --to are the same folder")
    copied = 0
    for json_path in sorted(src.glob("pieces/*/fold_*.json")):
        meta = lp.read_meta(json_path)
        if meta is None:
            continue
        npz_dest, json_dest = lp.piece_paths(dest, meta["model"], int(meta["fold"]))
        if json_dest.is_file() and json_dest.read_bytes() == json_path.read_bytes():
            continue
        lp.atomic_write_bytes(npz_dest, json_path.with_suffix(".npz").read_bytes())
        lp.atomic_write_bytes(json_dest, json_path.read_bytes())
        print(f"collected {meta['model']} fold {meta['fold']} → {json_dest}")
        copied += 1
    return copied


def write_table(root: Path, problem, names: list[str], readme: Path | None = None) -> str:
    """Build the table from ``root``'s pieces, write ``root/ladder.md`` (and the README's
    block when ``readme`` is given); returns the Markdown."""
    pieces = lp.finished_pieces(root)
    table = lt.build_table(pieces, problem, names)
    text = lt.format_table(table) + "\n\n" + lt.caption(table) + "\n"
    details = ["", "Pieces (model, fold: finished, machine, epochs, validation accuracy by epoch):"]
    for p in pieces:
        curve = " ".join(
            f"{e['valid_acc']:.2f}" for e in p.meta["learning_curve"] if "valid_acc" in e
        )
        details.append(
            f"- {p.model}, fold {p.fold}: {p.meta['finished']}, {p.meta['machine']}, torch "
            f"{p.meta['versions'].get('torch')}, commit {p.meta['versions'].get('git commit')}; "
            f"{p.meta['epochs']['run']} epochs: {curve or '—'}"
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "ladder.md").write_text(text + "\n".join(details) + "\n", encoding="utf-8")
    if readme is not None and not lt.replace_block(readme, text):
        print(f"{readme}: no ladder markers ({lt.BEGIN} … {lt.END}): README left unchanged")
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    problem = load_problem()
    names = submission_names(args)
    if args.collect:
        copied = collect(args.out, args.to)
        print(f"{copied} new piece(s) in {args.to}")
        print("\n" + write_table(args.to, problem, list(lt.LADDER_ORDER), readme=args.readme))
        return 0
    if args.blend_only:
        print("\n" + write_table(args.out, problem, names))
        return 0

    X, y, X_test, y_test, cv = load_data(args, problem)
    folds = [int(f) for f in args.only_folds.split(",") if f] or list(range(len(cv)))
    bad = [f for f in folds if not 0 <= f < len(cv)]
    if bad:
        raise SystemExit(f"--only-folds: fold {bad[0]} does not exist ({len(cv)} folds: 0…)")
    ladder = Ladder(args, problem, X, y, X_test, y_test, cv)
    print(
        f"data {args.data}: {len(y)} training rows, {len(y_test)} test rows, folds {folds} of "
        f"{len(cv)}; epochs × {args.epochs_scale}; {ladder.machine}; pieces in {args.out}",
        flush=True,
    )
    failed = []
    for fold in folds:
        for name in names:
            try:
                ladder.run_piece(name, fold)
            except Exception:  # one broken model must not stop a night's run
                traceback.print_exc()
                print(f"!! {name} fold {fold} failed (above); going on with the others")
                failed.append(f"{name} fold {fold}")
    print("\n" + write_table(args.out, problem, names))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
