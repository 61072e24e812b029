"""Cost of a submission's bootstrap score intervals (computed once when it is scored).

The SPIPOLL shapes: 16,279 bagged validation rows and 4,069 test rows × 18 classes, the score
types of problem.py, ``--n-boot`` resamples (the ``bootstrap_n`` setting). Measures
``bootstrap_scores`` (vectorized, what the platform runs) and, as the anchor in the same process,
the plain way: the official rampwf score function on each resample (timed on ``--anchor-boot``
resamples and scaled). Also times the whole ``bagged_score_intervals`` of the results service
(3 folds' predictions: bagging + every interval), the figure a scored submission pays.

    .venv/bin/python bench/bench_bootstrap.py [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
N_VALID, N_TEST, D = 16_279, 4_069, 18


def _proba(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    logits = rng.normal(size=(len(y), D)) + 1.2 * np.eye(D)[y]
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--anchor-boot", type=int, default=40, help="resamples of the anchor")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import problem
    from ramp_server.blending.bootstrap import bootstrap_scores
    from ramp_server.blending.scores import from_rampwf
    from ramp_server.services.score_intervals import bagged_score_intervals

    rng = np.random.default_rng(0)
    types = [
        from_rampwf(st, n_classes=D, predictions_cls=problem.Predictions)
        for st in problem.score_types
    ]
    vectorized = [s for s in types if s.kind != "generic"]
    y = rng.integers(0, D, N_VALID)
    proba = _proba(rng, y)

    print(f"{N_VALID} rows x {D} classes, {args.n_boot} resamples")
    print(f"{'score':<10}{'vectorized s':>14}{'official loop s':>17}{'ratio':>8}")
    for s in vectorized:
        t = time.perf_counter()
        bootstrap_scores([s], y, proba, n_boot=args.n_boot)
        fast = time.perf_counter() - t
        idx = rng.integers(0, N_VALID, size=(args.anchor_boot, N_VALID))
        t = time.perf_counter()
        for r in idx:
            s(y[r], proba[r])
        slow = (time.perf_counter() - t) * args.n_boot / args.anchor_boot
        print(f"{s.name:<10}{fast:>14.3f}{slow:>17.2f}{slow / fast:>7.0f}x")
    t = time.perf_counter()
    bootstrap_scores(vectorized, y, proba, n_boot=args.n_boot)
    print(f"all {len(vectorized)} together: {time.perf_counter() - t:.3f} s")

    # what a scored submission pays: 3 folds bagged, valid + test, every vectorized score
    folds = np.array_split(rng.permutation(N_VALID), 3)
    y_test = rng.integers(0, D, N_TEST)
    t = time.perf_counter()
    out = bagged_score_intervals(
        problem,
        official=types[0].name,
        y_train=y,
        valid_indices=folds,
        valid_probas=[_proba(rng, y[f]) for f in folds],
        y_test=y_test,
        test_probas=[_proba(rng, y_test) for _ in folds],
        n_boot=args.n_boot,
    )
    total = time.perf_counter() - t
    print(f"bagged_score_intervals (valid + test, {len(out['valid'])} scores): {total:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
