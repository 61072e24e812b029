"""One submission: live state, folds, scores, pictures, traceback, code, diff, download, owner
actions."""

from __future__ import annotations

import io
import zipfile

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from ramp_server.db.models import InteractionKind, Submission, User
from ramp_server.services import blends, collaboration, exports, submissions
from ramp_server.storage import Storage
from ramp_server.web import access, event_charts, result_charts, submission_view
from ramp_server.web.context import event_context, queue_positions
from ramp_server.web.deps import AdminUser, Csrf, CurrentUser, Db
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def _visible(db, sub: Submission, user: User) -> Submission:  # noqa: ANN001
    if not access.can_see_submission(db, sub, user):
        raise HTTPException(
            403,
            "this submission belongs to another participant: it becomes visible to the "
            "event's participants after the public (collaborative) opening",
        )
    return sub


def _log(db, sub: Submission, user: User, kind: InteractionKind) -> None:  # noqa: ANN001
    if not access.is_teammate(db, sub, user):  # looking at another team's work
        collaboration.log_interaction(db, event=sub.event, user=user, kind=kind, submission=sub)


@router.get("/submissions/{submission_id}")
def submission_page(request: Request, db: Db, user: CurrentUser, submission_id: int) -> Response:
    sub = _visible(db, access.get_submission(db, submission_id), user)
    storage = Storage.from_settings(request.app.state.settings)
    event = sub.event
    code = {
        name: submission_view.highlighted(text)
        for name, text in submission_view.code_files(storage, sub).items()
    }
    _log(db, sub, user, InteractionKind.VIEW)
    traceback = sub.traceback or next((f.traceback for f in sub.folds if f.traceback), None)
    ctx = event_context(request, db, event, user, "submission")
    ctx.update(
        sub=sub,
        status=submission_view.status(db, sub, positions=queue_positions(request, db)),
        scores=submission_view.score_table(
            db, sub, include_test=access.can_see_private_leaderboard(event, user)
        ),
        code=code,
        credits=collaboration.credits_of(db, submission=sub),
        contributivity_chart=event_charts.submission_contributivity_chart(
            blends.contributivity_history(db, submission=sub)
        ),
        extras=blends.latest_extras(db, event_id=sub.event_id),
        traceback=traceback,
        pygments_css=submission_view.pygments_css(),
        candidates=collaboration.diff_candidates(
            db,
            submission=sub,
            user=user,
            see_all=user.is_admin or access.is_collaborative(event),
        ),
        is_owner=access.is_teammate(db, sub, user),
        pictures=result_charts.submission_pictures(
            db, settings=request.app.state.settings, sub=sub
        ),
        terminal=sub.state.value in ("scored", "error", "cancelled"),
    )
    return render(request, "submissions/submission.html", ctx)


@router.get("/submissions/{submission_id}/diff")
def diff_page(
    request: Request, db: Db, user: CurrentUser, submission_id: int, against: int
) -> Response:
    sub = _visible(db, access.get_submission(db, submission_id), user)
    other = access.get_submission(db, against)
    access.require_code_access(db, sub, user)
    access.require_code_access(db, other, user)
    if other.event_id != sub.event_id:
        raise HTTPException(400, "both submissions must belong to the same event")
    storage = Storage.from_settings(request.app.state.settings)
    html = submission_view.diff_html(
        submission_view.code_files(storage, other),
        submission_view.code_files(storage, sub),
        old_label=f"{other.user.name}/{other.name}",
        new_label=f"{sub.user.name}/{sub.name}",
    )
    _log(db, other, user, InteractionKind.DIFF)
    _log(db, sub, user, InteractionKind.DIFF)
    ctx = event_context(request, db, sub.event, user, "submission")
    ctx.update(sub=sub, other=other, diff=html, pygments_css=submission_view.pygments_css())
    return render(request, "submissions/diff.html", ctx)


def _zip(files: dict[str, bytes], prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(f"{prefix}/{name}", data)
    return buf.getvalue()


@router.get("/submissions/{submission_id}/download.zip")
def download(request: Request, db: Db, user: CurrentUser, submission_id: int) -> Response:
    sub = access.get_submission(db, submission_id)
    access.require_code_access(db, sub, user)
    files = submissions.submission_sources(settings=request.app.state.settings, submission=sub)
    _log(db, sub, user, InteractionKind.DOWNLOAD)
    return Response(
        _zip(files, sub.name),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{sub.name}.zip"'},
    )


@router.get("/events/{name}/my-submissions.zip")
def download_mine(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    """All of the participant's submissions to the event (code and scores) as one archive."""
    event = access.get_event(db, name)
    buf = io.BytesIO()
    exports.export_archive(db, settings=request.app.state.settings, event=event, out=buf, user=user)
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{event.name}-{user.name}.zip"'},
    )


@router.get("/submissions/{submission_id}/folds/{fold}/log")
def fold_log(
    request: Request, db: Db, user: CurrentUser, submission_id: int, fold: int
) -> Response:
    sub = access.get_submission(db, submission_id)
    if not access.can_act_on(db, sub, user):
        raise HTTPException(403, "only the submission's team and administrators see its logs")
    path = Storage.from_settings(request.app.state.settings).log_path(sub.id, fold)
    if not path.is_file():
        raise HTTPException(404, f"no log for fold {fold} yet")
    return PlainTextResponse(path.read_text(encoding="utf-8", errors="replace"))


def _own(db, user: User, submission_id: int) -> Submission:  # noqa: ANN001
    sub = access.get_submission(db, submission_id)
    if not access.can_act_on(db, sub, user):
        raise HTTPException(403, "only the submission's team can do that")
    return sub


@router.post("/submissions/{submission_id}/select", dependencies=[Csrf])
def select_for_competition(
    request: Request, db: Db, user: CurrentUser, submission_id: int
) -> Response:
    sub = _own(db, user, submission_id)
    submissions.select_for_competition(db, submission=sub)
    db.commit()
    flash(request, f"{sub.name!r} now represents you on the competition leaderboard.", "success")
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


@router.post("/submissions/{submission_id}/withdraw", dependencies=[Csrf])
def withdraw(request: Request, db: Db, user: CurrentUser, submission_id: int) -> Response:
    sub = _own(db, user, submission_id)
    submissions.set_withdrawn_from_blend(db, submission=sub, withdrawn=not sub.withdrawn_from_blend)
    db.commit()
    flash(
        request,
        "Withdrawn from the hybrid model."
        if sub.withdrawn_from_blend
        else "Back in the hybrid model.",
        "success",
    )
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


@router.post("/submissions/{submission_id}/cancel", dependencies=[Csrf])
def cancel(request: Request, db: Db, user: CurrentUser, submission_id: int) -> Response:
    sub = _own(db, user, submission_id)
    submissions.cancel(db, submission=sub)
    db.commit()
    flash(request, f"{sub.name!r} is cancelled.", "success")
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


@router.post("/submissions/{submission_id}/requeue", dependencies=[Csrf])
def requeue(request: Request, db: Db, user: AdminUser, submission_id: int) -> Response:
    sub = access.get_submission(db, submission_id)
    submissions.requeue(db, submission=sub)
    db.commit()
    flash(request, f"{sub.name!r} is queued again.", "success")
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)
