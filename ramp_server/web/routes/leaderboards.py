"""Leaderboard pages: public, competition, private, my submissions, failed, interactions.

Each board is one SQL query of :mod:`ramp_server.services.leaderboards`; the public one is
paginated and memoized by the board version (:mod:`ramp_server.web.context`).
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup

from ramp_server.services import blends, collaboration, freeze, leaderboards, submission_tables
from ramp_server.web import access
from ramp_server.web.context import (
    EXTRA_SORTS,
    PAGE_SIZE,
    event_context,
    memoized,
    public_page,
    queue_positions,
)
from ramp_server.web.deps import CurrentUser, Db, OptionalUser
from ramp_server.web.templating import render

router = APIRouter(include_in_schema=False)


def _guard_public(db, event, user) -> None:  # noqa: ANN001
    if not access.can_see_public_leaderboard(db, event, user):
        raise HTTPException(
            403 if user else 401,
            "this event's leaderboard is visible to "
            + (
                "its participants only"
                if event.leaderboard_visibility.value == "participants"
                else "administrators until the event closes"
            ),
        )


@router.get("/events/{name}/leaderboard")
def public(
    request: Request,
    db: Db,
    user: OptionalUser,
    name: str,
    sort: str | None = None,
    order: str = "best",
    page: int = 1,
) -> Response:
    event = access.get_event(db, name)
    _guard_public(db, event, user)
    ctx = event_context(request, db, event, user, "public")
    version = leaderboards.board_version(db, event=event)
    frozen_at = access.board_frozen_at(event, user)
    data = public_page(
        request, db, event, sort=sort, order=order, page=page, version=version, frozen_at=frozen_at
    )
    # The table body is rendered once per board version and page (the viewer's own rows are
    # highlighted by a per-request CSS rule), so a busy board costs little per view.
    template = request.app.state.templates.get_template("leaderboards/_public_rows.html")
    rows_html = memoized(
        request,
        db,
        event,
        ("public_rows", data["sort"], data["order"], data["page"], data["page_size"], frozen_at),
        lambda: Markup(template.render(rows=data["rows"], event=event)),
        version=version,
    )
    own_html = None
    if frozen_at is not None and user is not None:  # the team's later scores, for it alone
        own = freeze.own_rows_since(db, event=event, user=user, at=frozen_at)
        own_html = Markup(template.render(rows=own, event=event)) if own else None
    ctx.update(data)
    ctx.update(
        frozen_at=frozen_at,
        own_html=own_html,
        rows_html=rows_html,
        extra_sorts=EXTRA_SORTS,
        blend=blends.latest_blend(db, event_id=event.id),
    )
    return render(request, "leaderboards/public.html", ctx)


@router.get("/events/{name}/competition")
def competition(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    _guard_public(db, event, user)
    include_test = access.can_see_private_leaderboard(event, user)
    frozen_at = access.board_frozen_at(event, user)
    ctx = event_context(request, db, event, user, "competition")
    if frozen_at is not None:
        rows = memoized(
            request,
            db,
            event,
            ("competition_frozen", frozen_at),
            lambda: freeze.frozen_competition_board(db, event=event, at=frozen_at),
        )
    else:
        rows = memoized(
            request,
            db,
            event,
            ("competition", include_test),
            lambda: leaderboards.competition_leaderboard(
                db, event=event, include_test=include_test
            ),
        )
    ctx.update(rows=rows, include_test=include_test, frozen_at=frozen_at)
    return render(request, "leaderboards/competition.html", ctx)


@router.get("/events/{name}/private")
def private(request: Request, db: Db, user: OptionalUser, name: str, page: int = 1) -> Response:
    event = access.get_event(db, name)
    if not access.can_see_private_leaderboard(event, user):
        raise HTTPException(
            403 if user else 401,
            "the private (test) leaderboard is revealed when the event closes",
        )
    ctx = event_context(request, db, event, user, "private")
    rows = memoized(
        request, db, event, ("private",), lambda: leaderboards.private_leaderboard(db, event=event)
    )
    page = max(1, page)
    start = (page - 1) * PAGE_SIZE
    ctx.update(
        rows=rows[start : start + PAGE_SIZE], page=page, has_next=len(rows) > start + PAGE_SIZE
    )
    return render(request, "leaderboards/private.html", ctx)


@router.get("/events/{name}/my-submissions")
def mine(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    event = access.get_event(db, name)
    ctx = event_context(request, db, event, user, "mine")
    positions = partial(queue_positions, request, db)  # shared by this process's pages
    ctx.update(
        rows=submission_tables.my_submissions(db, event=event, user=user, positions=positions)
    )
    return render(request, "leaderboards/mine.html", ctx)


@router.get("/events/{name}/failed")
def failed(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    _guard_public(db, event, user)
    ctx = event_context(request, db, event, user, "failed")
    ctx.update(rows=submission_tables.failed_submissions(db, event=event))
    return render(request, "leaderboards/failed.html", ctx)


@router.get("/events/{name}/interactions")
def interactions(request: Request, db: Db, user: CurrentUser, name: str) -> Response:
    event = access.get_event(db, name)
    if not (
        user.is_admin or (access.is_collaborative(event) and access.is_approved(db, event, user))
    ):
        raise HTTPException(
            403, "the interaction log opens to participants with the collaborative phase"
        )
    ctx = event_context(request, db, event, user, "interactions")
    ctx.update(rows=collaboration.interaction_log(db, event=event))
    return render(request, "leaderboards/interactions.html", ctx)
