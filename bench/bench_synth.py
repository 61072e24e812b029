"""Throughput of the synthetic SPIPOLL generator: images/s serial and parallel, full-set estimate.

Prints CPU milliseconds per image (render + JPEG), wall-clock images/s of ``generate`` with one
worker and with ``--jobs`` workers on the same images, their ratio, and the time the full
20,348-image set would take at the parallel rate. On a shared machine the wall figures carry the
other jobs' load; the CPU figure does not.

    .venv/bin/python bench/bench_synth.py --n 1000 --jobs 2
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time

from PIL import Image

from ramp_server.kit.synth import generate, make_plan, render
from ramp_server.kit.synth.plan import image_rng

FULL = 20348


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    plan = make_plan(0, args.n)
    t = time.process_time()
    k = min(args.n, 300)
    for i in range(k):
        pixels = render(int(plan.labels[i]), image_rng(0, i))
        Image.fromarray(pixels).save(io.BytesIO(), format="JPEG", quality=90)
    cpu_ms = (time.process_time() - t) / k * 1000
    print(f"render + JPEG: {cpu_ms:.1f} CPU ms/image")

    rates = {}
    for jobs in (1, args.jobs):
        with tempfile.TemporaryDirectory() as tmp:
            s = generate(tmp, seed=0, n=args.n, n_jobs=jobs, progress=False)
        rates[jobs] = s.n / s.seconds
        print(f"generate n={s.n} n_jobs={jobs}: {s.seconds:.1f}s  {rates[jobs]:.0f} images/s")
    print(f"parallel / serial: {rates[args.jobs] / rates[1]:.2f}x")
    print(f"full set ({FULL} images) at n_jobs={args.jobs}: ~{FULL / rates[args.jobs]:.0f}s wall")
    print(f"  (ideal on {args.jobs} idle cores: ~{FULL * cpu_ms / 1000 / args.jobs:.0f}s)")


if __name__ == "__main__":
    main()
