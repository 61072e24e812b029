"""The organiser's toolkit on the admin pages: baselines, the leaderboard freeze, re-scoring
and re-training, e-mails to participants (issue #14 items 2–6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask

from ramp_server.db.engine import session_scope
from ramp_server.services import ServiceError, events, outbox, rescore, submissions
from ramp_server.web import access
from ramp_server.web.deps import AdminUser, Csrf, Db
from ramp_server.web.templating import flash

router = APIRouter(include_in_schema=False, prefix="/admin")


@router.post("/submissions/{submission_id}/baseline", dependencies=[Csrf])
def baseline(
    request: Request,
    db: Db,
    user: AdminUser,
    submission_id: int,
    baseline: Annotated[str, Form()] = "1",
) -> Response:
    """Mark (``baseline=1``) or unmark (``0``) a submission as a baseline."""
    sub = access.get_submission(db, submission_id)
    submissions.set_baseline(db, submission=sub, baseline=baseline == "1")
    db.commit()
    flash(
        request,
        f"{sub.name!r} is {'now' if sub.is_baseline else 'no longer'} a baseline.",
        "success",
    )
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


def _form_time(field: str, text: str) -> datetime | None:
    """A form's ISO date and time (UTC when it names no zone); empty: ``None``."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(
            400, f"{field}: {text!r} is not a date and time such as 2026-06-01T18:00"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.post("/events/{name}/freeze", dependencies=[Csrf])
def set_freeze(
    request: Request,
    db: Db,
    user: AdminUser,
    name: str,
    freeze_at: Annotated[str, Form()] = "",
) -> Response:
    """Set (or clear, when empty) the time the participants' boards freeze."""
    event = access.get_event(db, name)
    events.update_event(db, event=event, freeze_at=_form_time("freeze_at", freeze_at))
    db.commit()
    when = event.freeze_at.isoformat(timespec="seconds") if event.freeze_at else None
    flash(
        request,
        f"The boards of {event.name} freeze at {when}." if when else "No freeze: live boards.",
        "success",
    )
    return RedirectResponse(f"/admin/events/{name}", status_code=303)


def _run_rescore(request: Request, job_id: int) -> None:
    """Run a re-scoring job after the response went out, in its own session (its progress is
    committed as it goes; a failure is recorded on the job and logged)."""
    from ramp_server.db.models import EventJob

    with session_scope(request.app.state.session_factory) as session:
        job = session.get(EventJob, job_id)
        try:
            rescore.run_rescore(session, settings=request.app.state.settings, job=job)
        except Exception:  # recorded on the job (state "failed", its message) and logged
            pass


@router.post("/events/{name}/rescore", dependencies=[Csrf])
def start_rescore(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    """Re-score every scored submission from its stored predictions, in the background."""
    event = access.get_event(db, name)
    job = rescore.start_rescore(db, event=event, requested_by=user.name)
    flash(
        request,
        f"Re-scoring {job.total} submission(s) of {event.name}: the job below shows its progress.",
        "success",
    )
    return RedirectResponse(
        f"/admin/events/{name}#jobs",
        status_code=303,
        background=BackgroundTask(_run_rescore, request, job.id),
    )


@router.post("/events/{name}/retrain", dependencies=[Csrf])
def retrain(
    request: Request,
    db: Db,
    user: AdminUser,
    name: str,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Requeue every scored or failed submission (after a data change); asks for ``confirm``."""
    event = access.get_event(db, name)
    if confirm != "yes":
        raise ServiceError(
            "confirm: tick 'I understand' to requeue every submission (their scores are cleared)"
        )
    requeued, training = rescore.retrain_event(db, event=event)
    db.commit()
    note = f" {len(training)} still training: requeue them when they end." if training else ""
    flash(request, f"{len(requeued)} submission(s) of {event.name} requeued.{note}", "success")
    return RedirectResponse(f"/admin/events/{name}", status_code=303)


@router.post("/events/{name}/email", dependencies=[Csrf])
def email_participants(
    request: Request,
    db: Db,
    user: AdminUser,
    name: str,
    subject: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    audience: Annotated[str, Form()] = "all",
) -> Response:
    """Queue an e-mail to the event's participants (all, approved or pending ones)."""
    event = access.get_event(db, name)
    n = outbox.email_participants(db, event=event, subject=subject, body=body, audience=audience)
    db.commit()
    flash(request, f"{n} e-mail(s) queued to the {audience} participants.", "success")
    return RedirectResponse(f"/admin/events/{name}", status_code=303)
