"""The day's figures: result latency, hybrid staleness, worker utilisation, queue waits, web
latency per page, and whether the workers kept up (all from the database and the observer)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from load.participant import Sample
from load.report import percentile

from .checks import DayRecords
from .observer import Observed
from .plan import Arrival


def spread(values: list[float]) -> str:
    """``p50 / p95 / max (n)`` of ``values`` in seconds, or ``none``."""
    if not values:
        return "none"
    v = sorted(values)
    return f"p50 {percentile(v, 0.5):.2f} s, p95 {percentile(v, 0.95):.2f} s, max {v[-1]:.2f} s (n={len(v)})"


@dataclass
class Figures:
    """Every printed figure (seconds unless said otherwise)."""

    latency_api: list[float] = field(default_factory=list)
    latency_db: list[float] = field(default_factory=list)
    staleness_api: list[float] = field(default_factory=list)
    staleness_db: list[float] = field(default_factory=list)
    never_blended: int = 0
    utilisation_queued: float = float("nan")
    queued_share: float = 0.0
    wait_all: list[float] = field(default_factory=list)
    wait_burst_first: list[float] = field(default_factory=list)
    wait_single: list[float] = field(default_factory=list)
    backlog_at_deadline: int = 0
    drain_s: float = 0.0
    fold_s: list[float] = field(default_factory=list)
    #: folds the dispatcher recorded per second: in the busiest minute, and over the day
    recorded_peak: float = 0.0
    recorded_mean: float = 0.0


def _last_worker_finish(rec: DayRecords, sid: int) -> float | None:
    ends = [rec.folds[(sid, k)]["worker_finished"] for k in range(rec.n_folds)]
    return None if any(e is None for e in ends) else max(ends)


def compute(
    rec: DayRecords,
    obs: Observed,
    *,
    plan_by_id: dict[int, Arrival],
    workers: int,
    day_start: float,
    day_s: float,
) -> Figures:
    """All figures of one day (``day_start``: POSIX time of the opening)."""
    f = Figures()
    scored = [sid for sid, s in rec.submissions.items() if s["state"] == "scored"]
    # result latency: the worker finished the last fold -> the score is visible
    for sid in scored:
        end = _last_worker_finish(rec, sid)
        if end is None:
            continue
        if rec.submissions[sid]["finished"] is not None:
            f.latency_db.append(rec.submissions[sid]["finished"] - end)
        if sid in obs.scored_seen:
            f.latency_api.append(obs.scored_seen[sid] - end)
    # staleness: the score visible -> the first blend that read it is visible
    blends = sorted(
        (b["started"], b["computed"], bid) for bid, b in rec.blends.items() if b["started"]
    )
    starts = np.array([b[0] for b in blends])
    for sid in scored:
        done = rec.submissions[sid]["finished"]
        i = int(np.searchsorted(starts, done, side="left")) if len(starts) else 0
        if i >= len(blends):
            f.never_blended += 1
            continue
        _, computed, bid = blends[i]
        f.staleness_db.append(computed - done)
        if sid in obs.scored_seen and bid in obs.blend_seen:
            f.staleness_api.append(max(0.0, obs.blend_seen[bid] - obs.scored_seen[sid]))
    _queue_figures(f, rec, plan_by_id=plan_by_id, workers=workers)
    _capacity(f, rec, workers=workers, day_start=day_start, day_s=day_s)
    return f


def _queue_figures(
    f: Figures, rec: DayRecords, *, plan_by_id: dict[int, Arrival], workers: int
) -> None:
    busy, queued = [], []
    for sid, s in rec.submissions.items():
        folds = [rec.folds[(sid, k)] for k in range(rec.n_folds) if (sid, k) in rec.folds]
        starts = [x["started"] for x in folds if x["started"] is not None]
        if starts:
            wait = min(starts) - s["submitted"]
            f.wait_all.append(wait)
            a = plan_by_id.get(sid)
            if a is not None and a.first_of_burst:
                f.wait_burst_first.append(wait)
            elif a is not None and a.burst is None:
                f.wait_single.append(wait)
        for x in folds:
            end = x["worker_finished"] or x["finished"]
            if x["started"] is not None and end is not None:
                busy.append((x["started"], end))
                f.fold_s.append(end - x["started"])
            queued.append((s["submitted"], x["started"] if x["started"] else math.inf))
    if not busy:
        return
    t0 = min(q[0] for q in queued)
    t1 = max(b[1] for b in busy)
    grid = np.arange(t0, t1, 0.2)
    b_start, b_end = np.sort([b[0] for b in busy]), np.sort([b[1] for b in busy])
    q_start, q_end = np.sort([q[0] for q in queued]), np.sort([q[1] for q in queued])
    n_busy = np.searchsorted(b_start, grid, "right") - np.searchsorted(b_end, grid, "right")
    n_queued = np.searchsorted(q_start, grid, "right") - np.searchsorted(q_end, grid, "right")
    waiting = n_queued > 0
    f.queued_share = float(waiting.mean())
    if waiting.any():
        f.utilisation_queued = float(np.minimum(n_busy[waiting], workers).mean() / workers)


def _capacity(f: Figures, rec: DayRecords, *, workers: int, day_start: float, day_s: float) -> None:
    """On this machine: folds not started at the deadline, time to drain them, and how fast
    the dispatcher recorded results (its throughput bounds the compressed day)."""
    deadline = day_start + day_s
    last_end = deadline
    for (sid, _k), x in rec.folds.items():
        if rec.submissions[sid]["submitted"] <= deadline and (
            x["started"] is None or x["started"] > deadline
        ):
            f.backlog_at_deadline += 1
        if x["finished"] is not None:
            last_end = max(last_end, x["finished"])
    f.drain_s = last_end - deadline
    done = np.sort([x["finished"] for x in rec.folds.values() if x["finished"] is not None])
    if len(done) > 1:
        in_minute = np.searchsorted(done, done + 60.0, "left") - np.arange(len(done))
        f.recorded_peak = float(in_minute.max()) / 60.0
        f.recorded_mean = len(done) / max(1e-9, done[-1] - day_start)


def page_table(samples: list[Sample], pages: tuple[str, ...]) -> str:
    """One row per page kind: requests, p50, p95, max (ms), server errors, p95 / anchor p95."""
    by: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by[s.page].append(s)
    anchor = sorted(s.latency_s for s in by.get(pages[0], []))
    anchor_p95 = percentile(anchor, 0.95) if anchor else float("nan")
    lines = [
        f"{'page':34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'5xx':>5} {'p95/anchor':>10}"
    ]
    for page in [*pages, *sorted(set(by) - set(pages))]:
        got = by.get(page)
        if not got:
            continue
        lat = sorted(s.latency_s for s in got)
        p95 = percentile(lat, 0.95)
        errors = sum(1 for s in got if s.status is None or s.status >= 500)
        lines.append(
            f"{page:34} {len(lat):6d} {percentile(lat, 0.5) * 1e3:8.1f} {p95 * 1e3:8.1f} "
            f"{lat[-1] * 1e3:8.1f} {errors:5d} {p95 / anchor_p95:10.1f}"
        )
    return "\n".join(lines)
