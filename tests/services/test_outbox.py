"""E-mail notifications through the outbox, sent to a real SMTP server (aiosmtpd) on
127.0.0.1, on SQLite and PostgreSQL: scored and failed submissions, the opt-out, the
organisers' messages, retries and giving up (logged), the dispatcher's sender thread."""

from __future__ import annotations

import logging
import threading
from email import message_from_bytes

import pytest
from sqlalchemy import select

from ramp_server.db.models import OutboxMessage
from ramp_server.services import outbox
from ramp_server.services.participants import approve_participant, join_event
from ramp_server.services.results import record_fold_error
from ramp_server.services.submissions import submit

from ramp_test_plugin import create_test_user, free_port, score_folds


class Inbox:
    """An aiosmtpd handler keeping what it receives; it answers ``451`` to the first
    ``refuse`` messages (a mail server's temporary failure)."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list = []
        self.refuse = refuse
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on a free loopback port: ``(inbox, port)``."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _smtp_settings(settings, port: int, **more):
    return settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "smtp_from": "organisers@example.org",
            "base_url": "https://ramp.example.org",
            **more,
        }
    )


@pytest.fixture
def ann(session, event):
    user = create_test_user(session, "ann")
    join_event(session, event=event, user=user)
    session.commit()
    return user


def _submit(session, settings, event, user, name, files):
    return submit(session, settings=settings, event=event, user=user, name=name, files=files)


def test_scored_and_failed_submissions_are_e_mailed_with_a_link(
    session, settings, event, ann, starting_kit_files, smtp
):
    inbox, port = smtp
    good = _submit(session, settings, event, ann, "good", starting_kit_files)
    bad = _submit(session, settings, event, ann, "bad", starting_kit_files)
    score_folds(session, settings, good.id, quality=0.5)
    record_fold_error(
        session, submission_id=bad.id, fold=0, kind="timeout", message="fold 1 ran out of time"
    )
    assert outbox.outbox_counts(session) == {"pending": 2, "sent": 0, "failed": 0}
    counts = outbox.send_due(session, settings=_smtp_settings(settings, port))
    assert counts == {"sent": 2, "retried": 0, "failed": 0}
    by_subject = {m["Subject"]: m for m in inbox.messages}
    scored = by_subject["[spipoll] good is scored"]
    assert scored["To"] == "ann@example.org" and scored["From"] == "organisers@example.org"
    assert f"https://ramp.example.org/submissions/{good.id}" in scored.get_payload()
    failed = by_subject["[spipoll] bad failed (timeout)"]
    assert "fold 1 ran out of time" in failed.get_payload()
    assert f"https://ramp.example.org/submissions/{bad.id}" in failed.get_payload()
    assert outbox.outbox_counts(session) == {"pending": 0, "sent": 2, "failed": 0}
    # nothing is sent twice
    assert outbox.send_due(session, settings=_smtp_settings(settings, port))["sent"] == 0


def test_the_opt_out_stops_the_submission_e_mails(
    session, settings, event, ann, starting_kit_files
):
    from ramp_server.services.accounts import set_notifications

    set_notifications(session, user=ann, by_email=False)
    session.commit()
    sub = _submit(session, settings, event, ann, "quiet", starting_kit_files)
    score_folds(session, settings, sub.id, quality=0.5)
    assert outbox.outbox_counts(session)["pending"] == 0


def test_organisers_e_mail_the_participants_of_a_state(session, settings, event, ann, smtp):
    inbox, port = smtp
    bob = create_test_user(session, "bob")
    join_event(session, event=event, user=bob)
    event.approval_required = True
    cid = create_test_user(session, "cid")
    join_event(session, event=event, user=cid)  # waits for approval
    session.commit()
    assert (
        outbox.email_participants(
            session, event=event, subject="Deadline", body="Friday.", audience="pending"
        )
        == 1
    )
    n_all = outbox.email_participants(
        session, event=event, subject="Hello", body="Welcome.", audience="all"
    )
    assert n_all == 3
    approve_participant(session, event=event, user=cid)
    session.commit()
    with pytest.raises(outbox.ServiceError, match="audience 'nobody'"):
        outbox.email_participants(session, event=event, subject="x", body="y", audience="nobody")
    with pytest.raises(outbox.ServiceError, match="subject and body"):
        outbox.email_participants(session, event=event, subject=" ", body="y")
    outbox.send_due(session, settings=_smtp_settings(settings, port))
    to = sorted((m["Subject"], m["To"]) for m in inbox.messages)
    assert to == [
        ("[spipoll] Deadline", "cid@example.org"),
        ("[spipoll] Hello", "ann@example.org"),
        ("[spipoll] Hello", "bob@example.org"),
        ("[spipoll] Hello", "cid@example.org"),
    ]


def test_failures_are_logged_retried_then_given_up_never_lost(
    session, settings, event, ann, smtp, caplog
):
    from datetime import timedelta

    from ramp_server.db.models import utcnow

    inbox, port = smtp
    inbox.refuse = 1  # the server's temporary failure, once
    outbox.email_participants(session, event=event, subject="One", body="1")
    session.commit()
    live = _smtp_settings(settings, port, smtp_retry_s=10.0, smtp_max_attempts=2)
    t0 = utcnow()
    with caplog.at_level(logging.WARNING, logger="ramp_server.services.outbox"):
        assert outbox.send_due(session, settings=live, now=t0)["retried"] == 1
    assert "failed (attempt 1 of 2), retried in 10 s" in caplog.text
    msg = session.scalars(select(OutboxMessage)).one()
    assert "451" in msg.last_error and msg.sent_at is None
    # not due before its retry time; sent after it
    assert outbox.send_due(session, settings=live, now=t0 + timedelta(seconds=5))["sent"] == 0
    assert outbox.send_due(session, settings=live, now=t0 + timedelta(seconds=11))["sent"] == 1
    assert [m["Subject"] for m in inbox.messages] == ["[spipoll] One"]

    # a mail server that is down: retried, then given up, logged as an error, kept
    outbox.email_participants(session, event=event, subject="Two", body="2")
    session.commit()
    down = _smtp_settings(settings, free_port(), smtp_retry_s=10.0, smtp_max_attempts=2)
    caplog.clear()
    t1 = utcnow()
    with caplog.at_level(logging.WARNING, logger="ramp_server.services.outbox"):
        assert outbox.send_due(session, settings=down, now=t1)["retried"] == 1
        later = t1 + timedelta(seconds=11)
        assert outbox.send_due(session, settings=down, now=later)["failed"] == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "given up after 2 attempts" in errors[0].getMessage()
    assert outbox.outbox_counts(session) == {"pending": 0, "sent": 1, "failed": 1}


def test_the_dispatchers_sender_thread_sends_the_outbox(session, settings, event, ann, smtp):
    from ramp_server.engine.mail_sender import OutboxSender

    inbox, port = smtp
    outbox.email_participants(session, event=event, subject="Threaded", body="sent apart")
    session.commit()
    live = _smtp_settings(settings, port, smtp_poll_s=0.2)
    sender = OutboxSender(live, session_factory=_factory(session)).start()
    try:
        assert inbox.arrived.wait(60), "the sender thread sent nothing"
    finally:
        sender.stop()
    assert [m["Subject"] for m in inbox.messages] == ["[spipoll] Threaded"]


def _factory(session):  # noqa: ANN001, ANN202
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=session.get_bind(), expire_on_commit=False)
