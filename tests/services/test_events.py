"""Event creation from a kit: folds once, public bundle, private labels, rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from ramp_server.db.models import CVFold, LeaderboardVisibility
from ramp_server.services import NotFound
from ramp_server.services.events import (
    EventError,
    close_event,
    event_folds,
    get_event,
    is_collaborative,
    is_open,
    update_event,
)
from ramp_server.services.participants import approve_participant, is_participant, join_event
from ramp_server.storage import Storage

from ramp_test_plugin import create_test_event, create_test_user


def test_event_creation_stores_folds_bundle_private_labels_and_kit(session, settings, event_kit):
    ev = create_test_event(
        session, settings=settings, kit=event_kit, slug="spipoll", daily_quota=3, uses_gpu=True
    )
    storage = Storage.from_settings(settings)
    public = storage.public_dir("spipoll")
    assert {p.name for p in public.iterdir()} >= {
        "train_images.npy",
        "train_labels.npy",
        "test_images.npy",
        "meta.json",
        "folds.npz",
    }
    assert not any("label" in p.name and "test" in p.name for p in public.iterdir())
    y_test = np.load(storage.test_labels_path("spipoll"))
    assert len(y_test) == ev.n_test > 0
    assert (storage.kit_dir("spipoll") / "problem.py").is_file()
    assert (
        storage.kit_dir("spipoll") / "submissions" / "starting_kit" / "batch_classifier.py"
    ).is_file()
    assert ev.score_types[0]["name"] == ev.official_score_name == "acc"
    assert ev.daily_quota == 3 and ev.uses_gpu
    rows = session.scalars(select(CVFold).where(CVFold.event_id == ev.id)).all()
    assert len(rows) == ev.n_folds == 3
    folds = event_folds(settings=settings, event=ev)
    for k, row in enumerate(rows):
        assert row.n_valid == len(folds.valid[k]) > 0
        assert not set(folds.train[k]) & set(folds.valid[k])
        assert max(folds.train[k].max(), folds.valid[k].max()) < ev.n_train


def test_event_names_are_unique_and_validated(session, settings, event_kit):
    create_test_event(session, settings=settings, kit=event_kit, slug="one")
    with pytest.raises(EventError, match="already exists"):
        create_test_event(session, settings=settings, kit=event_kit, slug="one")
    with pytest.raises(EventError, match="invalid"):
        create_test_event(session, settings=settings, kit=event_kit, slug="../evil")


def test_event_rules_are_type_checked_and_dates_ordered(session, settings, event_kit):
    with pytest.raises(EventError, match="unknown event setting 'quota'"):
        create_test_event(session, settings=settings, kit=event_kit, quota=3)
    ev = create_test_event(session, settings=settings, kit=event_kit)
    now = datetime.now(UTC)
    with pytest.raises(EventError, match="must not be after"):
        update_event(session, event=ev, opening_at=now, closing_at=now - timedelta(days=1))
    session.rollback()
    with pytest.raises(EventError, match="official_score_name"):
        update_event(session, event=ev, official_score_name="nope")
    update_event(session, event=ev, leaderboard_visibility="admins", min_delay_s=60)
    session.commit()
    again = get_event(session, name=ev.name)
    assert again.leaderboard_visibility is LeaderboardVisibility.ADMINS
    assert again.min_delay_s == 60


def test_kit_without_problem_is_refused(session, settings, tmp_path):
    with pytest.raises(EventError, match="no problem.py"):
        create_test_event(session, settings=settings, kit=tmp_path)


def test_unknown_event_is_not_found(session):
    with pytest.raises(NotFound, match="no event named 'x'"):
        get_event(session, name="x")


def test_phases_follow_the_dates(event, session):
    now = datetime.now(UTC)
    update_event(
        session,
        event=event,
        opening_at=now + timedelta(hours=1),
        public_opening_at=now + timedelta(hours=2),
        closing_at=now + timedelta(hours=3),
    )
    assert not is_open(event, now=now)
    assert is_open(event, now=now + timedelta(minutes=61))
    assert not is_collaborative(event, now=now + timedelta(minutes=61))
    assert is_collaborative(event, now=now + timedelta(minutes=121))
    assert not is_open(event, now=now + timedelta(hours=3))
    close_event(session, event=event)
    assert not is_open(event, now=now + timedelta(minutes=61))


def test_joining_needs_approval_when_the_event_requires_it(event, session):
    update_event(session, event=event, approval_required=True)
    ann = create_test_user(session, "ann")
    join_event(session, event=event, user=ann)
    assert not is_participant(session, event=event, user=ann)
    approve_participant(session, event=event, user=ann)
    assert is_participant(session, event=event, user=ann)
    boss = create_test_user(session, "boss", admin=True)
    join_event(session, event=event, user=boss)
    assert is_participant(session, event=event, user=boss)


def test_kit_without_data_says_how_to_get_it(session, settings, tmp_path):
    from ramp_test_plugin import REPO_ROOT

    (tmp_path / "problem.py").write_bytes((REPO_ROOT / "problem.py").read_bytes())
    with pytest.raises(EventError, match=r"data folder .* not found: create it with"):
        create_test_event(session, settings=settings, kit=tmp_path)


def test_pre_approved_emails_are_approved_now_or_when_they_join(event, session):
    from ramp_server.services.participants import pre_approve_emails

    update_event(session, event=event, approval_required=True)
    ann = create_test_user(session, "ann")
    pending = pre_approve_emails(
        session,
        event=event,
        emails=["ANN@example.org", "later@example.org", "", "later@example.org"],
    )
    session.commit()
    assert pending == ["later@example.org"]
    assert is_participant(session, event=event, user=ann)
    later = create_test_user(session, "later")
    stranger = create_test_user(session, "stranger")
    assert join_event(session, event=event, user=later).approved
    assert not join_event(session, event=event, user=stranger).approved
    with pytest.raises(EventError, match="not an e-mail"):
        pre_approve_emails(session, event=event, emails=["nobody"])
