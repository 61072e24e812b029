"""How many GPUs the day's plan needs, in event time, whatever this machine's load.

The simulated fold durations are a function of the plan (``simulation.fold_duration_s``), so
the demand is known exactly: the fold time arriving in each event hour, and a replay of the
day on W workers (each fold to the first free worker, in arrival order, platform overhead
left out) giving the queue wait and when the last fold ends. A number of workers keeps up when
the p95 wait of a submission's first fold stays under :data:`KEEP_UP_WAIT_S` and the last fold
ends within :data:`KEEP_UP_DRAIN_S` of the deadline.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from ramp_server.engine.simulation import fold_duration_s

from .plan import DAY_HOURS, Arrival

KEEP_UP_WAIT_S = 10 * 60.0
KEEP_UP_DRAIN_S = 15 * 60.0


@dataclass(frozen=True)
class Replay:
    """One replay of the day on ``workers`` workers (event seconds)."""

    workers: int
    wait_p95_s: float
    drain_s: float  # the last fold's end after the deadline (0: before it)

    @property
    def keeps_up(self) -> bool:
        return self.wait_p95_s <= KEEP_UP_WAIT_S and self.drain_s <= KEEP_UP_DRAIN_S


def _event_s(a: Arrival, day_s: float) -> float:
    return a.at_s / day_s * DAY_HOURS * 3600


def hourly_demand(plan: list[Arrival], *, day_s: float, n_folds: int) -> list[float]:
    """Workers busy on average in each event hour if each fold ran when it arrived."""
    hours = [0.0] * int(DAY_HOURS)
    for a in plan:
        h = min(int(_event_s(a, day_s) // 3600), len(hours) - 1)
        hours[h] += sum(fold_duration_s(a.seed, k) for k in range(n_folds)) / 3600
    return hours


def replay(plan: list[Arrival], *, day_s: float, n_folds: int, workers: int) -> Replay:
    """The day on ``workers`` workers, folds in arrival order."""
    free = [0.0] * workers
    waits, last = [], 0.0
    for a in sorted(plan, key=lambda x: x.at_s):
        t = _event_s(a, day_s)
        first = None
        for k in range(n_folds):
            start = max(t, heapq.heappop(free))
            end = start + fold_duration_s(a.seed, k)
            heapq.heappush(free, end)
            first = start if first is None else first
            last = max(last, end)
        waits.append(first - t)
    wait_p95 = float(np.percentile(waits, 95)) if waits else 0.0
    return Replay(workers, wait_p95, max(0.0, last - DAY_HOURS * 3600))


def workers_needed(plan: list[Arrival], *, day_s: float, n_folds: int, limit: int = 256) -> int:
    """The fewest workers that keep up (see the module doc); ``limit`` when none does."""
    lo, hi = 1, limit
    if not replay(plan, day_s=day_s, n_folds=n_folds, workers=hi).keeps_up:
        return limit
    while lo < hi:
        mid = (lo + hi) // 2
        if replay(plan, day_s=day_s, n_folds=n_folds, workers=mid).keeps_up:
            hi = mid
        else:
            lo = mid + 1
    return lo
