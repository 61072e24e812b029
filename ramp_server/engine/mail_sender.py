"""The dispatcher process's e-mail sender: a thread that sends the outbox's due messages
(:func:`ramp_server.services.outbox.send_due`) every ``settings.smtp_poll_s`` seconds, so that
neither a web request nor the dispatcher's loop ever waits for a mail server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ramp_server.engine.polling import PollingThread

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.config import Settings


class OutboxSender(PollingThread):
    """Sends the outbox in its own thread; :meth:`start`, :meth:`stop`, or :meth:`send_now`."""

    def __init__(self, settings: Settings, *, session_factory: sessionmaker[Session]) -> None:
        super().__init__()
        self.settings = settings
        self.sessions = session_factory

    def send_now(self) -> dict[str, int]:
        """One pass over the due messages (what the thread does every poll)."""
        from ramp_server.services.outbox import send_due

        with self.sessions() as session:
            return send_due(session, settings=self.settings)

    thread_name = "outbox-sender"

    def step(self) -> dict[str, int]:
        return self.send_now()

    def interval_s(self) -> float:
        return self.settings.smtp_poll_s
