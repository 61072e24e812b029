"""The organiser's toolkit: event-wide jobs (re-scoring) and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ramp_server.db.models.base import Base, UTCDateTime, utcnow


class EventJob(Base):
    """A long organiser's job on a whole event (``kind`` "rescore"), with its progress: the
    admin page shows it while it runs and after."""

    __tablename__ = "event_jobs"
    __table_args__ = (Index(None, "event_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: "running", "done" or "failed"
    state: Mapped[str] = mapped_column(String(16), default="running")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxMessage(Base):
    """An e-mail waiting to be sent (or sent, or given up after retries): written in the
    transaction that decides to send it, sent by the outbox's sender loop, never lost."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index(None, "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: a page of the site the message links to (``/submissions/12``): made absolute with
    #: ``settings.base_url`` when sent
    link_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: set when the sender gave up after its last retry (the message stays for the organisers)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
