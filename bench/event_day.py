"""A compressed event day on the deployed shape: 300 participants, 3,000 submissions, 8 GPUs.

Everything runs on 127.0.0.1: a throwaway PostgreSQL database (created and dropped here), a
``dask scheduler``, ``--workers`` (8) ``dask worker --resources GPU=1 --nthreads 1`` processes
standing in for GPUs, ``ramp-server serve --workers 2 --no-dispatcher`` and ``ramp-server
dispatch --scheduler``, on a GPU event (folds request ``GPU=1``). Training is simulated in the
workers (``RAMP_ENGINE_SIMULATION``, benchmarks only: a seeded heavy-tailed sleep of 10 s to
5 min of event time, compressed by ``--time-scale``, and generated predictions of each
participant's skill and style); ``--real-sandbox-share`` (20) submissions run the starting kit
(one epoch) in the real sandbox. Dispatcher, Dask task, result recording, scoring, live
blending and pages are the real path.

The day is 10 event hours in ``36000 / --time-scale`` seconds: a slow morning, a steady
afternoon, a rush in the last hour; some participants submit in bursts of 10-20; one in ten
uses the web form (login, CSRF), the others the API with their tokens; all poll their
submission pages and the leaderboard while their work is pending. An organiser's token polls
the API once a second to see when scores and blends become visible. The day stops by itself
(everything finished, or ``--drain-max`` seconds after the deadline).

Printed: result latency (fold finished on the worker → score visible through the API),
hybrid staleness (score visible → a blend containing it visible), worker utilisation while
work is queued, queue waits (first submission of a burst), web latency per page against the
anchor ``/static/style.css`` and server errors, the correctness checks (nothing lost, stuck,
duplicated or scored twice, every fold accounted for), the database size and the full
re-blend time against N, whether the workers kept up and how many the day needed.
Timings are printed, never asserted; ``tests/bench/test_event_day.py`` runs ``--quick``.

    .venv/bin/python bench/event_day.py                 # the default day (~30 min on 2 cores)
    .venv/bin/python bench/event_day.py --quick         # a tiny day (~1-2 min)
    .venv/bin/python bench/event_day.py --plot curve.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from eventday import DayConfig, DayReport, run_day
from eventday.crowd import PAGES
from eventday.figures import page_table, spread
from load.pgdb import PG_ADMIN_URL, throwaway_database

QUICK = DayConfig(
    participants=8,
    submissions=24,
    workers=3,
    time_scale=720.0,
    real_sandbox_share=1,
    web_every=3,
    poll_s=3.0,
    drain_max_s=900.0,  # the quick day drains: its test checks that nothing is left
    images=300,
)


def report_text(r: DayReport) -> str:
    """The printed report."""
    c, f, rec = r.config, r.figures, r.records
    scored = sum(1 for s in rec.submissions.values() if s["state"] == "scored")
    kept_up = f.backlog_at_deadline <= c.workers and not rec.unfinished
    rp = r.replay
    lines = [
        f"event day: {c.participants} participants, {r.planned} planned submissions "
        f"({r.accepted} accepted, {scored} scored), {c.workers} GPU workers, time scale "
        f"{c.time_scale:g} (day {c.day_s:.0f} s), {rec.n_folds} folds each",
        f"machine: {r.machine}; load average before the run {r.load_before:.1f}; "
        f"wall {r.wall_s:.0f} s",
        "",
        f"result latency (worker finished the last fold -> score visible through the API, "
        f"polled every 1 s): {spread(f.latency_api)}   [goal p95 <= 5 s]",
        f"   the same to the database commit: {spread(f.latency_db)}",
        f"hybrid staleness (score visible -> a blend containing it visible): "
        f"{spread(f.staleness_api)}   [goal p95 <= 10 s]",
        f"   the same by commit times: {spread(f.staleness_db)}; never blended: {f.never_blended}",
        f"worker utilisation while work was queued: {f.utilisation_queued:.1%} of "
        f"{c.workers} workers (work was queued {f.queued_share:.0%} of the time)   [goal >= 95%]",
        f"queue wait, first fold started - submitted: all {spread(f.wait_all)}",
        f"   first submission of a burst: {spread(f.wait_burst_first)}",
        f"   single submissions: {spread(f.wait_single)}",
        f"fold durations on the workers (compressed): {spread(f.fold_s)}",
        f"on this machine: {f.backlog_at_deadline} folds not started at the deadline, the "
        f"last recorded {f.drain_s:.0f} s after it: "
        + ("kept up" if kept_up else "did NOT keep up")
        + f"; the dispatcher recorded {f.recorded_mean:.2f} folds/s over the day, "
        f"{f.recorded_peak:.2f} in its busiest minute",
        "CPU seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in r.cpu_s.items())
        + (
            f" (dispatch, with the re-blender: {r.cpu_s.get('dispatch', 0) / max(1, len(f.fold_s)):.2f} s per fold run)"
            if r.cpu_s
            else ""
        ),
        "in event time (the plan's fold durations, platform overhead left out): GPUs busy per "
        "hour " + " ".join(f"{h:.1f}" for h in r.hourly),
        f"   on {c.workers} GPUs: p95 wait of a first fold {rp.wait_p95_s / 60:.1f} min, last "
        f"fold {rp.drain_s / 60:.0f} min after the deadline: "
        + ("they keep up" if rp.keeps_up else "they do NOT keep up")
        + f"; the fewest that keep up: {r.needed} (p95 wait <= 10 min, done <= 15 min after "
        "the deadline)",
        "",
        page_table(r.samples, (*PAGES, "observer: all submissions (API)")),
        f"server errors (5xx): {len(r.server_errors)}; connection errors: "
        f"{sum(1 for s in r.samples if s.status is None)}; server tracebacks: {len(r.tracebacks)}; "
        f"web worker processes killed and restarted by uvicorn: {len(r.web_restarts)}",
        # the logs live in a temporary folder: the report is where a traceback survives the run
        *[f"   server traceback:\n{tb[-3000:]}" for tb in r.tracebacks[:3]],
        "",
        f"checks: {len(r.problems) + len(rec.problems)} problems, {len(rec.unfinished)} "
        f"submissions still waiting at the stop, "
        f"{sum(1 for _ in rec.folds)} folds for {len(rec.submissions)} submissions "
        f"({len(rec.submissions) * rec.n_folds} expected), {rec.real_folds} trained in the real "
        "sandbox",
        *[f"   {p}" for p in (r.problems + rec.problems)[:30]],
        "",
        "database size against scored submissions: "
        + ", ".join(f"{n}: {b / 2**20:.1f} MiB" for n, b in r.observed.db_size),
        "live (incremental) re-blends: " + _live_blend_bins(r.live_blends),
        "full re-blend from scratch (blend computation only) against N: "
        + ", ".join(f"{n}: {s:.2f} s" for n, s in r.curve),
    ]
    if r.full_reblend:
        n, s = r.full_reblend
        lines.append(
            f"the platform's full re-blend (database -> blender -> database) at N={n}: {s:.2f} s"
        )
    return "\n".join(lines)


def _live_blend_bins(blends: list[tuple[int, float]]) -> str:
    if not blends:
        return "none"
    out, edges = [], [0, 100, 250, 500, 1000, 2000, 3000, 10**9]
    for lo, hi in zip(edges, edges[1:], strict=False):
        d = sorted(s for n, s in blends if lo < n <= hi)
        if d:
            out.append(
                f"N {lo + 1}-{min(hi, max(n for n, _ in blends))}: {len(d)} blends, "
                f"median {d[len(d) // 2]:.2f} s, max {d[-1]:.2f} s"
            )
    return "; ".join(out)


def plot(r: DayReport, path: Path) -> str:
    """The database size and the full re-blend time against N, as a PNG (or why not)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: see the text figures"
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot([n for n, _ in r.observed.db_size], [s / 2**20 for _, s in r.observed.db_size], "o-")
    a.set(xlabel="scored submissions", ylabel="database size (MiB)", title="database")
    b.plot([n for n, _ in r.curve], [s for _, s in r.curve], "o-", label="full blend")
    if r.live_blends:
        b.plot(*zip(*r.live_blends, strict=True), ".", alpha=0.4, label="live re-blends")
    b.set(xlabel="submissions N", ylabel="seconds", title="re-blend time")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return f"plot written to {path}"


