"""What the organisers watch while an event runs: the queue, the workers, throughput, re-blends.

Read-only views over the engine's state in the database, plus :func:`record_workers`, the
dispatcher's snapshot of its Dask workers (``engine_workers``), so that any web process can show
the cluster without a Dask client of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    Blend,
    EngineWorker,
    Event,
    FoldState,
    Submission,
    SubmissionFold,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services.scheduling import queue_plan

#: buckets of the throughput chart (minutes)
THROUGHPUT_BUCKET_MIN = 5


def queue_rows(session: Session, *, limit: int = 500) -> list[dict[str, Any]]:
    """Queued and training submissions, platform-wide, in fair-share order (training first),
    with their folds."""
    positions = queue_plan(session).positions
    subs = list(
        session.scalars(
            select(Submission).where(
                Submission.state.in_([SubmissionState.QUEUED, SubmissionState.TRAINING])
            )
        )
    )
    subs.sort(key=lambda s: (positions.get(s.id, 0), s.queued_at or s.submitted_at, s.id))
    return [
        {"position": positions.get(sub.id), "sub": sub, "folds": list(sub.folds)}
        for sub in subs[:limit]
    ]


def record_workers(
    session: Session,
    *,
    workers: list[dict[str, Any]],
    retired: dict[str, str],
    now: datetime | None = None,
) -> None:
    """Store the dispatcher's view of its workers (**commits**): each row of ``workers`` is
    upserted by address; workers no longer seen are ``gone``; ``retired`` (address -> why) are
    marked so with the reason."""
    now = now or utcnow()
    rows = {w.address: w for w in session.scalars(select(EngineWorker))}
    seen = set()
    for data in workers:
        address = data["address"]
        seen.add(address)
        row = rows.get(address)
        if row is None:
            row = EngineWorker(address=address, first_seen=now)
            session.add(row)
        for key in ("name", "host", "resources", "nthreads", "status", "last_seen", "running"):
            setattr(row, key, data.get(key))
        row.note = None
        row.updated_at = now
    for address, row in rows.items():
        if address in retired:
            row.status, row.note, row.running = "retired", retired[address][:1000], []
        elif address not in seen and row.status != "gone":
            row.status, row.running = "gone", []
        if address not in seen:
            row.updated_at = now
    for address, why in retired.items():
        if address not in rows and address not in seen:
            session.add(
                EngineWorker(
                    address=address, status="retired", note=why[:1000], first_seen=now, running=[]
                )
            )
    session.commit()


def worker_rows(session: Session) -> list[dict[str, Any]]:
    """Every worker the dispatcher has seen, alive first: resources, what it runs and since
    when, its last heartbeat and how many folds it finished."""
    done = dict(
        session.execute(
            select(SubmissionFold.worker, func.count())
            .where(
                SubmissionFold.worker.is_not(None),
                SubmissionFold.state.in_([FoldState.SCORED, FoldState.ERROR]),
            )
            .group_by(SubmissionFold.worker)
        ).all()
    )
    order = {"running": 0, "silent": 1, "retired": 2, "gone": 3}
    rows = sorted(
        session.scalars(select(EngineWorker)),
        key=lambda w: (order.get(w.status, 9), w.address),
    )
    return [
        {
            "address": w.address,
            "name": w.name,
            "host": w.host,
            "resources": w.resources or {},
            "nthreads": w.nthreads,
            "status": w.status,
            "last_seen": w.last_seen,
            "updated_at": w.updated_at,
            "running": w.running or [],
            "folds_done": int(done.get(w.address, 0)),
            "note": w.note,
        }
        for w in rows
    ]


def retried_folds(session: Session, *, event: Event, limit: int = 100) -> list[dict[str, Any]]:
    """Folds of the event that needed more than one attempt or were requeued after a fault,
    newest first, with what happened to them."""
    rows = session.execute(
        select(SubmissionFold, Submission.name, User.name)
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, SubmissionFold.notes.is_not(None))
        .order_by(SubmissionFold.updated_at.desc(), SubmissionFold.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "submission_id": f.submission_id,
            "submission": name,
            "user": user,
            "fold": f.fold,
            "state": f.state.value,
            "attempts": f.attempts,
            "notes": f.notes or [],
        }
        for f, name, user in rows
    ]


def throughput(
    session: Session, *, event: Event, hours: float = 1.0, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Folds of the event finished per :data:`THROUGHPUT_BUCKET_MIN` minutes over the last
    ``hours`` (oldest bucket first), with their mean result latency (worker finish → score)."""
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    rows = session.execute(
        select(SubmissionFold.finished_at, SubmissionFold.worker_finished_at, SubmissionFold.state)
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(
            Submission.event_id == event.id,
            SubmissionFold.finished_at >= since,
            SubmissionFold.state.in_([FoldState.SCORED, FoldState.ERROR]),
        )
    ).all()
    width = timedelta(minutes=THROUGHPUT_BUCKET_MIN)
    n = max(1, int(timedelta(hours=hours) / width))
    buckets = [
        {"start": since + i * width, "scored": 0, "failed": 0, "latencies": []} for i in range(n)
    ]
    for finished, worker_finished, state in rows:
        i = min(n - 1, int((finished - since) / width))
        buckets[i]["scored" if state == FoldState.SCORED else "failed"] += 1
        if worker_finished is not None:
            buckets[i]["latencies"].append((finished - worker_finished).total_seconds())
    for b in buckets:
        lat = b.pop("latencies")
        b["mean_latency_s"] = sum(lat) / len(lat) if lat else None
    return buckets


