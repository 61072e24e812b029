"""The engine's state transitions of submissions and folds (the database is the source of truth).

Life of a fold: ``queued`` → (:func:`claim_fold`) ``training`` → ``scored`` (``results.
record_fold_result``) or ``error`` (:func:`fail_fold`); a platform fault puts it back to
``queued`` while it has retries left (:func:`fail_fold`), and a dispatcher restart puts back every
``training`` fold it no longer tracks (:func:`reconcile`). Every function commits, so any process
may die between two calls without losing or duplicating work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    ErrorKind,
    Event,
    FoldState,
    Submission,
    SubmissionFold,
    SubmissionState,
    utcnow,
)

#: submission states whose queued folds may be started
_RUNNABLE = (SubmissionState.QUEUED, SubmissionState.TRAINING)


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


def queue_order() -> Any:
    """The platform-wide queue as a subquery ``(submission_id, position)`` of every queued
    submission, 1 = next to train: the one rule every page and the API show positions by."""
    return (
        select(
            Submission.id.label("submission_id"),
            func.row_number()
            .over(order_by=[Submission.queued_at, Submission.id])
            .label("position"),
        )
        .where(Submission.state == SubmissionState.QUEUED)
        .subquery()
    )


def queue_position(session: Session, *, submission_id: int) -> int | None:
    """1 for the next submission to train, ``None`` when it is not queued."""
    order = queue_order()
    return session.scalar(select(order.c.position).where(order.c.submission_id == submission_id))


def queued_folds(session: Session, *, limit: int) -> list[FoldTicket]:
    """Up to ``limit`` queued folds, oldest submission first (then fold order)."""
    rows = session.execute(
        select(SubmissionFold, Submission, Event)
        .join(Submission, SubmissionFold.submission_id == Submission.id)
        .join(Event, Submission.event_id == Event.id)
        .where(SubmissionFold.state == FoldState.QUEUED, Submission.state.in_(_RUNNABLE))
        .order_by(Submission.queued_at, Submission.id, SubmissionFold.fold)
        .limit(limit)
    ).all()
    return [
        FoldTicket(
            fold_id=f.id,
            submission_id=s.id,
            submission_name=s.name,
            fold=f.fold,
            attempts=f.attempts,
            event_id=e.id,
            event_name=e.name,
            uses_gpu=bool(e.uses_gpu),
            fold_time_limit_s=int(e.fold_time_limit_s),
            memory_limit_mb=int(e.memory_limit_mb),
        )
        for f, s, e in rows
    ]


def claim_fold(
    session: Session, *, fold_id: int, dask_key: str, now: datetime | None = None
) -> bool:
    """``queued`` → ``training`` (one more attempt); False when someone else changed it first."""
    now = now or utcnow()
    claimed = session.execute(
        update(SubmissionFold)
        .where(SubmissionFold.id == fold_id, SubmissionFold.state == FoldState.QUEUED)
        .values(
            state=FoldState.TRAINING,
            attempts=SubmissionFold.attempts + 1,
            dask_key=dask_key,
            worker=None,
            started_at=now,
            updated_at=now,
            finished_at=None,
            progress=None,
            error_kind=None,
            error_message=None,
            traceback=None,
        )
    ).rowcount
    if claimed:
        sub_id = session.scalar(
            select(SubmissionFold.submission_id).where(SubmissionFold.id == fold_id)
        )
        session.execute(
            update(Submission)
            .where(Submission.id == sub_id, Submission.state == SubmissionState.QUEUED)
            .values(state=SubmissionState.TRAINING, started_at=now)
        )
    session.commit()
    return bool(claimed)


def fold_row(session: Session, *, submission_id: int, fold: int) -> SubmissionFold | None:
    return session.scalar(
        select(SubmissionFold)
        .where(SubmissionFold.submission_id == submission_id, SubmissionFold.fold == fold)
        .execution_options(populate_existing=True)
    )


def note_fold_run(
    session: Session,
    *,
    submission_id: int,
    fold: int,
    worker: str | None = None,
    log_path: str | None = None,
    progress: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Record where a fold ran, its log file and/or its latest progress report."""
    values: dict[str, Any] = {"updated_at": now or utcnow()}
    if worker is not None:
        values["worker"] = worker[:255]
    if log_path is not None:
        values["log_path"] = log_path
    if progress is not None:
        values["progress"] = progress
    session.execute(
        update(SubmissionFold)
        .where(SubmissionFold.submission_id == submission_id, SubmissionFold.fold == fold)
        .values(**values)
    )
    session.commit()


