"""The organiser's toolkit on the admin pages: baselines, the leaderboard freeze, re-scoring
and re-training, e-mails to participants (issue #14 items 2–6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ramp_server.services import submissions
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
