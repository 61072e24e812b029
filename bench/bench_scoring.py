"""Benchmark: scoring one fold's predictions, rampwf's score types vs ``score_predictions``.

The dispatcher scores every finished fold (validation and test predictions, every score type of
``problem.py``) before it records it; this was half of its per-fold cost while rampwf's score
types went through scikit-learn's per-call input checks. ``ramp_server.kit.exact_scores`` gives
bit-identical fast forms of the classification score types; this bench times both on the same
arrays, in the same process (rampwf is the anchor), and checks that every score is identical.

Run: ``.venv/bin/python bench/bench_scoring.py [--rows 3256] [--repeat 50]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _rampwf_scores(problem, y_true: np.ndarray, y_proba: np.ndarray) -> dict[str, float]:
    truth = problem.Predictions(y_true=y_true)
    pred = problem.Predictions(y_pred=y_proba)
    return {st.name: float(st.score_function(truth, pred)) for st in problem.score_types}


def _time(fn, repeat: int) -> float:
    fn()  # warm caches and imports
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3256, help="rows per fold (the real kit's)")
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per method")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")

    from ramp_server.kit.scoring import load_problem, score_predictions

    problem = load_problem(REPO)
    n_classes = len(problem.Predictions.label_names)
    rng = np.random.default_rng(args.seed)
    y_true = rng.integers(0, n_classes, size=args.rows)
    logits = rng.normal(size=(args.rows, n_classes))
    logits[np.arange(args.rows), y_true] += 2.5  # ~0.7 accuracy, as the 2015 winner
    y_proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    ours = score_predictions(problem, y_true=y_true, y_proba=y_proba)
    theirs = _rampwf_scores(problem, y_true, y_proba)
    identical = all(ours[k] == theirs[k] for k in theirs) and ours.keys() == theirs.keys()

    t_rampwf = _time(lambda: _rampwf_scores(problem, y_true, y_proba), args.repeat)
    t_ours = _time(lambda: score_predictions(problem, y_true=y_true, y_proba=y_proba), args.repeat)
    print(f"{args.rows} rows x {n_classes} classes, score types: {', '.join(theirs)}")
    print(f"rampwf score types (anchor): {t_rampwf * 1e3:8.2f} ms per fold")
    print(f"score_predictions:           {t_ours * 1e3:8.2f} ms per fold")
    print(f"ratio: {t_rampwf / t_ours:.1f}x faster; scores bit-identical: {identical}")
    for name in theirs:
        print(f"  {name:>10}: {ours[name]!r}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