def fail_fold(
    session: Session,
    *,
    submission_id: int,
    fold: int,
    kind: ErrorKind | str,
    message: str,
    traceback: str | None = None,
    max_retries: int = 0,
    now: datetime | None = None,
) -> bool:
    """Record a failed fold. A platform fault with retries left requeues it (returns True);
    anything else fails the fold and its submission (platform faults never charge the quota)."""
    from ramp_server.services.results import record_fold_error

    kind = ErrorKind(kind)
    now = now or utcnow()
    row = fold_row(session, submission_id=submission_id, fold=fold)
    if row is None or row.state not in (FoldState.TRAINING, FoldState.QUEUED):
        session.rollback()
        return False  # cancelled, scored or already failed: nothing to do
    if kind == ErrorKind.PLATFORM and row.attempts <= max_retries:
        session.execute(
            update(SubmissionFold)
            .where(SubmissionFold.id == row.id, SubmissionFold.state == FoldState.TRAINING)
            .values(
                state=FoldState.QUEUED,
                dask_key=None,
                updated_at=now,
                error_kind=kind,
                error_message=f"retrying after a platform fault: {message}"[:4000],
            )
        )
        session.commit()
        return True
    if kind == ErrorKind.PLATFORM:
        message = f"{message} (gave up after {row.attempts} attempts; not charged to your quota)"
    record_fold_error(
        session,
        submission_id=submission_id,
        fold=fold,
        kind=kind,
        message=f"fold {fold}: {message}",
        traceback=traceback,
        now=now,
    )
    return False


def reconcile(
    session: Session, *, live_keys: set[str], now: datetime | None = None
) -> list[SubmissionFold]:
    """Requeue ``training`` folds whose Dask key is not tracked (a dispatcher restarted).

    The interrupted attempt is not counted against the fold's retries. Returns the requeued
    rows (their old ``dask_key``), so that the caller can cancel leftovers on a shared cluster.
    """
    now = now or utcnow()
    rows = list(
        session.scalars(select(SubmissionFold).where(SubmissionFold.state == FoldState.TRAINING))
    )
    orphans = [r for r in rows if r.dask_key not in live_keys]
    for r in orphans:
        session.execute(
            update(SubmissionFold)
            .where(SubmissionFold.id == r.id, SubmissionFold.state == FoldState.TRAINING)
            .values(
                state=FoldState.QUEUED,
                attempts=max(r.attempts - 1, 0),
                updated_at=now,
                progress=None,
            )
        )
    session.commit()
    return orphans


def fold_states(session: Session, *, fold_ids: list[int]) -> dict[int, FoldState]:
    """Current state of the given folds (the dispatcher watches for cancellations)."""
    if not fold_ids:
        return {}
    rows = session.execute(
        select(SubmissionFold.id, SubmissionFold.state).where(SubmissionFold.id.in_(fold_ids))
    ).all()
    session.commit()
    return {i: s for i, s in rows}


def submission_states(session: Session, *, submission_ids: list[int]) -> dict[int, SubmissionState]:
    """Current state of the given submissions."""
    if not submission_ids:
        return {}
    rows = session.execute(
        select(Submission.id, Submission.state).where(Submission.id.in_(submission_ids))
    ).all()
    session.commit()
    return {i: s for i, s in rows}


def cancel_fold(
    session: Session, *, submission_id: int, fold: int, now: datetime | None = None
) -> None:
    """A fold killed on request (its submission was cancelled or failed elsewhere)."""
    now = now or utcnow()
    session.execute(
        update(SubmissionFold)
        .where(
            SubmissionFold.submission_id == submission_id,
            SubmissionFold.fold == fold,
            SubmissionFold.state.in_([FoldState.QUEUED, FoldState.TRAINING]),
        )
        .values(state=FoldState.CANCELLED, finished_at=now, updated_at=now)
    )
    session.commit()


def pending_fold_count(session: Session) -> int:
    """Folds waiting to be trained or training (``--until-idle`` stops at zero)."""
    n = session.scalar(
        select(func.count(SubmissionFold.id))
        .join(Submission, SubmissionFold.submission_id == Submission.id)
        .where(
            SubmissionFold.state.in_([FoldState.QUEUED, FoldState.TRAINING]),
            Submission.state.in_(_RUNNABLE),
        )
    )
    session.commit()
    return int(n or 0)


__all__ = [
    "FoldTicket",
    "cancel_fold",
    "claim_fold",
    "fail_fold",
    "fold_row",
    "fold_states",
    "note_fold_run",
    "pending_fold_count",
    "queue_order",
    "queue_position",
    "queued_folds",
    "reconcile",
    "submission_states",
]
