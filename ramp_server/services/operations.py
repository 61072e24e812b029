"""What the organisers watch while an event runs: the queue and the workers.

Read-only views over the engine's state in the database (the dispatcher writes it through
:mod:`ramp_server.services.jobs`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.models import FoldState, Submission, SubmissionFold, SubmissionState


def queue_rows(session: Session, *, limit: int = 500) -> list[dict[str, Any]]:
    """Queued and training submissions, platform-wide, oldest first, with their folds."""
    subs = session.scalars(
        select(Submission)
        .where(Submission.state.in_([SubmissionState.QUEUED, SubmissionState.TRAINING]))
        .order_by(Submission.queued_at, Submission.id)
        .limit(limit)
    )
    return [
        {"position": pos, "sub": sub, "folds": list(sub.folds)}
        for pos, sub in enumerate(subs, start=1)
    ]


def worker_rows(session: Session) -> list[dict[str, Any]]:
    """Each worker that trains a fold now: how many folds and its latest report."""
    query = (
        select(SubmissionFold.worker, func.count(), func.max(SubmissionFold.updated_at))
        .where(SubmissionFold.state == FoldState.TRAINING, SubmissionFold.worker.is_not(None))
        .group_by(SubmissionFold.worker)
    )
    return [{"worker": w, "running": n, "last_update": at} for w, n, at in session.execute(query)]
