"""Administration: users and sign-ups, queue and workers, event closing and export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from ramp_server.services import (
    accounts,
    blend_requests,
    event_stats,
    events,
    exports,
    operations,
    outbox,
    participants,
    rescore,
    users,
)
from ramp_server.web import access, event_charts
from ramp_server.web.context import event_context
from ramp_server.web.deps import AdminUser, Csrf, Db
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False, prefix="/admin")


@router.get("")
def dashboard(request: Request, db: Db, user: AdminUser) -> Response:
    return render(
        request,
        "admin/dashboard.html",
        {
            "users": users.list_users(db, limit=500),
            "pending": participants.pending_approvals(db),
            "queue": operations.queue_rows(db),
            "workers": operations.worker_rows(db),
            "events": events.list_events(db),
        },
    )


@router.post("/users/{user_id}/admin", dependencies=[Csrf])
def make_admin(
    request: Request, db: Db, user: AdminUser, user_id: int, is_admin: Annotated[str, Form()]
) -> Response:
    if user_id == user.id and is_admin != "1":
        raise HTTPException(400, "you cannot remove your own administrator rights")
    target = accounts.set_admin(db, user_id=user_id, is_admin=is_admin == "1")  # NotFound: 404
    db.commit()
    flash(
        request, f"{target.name} is {'now' if target.is_admin else 'no longer'} an administrator."
    )
    return RedirectResponse("/admin", status_code=303)


@router.post("/users/{user_id}/active", dependencies=[Csrf])
def set_active(
    request: Request, db: Db, user: AdminUser, user_id: int, is_active: Annotated[str, Form()]
) -> Response:
    if user_id == user.id:
        raise HTTPException(400, "you cannot deactivate yourself")
    target = accounts.set_active(db, user_id=user_id, is_active=is_active == "1")  # NotFound: 404
    db.commit()
    flash(request, f"{target.name} is {'active' if target.is_active else 'deactivated'}.")
    return RedirectResponse("/admin", status_code=303)


@router.get("/events/{name}")
def event_admin(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    event = access.get_event(db, name)
    ctx = event_context(request, db, event, user, "admin")
    ctx.update(
        participants=participants.list_participants(db, event=event),
        counts=event_stats.submission_state_counts(db, event=event),
        jobs=rescore.event_jobs(db, event=event),
        outbox=outbox.outbox_counts(db),
    )
    return render(request, "admin/event.html", ctx)


@router.get("/events/{name}/operations")
def operations_page(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    """The organisers' operations view: queue, workers, retried folds, throughput, re-blends."""
    event = access.get_event(db, name)
    ops = operations.event_operations(db, event=event)
    ctx = event_context(request, db, event, user, "operations")
    ctx.update(ops=ops, **event_charts.operations_charts(ops))
    return render(request, "admin/operations.html", ctx)


@router.post("/events/{name}/participants/{user_id}/approve", dependencies=[Csrf])
def approve(request: Request, db: Db, user: AdminUser, name: str, user_id: int) -> Response:
    event = access.get_event(db, name)
    target = users.get_user_by_id(db, user_id=user_id)  # NotFound: 404
    participants.approve_participant(db, event=event, user=target)
    db.commit()
    flash(request, f"{target.name} may now submit to {event.name}.", "success")
    return RedirectResponse(request.headers.get("referer") or f"/admin/events/{name}", 303)


@router.post("/events/{name}/preapprove", dependencies=[Csrf])
def preapprove(
    request: Request, db: Db, user: AdminUser, name: str, emails: Annotated[str, Form()]
) -> Response:
    event = access.get_event(db, name)
    listed = [e for e in emails.replace(",", "\n").replace(";", "\n").split() if e.strip()]
    missing = participants.pre_approve_emails(db, event=event, emails=listed)
    db.commit()
    done = len(listed) - len(missing)
    msg = f"{done} account(s) approved for {event.name}."
    if missing:
        msg += (
            f" No account yet for: {', '.join(missing)} (ask them to sign up, then run this again)."
        )
    flash(request, msg, "success" if not missing else "info")
    return RedirectResponse(f"/admin/events/{name}", status_code=303)


@router.post("/events/{name}/close", dependencies=[Csrf])
def close(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    event = access.get_event(db, name)
    events.close_event(db, event=event)
    db.commit()
    flash(request, f"{event.name} is closed; the private leaderboard is public.", "success")
    return RedirectResponse(f"/admin/events/{name}", status_code=303)


@router.post("/events/{name}/reblend", dependencies=[Csrf])
def reblend(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    """Ask the dispatcher to blend the event again (as ``ramp-server event reblend``)."""
    event = access.get_event(db, name)
    blend_requests.request_blend(db, event_id=event.id)
    db.commit()
    flash(
        request, f"Re-blend of {event.name} requested: the dispatcher runs it shortly.", "success"
    )
    return RedirectResponse(f"/admin/events/{name}", status_code=303)


@router.get("/events/{name}/export.zip")
def export(request: Request, db: Db, user: AdminUser, name: str) -> Response:
    """Everything of the event in one archive: submissions and scores, code, predictions."""
    event = access.get_event(db, name)
    tmp = tempfile.NamedTemporaryFile(prefix="ramp_export_", suffix=".zip", delete=False)
    with tmp:
        exports.export_archive(
            db,
            settings=request.app.state.settings,
            event=event,
            out=tmp,
            include_predictions=True,
        )
    return FileResponse(
        tmp.name,
        media_type="application/zip",
        filename=f"{event.name}-export.zip",
        background=BackgroundTask(lambda: Path(tmp.name).unlink(missing_ok=True)),
    )
