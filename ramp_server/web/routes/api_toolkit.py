"""The JSON API of the organiser's toolkit under ``/api/``: submissions left, baselines,
re-scoring and re-training, notifications (issue #14 items 2–6)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ramp_server.services import submissions
from ramp_server.web import access, submission_view
from ramp_server.web.deps import Csrf, CurrentUser, Db

router = APIRouter(prefix="/api", tags=["toolkit"])


class AllowanceOut(BaseModel):
    daily_quota: int | None = Field(
        description="submissions per team per 24 hours (None: no limit)"
    )
    min_delay_s: int = Field(description="seconds between two submissions of a team")
    left_today: int | None = Field(
        description="submissions the team may still make in the rolling 24 hours (None: no limit)"
    )
    next_at: datetime | None = Field(description="when the next is allowed (None: now)")


@router.get("/events/{name}/submissions-left", response_model=AllowanceOut)
def submissions_left(db: Db, user: CurrentUser, name: str) -> AllowanceOut:
    """How many submissions your team may still make today, and when the next is allowed."""
    event = access.get_event(db, name)
    allowance = submissions.team_allowance(db, event=event, user=user)
    return AllowanceOut(**submission_view.allowance_json(allowance))


class BaselineIn(BaseModel):
    baseline: bool = Field(True, description="true: mark as a baseline; false: unmark")


class BaselineOut(BaseModel):
    id: int
    name: str
    baseline: bool


@router.post(
    "/submissions/{submission_id}/baseline", response_model=BaselineOut, dependencies=[Csrf]
)
def set_baseline(db: Db, user: CurrentUser, submission_id: int, body: BaselineIn) -> BaselineOut:
    """Mark or unmark a submission as a baseline (administrators only): shown on the boards
    with a badge, never ranked, left out of the competition board, still blended."""
    if not user.is_admin:
        raise HTTPException(403, "administrators only: ask the organisers to mark baselines")
    sub = access.get_submission(db, submission_id)
    submissions.set_baseline(db, submission=sub, baseline=body.baseline)
    db.commit()
    return BaselineOut(id=sub.id, name=sub.name, baseline=sub.is_baseline)
