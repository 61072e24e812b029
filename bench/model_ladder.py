"""The model ladder: every submission trained through the kit's workflow, blended, one table.

For each folder of ``submissions/`` (or ``--submissions a,b``) and each CV fold, the kit's
``ImageClassifierWorkflow`` trains the submission on the fold's training rows and predicts the
fold's validation rows and the test set (on the GPU when one is visible). The fold predictions go
to ``<out>/predictions/<name>/fold_<k>.npz`` (the platform's prediction store) and the project's
blender (``ramp_server.blending.blend``) builds the hybrid model from them. The table has, per
submission and for the hybrid model: accuracy, NLL and balanced accuracy (validation: bagged over
the folds as rampwf does; test: the fold models' mean), contributivity, and train time.

    .venv/bin/python bench/model_ladder.py                     # everything, data/, the kit's folds
    .venv/bin/python bench/model_ladder.py --quick             # shortened: a subset, fewer epochs
    .venv/bin/python bench/model_ladder.py --subset 4000 --epochs-scale 0.25 --folds 2
    .venv/bin/python bench/model_ladder.py --blend-only        # re-blend the saved predictions

``--epochs-scale`` trains a copy of each submission whose ``N_EPOCHS`` constant is multiplied by
the factor (at least 1); the copies are written next to the predictions. Submissions without
epochs (``colour_features``) run unchanged. Submissions can be trained in separate runs into the
same ``--out`` and blended together with ``--blend-only``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUICK = {"subset": 1500, "test_subset": 500, "epochs_scale": 0.2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data", help="kit data folder")
    parser.add_argument("--submissions", default="", help="comma-separated names (default: all)")
    parser.add_argument("--folds", type=int, default=None, help="CV folds (default: the kit's)")
    parser.add_argument("--epochs-scale", type=float, default=None, help="multiply N_EPOCHS")
    parser.add_argument("--subset", type=int, default=None, help="stratified training subset")
    parser.add_argument("--test-subset", type=int, default=None, help="stratified test subset")
    parser.add_argument(
        "--quick", action="store_true", help=f"shortened run (defaults {QUICK}, each overridable)"
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="workflow threads")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "model_ladder")
    parser.add_argument("--blend-only", action="store_true", help="reuse saved predictions")
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
    return np.asarray(X), y, np.asarray(X_test), y_test, cv


def train_submission(name, src, X, y, X_test, cv, args, workflow) -> dict:
    """Train one submission on every fold; write its fold predictions; return its timings."""
    from ramp_server.blending.store import write_fold_predictions

    code_dir = args.out / "code" / name
    from ramp_server.kit.epochs import scaled_copy

    changes = scaled_copy(src, code_dir, scale=args.epochs_scale, reason="model ladder")
    if changes:
        print("  scaled: " + ", ".join(f"{k} {a} → {b}" for k, (a, b) in changes.items()))
    train_s, predict_s = [], []
    for k, (train_is, valid_is) in enumerate(cv):
        print(f"-- {name}: fold {k + 1}/{len(cv)} ({len(train_is)} train rows)", flush=True)
        t0 = time.perf_counter()
        trained = workflow.train_submission(str(code_dir), X, y, train_is)
        t1 = time.perf_counter()
        valid_proba = workflow.test_submission(trained, X[valid_is])
        test_proba = workflow.test_submission(trained, X_test)
        predict_s.append(time.perf_counter() - t1)
        train_s.append(t1 - t0)
        write_fold_predictions(
            args.out / "predictions" / name / f"fold_{k}.npz",
            valid_indices=valid_is,
            valid_proba=valid_proba,
            test_proba=test_proba,
        )
        del trained
    timing = {"train_s": float(np.mean(train_s)), "predict_s": float(np.mean(predict_s))}
    (args.out / "predictions" / name / "timing.txt").write_text(
        f"{timing['train_s']:.3f} {timing['predict_s']:.3f}\n"
    )
    return timing


def read_predictions(args, names: list[str], n_folds: int):
    from ramp_server.blending.store import read_fold_predictions

    preds, timings = {}, {}
    for name in names:
        folder = args.out / "predictions" / name
        preds[name] = [read_fold_predictions(folder / f"fold_{k}.npz") for k in range(n_folds)]
        train_s, predict_s = (folder / "timing.txt").read_text().split()
        timings[name] = {"train_s": float(train_s), "predict_s": float(predict_s)}
    return preds, timings


def score_row(scores, y, y_test, valid_proba, valid_mask, test_proba) -> dict[str, float]:
    """Scores of one model; ``valid_proba`` holds the rows of ``y[valid_mask]`` (as bagged)."""
    row = {}
    for st in scores:
        row[f"{st.name} valid"] = st(y[valid_mask], valid_proba)
        row[f"{st.name} test"] = st(y_test, test_proba)
    return row


def ladder_table(names, preds, timings, y, y_test, problem):
    """Rows of the table: the majority class, every submission, the hybrid model."""
    from ramp_server.blending.combine import bag_scores
    from ramp_server.blending.hybrid import FoldInput, blend
    from ramp_server.blending.scores import from_rampwf

    n_classes = problem.N_CLASSES
    by_name = {st.name: st for st in problem.score_types}
    scores = [from_rampwf(by_name[n], n_classes=n_classes) for n in ("acc", "nll", "bal_acc")]
    official = scores[0]
    n_folds = len(next(iter(preds.values())))
    rows = []

    # reference row: the training class frequencies predicted for every image
    covered = np.zeros(len(y), bool)
    for fold in preds[names[0]]:
        covered[fold.valid_indices] = True
    prior = np.bincount(y, minlength=n_classes) / len(y)
    rows.append(
        {"model": "majority class (prior)"}
        | score_row(
            scores,
            y,
            y_test,
            np.tile(prior, (covered.sum(), 1)),
            covered,
            np.tile(prior, (len(y_test), 1)),
        )
    )
    for name in names:
        folds = preds[name]
        _, valid_proba, mask = bag_scores(
            [f.valid_proba for f in folds], [f.valid_indices for f in folds], y, official
        )
        test_proba = np.mean([f.test_proba.astype(np.float64) for f in folds], axis=0)
        rows.append({"model": name} | score_row(scores, y, y_test, valid_proba, mask, test_proba))
        rows[-1]["train s/fold"] = timings[name]["train_s"]

    fold_inputs = [
        FoldInput(
            valid_indices=preds[names[0]][k].valid_indices,
            valid_proba=[preds[n][k].valid_proba for n in names],
            test_proba=[preds[n][k].test_proba for n in names],
        )
        for k in range(n_folds)
    ]
    result = blend(
        folds=fold_inputs, y_train=y, score=official, y_test=y_test, names=names, nested=True
    )
    for row in rows[1:]:
        row["contributivity %"] = 100 * result.contributivity[names.index(row["model"])]
    hybrid = {"model": "hybrid model (blend)"} | score_row(
        scores,
        y,
        y_test,
        result.combined_valid_proba,
        result.combined_valid_mask,
        result.combined_test_proba,
    )
    hybrid["contributivity %"] = 100.0
    hybrid["train s/fold"] = sum(timings[n]["train_s"] for n in names)
    rows.append(hybrid)
    return rows, result


def format_table(rows: list[dict]) -> str:
    columns = ["model"]
    for row in rows:
        columns += [c for c in row if c not in columns]
    # time last, after the scores and the contributivity
    columns.sort(key=lambda c: c == "train s/fold")
    fmt = {"contributivity %": "{:.0f}", "train s/fold": "{:.0f}"}

    def cell(row, col):
        value = row.get(col)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return fmt.get(col, "{:.3f}").format(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M).group(1).strip()
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {device}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    from ramp_server.kit.workflow import ImageClassifierWorkflow

    problem = load_problem()
    X, y, X_test, y_test, cv = load_data(args, problem)
    sub_dir = REPO / "submissions"
    names = [n for n in args.submissions.split(",") if n] or sorted(
        p.name for p in sub_dir.iterdir() if (p / "batch_classifier.py").is_file()
    )
    print(
        f"data {args.data}: {len(y)} training rows, {len(y_test)} test rows, {len(cv)} folds; "
        f"epochs × {args.epochs_scale}; {machine()}",
        flush=True,
    )
    workflow = ImageClassifierWorkflow(n_classes=problem.N_CLASSES, n_jobs=args.n_jobs)
    if not args.blend_only:
        for name in names:
            print(f"== {name}", flush=True)
            train_submission(name, sub_dir / name, X, y, X_test, cv, args, workflow)
    preds, timings = read_predictions(args, names, len(cv))
    rows, result = ladder_table(names, preds, timings, y, y_test, problem)
    table = format_table(rows)
    epochs = f"epochs × {args.epochs_scale}"
    if args.blend_only:
        epochs = f"epochs as trained (copies in {args.out / 'code'})"
    command = "bench/model_ladder.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    report = (
        f"{table}\n\nHonest (nested) hybrid validation accuracy: {result.nested_valid:.3f}. "
        f"Command: `{command.strip()}`; {len(y)} training / {len(y_test)} test images, "
        f"{len(cv)} folds, {epochs}; {machine()}.\n"
    )
    print("\n" + report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ladder.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
