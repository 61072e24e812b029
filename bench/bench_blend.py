"""Benchmark: our blender vs rampwf's ``ramp-blend`` on the same saved outputs, side by side.

1. A synthetic kit with ``--n-submissions`` (100) x 3 folds x ``--n-train`` (16,000) rows x 18
   classes of saved outputs in rampwf's layout (float64, ``savez_compressed``, as ``ramp-test
   --save-output`` writes them). rampwf's ``blend_submissions`` (what ``ramp-blend`` runs) and our
   ``blend_kit`` (what ``ramp-server blend`` runs) blend the first ``--rampwf-n`` submissions,
   both timed end to end (reading the files included); the output CSVs must be identical.
2. Our blender alone, in memory (the live re-blend with every file already in the cache), on
   ``--big-n`` (1,000) submissions x 3 folds x 3,400 validation rows x 18 classes, and the same
   for fewer submissions to show how the time grows with N; plus the cold cost of reading the
   prediction store (float32 files) measured on a sample and extrapolated.

Run: ``.venv/bin/python bench/bench_blend.py`` (``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _bench_against_rampwf(args: argparse.Namespace, work: Path) -> None:
    from rampwf.utils.testing import blend_submissions

    from ramp_server.blending.offline import blend_kit
    from ramp_server.blending.synthetic import write_synthetic_kit

    kit = work / "kit"
    t0 = time.perf_counter()
    names = write_synthetic_kit(
        kit,
        n_submissions=args.n_submissions,
        n_train=args.n_train,
        n_test=args.n_test,
        n_classes=18,
        seed=0,
        progress=True,
    )
    print(
        f"wrote {len(names)} submissions x 3 folds of saved outputs in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    subs = names[: args.rampwf_n]
    sub_dir = kit / "submissions"
    out = sub_dir / "training_output"
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blend_submissions(
            subs,
            ramp_kit_dir=str(kit),
            ramp_data_dir=str(kit),
            ramp_submission_dir=str(sub_dir),
            save_output=True,
        )
    t_rampwf = time.perf_counter() - t0
    theirs = {p.name: p.read_text() for p in out.glob("*.csv")}
    shutil.rmtree(out)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, _, _ = blend_kit(
            ramp_kit_dir=kit,
            ramp_data_dir=kit,
            ramp_submission_dir=sub_dir,
            submissions=subs,
            save_output=True,
            progress=False,
        )
    t_ours = time.perf_counter() - t0
    ours = {p.name: p.read_text() for p in out.glob("*.csv")}
    same = ours == theirs and len(ours) == 3
    sizes = [len(p) for p in result.picks]
    print(
        f"\n== ramp-blend vs ramp-server blend: {len(subs)} submissions x 3 folds x "
        f"{args.n_train} rows x 18 classes (files read included)"
    )
    print(f"rampwf blend_submissions : {t_rampwf:8.2f} s")
    print(f"ours (blend_kit)         : {t_ours:8.2f} s   (of which blending {result.time_s:.2f} s)")
    print(f"speed-up                 : {t_rampwf / t_ours:8.1f} x")
    print(f"identical CSV outputs (picks per fold, contributivities, scores): {same}")
    print(f"ensemble sizes per fold  : {sizes}")
    if not same:
        for name in theirs:
            if theirs[name] != ours.get(name):
                print(f"--- differs: {name}\nrampwf:\n{theirs[name]}\nours:\n{ours.get(name)}")


def _fold_arrays(rng, n_subs, n_valid, d, y):
    from ramp_server.blending.synthetic import softmax

    shared = rng.standard_normal((n_valid, d), dtype=np.float32) * 0.8
    out = np.empty((n_subs, n_valid, d), dtype=np.float32)
    for i in range(n_subs):
        logits = rng.standard_normal((n_valid, d), dtype=np.float32) * 1.2 + shared
        logits[np.arange(n_valid), y] += rng.uniform(0.3, 3.0)
        out[i] = softmax(logits * np.float32(rng.uniform(0.8, 1.6)))
    return out


def _bench_big(args: argparse.Namespace, work: Path) -> None:
    from ramp_server.blending.hybrid import FoldInput, blend
    from ramp_server.blending.scores import accuracy
    from ramp_server.blending.store import PredictionCache, write_fold_predictions
    from ramp_server.blending.synthetic import synthetic_labels

    rng = np.random.default_rng(1)
    n_valid, d, F = args.n_valid, 18, 3
    n_train = n_valid * F
    y = synthetic_labels(rng, n_train, d)
    rows = [np.arange(f * n_valid, (f + 1) * n_valid) for f in range(F)]
    print(f"\n== our blender, in memory: N x 3 folds x {n_valid} validation rows x 18 classes")
    t0 = time.perf_counter()
    arrays = [_fold_arrays(rng, args.big_n, n_valid, d, y[r]) for r in rows]
    print(
        f"(generated {args.big_n} x 3 folds of float32 predictions in "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    y_test = synthetic_labels(rng, 1000, d)

    def test_loader(f):
        def load(i):
            g = np.random.default_rng((f, i))
            p = g.random((len(y_test), d), dtype=np.float32)
            return p / p.sum(1, keepdims=True)

        return load

    sizes = [n for n in (args.big_n // 8, args.big_n // 4, args.big_n // 2, args.big_n) if n]
    print(f"{'N':>6s} {'time (s)':>9s} {'s per 100 subs':>15s} {'ensemble sizes':>20s}")
    for n in sizes:
        folds = [FoldInput(rows[f], list(arrays[f][:n]), test_loader(f)) for f in range(F)]
        res = blend(folds=folds, y_train=y, y_test=y_test, score=accuracy())
        print(
            f"{n:6d} {res.time_s:9.2f} {100 * res.time_s / n:15.3f} "
            f"{str([len(p) for p in res.picks]):>20s}"
        )
    # cold reads of the prediction store (float32 files), on a sample, extrapolated
    sample = min(100, args.big_n)
    store = work / "store"
    for i in range(sample):
        for f in range(F):
            write_fold_predictions(
                store / str(i) / f"fold_{f}.npz",
                valid_indices=rows[f],
                valid_proba=arrays[f][i],
                test_proba=arrays[f][i][:1000],
            )
    cache = PredictionCache()
    t0 = time.perf_counter()
    for i in range(sample):
        for f in range(F):
            cache.get(store / str(i) / f"fold_{f}.npz")
    t_read = time.perf_counter() - t0
    print(
        f"cold store reads: {sample * F} files in {t_read:.2f} s -> about "
        f"{t_read * args.big_n / sample:.1f} s for {args.big_n} submissions (once; a re-blend "
        "after a new submission reads only its 3 files)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-submissions", type=int, default=100)
    p.add_argument("--rampwf-n", type=int, default=100, help="submissions given to both blenders")
    p.add_argument("--n-train", type=int, default=16000)
    p.add_argument("--n-test", type=int, default=4000)
    p.add_argument("--big-n", type=int, default=1000)
    p.add_argument("--n-valid", type=int, default=3400)
    p.add_argument("--skip-rampwf", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.n_submissions, args.rampwf_n, args.n_train, args.n_test = 12, 12, 900, 200
        args.big_n, args.n_valid = 80, 500
    with tempfile.TemporaryDirectory(prefix="bench_blend_") as tmp:
        if not args.skip_rampwf:
            _bench_against_rampwf(args, Path(tmp))
        if args.big_n > 0:
            _bench_big(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
