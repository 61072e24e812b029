"""Event pages: the list, the event page (taxa, charts, rules), join, starting kit, samples."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ramp_server.services import blends, event_stats, freeze, leaderboards, participants
from ramp_server.services.board_columns import official_spec
from ramp_server.web import access, event_charts, eventdata
from ramp_server.web.context import PHASE_BADGE, event_context, memoized, storage_of
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False)

DATA_COMMAND = "ramp-server data download --out data   # or: ramp-server data synth --out data"
KIT_MAX_FILE_BYTES = 5_000_000


@router.get("/")
def home(request: Request, db: Db, user: OptionalUser) -> Response:
    items = event_stats.event_overview(db, user=user)
    for item in items:
        ph = access.phase(item["event"])
        item.update(phase=ph, badge=PHASE_BADGE[ph])
    return render(request, "home.html", {"events": items})


@router.get("/events/{name}")
def event_page(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    public_dir = storage_of(request).public_dir(event.name)
    cards, from_bundle = eventdata.taxon_cards(public_dir)
    spec = official_spec(event)
    ctx = event_context(request, db, event, user, "overview")
    # the charts depend only on scored submissions and blends: memoized by the board version
    charts = memoized(request, db, event, ("charts",), lambda: event_charts.event_charts(db, event))
    blend = blends.latest_blend(db, event_id=event.id)
    extras = blends.latest_extras(db, event_id=event.id)
    frozen_at = access.board_frozen_at(event, user)
    if frozen_at is not None:  # nothing scored after the freeze shows (services.freeze)
        charts = memoized(
            request,
            db,
            event,
            ("charts_frozen", frozen_at),
            lambda: event_charts.frozen_event_charts(db, event, frozen_at),
        )
        blend, extras = freeze.last_blend_at(db, event=event, at=frozen_at), None
    ctx.update(
        frozen_at=frozen_at,
        cards=cards,
        counts_from_bundle=from_bundle,
        has_images=(public_dir / "train_images.npy").is_file(),
        frequency_chart=eventdata.frequency_chart(cards),
        scores_chart=charts["scores"],
        hybrid_chart=charts["hybrid"],
        contributivity_chart=charts["contributivity"],
        contributivity_history_chart=charts["contributivity_history"],
        blend=blend,
        extras=extras,
        best_score=leaderboards.best_score(db, event=event, scored_by=frozen_at),
        score_precision=int(spec.get("precision", 4)),
        data_command=DATA_COMMAND,
        **event_stats.event_counts(db, event=event),
    )
    return render(request, "events/event.html", ctx)


@router.post("/events/{name}/join", dependencies=[Csrf])
def join(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
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
