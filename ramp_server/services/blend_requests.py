"""Durable "re-blend requested" marks: any process asks, the dispatcher's process blends.

Every service function that changes what an event's blend depends on (a newly scored or requeued
submission, a withdrawal from the blend, the event's ``max_n_ensemble`` or official score) calls
:func:`request_blend` in its own transaction, so the request commits with the change. The
dispatcher's process polls :func:`pending_blend_requests`
(:class:`ramp_server.engine.blend_requests.BlendRequestPoller`) and re-blends off any web request;
the blend reads the mark before it reads the submissions and, when it writes its result, clears the
mark only if it still holds the value it read (:func:`clear_blend_request`). A request made while a
blend runs therefore survives it and triggers the next blend: nothing is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, utcnow


def request_blend(session: Session, *, event_id: int, now: datetime | None = None) -> datetime:
    """Mark ``event_id``'s blend as out of date (does not commit: the caller's change and the
    mark commit together). Returns the mark, which always differs from the previous one."""
    now = now or utcnow()
    current = session.scalar(select(Event.blend_requested_at).where(Event.id == event_id))
    # strictly newer than the mark a running blend may have read, even within one clock tick
    mark = now if current is None or now > current else current + timedelta(microseconds=1)
    session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(blend_requested_at=mark)
        .execution_options(synchronize_session="fetch")
    )
    return mark


def pending_blend_requests(session: Session) -> dict[int, datetime]:
    """``{event_id: requested_at}`` of the events waiting for a re-blend."""
    rows = session.execute(
        select(Event.id, Event.blend_requested_at).where(Event.blend_requested_at.is_not(None))
    )
    return {event_id: at for event_id, at in rows}


def blend_request_of(session: Session, *, event_id: int) -> datetime | None:
    """The event's pending mark (None when its blend is up to date)."""
    return session.scalar(select(Event.blend_requested_at).where(Event.id == event_id))


def clear_blend_request(session: Session, *, event_id: int, seen: datetime | None) -> bool:
    """Clear the mark if it still equals ``seen`` (the value read when the blend started); does
    not commit. False when it was set again meanwhile (or ``seen`` is None): it stays."""
    if seen is None:
        return False
    result = session.execute(
        update(Event)
        .where(Event.id == event_id, Event.blend_requested_at == seen)
        .values(blend_requested_at=None)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1
