"""Re-scoring and re-training a whole event (the organisers' tools after a fix).

Re-scoring recomputes every scored submission's scores from its stored predictions with the
event's current ``problem.py`` (a score type added or fixed): no retraining. It runs as an
:class:`~ramp_server.db.models.EventJob` whose progress (done of total) is committed after each
submission, so the admin page shows it while it runs; one re-scoring per event at a time.
Re-training (after a data change) requeues every submission: the dispatcher trains them again
in fair-share order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, EventJob, Submission, SubmissionState, utcnow
from ramp_server.services import ServiceError, results
from ramp_server.services import submissions as submission_service
from ramp_server.services.blend_requests import request_blend
from ramp_server.services.events import event_problem, score_type_specs

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)

#: ``progress(done, total)``: told after each submission re-scored
Progress = Callable[[int, int], None]


def event_jobs(session: Session, *, event: Event, limit: int = 10) -> list[EventJob]:
    """The event's latest jobs, newest first (the admin page's list)."""
    return list(
        session.scalars(
            select(EventJob)
            .where(EventJob.event_id == event.id)
            .order_by(EventJob.started_at.desc(), EventJob.id.desc())
            .limit(limit)
        )
    )


def start_rescore(
    session: Session, *, event: Event, requested_by: str = "", force: bool = False
) -> EventJob:
    """Record a re-scoring job of ``event`` (state ``running``, total = its scored submissions);
    **commits**. Refused while another re-scoring of the event runs, unless ``force`` (a job
    whose process died stays ``running``): that one is then marked failed."""
    running = session.scalars(
        select(EventJob).where(
            EventJob.event_id == event.id, EventJob.kind == "rescore", EventJob.state == "running"
        )
    ).all()
    if running and not force:
        raise ServiceError(
            f"event {event.name} is being re-scored already (job {running[0].id}): wait for it "
            "to end, or --force if its process died"
        )
    for job in running:
        job.state, job.finished_at = "failed", utcnow()
        job.message = "marked failed by a forced re-scoring (its process had died?)"
    total = len(_scored_ids(session, event))
    job = EventJob(event_id=event.id, kind="rescore", total=total, requested_by=requested_by)
    session.add(job)
    session.commit()
    return job


def _scored_ids(session: Session, event: Event) -> list[int]:
    return list(
        session.scalars(
            select(Submission.id)
            .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
            .order_by(Submission.id)
        )
    )


def run_rescore(
    session: Session, *, settings: Settings, job: EventJob, progress: Progress | None = None
) -> EventJob:
    """Run a job of :func:`start_rescore`: refresh the event's score types from its
    ``problem.py``, re-score each scored submission (committing the progress after each), then
    request a re-blend. A failure marks the job ``failed`` with its message and is re-raised."""
    event = session.get(Event, job.event_id)
    try:
        problem = event_problem(settings=settings, event=event)
        specs = score_type_specs(problem)
        names = [s["name"] for s in specs]
        if event.official_score_name not in names:
            raise ServiceError(
                f"the official score {event.official_score_name!r} is no longer in "
                f"problem.py (its scores: {', '.join(names)}): set another with "
                "ramp-server event update --official-score"
            )
        event.score_types = specs
        ids = _scored_ids(session, event)
        job.total, job.done = len(ids), 0
        session.commit()
        for sid in ids:
            sub = session.get(Submission, sid)
            if sub is not None and sub.state == SubmissionState.SCORED:
                results.rescore_submission(session, settings=settings, submission=sub)
            job.done += 1
            session.commit()
            if progress is not None:
                progress(job.done, job.total)
        request_blend(session, event_id=event.id)
        job.state, job.finished_at = "done", utcnow()
        job.message = f"{job.done} submission(s) re-scored with {', '.join(names)}"
        session.commit()
    except Exception as exc:
        session.rollback()
        job = session.get(EventJob, job.id)
        job.state, job.finished_at, job.message = "failed", utcnow(), str(exc)[:2000]
        session.commit()
        log.exception("re-scoring of event %s failed", event.name)
        raise
    return job


#: the states :func:`retrain_event` requeues
RETRAINED_STATES = (SubmissionState.SCORED, SubmissionState.ERROR)


def n_to_retrain(session: Session, *, event: Event) -> int:
    """How many submissions :func:`retrain_event` would requeue now."""
    return session.scalar(
        select(func.count()).where(
            Submission.event_id == event.id, Submission.state.in_(RETRAINED_STATES)
        )
    )


def retrain_event(session: Session, *, event: Event) -> tuple[list[Submission], list[Submission]]:
    """Requeue every scored or failed submission of the event to train it again from scratch
    (after a data change); fair scheduling orders them. Queued ones stay in the queue and
    cancelled ones cancelled. Flushes; returns ``(requeued, training)``: those training now are
    left to finish (stopping a fold in flight is the dispatcher's), to be requeued after."""
    requeued, training = [], []
    subs = session.scalars(
        select(Submission).where(Submission.event_id == event.id).order_by(Submission.id)
    )
    for sub in subs:
        if sub.state == SubmissionState.TRAINING:
            training.append(sub)
        elif sub.state in RETRAINED_STATES:
            submission_service.requeue(session, submission=sub)
            requeued.append(sub)
    return requeued, training
