"""The pictures' figures: the bagged validation confusion (services.confusion) and the learning
curves kept in the progress log (services.progress), on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, recall_score

from ramp_server.blending.store import read_fold_predictions, write_fold_predictions
from ramp_server.db.models import ProgressEntry, Submission, SubmissionFold, SubmissionState
from ramp_server.kit.scoring import bag_predictions
from ramp_server.kit.taxa import CLASS_NAMES
from ramp_server.services import confusion, progress
from ramp_server.services.events import event_problem
from ramp_server.services.predictions import event_labels
from ramp_server.storage import Storage

from ramp_test_plugin import create_scored_submissions, create_test_user, score_folds


@pytest.fixture
def owner(session):
    return create_test_user(session, "ann")


def _bagged(settings, event, sub):
    """The bagged validation predictions, read here independently of the service."""
    storage = Storage.from_settings(settings)
    preds = [
        read_fold_predictions(storage.predictions_path(event.name, sub.id, f.fold))
        for f in sub.folds
    ]
    y_train, _ = event_labels(settings=settings, event=event)
    bagged = bag_predictions(
        event_problem(settings=settings, event=event),
        n_samples=len(y_train),
        valid_indices=[p.valid_indices for p in preds],
        valid_probas=[p.valid_proba for p in preds],
    )
    seen = ~np.isnan(bagged[:, 0])
    return y_train[seen], bagged[seen].argmax(axis=1)


def test_confusion_rows_sum_to_one_and_accuracy_matches_sklearn(session, settings, event, owner):
    (sid,) = create_scored_submissions(
        session, settings=settings, event=event, user_id=owner.id, n=1
    )
    sub = session.get(Submission, sid)
    conf = confusion.bagged_confusion(settings=settings, submission=sub)

    assert conf is not None and conf.labels == tuple(CLASS_NAMES)
    truth, pred = _bagged(settings, event, sub)
    labels = list(range(len(CLASS_NAMES)))
    assert conf.n_rows == len(truth)
    for row, support in zip(conf.matrix, conf.support, strict=True):
        assert sum(row) == pytest.approx(1.0 if support else 0.0)
    expected = confusion_matrix(truth, pred, labels=labels, normalize="true")
    np.testing.assert_allclose(np.array(conf.matrix), np.nan_to_num(expected), atol=1e-12)
    recall = recall_score(truth, pred, labels=labels, average=None, zero_division=np.nan)
    for ours, theirs, support in zip(conf.accuracy, recall, conf.support, strict=True):
        assert ours == pytest.approx(theirs) if support else ours is None
    assert conf.overall_accuracy == pytest.approx(float(np.mean(truth == pred)))
    np.testing.assert_allclose(
        conf.frequency, np.bincount(truth, minlength=len(labels)) / len(truth)
    )
    # memoized per prediction-file version: the same object while the files are unchanged
    assert confusion.bagged_confusion(settings=settings, submission=sub) is conf
    body = conf.as_json()
    assert body["taxa"][3]["name"] == "Apis mellifera" and len(body["matrix"]) == 18


def test_rewritten_predictions_give_a_new_confusion(session, settings, event, owner):
    """A retrained fold's prediction file replaces the old one: the memo is not reused."""
    (sid,) = create_scored_submissions(
        session, settings=settings, event=event, user_id=owner.id, n=1
    )
    sub = session.get(Submission, sid)
    before = confusion.bagged_confusion(settings=settings, submission=sub)
    storage = Storage.from_settings(settings)
    y_train, _ = event_labels(settings=settings, event=event)
    for f in sub.folds:  # perfect predictions this time
        path = storage.predictions_path(event.name, sid, f.fold)
        old = read_fold_predictions(path)
        write_fold_predictions(
            path,
            valid_indices=old.valid_indices,
            valid_proba=np.eye(len(CLASS_NAMES))[y_train[old.valid_indices]],
            test_proba=old.test_proba,
        )
    after = confusion.bagged_confusion(settings=settings, submission=sub)
    assert after is not before and before.overall_accuracy < 1.0
    assert after.overall_accuracy == 1.0
    assert all(a == 1.0 for a, n in zip(after.accuracy, after.support, strict=True) if n)


def test_no_confusion_before_scoring_or_after_a_failure(session, settings, event, owner):
    sub = Submission(
        event_id=event.id, user_id=owner.id, name="half", state=SubmissionState.TRAINING
    )
    session.add(sub)
    session.flush()
    session.add_all(SubmissionFold(submission_id=sub.id, fold=k) for k in range(event.n_folds))
    session.commit()
    score_folds(session, settings, sub.id, folds=[0])
    session.refresh(sub)
    assert confusion.bagged_confusion(settings=settings, submission=sub) is None
    sub.state = SubmissionState.ERROR
    session.commit()
    assert confusion.bagged_confusion(settings=settings, submission=sub) is None


def _fold_of(session, event, owner):
    sub = Submission(
        event_id=event.id, user_id=owner.id, name="curvy", state=SubmissionState.TRAINING
    )
    session.add(sub)
    session.flush()
    session.add_all(SubmissionFold(submission_id=sub.id, fold=k) for k in range(event.n_folds))
    session.commit()
    return sub.id


def test_progress_keeps_each_epoch_and_a_later_report_replaces_it(session, event, owner):
    sid = _fold_of(session, event, owner)
    kept = progress.record_progress(
        session,
        submission_id=sid,
        fold=1,
        reports=[
            {"epoch": 1, "n_epochs": 3, "valid_acc": 0.30, "loss": 2.0, "note": "warm-up"},
            {"epoch": 2, "n_epochs": 3, "val_acc": 0.40},
            {"epoch": "3", "valid_acc": 0.99},  # not an integer epoch: skipped
            {"epoch": True, "valid_acc": 0.99},  # neither
            {"batch": 17, "loss": 1.5},  # a per-batch line: skipped
        ],
    )
    session.commit()
    assert kept == 2
    # a retried fold reports epoch 2 again, then epoch 3
    progress.record_progress(
        session,
        submission_id=sid,
        fold=1,
        reports=[{"epoch": 2, "n_epochs": 3, "valid_acc": 0.45}, {"epoch": 3, "n_epochs": 3}],
    )
    progress.record_progress(
        session, submission_id=sid, fold=0, reports=[{"epoch": 1, "valid_acc": float("nan")}]
    )
    session.commit()

    rows = (
        session.query(ProgressEntry)
        .filter_by(submission_id=sid)
        .order_by(ProgressEntry.fold, ProgressEntry.epoch)
    )
    assert [(r.fold, r.epoch, r.valid_acc, r.metrics) for r in rows] == [
        (0, 1, None, {}),
        (1, 1, 0.30, {"loss": 2.0}),
        (1, 2, 0.45, {}),
        (1, 3, None, {}),
    ]
    (curve,) = progress.learning_curves(session, submission_id=sid)
    assert (curve.fold, curve.n_epochs, curve.points) == (1, 3, [(1, 0.30), (2, 0.45)])


def test_progress_of_an_unknown_fold_is_dropped(session, event, owner):
    sid = _fold_of(session, event, owner)
    reports = [{"epoch": 1, "valid_acc": 0.5}]
    assert progress.record_progress(session, submission_id=sid, fold=99, reports=reports) == 0
    assert progress.record_progress(session, submission_id=sid + 1, fold=0, reports=reports) == 0
    session.commit()
    assert progress.learning_curves(session, submission_id=sid) == []
