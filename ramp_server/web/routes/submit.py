"""The submit page: upload the two files or edit them in the browser, with optional credits."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ramp_server.db.models import Event, InteractionKind, Submission, User
from ramp_server.services import collaboration, submissions
from ramp_server.storage import Storage
from ramp_server.web import access
from ramp_server.web.context import event_context
from ramp_server.web.deps import Csrf, CurrentUser, Db
from ramp_server.web.submission_view import SUBMISSION_FILES
from ramp_server.web.templating import flash, render
from ramp_server.web.upload_form import UploadRejected, read_upload

router = APIRouter(include_in_schema=False)
MAX_CREDITS = 5


def starting_kit_sources(storage: Storage, event: Event) -> dict[str, str]:
    kit = storage.resolve(event.kit_dir) if event.kit_dir else storage.kit_dir(event.name)
    out = {}
    for filename in SUBMISSION_FILES:
        path = Path(kit) / "submissions" / "starting_kit" / filename
        out[filename] = path.read_text(encoding="utf-8") if path.is_file() else ""
    return out


def _require_participant(db: Session, event: Event, user: User) -> None:
    if not access.is_approved(db, event, user):
        member = access.membership(db, event, user)
        raise HTTPException(
            403,
            "join this event first (button on the event page)"
            if member is None
            else "your participation is waiting for an administrator's approval",
        )


def _form_page(
    request: Request,
    db: Session,
    event: Event,
    user: User,
    *,
    sources: dict[str, str],
    name: str = "",
    error: str | None = None,
    copied_from: Submission | None = None,
    credits: list[tuple[int, float]] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = event_context(request, db, event, user, "submit")
    ctx.update(
        sources=sources,
        name=name,
        error=error,
        copied_from=copied_from,
        candidates=collaboration.credit_candidates(
            db, event=event, user=user, collaborative=access.is_collaborative(event)
        ),
        credits=(credits or []) + [(None, None)] * (MAX_CREDITS - len(credits or [])),
        upload_max_bytes=event.upload_max_bytes,
        allowance=submissions.team_allowance(db, event=event, user=user),
    )
    return render(request, "submissions/submit.html", ctx, status_code=status_code)


@router.get("/events/{name}/submit")
def submit_page(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    event = access.get_event(db, name)
    _require_participant(db, event, user)
    storage = Storage.from_settings(request.app.state.settings)
    source_sub = None
    from_id = request.query_params.get("from")
    if from_id is not None:
        if not from_id.isdigit():
            raise HTTPException(400, "'from' must be a submission id")
        source_sub = access.get_submission(db, int(from_id))
        if source_sub.event_id != event.id:
            raise HTTPException(400, "that submission belongs to another event")
        access.require_code_access(db, source_sub, user)
        files = submissions.submission_sources(
            settings=request.app.state.settings, submission=source_sub
        )
        sources = {f: files.get(f, b"").decode("utf-8", "replace") for f in SUBMISSION_FILES}
    else:
        sources = starting_kit_sources(storage, event)
    return _form_page(request, db, event, user, sources=sources, copied_from=source_sub)


def parse_credits(form) -> list[tuple[int, float]]:  # noqa: ANN001 - starlette FormData
    """``credit_sub``/``credit_pct`` pairs of the form; blank rows are skipped."""
    subs, pcts = form.getlist("credit_sub"), form.getlist("credit_pct")
    out: list[tuple[int, float]] = []
    for sid, pct in zip(subs, pcts, strict=False):
        if not str(sid).strip() or not str(pct).strip():
            continue
        try:
            out.append((int(sid), float(pct)))
        except ValueError:
            raise UploadRejected(
                f"credit row ({sid!r}, {pct!r}): give a submission and a percentage number"
            ) from None
    return out


@router.post("/events/{name}/submit", dependencies=[Csrf])
async def submit(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    settings = request.app.state.settings
    event = await run_in_threadpool(access.get_event, db, name)
    await run_in_threadpool(_require_participant, db, event, user)
    form = await request.form()
    sub_name = str(form.get("name") or "")
    sources = {f: str(form.get(f"code_{f.removesuffix('.py')}") or "") for f in SUBMISSION_FILES}
    copied_from_id = str(form.get("copied_from") or "")
    copied_from = None
    if copied_from_id.isdigit():
        copied_from = await run_in_threadpool(access.find_submission, db, int(copied_from_id))
    credits: list[tuple[int, float]] = []
    try:
        credits = parse_credits(form)
        files: dict[str, bytes] = {}
        for filename in SUBMISSION_FILES:
            upload = form.get(filename.removesuffix(".py"))
            data = None
            if isinstance(upload, UploadFile):
                data = await read_upload(upload, field=filename, limit=event.upload_max_bytes)
            if data is not None:
                files[filename] = data
                # keep what was uploaded in the editor if the submission is refused
                if b"\0" not in data:
                    sources[filename] = data.decode("utf-8", "replace")
            elif sources[filename].strip():
                files[filename] = sources[filename].replace("\r\n", "\n").encode("utf-8")
        sub = await run_in_threadpool(
            lambda: submissions.submit(
                db,
                settings=settings,
                event=event,
                user=user,
                name=sub_name,
                files=files,
                credits=dict(credits) or None,
            )
        )
    except (UploadRejected, submissions.SubmissionRejected) as exc:
        message = str(exc)
        return await run_in_threadpool(
            lambda: _form_page(
                request,
                db,
                event,
                user,
                sources=sources,
                name=sub_name,
                error=message,
                copied_from=copied_from,
                credits=credits,
                status_code=400,
            )
        )
    if copied_from is not None and not await run_in_threadpool(
        access.is_teammate, db, copied_from, user
    ):

        def _log() -> None:
            collaboration.log_interaction(
                db, event=event, user=user, kind=InteractionKind.COPY, submission=copied_from
            )
            db.commit()

        await run_in_threadpool(_log)
    flash(request, f"Submission {sub.name!r} is queued.", "success")
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)
