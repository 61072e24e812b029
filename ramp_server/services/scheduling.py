"""Fair share: which queued fold the next free worker takes, and the order the queue runs in.

The next free worker goes to the team (a participant alone is a team of one) with the least
worker time used in the event so far among those with queued folds; ties go to the earlier
submission. "Used" is the worker
seconds charged for finished folds (``submission_folds.charged_s``: a platform fault is never
charged) plus, for each fold training now, the longer of its elapsed time and the event's
typical fold time (the mean charged time of its finished folds; :data:`DEFAULT_FOLD_S` before
any). Each fold handed out counts the typical time at once, so one round of claims spreads the
free workers over the participants instead of giving them all to the least-used one.

One participant's burst of twenty submissions therefore delays another participant's single
submission by at most about one fold's duration: the single one is next as soon as a worker
frees. An event may also cap the folds of one team training at once
(``events.max_running_folds``) and the worker time a team may use
(``events.worker_time_budget_s``, checked when submitting: :func:`budget_left`).

:func:`queue_plan` is the whole queue in the order it will run (the pages' queue positions, the
organisers' operations view); :func:`next_folds` is what the dispatcher claims.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    Event,
    FoldState,
    Submission,
    SubmissionFold,
    SubmissionState,
    utcnow,
)

#: a fold's expected worker time in an event where none has finished yet
DEFAULT_FOLD_S = 60.0
#: submission states whose queued folds may be started
RUNNABLE = (SubmissionState.QUEUED, SubmissionState.TRAINING)

#: who a fold's worker time is charged to: ``(event id, team id)`` (``-user id`` for a
#: submission made outside any team, as tests and old rows may have)
Owner = tuple[int, int]
#: the SQL form of the owner's second part
OWNER_KEY = func.coalesce(Submission.team_id, -Submission.user_id)


@dataclass(frozen=True)
class FoldTicket:
    """A queued fold, with what the dispatcher needs to start it."""

    fold_id: int
    submission_id: int
    submission_name: str
    fold: int
    attempts: int
    event_id: int
    event_name: str
    uses_gpu: bool
    fold_time_limit_s: int
    memory_limit_mb: int
    owner: Owner = (0, 0)
    queued_at: datetime | None = None


@dataclass
class QueuePlan:
    """The queued folds in the order fair share will start them."""

    folds: list[FoldTicket] = field(default_factory=list)
    #: participant -> worker seconds counted so far (finished, training, then planned)
    usage: dict[Owner, float] = field(default_factory=dict)

    @property
    def positions(self) -> dict[int, int]:
        """``{submission id: position}``, 1 = the submission whose first fold starts next."""
        out: dict[int, int] = {}
        for t in self.folds:
            if t.submission_id not in out:
                out[t.submission_id] = len(out) + 1
        return out


def _owner(event_id: int, key: int) -> Owner:
    return (event_id, key)


def charged_seconds(session: Session, *, event_id: int | None = None) -> dict[Owner, float]:
    """Worker seconds charged per team (finished folds only)."""
    query = (
        select(Submission.event_id, OWNER_KEY, func.sum(SubmissionFold.charged_s))
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(SubmissionFold.charged_s.is_not(None))
        .group_by(Submission.event_id, OWNER_KEY)
    )
    if event_id is not None:
        query = query.where(Submission.event_id == event_id)
    return {_owner(e, u): float(s or 0.0) for e, u, s in session.execute(query)}


def typical_fold_seconds(session: Session) -> dict[int, float]:
    """``{event id: mean charged seconds of its finished folds}`` (events with some)."""
    rows = session.execute(
        select(Submission.event_id, func.avg(SubmissionFold.charged_s))
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(SubmissionFold.charged_s.is_not(None))
        .group_by(Submission.event_id)
    )
    return {e: float(v) for e, v in rows if v is not None}


def _running(session: Session) -> list[tuple[Owner, datetime | None]]:
    rows = session.execute(
        select(Submission.event_id, OWNER_KEY, SubmissionFold.started_at)
        .join(Submission, Submission.id == SubmissionFold.submission_id)
        .where(SubmissionFold.state == FoldState.TRAINING)
    )
    return [(_owner(e, u), at) for e, u, at in rows]


def _queued(session: Session, *, per_owner: int | None) -> list[tuple[FoldTicket, Any]]:
    """Queued folds (oldest submission first) with their event's cap; at most ``per_owner``
    of each participant when given (what one round of claims can use)."""
    order = [Submission.queued_at, Submission.id, SubmissionFold.fold]
    cols = [
        SubmissionFold.id.label("fold_id"),
        SubmissionFold.fold,
        SubmissionFold.attempts,
        Submission.id.label("submission_id"),
        Submission.name.label("submission_name"),
        OWNER_KEY.label("owner_key"),
        Submission.queued_at,
        Event.id.label("event_id"),
        Event.name.label("event_name"),
        Event.uses_gpu,
        Event.fold_time_limit_s,
        Event.memory_limit_mb,
        Event.max_running_folds,
    ]
    base = (
        select(*cols)
        .join(Submission, SubmissionFold.submission_id == Submission.id)
        .join(Event, Submission.event_id == Event.id)
        .where(SubmissionFold.state == FoldState.QUEUED, Submission.state.in_(RUNNABLE))
    )
    if per_owner is None:
        rows = session.execute(base.order_by(*order))
    else:
        rank = func.row_number().over(partition_by=[Submission.event_id, OWNER_KEY], order_by=order)
        inner = base.add_columns(rank.label("rank")).subquery()
        rows = session.execute(
            select(inner)
            .where(inner.c.rank <= per_owner)
            .order_by(inner.c.queued_at, inner.c.submission_id, inner.c.fold)
        )
    out = []
    for r in rows:
        ticket = FoldTicket(
            fold_id=r.fold_id,
            submission_id=r.submission_id,
            submission_name=r.submission_name,
            fold=r.fold,
            attempts=r.attempts,
            event_id=r.event_id,
            event_name=r.event_name,
            uses_gpu=bool(r.uses_gpu),
            fold_time_limit_s=int(r.fold_time_limit_s),
            memory_limit_mb=int(r.memory_limit_mb),
            owner=_owner(r.event_id, r.owner_key),
            queued_at=r.queued_at,
        )
        out.append((ticket, r.max_running_folds))
    return out


def _plan(
    session: Session, *, now: datetime, per_owner: int | None, respect_caps: bool
) -> QueuePlan:
    typical = typical_fold_seconds(session)
    usage: dict[Owner, float] = defaultdict(float, charged_seconds(session))
    running: dict[Owner, int] = defaultdict(int)
    for owner, started in _running(session):
        est = typical.get(owner[0], DEFAULT_FOLD_S)
        elapsed = (now - started).total_seconds() if started is not None else 0.0
        usage[owner] += max(elapsed, est)
        running[owner] += 1
    groups: dict[Owner, deque[tuple[FoldTicket, Any]]] = defaultdict(deque)
    for ticket, cap in _queued(session, per_owner=per_owner):
        groups[ticket.owner].append((ticket, cap))
    heap = []
    for owner, folds in groups.items():
        first = folds[0][0]
        heap.append((usage[owner], first.queued_at or now, first.submission_id, first.fold, owner))
    heapq.heapify(heap)
    plan = QueuePlan(usage=usage)
    while heap:
        _, _, _, _, owner = heapq.heappop(heap)
        ticket, cap = groups[owner].popleft()
        if respect_caps and cap is not None and running[owner] >= cap:
            continue  # at its cap: its other folds wait for one of its own to finish
        plan.folds.append(ticket)
        running[owner] += 1
        usage[owner] += typical.get(owner[0], DEFAULT_FOLD_S)
        if groups[owner]:
            nxt = groups[owner][0][0]
            heapq.heappush(
                heap, (usage[owner], nxt.queued_at or now, nxt.submission_id, nxt.fold, owner)
            )
    return plan


def queue_plan(session: Session, *, now: datetime | None = None) -> QueuePlan:
    """Every queued fold, in the order fair share will start them (caps ignored: a capped
    participant's folds keep their place and wait for one of their own)."""
    plan = _plan(session, now=now or utcnow(), per_owner=None, respect_caps=False)
    session.commit()
    return plan


def next_folds(session: Session, *, limit: int, now: datetime | None = None) -> list[FoldTicket]:
    """Up to ``limit`` queued folds for the free workers, in fair-share order, leaving out the
    folds of participants at their event's ``max_running_folds``."""
    if limit <= 0:
        return []
    plan = _plan(session, now=now or utcnow(), per_owner=limit, respect_caps=True)
    session.commit()
    return plan.folds[:limit]


def budget_left(session: Session, *, event: Event, team_id: int) -> float | None:
    """Worker seconds the team may still use in the event (None: no budget)."""
    if event.worker_time_budget_s is None:
        return None
    used = charged_seconds(session, event_id=event.id).get(_owner(event.id, team_id), 0.0)
    return float(event.worker_time_budget_s) - used
