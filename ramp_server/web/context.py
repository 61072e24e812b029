"""What several routes share: an event tab's context, the board cache, one page of the board.

Routes import from here, never from each other. The public board's rows (and what pages derive
from the scored submissions and blends: charts, the competition and private boards) are
memoized per app, keyed by the event's *board version*
(:func:`ramp_server.services.leaderboards.board_version`: the number of scored submissions and
the time of the latest blend, one index-only aggregate). A newly scored submission or a
re-blend changes the version at once; the rare change that keeps it (a requeued submission
scored again) is bounded by :data:`BOARD_TTL_S`. Many viewers of an unchanged board then cost
one cheap query each instead of the full sort (see ``bench/bench_leaderboard.py``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, User
from ramp_server.services import freeze, leaderboards
from ramp_server.storage import Storage
from ramp_server.web import access

PHASE_BADGE = {
    "upcoming": "upcoming",
    "open": "open",
    "collaborative": "collab",
    "closed": "closed",
}
#: rows of one page of the public leaderboard (pages and JSON API)
PAGE_SIZE = 50
#: the longest a memoized page may live (bounds staleness when the version misses a change)
BOARD_TTL_S = 30.0
#: non-score columns of the public board that can be sorted, with their labels
EXTRA_SORTS = {
    "contributivity": "contrib.",
    "historical_contributivity": "hist. contrib.",
    "train_time": "train time",
    "valid_time": "valid time",
    "test_time": "test time",
    "submitted_at": "submitted",
}


def storage_of(request: Request) -> Storage:
    """The storage directory of the app's settings."""
    return Storage.from_settings(request.app.state.settings)


def event_context(
    request: Request, db: Session, event: Event, user: User | None, tab: str
) -> dict[str, Any]:
    """What every event tab needs (header, tabs, membership)."""
    ph = access.phase(event)
    return {
        "event": event,
        "phase": ph,
        "phase_badge": PHASE_BADGE[ph],
        "accepting": ph in ("open", "collaborative"),  # submissions allowed (events.is_open)
        "member": access.membership(db, event, user),
        "tab": tab,
        "collaborative": access.is_collaborative(event),
        "show_private": access.can_see_private_leaderboard(event, user),
        "bootstrap_n": request.app.state.settings.bootstrap_n,  # the leaderboards' intervals
    }


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


def board_cache(request: Request) -> BoardCache:
    return request.app.state.board_cache


def memoized(
    request: Request,
    db: Session,
    event: Event,
    what: tuple,
    compute: Callable[[], Any],
    *,
    version: tuple | None = None,
) -> Any:
    """``compute()`` memoized in the app's board cache under the event's board version."""
    cache = board_cache(request)
    if version is None:
        version = leaderboards.board_version(db, event=event)
    key = (what, event.id, version)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value


#: how long a web process reuses the computed queue order (its positions) for every page
QUEUE_TTL_S = 2.0


def queue_positions(request: Request, db: Session) -> dict[int, int]:
    """``{submission id: queue position}`` in fair-share order, computed at most every
    :data:`QUEUE_TTL_S` seconds per web process (300 participants polling their submission pages
    share one computation)."""
    from ramp_server.services import scheduling

    cached = getattr(request.app.state, "queue_positions", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < QUEUE_TTL_S:
        return cached[1]
    positions = scheduling.queue_plan(db).positions
    request.app.state.queue_positions = (now, positions)
    return positions


def public_page(
    request: Request,
    db: Session,
    event: Event,
    *,
    sort: str | None,
    order: str,
    page: int,
    version: tuple | None = None,
    frozen_at: datetime | None = None,
) -> dict[str, Any]:
    """Rows of one page of the public board (``PAGE_SIZE + 1`` fetched: whether a next page
    exists needs no COUNT query) and what the template needs to link sorts; with ``frozen_at``,
    the board as it was then (:mod:`ramp_server.services.freeze`)."""
    names = [st["name"] for st in event.score_types]
    sort = sort or event.official_score_name
    if sort not in names and sort not in EXTRA_SORTS:
        raise HTTPException(
            400, f"cannot sort by {sort!r}: use one of {', '.join(names + list(EXTRA_SORTS))}"
        )
    best_first = order != "worst"
    page = max(1, page)
    board = leaderboards.public_leaderboard
    if frozen_at is not None:
        board = partial(freeze.frozen_public_board, at=frozen_at)
    rows = memoized(
        request,
        db,
        event,
        ("public", sort, best_first, page, PAGE_SIZE, frozen_at),
        lambda: board(
            db,
            event=event,
            sort_by=sort,
            best_first=best_first,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        ),
        version=version,
    )
    return {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "page": page,
        "sort": sort,
        "order": "best" if best_first else "worst",
        "page_size": PAGE_SIZE,
    }
