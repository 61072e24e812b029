"""Re-blend requests set by every service that changes the blend's inputs; score intervals
stored when a submission is scored and shown by the leaderboards (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ramp_server.db.models import Score, Split, Submission, SubmissionState
from ramp_server.services import leaderboards, submission_tables
from ramp_server.services.blend_requests import (
    blend_request_of,
    clear_blend_request,
    request_blend,
)
from ramp_server.services.events import update_event
from ramp_server.services.participants import join_event
from ramp_server.services.submissions import requeue, set_withdrawn_from_blend, submit

from ramp_test_plugin import create_test_user, score_folds


@pytest.fixture
def ann(session, event):
    user = create_test_user(session, "ann")
    join_event(session, event=event, user=user)
    session.commit()
    return user


def _submit(session, settings, event, user, name, files):
    return submit(session, settings=settings, event=event, user=user, name=name, files=files)


def _mark(session, event):
    session.expire_all()
    return blend_request_of(session, event_id=event.id)


def test_scoring_withdrawing_requeueing_and_blend_rules_request_a_reblend(
    session, settings, event, ann, starting_kit_files
):
    sub = _submit(session, settings, event, ann, "a", starting_kit_files)
    session.commit()
    set_withdrawn_from_blend(session, submission=sub, withdrawn=True)  # not scored: no blend
    session.commit()
    assert _mark(session, event) is None
    set_withdrawn_from_blend(session, submission=sub, withdrawn=False)
    session.commit()

    score_folds(session, settings, sub.id, quality=0.6)
    scored_mark = _mark(session, event)
    assert scored_mark is not None  # committed with the SCORED state

    marks = [scored_mark]
    for change in (
        lambda: set_withdrawn_from_blend(session, submission=sub, withdrawn=True),
        lambda: update_event(session, event=event, max_n_ensemble=5),
        lambda: update_event(session, event=event, official_score_name="nll"),
        lambda: requeue(session, submission=sub),
    ):
        change()
        session.commit()
        marks.append(_mark(session, event))
    assert all(b > a for a, b in zip(marks, marks[1:], strict=False)), marks

    clear_blend_request(session, event_id=event.id, seen=marks[-1])
    session.commit()
    update_event(session, event=event, title="Same blend", max_n_ensemble=5)  # unchanged rule
    set_withdrawn_from_blend(session, submission=sub, withdrawn=True)  # already withdrawn
    session.commit()
    assert _mark(session, event) is None


def test_a_mark_is_cleared_only_by_the_blend_that_read_it(session, event):
    first = request_blend(session, event_id=event.id)
    second = request_blend(session, event_id=event.id, now=first)  # same clock tick
    session.commit()
    assert second > first
    assert not clear_blend_request(session, event_id=event.id, seen=first)  # set again since
    assert not clear_blend_request(session, event_id=event.id, seen=None)
    session.commit()
    assert _mark(session, event) == second
    assert clear_blend_request(session, event_id=event.id, seen=second)
    session.commit()
    assert _mark(session, event) is None


def _intervals(session, sub_id):
    rows = session.execute(
        select(Score.split, Score.score_name, Score.value, Score.ci_low, Score.ci_high).where(
            Score.submission_id == sub_id, Score.fold.is_(None)
        )
    ).all()
    return {(r.split, r.score_name): (r.value, r.ci_low, r.ci_high) for r in rows}


def test_scored_submission_stores_seeded_intervals_around_its_bagged_scores(
    session, settings, event, ann, starting_kit_files
):
    a = _submit(session, settings, event, ann, "a", starting_kit_files)
    score_folds(session, settings, a.id, quality=0.15, seed=1)
    stored = _intervals(session, a.id)
    for split in (Split.VALID, Split.TEST):
        for name in ("acc", "nll", "bal_acc"):
            value, low, high = stored[(split, name)]
            assert low <= value <= high and low < high, (split, name)
        assert stored[(split, "f1_70")][1:] == (None, None)  # no vectorized form, not official

    # the same predictions scored again (requeued) give the very same intervals
    requeue(session, submission=a)
    session.commit()
    score_folds(session, settings, a.id, quality=0.15, seed=1)
    session.expire_all()
    assert _intervals(session, a.id) == stored

    # shown with the official score on every board, on its board's split
    public = leaderboards.public_leaderboard(session, event=event)
    assert public[0]["ci"] == list(stored[(Split.VALID, "acc")][1:])
    private = leaderboards.private_leaderboard(session, event=event)
    assert private[0]["ci"] == list(stored[(Split.TEST, "acc")][1:])
    assert private[0]["valid_ci"] == public[0]["ci"]
    comp = leaderboards.competition_leaderboard(session, event=event, include_test=True)
    assert comp[0]["ci"] == public[0]["ci"] and comp[0]["test_ci"] == private[0]["ci"]
    mine = submission_tables.my_submissions(session, event=event, user=ann)
    assert mine[0]["valid_ci"] == public[0]["ci"] and "test_ci" not in mine[0]


def test_no_interval_when_bootstrap_n_is_zero(session, settings, event, ann, starting_kit_files):
    sub = _submit(session, settings, event, ann, "a", starting_kit_files)
    score_folds(session, settings, sub.id, quality=0.5)
    session.commit()
    without = settings.model_copy(update={"bootstrap_n": 0})
    other = _submit(session, without, event, ann, "b", starting_kit_files)
    score_folds(session, without, other.id, quality=0.5)
    session.expire_all()
    assert session.get(Submission, other.id).state == SubmissionState.SCORED
    assert {v[1:] for v in _intervals(session, other.id).values()} == {(None, None)}
    rows = {
        r["submission_id"]: r["ci"] for r in leaderboards.public_leaderboard(session, event=event)
    }
    assert rows[other.id] is None and rows[sub.id] is not None


def test_fill_missing_intervals_gives_what_scoring_would_have_stored(
    session, settings, event, ann, starting_kit_files
):
    from ramp_server.services.score_intervals import fill_missing_intervals

    with_ci = _submit(session, settings, event, ann, "a", starting_kit_files)
    score_folds(session, settings, with_ci.id, quality=0.3, seed=2)
    expected = _intervals(session, with_ci.id)
    # the same predictions scored while intervals were off (as before revision 0002)
    without = settings.model_copy(update={"bootstrap_n": 0})
    late = _submit(session, without, event, ann, "b", starting_kit_files)
    score_folds(session, without, late.id, quality=0.3, seed=2)
    session.expire_all()
    assert {v[1:] for v in _intervals(session, late.id).values()} == {(None, None)}

    assert fill_missing_intervals(session, settings=without, event=event) == 0  # turned off
    assert fill_missing_intervals(session, settings=settings, event=event) == 1
    session.expire_all()
    assert _intervals(session, late.id) == expected
    assert _intervals(session, with_ci.id) == expected  # untouched
    assert fill_missing_intervals(session, settings=settings, event=event) == 0  # nothing left
