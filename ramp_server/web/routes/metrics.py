"""``GET /metrics``: the platform's state in the Prometheus text format (``prometheus-client``).

Every figure is read from the database at scrape time (:func:`ramp_server.services.operations.
metrics_snapshot`), so any web process answers for the whole platform (the dispatcher, other web
processes and the workers need no metrics port of their own), and counters survive restarts:
they are counts of rows that only grow. With ``settings.metrics_token`` set, a scrape must send
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from ramp_server.web.deps import Db

router = APIRouter(include_in_schema=False)

#: seconds; a fold of this 64×64 task takes ten seconds to a few minutes on a current GPU
DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
REBLEND_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)
#: fold states counted as finished (a counter) vs in progress (gauges)
FINISHED = ("scored", "error", "cancelled")


def _histogram(
    name: str, doc: str, values: dict[str, list[float]], buckets: Sequence[float]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["event"])
    for event, xs in values.items():
        counts = [sum(1 for x in xs if x <= b) for b in buckets]
        family.add_metric(
            [event],
            [(str(float(b)), float(c)) for b, c in zip(buckets, counts, strict=True)]
            + [("+Inf", float(len(xs)))],
            sum_value=float(sum(xs)),
        )
    return family


class _Snapshot:
    """A one-scrape collector over :func:`metrics_snapshot`'s figures."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Iterable[Any]:
        s = self.snap
        queued = GaugeMetricFamily(
            "ramp_folds_queued", "Folds waiting for a worker.", labels=["event"]
        )
        running = GaugeMetricFamily("ramp_folds_running", "Folds training now.", labels=["event"])
        finished = CounterMetricFamily(
            "ramp_folds_finished", "Folds finished, by outcome.", labels=["event", "state"]
        )
        for event, by_state in s["fold_states"].items():
            queued.add_metric([event], by_state.get("queued", 0))
            running.add_metric([event], by_state.get("training", 0))
            for state in FINISHED:
                finished.add_metric([event, state], by_state.get(state, 0))
        yield queued
        yield running
        yield finished
        yield _histogram(
            "ramp_fold_duration_seconds",
            "Worker seconds of finished folds (as charged to participants).",
            s["fold_durations"],
            DURATION_BUCKETS,
        )
        yield _histogram(
            "ramp_result_latency_seconds",
            "From a fold finished on its worker to its score recorded.",
            s["result_latencies"],
            LATENCY_BUCKETS,
        )
        yield _histogram(
            "ramp_reblend_duration_seconds",
            "Duration of the live re-blends of an event.",
            s["reblend_durations"],
            REBLEND_BUCKETS,
        )
        hybrid = GaugeMetricFamily(
            "ramp_hybrid_valid_score",
            "Official validation score of the latest hybrid model.",
            labels=["event"],
        )
        for event, value in s["hybrid_valid"].items():
            hybrid.add_metric([event], value)
        yield hybrid
        workers = GaugeMetricFamily(
            "ramp_workers",
            "Dask workers by status, as the dispatcher last saw them.",
            labels=["status"],
        )
        for status in ("running", "silent", "retired", "gone"):
            workers.add_metric([status], s["workers"].get(status, 0))
        yield workers


@router.get("/metrics")
def metrics(request: Request, db: Db) -> Response:
    """The Prometheus exposition of the platform's queue, folds, latencies and re-blends."""
    from ramp_server.services.operations import metrics_snapshot

    token = request.app.state.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "send 'Authorization: Bearer <metrics token>'")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics_snapshot(db)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
