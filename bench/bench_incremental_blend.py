"""Benchmark: the live re-blend after one new submission, incremental vs from scratch.

For each N (125, 500, 1,000, 3,000 by default): N candidates x 3 folds x ``--n-valid`` (3,256)
validation rows x 18 classes of float32 predictions in memory (the prediction cache), as the
live re-blend sees them. An :class:`~ramp_server.blending.incremental.IncrementalBlender` is
built on the N candidates, then ``--arrivals`` (100) new submissions arrive one at a time, each
followed by a re-blend (``update``); each is timed. The arrival mix: most are drawn like the
existing ones (rarely useful), ``--strong`` (10%) are as good as the best existing ones
(often picked), ``--best`` (2%) better than all (a new best single model: every path changes
from its first step); ``--out-of-order`` (20%) land at a random earlier place of the candidate order
(scored late). The same run times ``hybrid.blend`` from scratch at the same N (the ratio),
the extras at the largest N, and reports memory.

Run: ``nice -n 10 .venv/bin/python bench/bench_incremental_blend.py`` (``--quick``: small).
The 3,000 point needs about 6 GB of memory.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time

import numpy as np


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f}"


def _generate(rng, strengths, y, shared, dtype=np.float32):
    from ramp_server.blending.synthetic import softmax

    n, d = shared.shape
    out = np.empty((len(strengths), n, d), dtype=dtype)
    rows = np.arange(n)
    for i, s in enumerate(strengths):
        logits = rng.standard_normal((n, d), dtype=np.float32) * 1.2 + shared
        logits[rows, y] += s
        out[i] = softmax(logits * np.float32(rng.uniform(0.8, 1.6)))
    return out


def _timed(fn, **kw):
    """fn(**kw), its CPU time and its wall time (CPU time: what one core spends on it,
    whatever else the machine runs)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(**kw)
    return out, time.process_time() - c0, time.perf_counter() - w0


