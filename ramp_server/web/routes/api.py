"""The JSON API under ``/api/`` (mirrors the pages; schema at ``/api/openapi.json``).

Authenticate with ``Authorization: Bearer <token>`` (tokens from ``/account/tokens`` or
``POST /api/tokens``); a browser session works too, with the ``X-CSRF-Token`` header on writes.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ramp_server.db.models import Event, InteractionKind
from ramp_server.services import (
    blends,
    collaboration,
    events,
    freeze,
    leaderboards,
    operations,
    participants,
    submission_tables,
    submissions,
)
from ramp_server.web import access, submission_view
from ramp_server.web.context import public_page, queue_positions
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser
from ramp_server.web.templating import render
from ramp_server.web.upload_form import UploadRejected, read_upload

router = APIRouter(prefix="/api", tags=["api"])


class EventOut(BaseModel):
    name: str
    title: str
    description: str
    phase: Literal["upcoming", "open", "collaborative", "closed"]
    opening_at: datetime | None
    public_opening_at: datetime | None
    closing_at: datetime | None
    n_folds: int
    uses_gpu: bool
    min_delay_s: int
    daily_quota: int | None
    upload_max_bytes: int
    fold_time_limit_s: int
    memory_limit_mb: int
    approval_required: bool
    freeze_at: datetime | None = None
    official_score_name: str
    score_types: list[dict[str, Any]]
    blend_requested_at: datetime | None = Field(
        None, description="a re-blend is pending since then (None: the blend is up to date)"
    )


class MembershipOut(BaseModel):
    event: str
    approved: bool


class SubmissionStatus(BaseModel):
    id: int
    name: str
    event: str
    user: str
    state: str
    error_kind: str | None
    error_message: str | None
    submitted_at: str | None
    queue_position: int | None
    n_folds: int
    folds_done: int
    progress: float = Field(description="0..1, epochs of training folds included")
    progress_text: str
    folds: list[dict[str, Any]]
    contributivity: float | None
    historical_contributivity: float | None
    baseline: bool = Field(False, description="an organisers' baseline: shown, never ranked")
    submissions_left: dict[str, Any] | None = Field(
        None, description="after an upload: the team's submissions left today and the next time"
    )


def _event_out(event: Event) -> EventOut:
    return EventOut(
        name=event.name,
        title=event.title,
        description=event.description or "",
        phase=access.phase(event),  # type: ignore[arg-type]
        opening_at=event.opening_at,
        public_opening_at=event.public_opening_at,
        closing_at=event.closing_at,
        n_folds=event.n_folds,
        uses_gpu=event.uses_gpu,
        min_delay_s=event.min_delay_s,
        daily_quota=event.daily_quota,
        upload_max_bytes=event.upload_max_bytes,
        fold_time_limit_s=event.fold_time_limit_s,
        memory_limit_mb=event.memory_limit_mb,
        approval_required=event.approval_required,
        freeze_at=event.freeze_at,
        official_score_name=event.official_score_name,
        score_types=list(event.score_types or []),
        blend_requested_at=event.blend_requested_at,
    )


@router.get("/events", response_model=list[EventOut])
def list_events(db: Db) -> list[EventOut]:
    return [_event_out(e) for e in events.list_events(db)]


@router.get("/events/{name}", response_model=EventOut)
def get_event(db: Db, name: str) -> EventOut:
    return _event_out(access.get_event(db, name))


@router.post("/events/{name}/join", response_model=MembershipOut, dependencies=[Csrf])
def join_event(db: Db, user: CurrentUser, name: str) -> MembershipOut:
    event = access.get_event(db, name)
    member = participants.join_event(db, event=event, user=user)
    db.commit()
    return MembershipOut(event=event.name, approved=member.approved)


@router.get("/events/{name}/leaderboard")
def leaderboard(
    request: Request,
    db: Db,
    user: OptionalUser,
    name: str,
    kind: Literal["public", "competition", "private", "failed"] = "public",
    sort: str | None = None,
    order: Literal["best", "worst"] = "best",
    page: int = 1,
) -> Any:
    """A leaderboard as rows of dicts (public: paginated by 50, sortable by any column).

    Each row's ``ci`` is ``[low, high]``, the 95% percentile bootstrap interval of its official
    score on the board's split (``null`` when not computed); competition rows with test scores
    also carry ``test_ci``, private rows ``valid_ci``. While the board is frozen for you
    (``frozen_at``), rows are as then; ``own_after_freeze``: your team's later scores.
    """
    event = access.get_event(db, name)
    if kind == "private":
        if not access.can_see_private_leaderboard(event, user):
            raise HTTPException(403, "the private leaderboard is revealed when the event closes")
        return {"kind": kind, "rows": leaderboards.private_leaderboard(db, event=event)}
    if not access.can_see_public_leaderboard(db, event, user):
        raise HTTPException(403 if user else 401, "this event's leaderboard is not visible to you")
    frozen_at = access.board_frozen_at(event, user)
    if kind == "competition":
        if frozen_at is not None:
            rows = freeze.frozen_competition_board(db, event=event, at=frozen_at)
            return {"kind": kind, "frozen_at": frozen_at.isoformat(), "rows": rows}
        include_test = access.can_see_private_leaderboard(event, user)
        rows = leaderboards.competition_leaderboard(db, event=event, include_test=include_test)
        return {"kind": kind, "rows": rows}
    if kind == "failed":
        return {"kind": kind, "rows": submission_tables.failed_submissions(db, event=event)}
    data = public_page(request, db, event, sort=sort, order=order, page=page, frozen_at=frozen_at)
    own = []
    if frozen_at is not None and user is not None:
        own = freeze.own_rows_since(db, event=event, user=user, at=frozen_at)
    # rows are JSON-ready (numbers, strings, ISO dates): skip FastAPI's generic encoder
    return JSONResponse(
        {
            "kind": kind,
            "sort": data["sort"],
            "order": data["order"],
            "page": data["page"],
            "page_size": data["page_size"],
            "has_next": data["has_next"],
            "rows": data["rows"],
            "frozen_at": frozen_at.isoformat() if frozen_at else None,
            "own_after_freeze": own,
        }
    )


@router.get("/events/{name}/contributivity")
def event_contributivity(db: Db, user: OptionalUser, name: str, top: int = 8) -> Any:
    """How the largest contributivities changed over the event: every re-blend (``blends``)
    and, for the ``top`` submissions by their largest share, their share of each."""
    event = access.get_event(db, name)
    if not access.can_see_public_leaderboard(db, event, user):
        raise HTTPException(403 if user else 401, "this event's leaderboard is not visible to you")
    if access.board_frozen_at(event, user) is not None:
        raise HTTPException(403, "the leaderboard is frozen: contributivities return at closing")
    return jsonable_encoder(blends.contributivity_over_time(db, event=event, top=min(top, 50)))


@router.get("/submissions/{submission_id}/contributivity")
def submission_contributivity(db: Db, user: CurrentUser, submission_id: int) -> Any:
    """The submission's contributivity and historical contributivity at every re-blend since
    it was first blended."""
    sub = access.get_submission(db, submission_id)
    if not access.can_see_submission(db, sub, user):
        raise HTTPException(403, "this submission belongs to another participant")
    return jsonable_encoder(blends.contributivity_history(db, submission=sub))


@router.get("/events/{name}/operations")
def event_operations(db: Db, user: CurrentUser, name: str) -> Any:
    """The organisers' operations view as JSON (administrators only): queue in run order,
    workers, retried folds, throughput over the last hour, recent re-blends."""
    if not user.is_admin:
        raise HTTPException(403, "administrators only")
    ops = operations.event_operations(db, event=access.get_event(db, name))
    return jsonable_encoder(ops)


@router.get("/events/{name}/submissions")
def my_submissions(
    request: Request, db: Db, user: CurrentUser, name: str, all: bool = False
) -> list[dict]:
    """Your submissions to the event (``all=true``: everyone's, administrators only)."""
    event = access.get_event(db, name)
    positions = partial(queue_positions, request, db)  # shared by this process's pages
    if all:
        if not user.is_admin:
            raise HTTPException(403, "administrators only")
        return submission_tables.submissions_table(db, event=event, positions=positions)
    return submission_tables.my_submissions(db, event=event, user=user, positions=positions)


@router.post(
    "/events/{name}/submissions",
    response_model=SubmissionStatus,
    status_code=201,
    dependencies=[Csrf],
)
async def create_submission(
    request: Request,
    db: Db,
    user: CurrentUser,
    name: str,
    submission_name: Annotated[str, Form(alias="name")],
    files: Annotated[
        list[UploadFile], File(description="image_preprocessor.py, batch_classifier.py")
    ],
    credits: Annotated[
        str | None, Form(description='JSON object {"<submission id>": percent, ...}')
    ] = None,
) -> SubmissionStatus:
    """Upload a submission (multipart): the two files, a name, optional credits."""
    event = await run_in_threadpool(access.get_event, db, name)
    credit_map: dict[int, float] | None = None
    try:
        if credits:
            try:
                credit_map = {int(k): float(v) for k, v in json.loads(credits).items()}
            except (ValueError, AttributeError, TypeError):
                raise UploadRejected(
                    'credits must be a JSON object such as {"12": 30}: submission id -> percent'
                ) from None
        contents: dict[str, bytes] = {}
        for upload in files:
            data = await read_upload(
                upload, field=upload.filename or "file", limit=event.upload_max_bytes
            )
            if data is not None:
                if upload.filename in contents:
                    raise UploadRejected(f"file {upload.filename!r} is uploaded twice")
                contents[str(upload.filename)] = data
    except UploadRejected as exc:
        raise HTTPException(400, str(exc)) from None
    settings = request.app.state.settings

    def _submit() -> SubmissionStatus:
        sub = submissions.submit(
            db,
            settings=settings,
            event=event,
            user=user,
            name=submission_name,
            files=contents,
            credits=credit_map,
        )
        left = submissions.team_allowance(db, event=event, user=user)
        return SubmissionStatus(
            **submission_view.status(db, sub, positions=queue_positions(request, db)),
            submissions_left=submission_view.allowance_json(left),
        )

    return await run_in_threadpool(_submit)


@router.get("/submissions/{submission_id}", response_model=SubmissionStatus)
def submission_status(
    request: Request, db: Db, user: CurrentUser, submission_id: int
) -> SubmissionStatus:
    """Live state of a submission (what the submission page polls)."""
    sub = access.get_submission(db, submission_id)
    if not access.can_see_submission(db, sub, user):
        raise HTTPException(403, "this submission belongs to another participant")
    return SubmissionStatus(
        **submission_view.status(db, sub, positions=queue_positions(request, db))
    )


@router.get("/submissions/{submission_id}/code")
def submission_code(
    request: Request, db: Db, user: CurrentUser, submission_id: int
) -> dict[str, str]:
    """The submission's files as text (others' code only in the collaborative phase)."""
    sub = access.get_submission(db, submission_id)
    access.require_code_access(db, sub, user)
    if not access.is_teammate(db, sub, user):  # looking at another team's work
        collaboration.log_interaction(
            db, event=sub.event, user=user, kind=InteractionKind.VIEW, submission=sub
        )
    files = submissions.submission_sources(settings=request.app.state.settings, submission=sub)
    return {k: v.decode("utf-8", "replace") for k, v in sorted(files.items())}


@router.post(
    "/submissions/{submission_id}/cancel", response_model=SubmissionStatus, dependencies=[Csrf]
)
def cancel_submission(
    request: Request, db: Db, user: CurrentUser, submission_id: int
) -> SubmissionStatus:
    sub = access.get_submission(db, submission_id)
    if not access.can_act_on(db, sub, user):
        raise HTTPException(403, "only the submission's team or an administrator can cancel it")
    submissions.cancel(db, submission=sub)
    db.commit()
    return SubmissionStatus(
        **submission_view.status(db, sub, positions=queue_positions(request, db))
    )


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def api_docs(request: Request, user: OptionalUser) -> Response:
    """A local, CDN-free reference of the API built from the OpenAPI schema."""
    schema = request.app.openapi()
    endpoints = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": [p["name"] for p in op.get("parameters", [])],
                }
            )
    return render(request, "api_docs.html", {"endpoints": endpoints, "info": schema["info"]})
