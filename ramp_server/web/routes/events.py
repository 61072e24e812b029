"""Event pages: the list, the event page (taxa, charts, rules), join, starting kit, samples."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from ramp_server.db.models import Event, EventParticipant, Score, Split, Submission, SubmissionState
from ramp_server.storage import Storage
from ramp_server.web import access, eventdata
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False)

PHASE_BADGE = {
    "upcoming": "upcoming",
    "open": "open",
    "collaborative": "collab",
    "closed": "closed",
}
DATA_COMMAND = "ramp-server data download --out data   # or: ramp-server data synth --out data"
KIT_MAX_FILE_BYTES = 5_000_000


def storage_of(request: Request) -> Storage:
    return Storage.from_settings(request.app.state.settings)


def event_context(request: Request, db, event: Event, user, tab: str) -> dict:  # noqa: ANN001
    """What every event tab needs (header, tabs, membership)."""
    ph = access.phase(event)
    return {
        "event": event,
        "phase": ph,
        "phase_badge": PHASE_BADGE[ph],
        "accepting": ph
        in ("open", "collaborative"),  # submissions allowed (services.events.is_open)
        "member": access.membership(db, event, user),
        "tab": tab,
        "collaborative": access.is_collaborative(event),
        "show_private": access.can_see_private_leaderboard(event, user),
        "bootstrap_n": request.app.state.settings.bootstrap_n,  # the leaderboards' intervals
    }


@router.get("/")
def home(request: Request, db: Db, user: OptionalUser) -> Response:
    events = list(db.scalars(select(Event).order_by(Event.created_at.desc())))
    n_parts = dict(
        db.execute(
            select(EventParticipant.event_id, func.count()).group_by(EventParticipant.event_id)
        ).all()
    )
    n_subs = dict(
        db.execute(select(Submission.event_id, func.count()).group_by(Submission.event_id)).all()
    )
    joined: set[int] = set()
    if user is not None:
        joined = set(
            db.scalars(select(EventParticipant.event_id).where(EventParticipant.user_id == user.id))
        )
    items = []
    for ev in events:
        ph = access.phase(ev)
        items.append(
            {
                "event": ev,
                "phase": ph,
                "badge": PHASE_BADGE[ph],
                "n_participants": n_parts.get(ev.id, 0),
                "n_submissions": n_subs.get(ev.id, 0),
                "joined": ev.id in joined,
            }
        )
    return render(request, "home.html", {"events": items})


def board_version(db, event) -> tuple:  # noqa: ANN001
    from ramp_server.web.routes.leaderboards import board_version as version

    return version(db, event)


@router.get("/events/{name}")
def event_page(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    public_dir = storage_of(request).public_dir(event.name)
    cards, from_bundle = eventdata.taxon_cards(public_dir)
    st = eventdata.official_score_type(event)
    best = db.scalar(
        select(func.min(Score.value) if st.get("is_lower_better") else func.max(Score.value)).where(
            Score.submission_id.in_(
                select(Submission.id).where(
                    Submission.event_id == event.id, Submission.state == SubmissionState.SCORED
                )
            ),
            Score.fold.is_(None),
            Score.split == Split.VALID,
            Score.score_name == st["name"],
        )
    )
    ctx = event_context(request, db, event, user, "overview")
    # the charts depend only on scored submissions and blends: memoized by the board version
    cache = request.app.state.board_cache
    key = ("charts", event.id, board_version(db, event))
    charts = cache.get(key)
    if charts is None:
        charts = [
            eventdata.scores_over_time(db, event),
            eventdata.hybrid_over_time(db, event),
            eventdata.contributivity_chart(db, event),
        ]
        cache.put(key, charts)
    ctx.update(
        cards=cards,
        counts_from_bundle=from_bundle,
        has_images=(public_dir / "train_images.npy").is_file(),
        frequency_chart=eventdata.frequency_chart(cards),
        scores_chart=charts[0],
        hybrid_chart=charts[1],
        contributivity_chart=charts[2],
        blend=eventdata.last_blend(db, event),
        best_score=best,
        score_precision=int(st.get("precision", 4)),
        n_participants=db.scalar(select(func.count()).where(EventParticipant.event_id == event.id)),
        n_submissions=db.scalar(select(func.count()).where(Submission.event_id == event.id)),
        data_command=DATA_COMMAND,
    )
    return render(request, "events/event.html", ctx)


@router.post("/events/{name}/join", dependencies=[Csrf])
def join(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    from ramp_server.services import participants

    event = access.get_event(db, name)
    member = participants.join_event(db, event=event, user=user)
    db.commit()
    if member.approved:
        flash(
            request, f"You joined {event.title}. Download the starting kit and submit!", "success"
        )
    else:
        flash(request, "Your request to join is waiting for an administrator's approval.", "info")
    return RedirectResponse(f"/events/{event.name}", status_code=303)


@router.get("/events/{name}/taxa/{class_id}.png")
def taxon_samples(request: Request, db: Db, name: str, class_id: int) -> Response:
    event = access.get_event(db, name)
    png = eventdata.sample_strip_png(storage_of(request).public_dir(event.name), class_id)
    if png is None:
        raise HTTPException(404, f"no sample image of class {class_id} in this event's data")
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


def _kit_files(kit_dir: Path) -> list[Path]:
    files = []
    for path in sorted(kit_dir.rglob("*")):
        rel = path.relative_to(kit_dir)
        if not path.is_file() or path.is_symlink():
            continue
        if rel.parts[0] in ("data", "__pycache__") or "__pycache__" in rel.parts:
            continue
        if path.stat().st_size > KIT_MAX_FILE_BYTES:
            continue
        files.append(path)
    return files


@router.get("/events/{name}/starting-kit.zip")
def starting_kit(request: Request, db: Db, name: str) -> Response:
    event = access.get_event(db, name)
    storage = storage_of(request)
    kit_dir = storage.resolve(event.kit_dir) if event.kit_dir else storage.kit_dir(event.name)
    if not kit_dir.is_dir():
        raise HTTPException(404, "this event's kit snapshot is missing from the storage directory")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in _kit_files(kit_dir):
            zf.write(path, path.relative_to(kit_dir).as_posix())
        zf.writestr(
            "DATA.md",
            f"# Data of the {event.title} event\n\n"
            "The images are not in this archive. Get them into `data/` with:\n\n"
            f"    {DATA_COMMAND}\n\n"
            "then run the starting kit exactly as the platform does:\n\n"
            "    ramp-test --submission starting_kit --quick-test\n",
        )
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{event.name}-starting-kit.zip"'},
    )