def _extras(blender, res, common, order, inputs, spare):
    from ramp_server.blending.extras import blend_extras

    N = len(order)
    extras, c, w = _timed(blend_extras, result=res, **common, nested=blender.nested_valid_scores)
    print(
        f"\nextras at N={N}, first call (builds the nested halves from scratch): "
        f"{c:.2f} s CPU, {w:.2f} s wall: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in extras.time_s.items())
        + f"; Shapley: {len(extras.players)} players, "
        f"{extras.shapley.n_permutations} permutations in its 5 s budget"
    )
    order.append(spare)  # one more arrival, then the extras again
    res = blender.update(folds=inputs(order), names=[str(i) for i in order], **common)
    extras, c, w = _timed(blend_extras, result=res, **common, nested=blender.nested_valid_scores)
    print(
        f"extras after one more arrival: {c:.2f} s CPU, {w:.2f} s wall: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in extras.time_s.items())
    )
    folds, halves = blender.nbytes
    print(
        f"kept by the blender: {_gib(folds)} GiB for the folds, {_gib(halves)} GiB for the "
        f"nested halves; process RSS {_gib(_rss())} GiB"
    )


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def main(argv: list[str] | None = None) -> int:
    from ramp_server.blending.hybrid import FoldInput, blend
    from ramp_server.blending.incremental import IncrementalBlender
    from ramp_server.blending.scores import accuracy
    from ramp_server.blending.synthetic import synthetic_labels

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="125,500,1000,3000")
    p.add_argument("--arrivals", type=int, default=100)
    p.add_argument("--n-valid", type=int, default=3256)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--strong", type=float, default=0.1, help="share of strong arrivals")
    p.add_argument("--best", type=float, default=0.02, help="share of new best models")
    p.add_argument("--out-of-order", type=float, default=0.2)
    p.add_argument("--no-scratch", action="store_true", help="skip the from-scratch blends")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.arrivals, args.n_valid = [40, 120], 12, 600
    n_max, A, F, d = max(sizes), args.arrivals, 3, 18
    rng = np.random.default_rng(1)
    y = synthetic_labels(rng, args.n_valid * F, d)
    rows = [np.arange(f * args.n_valid, (f + 1) * args.n_valid) for f in range(F)]
    y_test = synthetic_labels(rng, args.n_test, d)
    strengths = rng.uniform(0.3, 3.0, n_max + A + 1)  # (+1: see the extras)
    # the existing models' strength is uniform in [0.3, 3]: a strong arrival is as good as the
    # best of them (often picked, seldom the best single), a new best is better than all
    kind = rng.random(A)
    strong = kind < args.strong + args.best
    best = kind < args.best
    strengths[n_max : n_max + A][strong] = rng.uniform(2.6, 3.0, strong.sum())
    strengths[n_max : n_max + A][best] = rng.uniform(3.0, 3.4, best.sum())
    t0 = time.perf_counter()
    pool = []  # per fold (n_max + A, n_valid, d): the candidates, then the arrivals
    for f in range(F):
        shared = rng.standard_normal((args.n_valid, d), dtype=np.float32) * 0.8
        pool.append(_generate(rng, strengths, y[rows[f]], shared))
    print(
        f"generated {n_max + A} x {F} folds x {args.n_valid} rows x {d} classes of float32 "
        f"predictions ({_gib(sum(a.nbytes for a in pool))} GiB) in "
        f"{time.perf_counter() - t0:.0f} s; {A} arrivals: {int(strong.sum() - best.sum())} "
        f"strong, {int(best.sum())} new best, "
        f"{args.out_of_order:.0%} out of order"
    )

    def test_of(f, c):  # candidate c's test predictions on fold f (read only when picked)
        t = np.random.default_rng((f, c)).random((args.n_test, d), dtype=np.float32)
        return t / t.sum(1, keepdims=True)

    def inputs(order):
        return [
            FoldInput(
                rows[f],
                [pool[f][c] for c in order],
                lambda i, _f=f, _o=tuple(order): test_of(_f, _o[i]),
            )
            for f in range(F)
        ]

    score = accuracy()
    common = dict(y_train=y, y_test=y_test, score=score)
    kinds = np.where(best, "best", np.where(strong, "strong", "typical"))
    header = (
        f"{'N':>6} {'scratch s':>9} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
        f"{'scratch/p50':>11} {'scratch/p95':>11} {'wall p50':>8} {'wall p95':>8} "
        f"{'changed':>7} {'picked':>6} {'members':>7} {'kept GiB':>8}"
    )
    rows_out = []
    arrival_rng = np.random.default_rng(2)
    for N in sizes:
        order = list(range(N))
        t_scratch = float("nan")
        if not args.no_scratch:
            _, t_scratch, _ = _timed(
                blend, folds=inputs(order), names=[str(i) for i in order], **common
            )
        blender = IncrementalBlender()
        res, t_first, w_first = _timed(
            blender.update, folds=inputs(order), names=[str(i) for i in order], **common
        )
        cpu, wall, changed_any, picked, steps = [], [], [], [], []
        for j in range(A):
            new = n_max + j
            if arrival_rng.random() < args.out_of_order:
                order.insert(int(arrival_rng.integers(0, len(order))), new)
            else:
                order.append(new)
            res, c, w = _timed(
                blender.update, folds=inputs(order), names=[str(i) for i in order], **common
            )
            cpu.append(c)
            wall.append(w)
            changed = [s for s in blender.changed_from if s is not None]
            changed_any.append(bool(changed))
            steps.append(min(changed, default=None))
            picked.append(any(res.names.index(str(new)) in p for p in res.picks))
        t, tw = np.array(cpu), np.array(wall)
        p50, p95 = np.percentile(t, 50), np.percentile(t, 95)
        rows_out.append(
            f"{N:6d} {t_scratch:9.2f} {p50:7.3f} {p95:7.3f} {t.max():7.3f} "
            f"{t_scratch / p50:11.1f} {t_scratch / p95:11.1f} "
            f"{np.percentile(tw, 50):8.3f} {np.percentile(tw, 95):8.3f} "
            f"{sum(changed_any):7d} {sum(picked):6d} "
            f"{np.mean([len(p) for p in res.picks]):7.1f} {_gib(blender.nbytes[0]):>8}"
        )
        print(f"\nN={N}: first update (from scratch) {t_first:.2f} s CPU, {w_first:.2f} s wall")
        print(f"  {'arrivals':>16} {'n':>4} {'changed a path':>14} {'mean s':>7} {'max s':>7}")
        for kind in ("typical", "strong", "best"):
            sel = kinds == kind
            if sel.any():
                print(
                    f"  {kind:>16} {sel.sum():4d} {sum(np.array(changed_any)[sel]):14d} "
                    f"{t[sel].mean():7.3f} {t[sel].max():7.3f}"
                )
        moved = sorted((s, round(x, 2)) for s, x in zip(steps, cpu, strict=True) if s is not None)
        print(f"  changed paths: (first changed step, CPU s) {moved}")
        print(header)
        print(rows_out[-1], flush=True)
        if N == max(sizes):
            _extras(blender, res, common, order, inputs, n_max + A)
        del blender, res
        gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"\n== summary: re-blend after one new submission, {A} arrivals, 3 folds")
    print(header)
    for line in rows_out:
        print(line)
    print("(times: CPU seconds of the process, one core; wall: under this machine's load)")
    print(f"peak RSS of the process: {_gib(peak)} GiB (the raw predictions included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
