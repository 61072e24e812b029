"""The organiser's toolkit in the services (issue #14 items 2–5): baselines, the leaderboard
freeze, re-scoring and re-training, the e-mail outbox — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ramp_server.services import blends, leaderboards
from ramp_server.services.participants import join_event
from ramp_server.services.submissions import select_for_competition, set_baseline, submit

from ramp_test_plugin import create_test_user, score_folds


@pytest.fixture
def players(session, event):
    users = [create_test_user(session, n) for n in ("ann", "bob", "org")]
    for u in users:
        join_event(session, event=event, user=u)
    session.commit()
    return users


def _scored(session, settings, event, user, name, files, quality, seed):
    sub = submit(session, settings=settings, event=event, user=user, name=name, files=files)
    score_folds(session, settings, sub.id, quality=quality, seed=seed)
    return sub


def test_a_baseline_is_shown_unranked_left_out_of_the_competition_and_still_blended(
    session, settings, event, players, starting_kit_files
):
    ann, bob, org = players
    files = starting_kit_files
    a = _scored(session, settings, event, ann, "a", files, 0.2, 1)
    b = _scored(session, settings, event, bob, "b", files, 0.1, 2)
    ref = _scored(session, settings, event, org, "reference", files, 0.6, 3)
    before = leaderboards.board_version(session, event=event)
    set_baseline(session, submission=ref, baseline=True)
    session.commit()
    assert leaderboards.board_version(session, event=event) != before  # pages see the change

    board = leaderboards.public_leaderboard(session, event=event)
    assert [(r["submission"], r["rank"], r["baseline"]) for r in board] == [
        ("reference", None, True),
        ("a", 1, False),
        ("b", 2, False),
    ]
    # a page after the baseline counts ranks without it
    page2 = leaderboards.public_leaderboard(session, event=event, limit=1, offset=2)
    assert [(r["submission"], r["rank"]) for r in page2] == [("b", 2)]
    page_b = leaderboards.public_leaderboard(session, event=event, limit=1, offset=1)
    assert [(r["submission"], r["rank"]) for r in page_b] == [("a", 1)]

    # the baseline's team cannot put it on the competition board
    select_for_competition(session, submission=ref)
    set_baseline(session, submission=ref, baseline=True)
    session.commit()
    comp = leaderboards.competition_leaderboard(session, event=event, include_test=True)
    assert [r["submission"] for r in comp] == ["a", "b"]
    assert [r["rank"] for r in comp] == [1, 2]

    private = {r["submission"]: r for r in leaderboards.private_leaderboard(session, event=event)}
    assert private["reference"]["rank"] is None and private["reference"]["rank_change"] is None
    assert sorted(private[n]["rank"] for n in ("a", "b")) == [1, 2]
    assert private["a"]["public_rank"] == 1 and private["b"]["public_rank"] == 2

    # still a blend candidate
    candidates = blends.blend_inputs(session, event_id=event.id).candidates
    assert {c.submission_id for c in candidates} == {a.id, b.id, ref.id}

    set_baseline(session, submission=ref, baseline=False)
    session.commit()
    board = leaderboards.public_leaderboard(session, event=event)
    assert [(r["submission"], r["rank"]) for r in board] == [("reference", 1), ("a", 2), ("b", 3)]


def _blend(session, event, contributivity):
    blends.record_blend(
        session,
        inputs=blends.blend_inputs(session, event_id=event.id),
        started_at="2026-01-01T10:00:00",
        contributivity=contributivity,
        historical_contributivity=contributivity,
        shapley=None,
        blend={"score_name": "acc", "n_submissions": len(contributivity), "combined_valid": 0.5},
    )


def test_a_frozen_board_is_the_board_at_the_freeze_with_the_teams_later_scores_apart(
    session, settings, event, players, starting_kit_files
):
    from ramp_server.db.models import utcnow
    from ramp_server.services import freeze
    from ramp_server.services.events import close_event, update_event

    ann, bob, org = players
    files = starting_kit_files
    a = _scored(session, settings, event, ann, "a", files, 0.2, 1)
    b = _scored(session, settings, event, bob, "b", files, 0.1, 2)
    _blend(session, event, {a.id: 0.7, b.id: 0.3})
    at = utcnow()
    update_event(session, event=event, freeze_at=at)
    session.commit()
    c = _scored(session, settings, event, bob, "c", files, 0.6, 3)
    _blend(session, event, {c.id: 1.0})

    assert freeze.frozen_at(event, user=ann) == at
    assert freeze.frozen_at(event, user=None) == at  # anonymous viewers too
    assert freeze.frozen_at(event, user=create_test_user(session, "boss", admin=True)) is None
    frozen = freeze.frozen_public_board(session, event=event, at=at)
    assert [(r["submission"], r["rank"], r["contributivity"]) for r in frozen] == [
        ("a", 1, 0.7),
        ("b", 2, 0.3),
    ]
    live = leaderboards.public_leaderboard(session, event=event)
    assert [r["submission"] for r in live] == ["c", "a", "b"]
    comp = freeze.frozen_competition_board(session, event=event, at=at)
    assert [(r["team"], r["submission"]) for r in comp] == [("ann", "a"), ("bob", "b")]
    # bob's team sees its later score, unranked; ann's team has none
    own = freeze.own_rows_since(session, event=event, user=bob, at=at)
    assert [(r["submission"], r["rank"], r["after_freeze"]) for r in own] == [("c", None, True)]
    assert freeze.own_rows_since(session, event=event, user=ann, at=at) == []

    close_event(session, event=event)
    session.commit()
    assert freeze.frozen_at(event, user=ann) is None  # live again at closing


def test_the_freeze_must_come_before_the_closing(session, event):
    from datetime import UTC, datetime

    from ramp_server.services.events import EventError, update_event

    closing = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(EventError, match="freeze_at .* must not be after closing_at"):
        update_event(session, event=event, closing_at=closing, freeze_at=closing.replace(month=7))


def _add_and_fix_score_types(settings, event) -> None:
    """Change the event's problem.py snapshot as an organiser would: a new score type
    (``f1_50``) and a fixed one (``f1_70`` now at threshold 0.6)."""
    from ramp_server.storage import Storage

    path = Storage.from_settings(settings).resolve(event.kit_dir) / "problem.py"
    text = path.read_text()
    fixed = text.replace("threshold=0.7", "threshold=0.6")
    assert fixed != text
    fixed += '\nscore_types.append(rw.score_types.F1Above(name="f1_50", threshold=0.5))\n'
    path.write_text(fixed)


def test_rescoring_recomputes_every_score_from_the_stored_predictions(
    session, settings, event, players, starting_kit_files
):
    from sqlalchemy import select

    from ramp_server.db.models import Score, Split
    from ramp_server.kit.scoring import bagged_scores
    from ramp_server.services import rescore
    from ramp_server.services.events import event_problem
    from ramp_server.services.predictions import bagging_inputs

    ann, bob, _ = players
    subs = [
        _scored(session, settings, event, ann, "a", starting_kit_files, 0.3, 1),
        _scored(session, settings, event, bob, "b", starting_kit_files, 0.5, 2),
    ]
    before = {
        (s.submission_id, s.fold, s.split, s.score_name): s.value
        for s in session.scalars(select(Score))
    }
    _add_and_fix_score_types(settings, event)
    job = rescore.start_rescore(session, event=event, requested_by="test")
    assert (job.state, job.total, job.done) == ("running", 2, 0)
    with pytest.raises(Exception, match="being re-scored already"):
        rescore.start_rescore(session, event=event)
    stale = job  # as if its process had died: a forced start takes over
    job = rescore.start_rescore(session, event=event, requested_by="test", force=True)
    session.refresh(stale)
    assert stale.state == "failed" and "forced" in stale.message
    seen = []
    job = rescore.run_rescore(
        session, settings=settings, job=job, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1, 2), (2, 2)]
    assert job.state == "done" and job.finished_at is not None and "2 submission" in job.message
    assert [s["name"] for s in event.score_types] == ["acc", "nll", "bal_acc", "f1_70", "f1_50"]
    assert event.blend_requested_at is not None
    after = {
        (s.submission_id, s.fold, s.split, s.score_name): s.value
        for s in session.scalars(select(Score))
    }
    problem = event_problem(settings=settings, event=event)
    for sub in subs:
        arrays = bagging_inputs(
            settings=settings, event=event, submission_id=sub.id, folds=[0, 1, 2][: event.n_folds]
        )
        expected = bagged_scores(problem, **arrays)
        for name in ("f1_50", "f1_70", "acc"):
            assert after[(sub.id, None, Split.VALID, name)] == pytest.approx(
                expected["valid"][name]
            )
            assert after[(sub.id, None, Split.TEST, name)] == pytest.approx(expected["test"][name])
        for k in range(event.n_folds):
            assert (sub.id, k, Split.VALID, "f1_50") in after
            # untouched score types keep their values; the fixed one changed somewhere
            key = (sub.id, k, Split.VALID, "acc")
            assert after[key] == pytest.approx(before[key])
    changed = [k for k in before if k[3] == "f1_70" and after[k] != pytest.approx(before[k])]
    assert changed, "the fixed f1_70 gave the same values everywhere"
    assert rescore.event_jobs(session, event=event)[0].id == job.id


def test_retraining_requeues_the_scored_and_failed_submissions(
    session, settings, event, players, starting_kit_files
):
    from ramp_server.db.models import SubmissionState
    from ramp_server.services import rescore
    from ramp_server.services.results import record_fold_error

    ann, bob, org = players
    scored = _scored(session, settings, event, ann, "a", starting_kit_files, 0.3, 1)
    failed = submit(
        session, settings=settings, event=event, user=bob, name="f", files=starting_kit_files
    )
    record_fold_error(session, submission_id=failed.id, fold=0, kind="participant", message="boom")
    queued = submit(
        session, settings=settings, event=event, user=org, name="q", files=starting_kit_files
    )
    requeued, training = rescore.retrain_event(session, event=event)
    session.commit()
    assert {s.id for s in requeued} == {scored.id, failed.id} and training == []
    for sub in (scored, failed, queued):
        session.refresh(sub)
        assert sub.state is SubmissionState.QUEUED
    assert leaderboards.public_leaderboard(session, event=event) == []
