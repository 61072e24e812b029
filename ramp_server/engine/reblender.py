"""Debounced background re-blending: :class:`Reblender` runs :func:`~.reblend.reblend_event`.

``request(event_id)`` returns at once; requests for the same event within
``settings.reblend_debounce_s`` are coalesced into one re-blend (at most 5 × the debounce after
the first). One daemon thread blends one event at a time; a failure is logged and kept in
``errors`` until the next success.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ramp_server.blending.store import PredictionCache
from ramp_server.engine.reblend import DEFAULT_CACHE, BlendSummary, reblend_event

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
        cache: PredictionCache | None = None,
        **reblend_options: Any,
    ) -> None:
        self.settings = settings
        self.debounce_s = settings.reblend_debounce_s if debounce_s is None else debounce_s
        self.cache = cache or DEFAULT_CACHE
        self.reblend_options = reblend_options
        self._factory = session_factory
        self._engine = None
        self._due: dict[int, float] = {}
        self._first: dict[int, float] = {}
        self._running: int | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.summaries: dict[int, BlendSummary] = {}
        self.errors: dict[int, BaseException] = {}
        self.runs = 0

    def request(self, event_id: int) -> None:
        """Ask for a re-blend of ``event_id`` soon; returns immediately."""
        now = time.monotonic()
        with self._cond:
            if self._stopping:
                return
            self._first.setdefault(event_id, now)
            # wait debounce_s after the last request, but never more than 5 x debounce_s overall
            self._due[event_id] = min(
                now + self.debounce_s, self._first[event_id] + 5 * self.debounce_s
            )
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="reblender", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def state(self, event_id: int) -> str:
        """``"running"``, ``"pending"`` (requested, not started) or ``"idle"``."""
        with self._cond:
            if self._running == event_id:
                return "running"
            return "pending" if event_id in self._due else "idle"

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no re-blend is pending or running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running re-blend, drop pending ones and end the thread."""
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

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._due:
                        event_id, due = min(self._due.items(), key=lambda kv: kv[1])
                        wait = due - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopping:
                    self._cond.notify_all()
                    return
                del self._due[event_id]
                self._first.pop(event_id, None)
                self._running = event_id
            summary = error = None
            try:
                session = self._sessions()()
                try:
                    summary = reblend_event(
                        session,
                        settings=self.settings,
                        event_id=event_id,
                        cache=self.cache,
                        **self.reblend_options,
                    )
                finally:
                    session.close()
                log.info(
                    "re-blended event %s: %s submissions in %.2f s",
                    event_id,
                    summary.n_submissions,
                    summary.time_s,
                )
            except Exception as exc:  # keep the thread alive; the next request retries
                error = exc
                log.exception("re-blend of event %s failed", event_id)
            finally:
                with self._cond:  # the outcome and the idle state become visible together
                    if error is None and summary is not None:
                        self.summaries[event_id] = summary
                        self.errors.pop(event_id, None)
                    elif error is not None:
                        self.errors[event_id] = error
                    self.runs += 1
                    self._running = None
                    self._cond.notify_all()