def reblend_times(session: Session, *, event: Event, limit: int = 30) -> list[dict[str, Any]]:
    """The event's latest re-blends, newest first: when, how many submissions, how long."""
    rows = session.execute(
        select(Blend.computed_at, Blend.n_submissions, Blend.details)
        .where(Blend.event_id == event.id)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "computed_at": at,
            "n_submissions": n,
            "time_s": (details or {}).get("time_s"),
            "incremental": (details or {}).get("incremental"),
        }
        for at, n, details in rows
    ]


def event_operations(session: Session, *, event: Event) -> dict[str, Any]:
    """Everything of the operations view of one event (also its JSON)."""
    plan = queue_plan(session)
    mine = [t for t in plan.folds if t.event_id == event.id]
    names = dict(
        session.execute(
            select(Submission.id, User.name)
            .join(User, User.id == Submission.user_id)
            .where(Submission.id.in_({t.submission_id for t in mine}))
        ).all()
    )
    running = session.scalar(
        select(func.count())
        .select_from(SubmissionFold)
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(Submission.event_id == event.id, SubmissionFold.state == FoldState.TRAINING)
    )
    return {
        "queue_length": len(mine),
        "running": int(running or 0),
        "queue": [
            {
                "order": i + 1,
                "submission_id": t.submission_id,
                "submission": t.submission_name,
                "user": names.get(t.submission_id),
                "fold": t.fold,
                "attempts": t.attempts,
                "queued_at": t.queued_at,
            }
            for i, t in enumerate(mine[:200])
        ],
        "workers": worker_rows(session),
        "retried": retried_folds(session, event=event),
        "throughput": throughput(session, event=event),
        "reblends": reblend_times(session, event=event),
    }


def metrics_snapshot(session: Session) -> dict[str, Any]:
    """What ``/metrics`` exposes, per event (by name): fold counts by state, queued and running
    folds, the charged durations of finished folds, result latencies (worker finish → score
    recorded), re-blend durations, the latest hybrid score; and the workers by status."""
    events = dict(session.execute(select(Event.id, Event.name)).all())
    states: dict[str, dict[str, int]] = {name: {} for name in events.values()}
    for event_id, state, n in session.execute(
        select(Submission.event_id, SubmissionFold.state, func.count())
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .group_by(Submission.event_id, SubmissionFold.state)
    ):
        states[events[event_id]][state.value] = int(n)
    durations: dict[str, list[float]] = {name: [] for name in events.values()}
    latencies: dict[str, list[float]] = {name: [] for name in events.values()}
    for event_id, charged, finished, worker_finished in session.execute(
        select(
            Submission.event_id,
            SubmissionFold.charged_s,
            SubmissionFold.finished_at,
            SubmissionFold.worker_finished_at,
        )
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(SubmissionFold.state.in_([FoldState.SCORED, FoldState.ERROR]))
    ):
        name = events[event_id]
        if charged is not None:
            durations[name].append(float(charged))
        if finished is not None and worker_finished is not None:
            latencies[name].append((finished - worker_finished).total_seconds())
    reblends: dict[str, list[float]] = {name: [] for name in events.values()}
    for event_id, seconds in session.execute(
        select(Blend.event_id, Blend.duration_s).where(Blend.duration_s.is_not(None))
    ):
        reblends[events[event_id]].append(float(seconds))
    latest = {}
    for event_id, name in events.items():
        blend = session.scalar(
            select(Blend.combined_valid)
            .where(Blend.event_id == event_id, Blend.combined_valid.is_not(None))
            .order_by(Blend.computed_at.desc(), Blend.id.desc())
            .limit(1)
        )
        if blend is not None:
            latest[name] = float(blend)
    workers = dict(
        session.execute(
            select(EngineWorker.status, func.count()).group_by(EngineWorker.status)
        ).all()
    )
    session.commit()
    return {
        "fold_states": states,
        "fold_durations": durations,
        "result_latencies": latencies,
        "reblend_durations": reblends,
        "hybrid_valid": latest,
        "workers": {str(k): int(v) for k, v in workers.items()},
    }
