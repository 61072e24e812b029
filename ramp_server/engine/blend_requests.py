"""The dispatcher process's side of re-blend requests: poll the marks, hand them to the Reblender.

A web process (a withdrawal), the CLI (``ramp-server event reblend``, ``event update``) or the
results service (a newly scored submission) only sets the event's durable mark
(:mod:`ramp_server.services.blend_requests`). :class:`BlendRequestPoller` runs in the
dispatcher's process (``ramp-server dispatch`` and the embedded dispatcher of ``serve``, through
:class:`ramp_server.engine.background.ReblendHook`): every ``settings.reblend_poll_s`` it reads
the marks and asks the :class:`~ramp_server.engine.reblender.Reblender` (debounced, in its own
thread) to re-blend an event whose mark is new. The blend clears the mark unless it was set
again meanwhile, so a request made during a blend is picked up by the next poll. A mark that
stays although its blend ended (the blend failed) is retried every ``retry_s``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from ramp_server.engine.polling import PollingThread

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.engine.reblender import Reblender


class BlendRequestPoller(PollingThread):
    """Polls the database for re-blend requests; :meth:`start` a thread or call :meth:`poll`."""

    def __init__(
        self,
        reblender: Reblender,
        *,
        session_factory: sessionmaker[Session],
        poll_s: float = 2.0,
        retry_s: float = 60.0,
    ) -> None:
        super().__init__()
        self.reblender = reblender
        self.sessions = session_factory
        self.poll_s = poll_s
        self.retry_s = retry_s
        self._seen: dict[int, datetime] = {}  # mark handed to the reblender, per event
        self._sent: dict[int, float] = {}  # when (monotonic)

    def poll(self) -> list[int]:
        """One look at the marks; returns the events whose re-blend was requested now."""
        from ramp_server.services.blend_requests import pending_blend_requests

        with self.sessions() as session:
            marks = pending_blend_requests(session)
        now = time.monotonic()
        requested = []
        for event_id, mark in marks.items():
            state = self.reblender.state(event_id)
            if state == "pending":  # that blend has not read the mark yet: it covers this one
                self._seen[event_id], self._sent[event_id] = mark, now
                continue
            new = self._seen.get(event_id) != mark
            stale = state == "idle" and now - self._sent.get(event_id, -1e18) >= self.retry_s
            if new or stale:
                self.reblender.request(event_id)
                self._seen[event_id], self._sent[event_id] = mark, now
                requested.append(event_id)
        for event_id in set(self._seen) - set(marks):  # blended: forget
            self._seen.pop(event_id)
            self._sent.pop(event_id, None)
        return requested

    def drain(self, timeout: float) -> bool:
        """Blend every pending request now and wait for the blends (``dispatch --until-idle``)."""
        self.poll()
        return self.reblender.wait_idle(timeout)

    thread_name = "blend-requests"

    def step(self) -> list[int]:
        return self.poll()

    def interval_s(self) -> float:
        return self.poll_s