def main(argv: list[str] | None = None) -> int:
    d = DayConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny day (~1-2 min)")
    parser.add_argument("--participants", type=int, default=d.participants)
    parser.add_argument("--submissions", type=int, default=d.submissions)
    parser.add_argument("--workers", type=int, default=d.workers, help="GPU worker processes")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=d.time_scale,
        help=f"event time / wall time (default {d.time_scale:g}: 10 h in {d.day_s:.0f} s)",
    )
    parser.add_argument(
        "--real-sandbox-share",
        type=int,
        default=d.real_sandbox_share,
        help="submissions trained in the real sandbox",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=d.poll_s,
        help="seconds between a waiting participant's looks at its pages",
    )
    parser.add_argument(
        "--drain-max",
        type=float,
        default=d.drain_max_s,
        help="stop this long after the deadline even if work is pending",
    )
    parser.add_argument("--images", type=int, default=d.images, help="synthetic kit size")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--postgres",
        default=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help="server on which the throwaway database is created",
    )
    parser.add_argument("--plot", type=Path, default=None, help="write the curves to this PNG")
    parser.add_argument("--keep", action="store_true", help="keep the temporary storage dir")
    args = parser.parse_args(argv)
    if args.quick:
        cfg = QUICK
    else:
        cfg = DayConfig(
            participants=args.participants,
            submissions=args.submissions,
            workers=args.workers,
            time_scale=args.time_scale,
            real_sandbox_share=args.real_sandbox_share,
            poll_s=args.poll,
            drain_max_s=args.drain_max,
            images=args.images,
            seed=args.seed,
        )
    from ramp_server.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="ramp_event_day_"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(throwaway_database(args.postgres, prefix="ramp_event_day"))
            settings = load_settings(storage_dir=work / "storage", database_url=url)
            report = run_day(settings, cfg, work=work)
        print(report_text(report))
        if args.plot:
            print(plot(report, args.plot))
        bad = report.problems or report.records.problems or report.server_errors
        return 1 if bad or report.tracebacks else 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
