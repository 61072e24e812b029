"""The organiser's toolkit on the admin pages: baselines, the leaderboard freeze, re-scoring
and re-training, e-mails to participants (issue #14 items 2–6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ramp_server.services import events, submissions
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
