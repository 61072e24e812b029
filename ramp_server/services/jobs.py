"""The engine's state transitions of submissions and folds (the database is the source of truth).

Which queued fold runs next is :mod:`ramp_server.services.scheduling` (fair share). Life of a
fold: ``queued`` → (:func:`claim_fold`) ``training`` → ``scored`` (``results.
record_fold_result``) or ``error`` (:func:`fail_fold`); a platform fault puts it back to
``queued`` while it has retries left (:func:`fail_fold`), and a dispatcher restart puts back every
``training`` fold it no longer tracks (:func:`reconcile`). Every function commits, so any process
may die between two calls without losing or duplicating work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    ErrorKind,
    FoldState,
    Submission,
    SubmissionFold,
    SubmissionState,
    utcnow,
)

#: submission states whose queued folds may be started
_RUNNABLE = (SubmissionState.QUEUED, SubmissionState.TRAINING)


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
    charged_s: float | None = None,
    worker: str | None = None,
) -> bool:
    """Record a failed fold. A platform fault with retries left requeues it (returns True) and
    notes what happened on the fold (the submission page shows it); anything else fails the
    fold and its submission. A platform fault never charges the quota nor worker time;
    ``charged_s`` (the worker seconds the attempt took) is charged for the others."""
    from ramp_server.services.results import record_fold_error

    kind = ErrorKind(kind)
    now = now or utcnow()
    row = fold_row(session, submission_id=submission_id, fold=fold)
    if row is None or row.state not in (FoldState.TRAINING, FoldState.QUEUED):
        session.rollback()
        return False  # cancelled, scored or already failed: nothing to do
    if kind == ErrorKind.PLATFORM and row.attempts <= max_retries:
        note = {
            "at": now.isoformat(),
            "attempt": row.attempts,
            "worker": worker or row.worker,
            "what": f"{message} — retried (not charged to you)"[:1000],
        }
        session.execute(
            update(SubmissionFold)
            .where(SubmissionFold.id == row.id, SubmissionFold.state == FoldState.TRAINING)
            .values(
                state=FoldState.QUEUED,
                dask_key=None,
                updated_at=now,
                error_kind=kind,
                error_message=f"retrying after a platform fault: {message}"[:4000],
                notes=[*(row.notes or []), note],
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
        charged_s=charged_s,
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
    session: Session,
    *,
    submission_id: int,
    fold: int,
    now: datetime | None = None,
    charged_s: float | None = None,
) -> None:
    """A fold killed on request (its submission was cancelled or failed elsewhere); the worker
    seconds it ran (``charged_s``) are charged: the participant asked for them."""
    now = now or utcnow()
    session.execute(
        update(SubmissionFold)
        .where(
            SubmissionFold.submission_id == submission_id,
            SubmissionFold.fold == fold,
            SubmissionFold.state.in_([FoldState.QUEUED, FoldState.TRAINING]),
        )
        .values(state=FoldState.CANCELLED, finished_at=now, updated_at=now, charged_s=charged_s)
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
    "cancel_fold",
    "claim_fold",
    "fail_fold",
    "fold_row",
    "fold_states",
    "note_fold_run",
    "pending_fold_count",
    "reconcile",
    "submission_states",
]
