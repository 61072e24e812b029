"""Leaderboard pages: public, competition, private, my submissions, failed, interactions.

Each board is one SQL query of :mod:`ramp_server.services.leaderboards`; the public one is
paginated (``limit + 1`` rows tell whether a next page exists, so no extra COUNT query).

The public board's rows are memoized per app, keyed by the event's *board version* (number of
scored submissions and time of the latest blend: one index-only aggregate, ~0.5 ms at 10,000
submissions). A newly scored submission or a re-blend (new contributivities) changes the version
at once; the rare change that keeps the count (a requeued submission scored again) is bounded by
:data:`BOARD_TTL_S`. Many viewers of an unchanged board then cost one cheap query each instead of
the full sort (see bench/bench_leaderboard.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import func, select

from ramp_server.db.models import Blend, Interaction, Submission, SubmissionState, User
from ramp_server.services import leaderboards
from ramp_server.web import access, eventdata
from ramp_server.web.deps import CurrentUser, Db, OptionalUser
from ramp_server.web.routes.events import event_context
from ramp_server.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
#: the longest a memoized page may live (bounds staleness when the version misses a change)
BOARD_TTL_S = 30.0


class BoardCache:
    """A small thread-safe LRU of values derived from the board version (rows, charts), one per
    app (``app.state.board_cache``); entries also expire after :data:`BOARD_TTL_S`."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._rows: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._rows.get(key)
            if hit is None:
                return None
            if time.monotonic() - hit[0] > BOARD_TTL_S:
                del self._rows[key]
                return None
            self._rows.move_to_end(key)
            return hit[1]

    def put(self, key: tuple, rows: Any) -> None:
        with self._lock:
            self._rows[key] = (time.monotonic(), rows)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


#: non-score columns of the public board that can be sorted, with their labels
EXTRA_SORTS = {
    "contributivity": "contrib.",
    "historical_contributivity": "hist. contrib.",
    "train_time": "train time",
    "valid_time": "valid time",
    "test_time": "test time",
    "submitted_at": "submitted",
}


def board_version(db, event) -> tuple:  # noqa: ANN001
    """What changes whenever the public board's content may change (one aggregate query)."""
    last_blend = (
        select(func.max(Blend.computed_at)).where(Blend.event_id == event.id).scalar_subquery()
    )
    row = db.execute(
        select(func.count(), last_blend)
        .select_from(Submission)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
    ).one()
    return tuple(row)


def cached_public_rows(
    db,  # noqa: ANN001
    event,  # noqa: ANN001
    *,
    sort: str,
    best_first: bool,
    page: int,
    cache: BoardCache | None,
    version: tuple | None = None,
) -> list[dict]:
    """``PAGE_SIZE + 1`` rows of the public board, memoized by :func:`board_version`."""
    version = version if version is not None else board_version(db, event)
    key = ("public", event.id, version, sort, best_first, page, PAGE_SIZE)
    rows = cache.get(key) if cache is not None else None
    if rows is not None:
        return rows
    rows = leaderboards.public_leaderboard(
        db,
        event=event,
        sort_by=sort,
        best_first=best_first,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    if cache is not None:
        cache.put(key, rows)
    return rows


def memoized(request: Request, db, event, what: tuple, compute) -> Any:  # noqa: ANN001
    """``compute()`` memoized in the app's board cache under the event's board version."""
    cache: BoardCache = request.app.state.board_cache
    key = (what, event.id, board_version(db, event))
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value


def public_page(
    db,  # noqa: ANN001
    event,  # noqa: ANN001
    *,
    sort: str | None,
    order: str,
    page: int,
    cache: BoardCache | None = None,
    version: tuple | None = None,
) -> dict:
    """Rows of one page of the public board and what the template needs to link sorts."""
    names = [st["name"] for st in event.score_types]
    sort = sort or event.official_score_name
    if sort not in names and sort not in EXTRA_SORTS:
        raise HTTPException(
            400, f"cannot sort by {sort!r}: use one of {', '.join(names + list(EXTRA_SORTS))}"
        )
    best_first = order != "worst"
    page = max(1, page)
    rows = cached_public_rows(
        db, event, sort=sort, best_first=best_first, page=page, cache=cache, version=version
    )
    return {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "page": page,
        "sort": sort,
        "order": "best" if best_first else "worst",
    }


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
    cache: BoardCache = request.app.state.board_cache
    version = board_version(db, event)
    data = public_page(db, event, sort=sort, order=order, page=page, cache=cache, version=version)
    # The table body is rendered once per board version and page (the viewer's own rows are
    # highlighted by a per-request CSS rule), so a busy board costs little per view.
    key = ("public_rows", event.id, version, data["sort"], data["order"], data["page"], PAGE_SIZE)
    rows_html = cache.get(key)
    if rows_html is None:
        template = request.app.state.templates.get_template("leaderboards/_public_rows.html")
        rows_html = Markup(template.render(rows=data["rows"], event=event))
        cache.put(key, rows_html)
    ctx.update(data)
    ctx.update(rows_html=rows_html, extra_sorts=EXTRA_SORTS, blend=eventdata.last_blend(db, event))
    return render(request, "leaderboards/public.html", ctx)


@router.get("/events/{name}/competition")
def competition(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    _guard_public(db, event, user)
    include_test = access.can_see_private_leaderboard(event, user)
    ctx = event_context(request, db, event, user, "competition")
    ctx.update(
        rows=memoized(
            request,
            db,
            event,
            ("competition", include_test),
            lambda: leaderboards.competition_leaderboard(
                db, event=event, include_test=include_test
            ),
        ),
        include_test=include_test,
    )
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
    ctx.update(rows=leaderboards.my_submissions(db, event=event, user=user))
    return render(request, "leaderboards/mine.html", ctx)


@router.get("/events/{name}/failed")
def failed(request: Request, db: Db, user: OptionalUser, name: str) -> Response:
    event = access.get_event(db, name)
    _guard_public(db, event, user)
    ctx = event_context(request, db, event, user, "failed")
    ctx.update(rows=leaderboards.failed_submissions(db, event=event))
    return render(request, "leaderboards/failed.html", ctx)


def interaction_rows(db, event, *, limit: int = 300) -> list[dict]:  # noqa: ANN001
    owner = User.__table__.alias("owner")
    query = (
        select(
            Interaction.at,
            Interaction.kind,
            User.name.label("user"),
            Submission.id.label("submission_id"),
            Submission.name.label("submission"),
            owner.c.name.label("owner"),
        )
        .outerjoin(User, User.id == Interaction.user_id)
        .outerjoin(Submission, Submission.id == Interaction.submission_id)
        .outerjoin(owner, owner.c.id == Submission.user_id)
        .where(Interaction.event_id == event.id)
        .order_by(Interaction.at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": r.at.isoformat(),
            "kind": r.kind.value,
            "user": r.user,
            "submission_id": r.submission_id,
            "submission": r.submission,
            "owner": r.owner,
        }
        for r in db.execute(query)
    ]


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
    ctx.update(rows=interaction_rows(db, event))
    return render(request, "leaderboards/interactions.html", ctx)
