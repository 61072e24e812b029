"""Debounced background re-blending: :class:`Reblender` keeps each event's blend current.

``request(event_id)`` returns at once; requests for the same event within
``settings.reblend_debounce_s`` are coalesced into one re-blend, which starts at most
``settings.reblend_max_wait_s`` after the first of them: while results keep coming (every few
seconds on an event day) the debounce alone would postpone the blend, and that cap is what bounds
the hybrid model's staleness. One daemon thread does the work, in this order of priority:

1. a due re-blend (:func:`~.reblend.blend_event`: the hybrid scores and contributivities),
   incremental from the event's :class:`~.reblend.LiveBlend` kept in memory;
2. when no re-blend is due, the extras of an event's latest blend
   (:func:`~.reblend.blend_event_extras`: Shapley values within their budget, nested score,
   intervals), which never hold back a newer blend for longer than one extras computation.

A failure is logged and kept in ``errors`` until the next success; the LiveBlend of an event
whose blend failed is dropped (the next re-blend starts from scratch).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ramp_server.engine.reblend import BlendSummary, LiveBlend, blend_event, blend_event_extras

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.config import Settings

log = logging.getLogger(__name__)


class Reblender:
    """Debounced background re-blending (one daemon thread, started on the first request)."""

    def __init__(
        self,
        settings: Settings,
        *,
        session_factory: sessionmaker[Session] | None = None,
        debounce_s: float | None = None,
        max_wait_s: float | None = None,
        extras: bool = True,
        **reblend_options: Any,
    ) -> None:
        self.settings = settings
        self.debounce_s = settings.reblend_debounce_s if debounce_s is None else debounce_s
        self.max_wait_s = settings.reblend_max_wait_s if max_wait_s is None else max_wait_s
        self.extras = extras
        self.reblend_options = reblend_options
        self._factory = session_factory
        self._engine = None
        self._due: dict[int, float] = {}
        self._first: dict[int, float] = {}
        self._running: int | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.live: dict[int, LiveBlend] = {}
        self.summaries: dict[int, BlendSummary] = {}
        self.errors: dict[int, BaseException] = {}
        self.runs = 0
        self.extras_runs = 0

    def request(self, event_id: int) -> None:
        """Ask for a re-blend of ``event_id`` soon; returns immediately."""
        now = time.monotonic()
        with self._cond:
            if self._stopping:
                return
            self._first.setdefault(event_id, now)
            # wait debounce_s after the last request, but never more than max_wait_s overall
            self._due[event_id] = min(
                now + self.debounce_s, self._first[event_id] + self.max_wait_s
            )
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="reblender", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def due_in(self, event_id: int) -> float | None:
        """Seconds until the pending re-blend of ``event_id`` starts (None: none pending)."""
        with self._cond:
            due = self._due.get(event_id)
        return None if due is None else max(0.0, due - time.monotonic())

    def state(self, event_id: int) -> str:
        """``"running"``, ``"pending"`` (requested, not started) or ``"idle"``."""
        with self._cond:
            if self._running == event_id:
                return "running"
            return "pending" if event_id in self._due else "idle"

    def _extras_due(self) -> int | None:
        if not self.extras:
            return None
        for event_id, live in self.live.items():
            if live.latest is not None and not live.latest.extras_done:
                return event_id
        return None

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no re-blend (nor extras) is pending or running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._running is not None or self._extras_due() is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running work, drop pending re-blends and end the thread."""
        with self._cond:
            self._stopping = True
            self._due.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._engine is not None:
            self._engine.dispose()

    def _sessions(self) -> sessionmaker[Session]:
        if self._factory is None:
            from ramp_server.db.engine import make_engine, make_session_factory

            self._engine = make_engine(self.settings)
            self._factory = make_session_factory(self._engine)
        return self._factory

    def _next(self) -> tuple[str, int] | None:
        """Wait for work: ``("blend", event)`` when a re-blend is due, else ``("extras",
        event)``; None when stopping. Called with the lock held."""
        while not self._stopping:
            if self._due:
                event_id, due = min(self._due.items(), key=lambda kv: kv[1])
                wait = due - time.monotonic()
                if wait <= 0:
                    del self._due[event_id]
                    self._first.pop(event_id, None)
                    return "blend", event_id
            else:
                wait = None
            extras = self._extras_due()
            if extras is not None:
                return "extras", extras
            self._cond.wait(wait)
        return None

    def _loop(self) -> None:
        while True:
            with self._cond:
                work = self._next()
                if work is None:
                    self._cond.notify_all()
                    return
                kind, event_id = work
                self._running = event_id
            summary = error = None
            try:
                session = self._sessions()()
                try:
                    live = self.live.setdefault(event_id, LiveBlend())
                    if kind == "blend":
                        summary = blend_event(
                            session,
                            settings=self.settings,
                            event_id=event_id,
                            live=live,
                            **self.reblend_options,
                        )
                    else:
                        blend_event_extras(session, settings=self.settings, live=live)
                finally:
                    session.close()
                if summary is not None:
                    log.info(
                        "re-blended event %s: %s submissions in %.2f s",
                        event_id,
                        summary.n_submissions,
                        summary.time_s,
                    )
            except Exception as exc:  # keep the thread alive; the next request retries
                error = exc
                self.live.pop(event_id, None)  # start the next blend of it from scratch
                log.exception("re-blend (%s) of event %s failed", kind, event_id)
            finally:
                with self._cond:  # the outcome and the idle state become visible together
                    if kind == "blend":
                        if error is None and summary is not None:
                            self.summaries[event_id] = summary
                            self.errors.pop(event_id, None)
                        elif error is not None:
                            self.errors[event_id] = error
                        self.runs += 1
                    else:
                        self.extras_runs += 1
                    self._running = None
                    self._cond.notify_all()
