"""E-mail notifications through a persisted outbox: never sent inside a request or by the
dispatcher's loop, never lost silently.

Whoever decides to send an e-mail (a submission scored or failed, an organiser's message to the
participants) adds an :class:`~ramp_server.db.models.OutboxMessage` in its own transaction. The
dispatcher process's sender thread (:class:`ramp_server.engine.mail_sender.OutboxSender`) calls
:func:`send_due`: each due message is sent through :func:`accounts.send_mail` (the log by
default, SMTP with ``mail_backend=smtp``); a failure is logged and retried after
``smtp_retry_s`` (doubled each time) up to ``smtp_max_attempts``, then logged as an error and
kept, marked failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    EventParticipant,
    OutboxMessage,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services import ServiceError
from ramp_server.services.accounts import Mail, send_mail

if TYPE_CHECKING:
    from ramp_server.config import Settings
    from ramp_server.db.models import Event

log = logging.getLogger(__name__)

#: how long a sender holds a message it is sending (then another attempt may take it)
CLAIM_S = 300.0
#: whom an organiser's message goes to: every participant, or the approved or pending ones
AUDIENCES = ("all", "approved", "pending")


def enqueue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    link_path: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the outbox (flushed; sent once the caller's transaction commits)."""
    now = now or utcnow()
    msg = OutboxMessage(
        to_addr=to,
        subject=subject[:300],
        body=body,
        link_path=link_path,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(msg)
    session.flush()
    return msg


def notify_submission_done(session: Session, *, submission: Submission) -> OutboxMessage | None:
    """Tell the submitter their submission is scored or failed (with the error kind and a
    link), unless they opted out; called in the transaction that records it."""
    user, event = submission.user, submission.event
    if not user.is_active or not user.notify_by_email:
        return None
    if submission.state == SubmissionState.SCORED:
        subject = f"[{event.name}] {submission.name} is scored"
        body = f"Your submission {submission.name} to {event.title} is scored on every fold."
    elif submission.state == SubmissionState.ERROR:
        kind = submission.error_kind.value if submission.error_kind else "error"
        subject = f"[{event.name}] {submission.name} failed ({kind})"
        body = (
            f"Your submission {submission.name} to {event.title} failed: {kind}.\n\n"
            f"{(submission.error_message or '').strip()[:1000]}"
        )
    else:
        return None
    body += "\n\nYou can turn these e-mails off on your account page."
    return enqueue(
        session,
        to=user.email,
        subject=subject,
        body=body,
        link_path=f"/submissions/{submission.id}",
    )


def email_participants(
    session: Session, *, event: Event, subject: str, body: str, audience: str = "all"
) -> int:
    """Queue an organiser's message to the event's active participants (``audience``: all,
    approved or pending ones); flushed; returns how many were queued."""
    if audience not in AUDIENCES:
        raise ServiceError(f"audience {audience!r}: use one of {', '.join(AUDIENCES)}")
    if not subject.strip() or not body.strip():
        raise ServiceError("subject and body: both are needed to e-mail the participants")
    query = (
        select(User.email)
        .join(EventParticipant, EventParticipant.user_id == User.id)
        .where(EventParticipant.event_id == event.id, User.is_active.is_(True))
        .order_by(User.id)
    )
    if audience != "all":
        query = query.where(EventParticipant.approved.is_(audience == "approved"))
    emails = list(session.scalars(query))
    for email in emails:
        enqueue(
            session,
            to=email,
            subject=f"[{event.name}] {subject.strip()}",
            body=body.strip(),
            link_path=f"/events/{event.name}",
        )
    return len(emails)


def outbox_counts(session: Session) -> dict[str, int]:
    """``{"pending", "sent", "failed"}``: how many messages of the outbox are in each state."""
    pending, sent, failed = session.execute(
        select(
            func.count().filter(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)),
            func.count().filter(OutboxMessage.sent_at.is_not(None)),
            func.count().filter(OutboxMessage.failed_at.is_not(None)),
        )
    ).one()
    return {"pending": pending, "sent": sent, "failed": failed}


def _render(settings: Settings, msg: OutboxMessage) -> Mail:
    body = msg.body
    if msg.link_path:
        body += f"\n\n{(settings.base_url or '').rstrip('/')}{msg.link_path}"
    return Mail(to=msg.to_addr, subject=msg.subject, body=body)


def send_due(
    session: Session,
    *,
    settings: Settings,
    now: datetime | None = None,
    send: Callable[[Settings, Mail], None] = send_mail,
    limit: int = 100,
) -> dict[str, int]:
    """Send the outbox's due messages, each in its own transaction (a row lock: two senders
    never send one twice); returns ``{"sent", "retried", "failed"}`` counts."""
    now = now or utcnow()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    due = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
    )
    session.commit()
    for msg_id in due:
        # claim it (a short transaction), send with no transaction open, then record the result
        lock_row(session, OutboxMessage, msg_id)
        msg = session.get(OutboxMessage, msg_id, populate_existing=True)
        if msg.sent_at is not None or msg.failed_at is not None or msg.next_attempt_at > now:
            session.commit()  # another sender has it
            continue
        msg.attempts += 1
        # should this process die while sending, the message is sent again after the claim
        msg.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        mail = _render(settings, msg)
        session.commit()
        error = None
        try:
            send(settings, mail)
        except Exception as exc:  # any failure of the mail server: retried, never dropped
            error = f"{type(exc).__name__}: {exc}"[:2000]
        lock_row(session, OutboxMessage, msg_id)
        msg = session.get(OutboxMessage, msg_id, populate_existing=True)
        if error is None:
            msg.sent_at = utcnow()
            counts["sent"] += 1
        else:
            counts[_failed(settings, msg, error, now)] += 1
        session.commit()
    return counts


def _failed(settings: Settings, msg: OutboxMessage, error: str, now: datetime) -> str:
    """Record a failed attempt: retried later, or given up after the last; always logged."""
    msg.last_error = error
    if msg.attempts >= settings.smtp_max_attempts:
        msg.failed_at = now
        log.error(
            "e-mail %s to %s given up after %s attempts: %s",
            msg.id,
            msg.to_addr,
            msg.attempts,
            error,
        )
        return "failed"
    wait = settings.smtp_retry_s * 2 ** (msg.attempts - 1)
    msg.next_attempt_at = now + timedelta(seconds=wait)
    log.warning(
        "e-mail %s to %s failed (attempt %s of %s), retried in %.0f s: %s",
        msg.id,
        msg.to_addr,
        msg.attempts,
        settings.smtp_max_attempts,
        wait,
        error,
    )
    return "retried"
