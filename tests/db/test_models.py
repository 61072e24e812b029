"""Model behaviour shared by both backends: UTC timestamps, constraints, enums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ramp_server.db.models import Event, Submission, SubmissionState, User


def _event(name: str = "spipoll") -> Event:
    return Event(
        name=name,
        title="SPIPOLL",
        kit_dir=f"events/{name}/kit",
        n_folds=2,
        score_types=[{"name": "acc", "precision": 4, "is_lower_better": False}],
        official_score_name="acc",
    )


def test_timestamps_come_back_aware_utc(session):
    paris = timezone(timedelta(hours=2))
    user = User(name="ann", email="ann@x.org", password_hash="h")
    ev = _event()
    ev.closing_at = datetime(2026, 5, 1, 12, 0, tzinfo=paris)
    session.add_all([user, ev])
    session.commit()
    session.expire_all()
    got = session.scalar(select(Event))
    assert got.closing_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert got.closing_at.tzinfo is UTC
    assert session.scalar(select(User)).created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(session):
    ev = _event()
    ev.closing_at = datetime(2026, 5, 1, 12, 0)
    session.add(ev)
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_submission_names_are_unique_per_event_and_user(session):
    user = User(name="ann", email="ann@x.org", password_hash="h")
    ev = _event()
    session.add_all([user, ev])
    session.flush()
    session.add(Submission(event_id=ev.id, user_id=user.id, name="cnn"))
    session.flush()
    session.add(Submission(event_id=ev.id, user_id=user.id, name="cnn"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_submission_state_is_stored_as_its_value(session):
    user = User(name="ann", email="ann@x.org", password_hash="h")
    ev = _event()
    session.add_all([user, ev])
    session.flush()
    session.add(Submission(event_id=ev.id, user_id=user.id, name="a", state=SubmissionState.QUEUED))
    session.commit()
    raw = session.connection().exec_driver_sql("SELECT state FROM submissions").scalar()
    assert raw == "queued"
    assert session.scalar(select(Submission.state)) is SubmissionState.QUEUED


def test_a_bagged_score_cannot_be_stored_twice(session):
    from ramp_server.db.models import Score, Split

    user = User(name="ann", email="ann@x.org", password_hash="h")
    ev = _event()
    session.add_all([user, ev])
    session.flush()
    sub = Submission(event_id=ev.id, user_id=user.id, name="a")
    session.add(sub)
    session.flush()
    row = dict(event_id=ev.id, submission_id=sub.id, split=Split.VALID, score_name="acc")
    session.add(Score(fold=0, value=0.5, **row))
    session.add(Score(fold=None, value=0.5, **row))
    session.flush()
    session.add(Score(fold=None, value=0.6, **row))
    with pytest.raises(IntegrityError):
        session.flush()
