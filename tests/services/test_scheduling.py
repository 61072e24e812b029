"""Fair share on SQLite and PostgreSQL: which team the next free worker goes to, caps and
budgets (a participant alone is a team of one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ramp_server.db.models import FoldState, SubmissionFold, utcnow
from ramp_server.services import jobs, scheduling, submission_tables
from ramp_server.services.events import update_event
from ramp_server.services.participants import join_event
from ramp_server.services.submissions import SubmissionRejected, queue_position, submit

from ramp_test_plugin import create_test_user, score_folds


@pytest.fixture
def ann_bob(session, event):
    users = [create_test_user(session, name) for name in ("ann", "bob")]
    for u in users:
        join_event(session, event=event, user=u)
    session.commit()
    return users


def _submit(session, settings, event, user, name, files, at):
    return submit(
        session, settings=settings, event=event, user=user, name=name, files=files, now=at
    )


def _folds(session, sub_id):
    return list(
        session.scalars(
            select(SubmissionFold)
            .where(SubmissionFold.submission_id == sub_id)
            .order_by(SubmissionFold.fold)
        )
    )


def test_a_burst_does_not_delay_another_participants_single_submission(
    session, settings, event, ann_bob, starting_kit_files
):
    ann, bob = ann_bob
    t0 = utcnow() - timedelta(minutes=10)
    burst = [
        _submit(
            session, settings, event, ann, f"a{i}", starting_kit_files, t0 + timedelta(seconds=i)
        )
        for i in range(20)
    ]
    single = _submit(
        session, settings, event, bob, "b", starting_kit_files, t0 + timedelta(minutes=1)
    )
    plan = scheduling.queue_plan(session)
    # FIFO would put bob's submission 21st; fair share puts it right after ann's first
    assert plan.positions[burst[0].id] == 1
    assert plan.positions[single.id] == 2
    assert [t.submission_id for t in plan.folds[:2]] == [burst[0].id, single.id]
    # the dispatcher's claims follow the same order
    assert [t.submission_id for t in scheduling.next_folds(session, limit=2)] == [
        burst[0].id,
        single.id,
    ]
    assert queue_position(session, submission=single) == 2
    mine = submission_tables.my_submissions(session, event=event, user=bob)
    assert mine[0]["queue_position"] == 2
    # the web server passes the order its pages share (computed at most every 2 s)
    asked = []

    def shared() -> dict[int, int]:
        asked.append(1)
        return plan.positions

    mine = submission_tables.my_submissions(session, event=event, user=bob, positions=shared)
    assert mine[0]["queue_position"] == 2 and asked == [1]


def test_the_participant_with_less_worker_time_used_goes_first(
    session, settings, event, ann_bob, starting_kit_files
):
    ann, bob = ann_bob
    t0 = utcnow() - timedelta(minutes=10)
    done = _submit(session, settings, event, ann, "done", starting_kit_files, t0)
    score_folds(session, settings, done.id, quality=0.5)  # 3 folds of 1 + 0.1 + 0.1 s
    a = _submit(session, settings, event, ann, "a", starting_kit_files, t0 + timedelta(seconds=5))
    b = _submit(session, settings, event, bob, "b", starting_kit_files, t0 + timedelta(seconds=9))
    assert scheduling.charged_seconds(session)[(event.id, done.team_id)] == pytest.approx(3.6)
    plan = scheduling.queue_plan(session)
    assert plan.positions == {b.id: 1, a.id: 2}  # bob submitted later but used nothing


def test_training_folds_count_as_used_time(session, settings, event, ann_bob, starting_kit_files):
    ann, bob = ann_bob
    t0 = utcnow() - timedelta(minutes=10)
    a = _submit(session, settings, event, ann, "a", starting_kit_files, t0)
    a2 = _submit(session, settings, event, ann, "a2", starting_kit_files, t0 + timedelta(seconds=1))
    for f in _folds(session, a.id):
        assert jobs.claim_fold(session, fold_id=f.id, dask_key=f"k{f.id}")
    b = _submit(session, settings, event, bob, "b", starting_kit_files, t0 + timedelta(seconds=9))
    assert scheduling.queue_plan(session).positions == {b.id: 1, a2.id: 2}


def test_platform_faults_are_not_charged_participant_errors_are(
    session, settings, event, ann_bob, starting_kit_files
):
    ann, _ = ann_bob
    sub = _submit(session, settings, event, ann, "a", starting_kit_files, utcnow())
    f0, f1, *_ = _folds(session, sub.id)
    for f in (f0, f1):
        assert jobs.claim_fold(session, fold_id=f.id, dask_key=f"k{f.id}")
    requeued = jobs.fail_fold(
        session,
        submission_id=sub.id,
        fold=0,
        kind="platform",
        message="worker tcp://w:1 stopped responding",
        max_retries=2,
        charged_s=50.0,
        worker="tcp://w:1",
    )
    assert requeued
    session.refresh(f0)
    assert f0.state == FoldState.QUEUED and f0.charged_s is None
    assert f0.notes[0]["worker"] == "tcp://w:1" and "stopped responding" in f0.notes[0]["what"]
    jobs.fail_fold(
        session, submission_id=sub.id, fold=1, kind="participant", message="boom", charged_s=7.5
    )
    session.refresh(f1)
    assert f1.state == FoldState.ERROR and f1.charged_s == 7.5
    assert scheduling.charged_seconds(session) == {(event.id, sub.team_id): 7.5}


def test_the_running_cap_holds_back_a_participants_other_folds(
    session, settings, event, ann_bob, starting_kit_files
):
    ann, bob = ann_bob
    update_event(session, event=event, max_running_folds=1)
    session.commit()
    t0 = utcnow() - timedelta(minutes=10)
    a = _submit(session, settings, event, ann, "a", starting_kit_files, t0)
    first = _folds(session, a.id)[0]
    assert jobs.claim_fold(session, fold_id=first.id, dask_key="k")
    b = _submit(session, settings, event, bob, "b", starting_kit_files, t0 + timedelta(seconds=9))
    claims = scheduling.next_folds(session, limit=5)
    assert {t.submission_id for t in claims} == {b.id}  # ann is at her cap of one
    assert len(claims) == 1  # and so is bob after his first


def test_a_used_up_worker_time_budget_refuses_a_submission_saying_what_was_used(
    session, settings, event, ann_bob, starting_kit_files
):
    ann, _ = ann_bob
    update_event(session, event=event, worker_time_budget_s=5)
    session.commit()
    sub = _submit(session, settings, event, ann, "a", starting_kit_files, utcnow())
    assert scheduling.budget_left(session, event=event, team_id=sub.team_id) == 5.0
    score_folds(session, settings, sub.id, quality=0.5)  # 3 folds charged 1.2 s each
    assert scheduling.budget_left(session, event=event, team_id=sub.team_id) == pytest.approx(1.4)
    score_folds(session, settings, sub.id, quality=0.5)  # already scored: nothing charged
    more = _submit(session, settings, event, ann, "b", starting_kit_files, utcnow())
    score_folds(session, settings, more.id, quality=0.5)
    with pytest.raises(SubmissionRejected, match=r"budget used up.*allows 5 s.*used 7 s"):
        _submit(session, settings, event, ann, "c", starting_kit_files, utcnow())
