"""Fold results written through results.record_fold_result, and the leaderboards built on them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import func, select

from ramp_server.blending.store import read_fold_predictions
from ramp_server.db.models import FoldState, Score, Submission, SubmissionState
from ramp_server.kit.scoring import bagged_scores
from ramp_server.services import blends, leaderboards, results, submission_tables
from ramp_server.services.events import event_folds, event_problem
from ramp_server.services.participants import join_event
from ramp_server.services.predictions import event_labels
from ramp_server.services.submissions import cancel, select_for_competition, submit
from ramp_server.storage import Storage

from ramp_test_plugin import create_test_user, score_folds

N_CLASSES = 18


def _train(session, settings, sub_id, **kwargs):
    """Every fold (or ``folds``) reported with train predictions, fold times 1, 2, 3 s."""
    score_folds(
        session,
        settings,
        sub_id,
        with_train=True,
        train_time=(1.0, 2.0, 3.0),
        test_time=0.2,
        peak_memory_mb=(100.0, 101.0, 102.0),
        **kwargs,
    )


@pytest.fixture
def players(session, event):
    users = [create_test_user(session, n) for n in ("ann", "bob", "cid")]
    for u in users:
        join_event(session, event=event, user=u)
    session.commit()
    return users


def _submit(session, settings, event, user, name, files):
    return submit(session, settings=settings, event=event, user=user, name=name, files=files)


class _Calls(list):
    def append_kw(self, **kwargs):
        self.append(kwargs)


def test_all_folds_scored_gives_bagged_scores_and_calls_on_scored_once(
    session, settings, event, players, starting_kit_files
):
    calls = _Calls()
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)
    _train(session, settings, sub.id, quality=0.6, folds=[0, 1], on_scored=calls.append_kw)
    assert sub.state is SubmissionState.QUEUED and calls == []
    _train(session, settings, sub.id, quality=0.6, folds=[2], on_scored=calls.append_kw)
    session.refresh(sub)
    assert sub.state is SubmissionState.SCORED
    assert calls == [{"event_id": event.id, "submission_id": sub.id}]
    assert sub.train_time == pytest.approx(1 + 2 + 3)
    assert sub.peak_memory_mb == pytest.approx(102)
    names = [s["name"] for s in event.score_types]
    rows = session.execute(
        select(Score.fold, Score.split, Score.score_name, Score.value).where(
            Score.submission_id == sub.id
        )
    ).all()
    assert len(rows) == event.n_folds * 3 * len(names) + 2 * len(names)
    # the bagged scores are the kit's own bagging of the stored predictions
    storage = Storage.from_settings(settings)
    preds = [
        read_fold_predictions(storage.predictions_path(event.name, sub.id, k))
        for k in range(event.n_folds)
    ]
    y_train, y_test = event_labels(settings=settings, event=event)
    expected = bagged_scores(
        event_problem(settings=settings, event=event),
        y_train=y_train,
        valid_indices=[p.valid_indices for p in preds],
        valid_probas=[p.valid_proba.astype(np.float64) for p in preds],
        y_test=y_test,
        test_probas=[p.test_proba.astype(np.float64) for p in preds],
    )
    bagged = {(r.split.value, r.score_name): r.value for r in rows if r.fold is None}
    for split in ("valid", "test"):
        for name in names:
            assert bagged[(split, name)] == pytest.approx(expected[split][name])
    fold0_acc = {r.split.value: r.value for r in rows if r.fold == 0 and r.score_name == "acc"}
    valid0 = preds[0]
    direct = np.mean(valid0.valid_proba.argmax(1) == y_train[valid0.valid_indices])
    assert fold0_acc["valid"] == pytest.approx(direct)


def test_a_fold_reported_twice_is_recorded_once(
    session, settings, event, players, starting_kit_files
):
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)
    _train(session, settings, sub.id, quality=0.5, folds=[0])
    _train(session, settings, sub.id, quality=0.9, seed=1, folds=[0])
    n = session.scalar(select(func.count(Score.id)).where(Score.fold == 0))
    assert n == 3 * len(event.score_types)


def test_invalid_predictions_are_refused_and_nothing_is_recorded(
    session, settings, event, players, starting_kit_files
):
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)
    cv = event_folds(settings=settings, event=event)
    n_valid, n_test = len(cv.valid[0]), event.n_test
    good_valid = np.full((n_valid, N_CLASSES), 1 / N_CLASSES)
    good_test = np.full((n_test, N_CLASSES), 1 / N_CLASSES)
    bad = [
        (np.full((n_valid - 1, N_CLASSES), 1 / N_CLASSES), good_test, "shape"),
        (good_valid, np.full((n_test, N_CLASSES), np.nan), "finite"),
        (good_valid * 3, good_test, "sums to"),
    ]
    for valid, test, message in bad:
        with pytest.raises(results.InvalidPredictions, match=message):
            results.record_fold_result(
                session,
                settings=settings,
                submission_id=sub.id,
                fold=0,
                valid_proba=valid,
                test_proba=test,
                train_time=1,
                valid_time=1,
                test_time=1,
            )
    assert session.scalar(select(func.count(Score.id))) == 0
    assert not Storage.from_settings(settings).predictions_path(event.name, sub.id, 0).exists()


def test_results_of_a_cancelled_submission_are_ignored(
    session, settings, event, players, starting_kit_files
):
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)
    cancel(session, submission=sub)
    session.commit()
    _train(session, settings, sub.id, quality=0.5)
    assert session.scalar(select(func.count(Score.id))) == 0
    assert session.get(Submission, sub.id).state is SubmissionState.CANCELLED


def test_folds_finishing_at_once_bag_exactly_once(
    session, session_factory, settings, event, players, starting_kit_files
):
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)

    def one(k):
        with session_factory() as s:
            _train(s, settings, sub.id, quality=0.7, seed=k, folds=[k])

    with ThreadPoolExecutor(max_workers=event.n_folds) as pool:
        list(pool.map(one, range(event.n_folds)))
    session.expire_all()
    assert session.get(Submission, sub.id).state is SubmissionState.SCORED
    n_bagged = session.scalar(select(func.count(Score.id)).where(Score.fold.is_(None)))
    assert n_bagged == 2 * len(event.score_types)


def test_fold_error_fails_the_submission_and_shows_on_the_failed_board(
    session, settings, event, players, starting_kit_files
):
    sub = _submit(session, settings, event, players[0], "a", starting_kit_files)
    _train(session, settings, sub.id, quality=0.5, folds=[0])
    results.record_fold_error(
        session, submission_id=sub.id, fold=1, kind="timeout", message="fold 1 ran over 60 s"
    )
    session.refresh(sub)
    assert sub.state is SubmissionState.ERROR and sub.charged_to_quota
    assert [f.state for f in sub.folds] == [FoldState.SCORED, FoldState.ERROR, FoldState.CANCELLED]
    failed = submission_tables.failed_submissions(session, event=event)
    assert [(r["submission"], r["error_kind"]) for r in failed] == [("a", "timeout")]
    assert leaderboards.public_leaderboard(session, event=event) == []


def test_leaderboards_rank_by_scores_and_show_rank_changes(
    session, settings, event, players, starting_kit_files
):
    ann, bob, cid = players
    plan = [
        (ann, "a_low", 0.05),
        (ann, "a_high", 0.4),
        (bob, "b_mid", 0.2),
        (cid, "c_queued", None),
    ]
    subs = {}
    for user, name, q in plan:
        subs[name] = _submit(session, settings, event, user, name, starting_kit_files)
        if q is not None:
            _train(session, settings, subs[name].id, quality=q, seed=len(subs))

    public = leaderboards.public_leaderboard(session, event=event)
    assert [r["submission"] for r in public] == ["a_high", "b_mid", "a_low"]
    assert [r["rank"] for r in public] == [1, 2, 3]
    accs = [r["scores"]["acc"] for r in public]
    assert accs == sorted(accs, reverse=True)
    by_nll = leaderboards.public_leaderboard(session, event=event, sort_by="nll")
    nlls = [r["scores"]["nll"] for r in by_nll]
    assert nlls == sorted(nlls)  # lower is better: best first
    worst_first = leaderboards.public_leaderboard(session, event=event, best_first=False)
    assert [r["submission"] for r in worst_first] == ["a_low", "b_mid", "a_high"]
    newest = leaderboards.public_leaderboard(session, event=event, sort_by="submitted_at")
    assert newest[0]["submission"] == "b_mid"
    with pytest.raises(ValueError, match="cannot sort by"):
        leaderboards.public_leaderboard(session, event=event, sort_by="name; drop table")

    comp = leaderboards.competition_leaderboard(session, event=event)
    assert [(r["user"], r["submission"]) for r in comp] == [("ann", "a_high"), ("bob", "b_mid")]
    select_for_competition(session, submission=subs["a_low"])
    session.commit()
    comp = leaderboards.competition_leaderboard(session, event=event, include_test=True)
    assert [(r["user"], r["submission"]) for r in comp] == [("bob", "b_mid"), ("ann", "a_low")]
    assert set(comp[0]["test_scores"]) == {s["name"] for s in event.score_types}

    private = leaderboards.private_leaderboard(session, event=event)
    page2 = leaderboards.private_leaderboard(session, event=event, limit=2, offset=1)
    assert [r["submission_id"] for r in page2] == [r["submission_id"] for r in private[1:3]]
    first_page = leaderboards.public_leaderboard(session, event=event, limit=2)
    assert first_page == public[:2]
    assert leaderboards.public_leaderboard(session, event=event, limit=2, offset=2) == public[2:]
    assert leaderboards.board_version(session, event=event)[0] == 3  # scored submissions
    tests = [r["scores"]["acc"] for r in private]
    assert tests == sorted(tests, reverse=True)
    for r in private:
        assert r["rank_change"] == r["public_rank"] - r["rank"]
        pub = next(p for p in public if p["submission_id"] == r["submission_id"])
        assert r["public_rank"] == pub["rank"]

    mine = submission_tables.my_submissions(session, event=event, user=cid)
    assert [(r["submission"], r["state"], r["queue_position"]) for r in mine] == [
        ("c_queued", "queued", 1)
    ]
    assert "test_scores" not in mine[0]

    def unneeded() -> dict[int, int]:
        raise AssertionError("nothing of bob's is queued: the queue order is not needed")

    bobs = submission_tables.my_submissions(session, event=event, user=bob, positions=unneeded)
    assert [(r["submission"], r["queue_position"]) for r in bobs] == [("b_mid", None)]
    table = submission_tables.submissions_table(session, event=event)
    assert len(table) == 4
    scored = [r for r in table if r["state"] == "scored"]
    assert all(r["test_scores"]["acc"] is not None for r in scored)
    history = leaderboards.score_history(session, event=event)
    assert [h["submission"] for h in history] == ["a_low", "a_high", "b_mid"]
    assert [h["improves"] for h in history] == [True, True, False]


def test_a_blend_sets_contributivity_shown_on_the_leaderboard(
    session, settings, event, players, starting_kit_files
):
    a = _submit(session, settings, event, players[0], "a", starting_kit_files)
    b = _submit(session, settings, event, players[1], "b", starting_kit_files)
    _train(session, settings, a.id, quality=0.3)
    _train(session, settings, b.id, quality=0.2, seed=1)
    for at, valid, contrib in (
        ("2026-01-01T10:00:00", 0.5, {a.id: 0.7, b.id: 0.3}),
        ("2026-01-01T10:00:05", 0.55, {b.id: 1.0}),
    ):
        blends.record_blend(
            session,
            inputs=blends.blend_inputs(session, event_id=event.id),
            started_at=at,
            contributivity=contrib,
            historical_contributivity=contrib,
            shapley=None,
            blend={
                "score_name": "acc",
                "n_submissions": 2,
                "combined_valid": valid,
                "combined_test": valid - 0.05,
                "details": {"started_at": at},
            },
        )
    assert blends.latest_blend(session, event_id=event.id).combined_valid == 0.55
    board = leaderboards.public_leaderboard(session, event=event, sort_by="contributivity")
    assert [(r["submission"], r["contributivity"]) for r in board] == [("b", 1.0), ("a", 0.0)]
