"""The dispatcher process's e-mail sender: a thread that sends the outbox's due messages
(:func:`ramp_server.services.outbox.send_due`) every ``settings.smtp_poll_s`` seconds, so that
neither a web request nor the dispatcher's loop ever waits for a mail server."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.config import Settings

log = logging.getLogger(__name__)


class OutboxSender:
    """Sends the outbox in its own thread; :meth:`start`, :meth:`stop`, or :meth:`send_now`."""

    def __init__(self, settings: Settings, *, session_factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = session_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send_now(self) -> dict[str, int]:
        """One pass over the due messages (what the thread does every poll)."""
        from ramp_server.services.outbox import send_due

        with self.sessions() as session:
            return send_due(session, settings=self.settings)

    def start(self) -> OutboxSender:
        self._thread = threading.Thread(target=self._loop, name="outbox-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.send_now()
                failures = 0
            except Exception:  # noqa: BLE001 - a DB hiccup: log, back off, go on
                failures += 1
                log.exception("sending the e-mail outbox failed (%d in a row)", failures)
            self._stop.wait(min(60.0, self.settings.smtp_poll_s * 2**failures))
