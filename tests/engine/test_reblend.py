"""Live re-blending on a real event (SQLite and PostgreSQL): DB rows, files, background thread."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.store import read_fold_predictions
from ramp_server.db.models import (
    Blend,
    Submission,
    SubmissionCredit,
    SubmissionFold,
    SubmissionState,
    utcnow,
)
from ramp_server.engine.reblend import reblend_event
from ramp_server.engine.reblender import Reblender
from ramp_server.services.events import event_folds
from ramp_server.storage import Storage

from ramp_test_plugin import create_test_user, score_folds


def _add_submissions(session, event, n, *, start=0):
    user = session.scalar(select(Submission.user_id).limit(1))
    if user is None:
        user = create_test_user(session, "alice").id
    base = utcnow()
    subs = []
    for i in range(start, start + n):
        sub = Submission(
            event_id=event.id,
            user_id=user,
            name=f"model_{i}",
            state=SubmissionState.TRAINING,
            submitted_at=base + timedelta(seconds=i),
        )
        session.add(sub)
        session.flush()
        for k in range(event.n_folds):
            session.add(SubmissionFold(submission_id=sub.id, fold=k))
        subs.append(sub)
    session.commit()
    return subs


def _score(session, settings, event, subs, seed=0, on_scored=None):
    """Report every fold through the real results service (writes the store, scores, bags),
    each submission with its own quality."""
    for sub in subs:
        rng = np.random.default_rng((seed, sub.id))
        score_folds(
            session,
            settings,
            sub.id,
            quality=float(rng.uniform(0.05, 0.5)),
            seed=int(rng.integers(1 << 30)),
            on_scored=on_scored,
        )


def _from_scratch(settings, event, ids):
    """The same blend straight from the prediction files (no cache, no DB)."""
    from ramp_server.engine.reblend import event_score
    from ramp_server.services.events import event_problem

    storage = Storage.from_settings(settings)
    y_train = np.load(storage.public_dir(event.name) / "train_labels.npy")
    y_test = np.load(storage.test_labels_path(event.name))
    folds = []
    for k, valid in enumerate(event_folds(settings=settings, event=event).valid):
        preds = [read_fold_predictions(storage.predictions_path(event.name, i, k)) for i in ids]
        folds.append(
            FoldInput(valid, [p.valid_proba for p in preds], [p.test_proba for p in preds])
        )
    score = event_score(event_problem(settings=settings, event=event), event.official_score_name)
    return blend(
        folds=folds,
        y_train=y_train,
        y_test=y_test,
        score=score,
        names=ids,
        max_n_ensemble=event.max_n_ensemble,
    )


def test_reblend_writes_contributivities_credits_and_a_blend_row(session, settings, event):
    subs = _add_submissions(session, event, 5)
    _score(session, settings, event, subs)
    withdrawn = subs[4]
    withdrawn.withdrawn_from_blend = True
    session.add(
        SubmissionCredit(submission_id=subs[3].id, credited_submission_id=subs[0].id, percent=40.0)
    )
    session.commit()

    summary = reblend_event(session, settings=settings, event_id=event.id)
    ids = [s.id for s in subs[:4]]
    ref = _from_scratch(settings, event, ids)
    assert summary.picks == [[ids[i] for i in p] for p in ref.picks]
    assert summary.combined_valid == ref.combined_valid
    assert summary.combined_test == ref.combined_test
    assert summary.foldwise_best_valid == ref.foldwise_best_valid

    session.expire_all()
    rows = {s.id: s for s in session.scalars(select(Submission))}
    contrib = {i: rows[i].contributivity for i in ids}
    assert sum(contrib.values()) == pytest.approx(1.0)
    assert contrib == pytest.approx(dict(zip(ids, ref.contributivity.tolist(), strict=True)))
    assert rows[withdrawn.id].contributivity == 0.0 and rows[withdrawn.id].shapley is None
    hist = {i: rows[i].historical_contributivity for i in rows}
    assert sum(hist.values()) == pytest.approx(1.0)
    assert hist[ids[3]] == pytest.approx(0.6 * contrib[ids[3]])
    assert hist[ids[0]] == pytest.approx(contrib[ids[0]] + 0.4 * contrib[ids[3]])

    blend_row = session.scalars(select(Blend).where(Blend.event_id == event.id)).one()
    assert blend_row.id == summary.blend_id and blend_row.n_submissions == 4
    assert blend_row.combined_valid == ref.combined_valid
    assert blend_row.nested_valid is not None
    shap = blend_row.details["shapley"]
    total = sum(rows[i].shapley for i in ids)
    assert total == pytest.approx(shap["full_value"] - shap["empty_value"], abs=1e-9)
    low, high = blend_row.details["ci95"]["combined_valid"]
    assert low <= blend_row.combined_valid <= high
    assert blend_row.details["picks"] == summary.picks


def test_background_reblender_coalesces_requests_and_follows_new_submissions(
    session, session_factory, settings, event
):
    reblender = Reblender(settings, session_factory=session_factory, debounce_s=0.3)

    def on_scored(*, event_id, submission_id):
        reblender.request(event_id)

    try:
        t0 = time.monotonic()
        for _ in range(5):
            reblender.request(event.id)
        assert time.monotonic() - t0 < 0.25  # requests return at once (nothing ran yet)
        assert reblender.runs == 0
        assert reblender.wait_idle(60)
        assert reblender.runs == 1  # five requests within the debounce window: one re-blend
        assert reblender.summaries[event.id].n_submissions == 0

        subs = _add_submissions(session, event, 3)
        _score(session, settings, event, subs, on_scored=on_scored)  # requests re-blends
        assert reblender.wait_idle(120)
        assert reblender.summaries[event.id].n_submissions == 3

        more = _add_submissions(session, event, 2, start=3)
        _score(session, settings, event, more, seed=1, on_scored=on_scored)
        assert reblender.wait_idle(120)
        latest = reblender.summaries[event.id]
        assert latest.n_submissions == 5
        ids = [s.id for s in subs + more]
        ref = _from_scratch(settings, event, ids)  # incremental (cached) == from scratch
        assert latest.picks == [[ids[i] for i in p] for p in ref.picks]
        assert latest.combined_valid == ref.combined_valid
        session.expire_all()
        last = session.scalars(
            select(Blend).where(Blend.event_id == event.id).order_by(Blend.id.desc())
        ).first()
        assert last.id == latest.blend_id and last.n_submissions == 5
        assert not reblender.errors
    finally:
        reblender.stop()


def _record(session, settings, event, sub, proba_of):
    """Report every fold of ``sub`` with the predictions ``proba_of(y)`` (as the engine does)."""
    from ramp_server.services import results
    from ramp_server.services.predictions import event_labels

    y_train, y_test = event_labels(settings=settings, event=event)
    for k, valid in enumerate(event_folds(settings=settings, event=event).valid):
        results.record_fold_result(
            session,
            settings=settings,
            submission_id=sub.id,
            fold=k,
            valid_proba=proba_of(y_train[valid], k, "valid"),
            test_proba=proba_of(y_test, k, "test"),
            train_time=1.0,
            valid_time=0.1,
            test_time=0.1,
        )


def test_the_hybrid_is_written_first_and_its_extras_apart_with_their_own_time(
    session, settings, event
):
    from ramp_server.engine.reblend import LiveBlend, blend_event, blend_event_extras

    subs = _add_submissions(session, event, 3)
    _score(session, settings, event, subs)
    live = LiveBlend()
    first = blend_event(session, settings=settings, event_id=event.id, live=live)
    session.expire_all()
    row = session.get(Blend, first.blend_id)
    assert row.combined_valid is not None and row.duration_s > 0
    assert row.extras_at is None and row.nested_valid is None  # not yet: step 2
    assert "shapley" not in row.details
    assert {s.id: s.contributivity for s in subs} == pytest.approx(
        {s.id: session.get(Submission, s.id).contributivity for s in subs}
    )
    extras = blend_event_extras(session, settings=settings, live=live)
    assert extras is not None and blend_event_extras(session, settings=settings, live=live) is None
    session.expire_all()
    row = session.get(Blend, first.blend_id)
    assert row.extras_at is not None and row.nested_valid is not None
    assert set(row.details["extras"]["time_s"]) >= {"shapley", "bootstrap"}
    shap = row.details["shapley"]
    total = sum(session.get(Submission, s.id).shapley or 0.0 for s in subs)
    assert total == pytest.approx(shap["full_value"] - shap["empty_value"], abs=1e-9)

    # a new submission: the kept paths are extended, not recomputed; same result as from scratch
    more = _add_submissions(session, event, 1, start=3)
    _score(session, settings, event, more, seed=2)
    second = blend_event(session, settings=settings, event_id=event.id, live=live)
    ids = [s.id for s in subs + more]
    ref = _from_scratch(settings, event, ids)
    assert second.picks == [[ids[i] for i in p] for p in ref.picks]
    assert second.combined_valid == ref.combined_valid
    assert len(second.changed_from) == event.n_folds
    session.expire_all()
    newest = session.get(Blend, second.blend_id)
    assert newest.extras_at is None  # the page shows the previous blend's extras meanwhile
    from ramp_server.services import blends

    assert blends.latest_extras(session, event_id=event.id).id == first.blend_id


def test_contributivity_history_shows_a_predecessor_losing_its_share_to_an_improvement(
    session, settings, event
):
    """The seed event's story: the second-best model held 37 % and fell to 2 % once a slight
    improvement of it arrived. Here: model A, then B (another approach), then A2 = A slightly
    better (the same errors, a bit more mass on the truth) takes A's place in the blend."""
    from ramp_server.engine.reblend import LiveBlend, reblend_event
    from ramp_server.services import blends

    rng_noise = {}

    def model(seed, quality):
        def proba(y, k, split):
            key = (seed, k, split == "test")
            if key not in rng_noise:
                rng_noise[key] = np.random.default_rng(key).dirichlet(np.full(18, 0.3), len(y))
            return quality * np.eye(18)[y] + (1 - quality) * rng_noise[key]

        return proba

    live = LiveBlend()
    a, b, a2 = _add_submissions(session, event, 3)
    _record(session, settings, event, a, model(1, 0.30))
    reblend_event(session, settings=settings, event_id=event.id, live=live, nested=False)
    _record(session, settings, event, b, model(2, 0.28))
    reblend_event(session, settings=settings, event_id=event.id, live=live, nested=False)
    session.expire_all()
    before = session.get(Submission, a.id).contributivity
    _record(session, settings, event, a2, model(1, 0.34))  # A's errors, a little less often
    reblend_event(session, settings=settings, event_id=event.id, live=live, nested=False)
    session.expire_all()
    after = session.get(Submission, a.id).contributivity
    assert before > 0.2 and after < before / 2, (before, after)
    assert session.get(Submission, a2.id).contributivity > after

    history = blends.contributivity_history(session, submission=session.get(Submission, a.id))
    assert [round(p["contributivity"], 6) for p in history] == [
        1.0,
        round(before, 6),
        round(after, 6),
    ]
    over_time = blends.contributivity_over_time(session, event=event)
    assert len(over_time["blends"]) == 3
    series = {s["submission_id"]: s for s in over_time["series"]}
    assert [p["contributivity"] for p in series[a.id]["points"]] == pytest.approx(
        [1.0, before, after]
    )
    assert len(series[a2.id]["points"]) == 1  # it exists only in the last blend


def test_requests_that_keep_coming_do_not_postpone_a_reblend_past_its_max_wait(
    settings, session_factory, event
):
    # a long debounce and a short cap: the requests below keep extending the debounce, the cap
    # keeps the re-blend's start within max_wait_s of the first request
    reblender = Reblender(
        settings, session_factory=session_factory, debounce_s=30.0, max_wait_s=0.6, extras=False
    )
    uncapped = Reblender(
        settings, session_factory=session_factory, debounce_s=30.0, max_wait_s=300.0
    )
    try:
        assert reblender.due_in(event.id) is None
        first_done = None
        for _ in range(3):
            reblender.request(event.id)
            uncapped.request(event.id)
            first_done = first_done or time.monotonic()  # the first request came before this
            now = time.monotonic()
            due = reblender.due_in(event.id)
            assert due is not None and due <= first_done + 0.6 - now
            assert uncapped.due_in(event.id) > 29.0  # the debounce alone: 30 s after the last
            time.sleep(0.05)
        assert reblender.wait_idle(60)
        assert reblender.runs == 1 and not reblender.errors
        assert reblender.due_in(event.id) is None
    finally:
        reblender.stop()
        uncapped.stop()
