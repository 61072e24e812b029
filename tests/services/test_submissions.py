"""Server-side validation of uploads and the submission state changes."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ramp_server.db.models import (
    FoldState,
    Interaction,
    Submission,
    SubmissionFold,
    SubmissionState,
)
from ramp_server.services import ServiceError
from ramp_server.services.events import update_event
from ramp_server.services.participants import join_event
from ramp_server.services.results import record_fold_error
from ramp_server.services.submissions import (
    SubmissionRejected,
    cancel,
    files_from_zip,
    queue_position,
    requeue,
    submission_sources,
    submit,
)
from ramp_server.storage import Storage

from ramp_test_plugin import create_test_user

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ann(session, event):
    user = create_test_user(session, "ann")
    join_event(session, event=event, user=user)
    session.commit()
    return user


def _submit(session, settings, event, user, files, name="sub", now=None, **kw):
    return submit(
        session, settings=settings, event=event, user=user, name=name, files=files, now=now, **kw
    )


def test_valid_submission_is_stored_immutably_and_queued(
    session, settings, event, ann, starting_kit_files
):
    sub = _submit(session, settings, event, ann, starting_kit_files, name="first")
    assert sub.state is SubmissionState.QUEUED
    assert sub.queued_at is not None
    assert submission_sources(settings=settings, submission=sub) == starting_kit_files
    blob = Storage.from_settings(settings).blob_path(sub.files[0].sha256)
    assert not blob.stat().st_mode & 0o222  # read-only
    folds = session.scalars(select(SubmissionFold).where(SubmissionFold.submission_id == sub.id))
    assert [f.state for f in folds] == [FoldState.QUEUED] * event.n_folds
    assert session.scalar(select(func.count(Interaction.id))) == 1
    assert queue_position(session, submission=sub) == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.pop("batch_classifier.py"), "missing file"),
        (lambda f: f.update({"../evil.py": b"x = 1\n"}), "not allowed"),
        (lambda f: f.update({"sub/dir.py": b"x = 1\n"}), "not allowed"),
        (lambda f: f.update({".hidden.py": b"x = 1\n"}), "not allowed"),
        (lambda f: f.update({"notes.txt": b"hi"}), "not allowed"),
        (lambda f: f.update({"extra.py": b"x = 1\n"}), "unexpected file"),
        (lambda f: f.update({"image_preprocessor.py": b"\x7fELF\x00\x01"}), "binary content"),
        (
            lambda f: f.update({"image_preprocessor.py": b"# caf\xe9\nx = 1\n"}),
            r"image_preprocessor.py:1: not UTF-8",
        ),
        (
            lambda f: f.update({"batch_classifier.py": b"import numpy\n\ndef f(:\n"}),
            r"batch_classifier.py:3: syntax error",
        ),
        (lambda f: f.update({"batch_classifier.py": b"x = 1\n"}), "BatchClassifier"),
        (lambda f: f.update({"batch_classifier.py": b"   \n"}), "empty"),
    ],
)
def test_invalid_uploads_are_rejected_with_a_clear_message(
    session, settings, event, ann, starting_kit_files, mutate, message
):
    files = dict(starting_kit_files)
    mutate(files)
    with pytest.raises(SubmissionRejected, match=message):
        _submit(session, settings, event, ann, files)
    assert session.scalar(select(func.count(Submission.id))) == 0


def test_oversized_upload_is_rejected(session, settings, event, ann, starting_kit_files):
    update_event(session, event=event, upload_max_bytes=1000)
    session.commit()
    files = dict(starting_kit_files)
    files["batch_classifier.py"] += b"# padding\n" * 200
    with pytest.raises(SubmissionRejected, match="too large"):
        _submit(session, settings, event, ann, files)


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 41, "-lead", "naïve"])
def test_bad_submission_names_are_rejected(session, settings, event, ann, starting_kit_files, name):
    with pytest.raises(SubmissionRejected, match="submission name"):
        _submit(session, settings, event, ann, starting_kit_files, name=name)


def test_duplicate_name_of_the_same_participant_is_rejected(
    session, settings, event, ann, starting_kit_files
):
    _submit(session, settings, event, ann, starting_kit_files, name="cnn")
    with pytest.raises(SubmissionRejected, match="already have a submission named 'cnn'"):
        _submit(session, settings, event, ann, starting_kit_files, name="cnn")
    bob = create_test_user(session, "bob")
    join_event(session, event=event, user=bob)
    assert _submit(session, settings, event, bob, starting_kit_files, name="cnn").id


def test_non_participant_cannot_submit(session, settings, event, starting_kit_files):
    eve = create_test_user(session, "eve")
    with pytest.raises(SubmissionRejected, match="not an approved participant"):
        _submit(session, settings, event, eve, starting_kit_files)


def test_deadline_and_opening_are_enforced(session, settings, event, ann, starting_kit_files):
    update_event(session, event=event, opening_at=T0, closing_at=T0 + timedelta(days=1))
    session.commit()
    with pytest.raises(SubmissionRejected, match="opens at"):
        _submit(session, settings, event, ann, starting_kit_files, now=T0 - timedelta(seconds=1))
    with pytest.raises(SubmissionRejected, match="closed"):
        _submit(session, settings, event, ann, starting_kit_files, now=T0 + timedelta(days=1))
    assert _submit(session, settings, event, ann, starting_kit_files, now=T0).id


def test_minimum_delay_between_submissions(session, settings, event, ann, starting_kit_files):
    update_event(session, event=event, min_delay_s=600)
    session.commit()
    _submit(session, settings, event, ann, starting_kit_files, name="a", now=T0)
    with pytest.raises(SubmissionRejected, match=r"wait 300 s"):
        _submit(
            session,
            settings,
            event,
            ann,
            starting_kit_files,
            name="b",
            now=T0 + timedelta(seconds=300),
        )
    assert _submit(
        session, settings, event, ann, starting_kit_files, name="c", now=T0 + timedelta(seconds=600)
    ).id


def test_daily_quota_does_not_count_platform_failures(
    session, settings, event, ann, starting_kit_files
):
    update_event(session, event=event, daily_quota=2)
    session.commit()
    a = _submit(session, settings, event, ann, starting_kit_files, name="a", now=T0)
    _submit(
        session, settings, event, ann, starting_kit_files, name="b", now=T0 + timedelta(hours=1)
    )
    with pytest.raises(SubmissionRejected, match="daily quota reached"):
        _submit(
            session, settings, event, ann, starting_kit_files, name="c", now=T0 + timedelta(hours=2)
        )
    record_fold_error(session, submission_id=a.id, fold=0, kind="platform", message="worker lost")
    assert _submit(
        session, settings, event, ann, starting_kit_files, name="d", now=T0 + timedelta(hours=2)
    ).id
    # a rolling 24-hour window
    assert _submit(
        session, settings, event, ann, starting_kit_files, name="e", now=T0 + timedelta(hours=25)
    ).id


def test_cancel_and_requeue(session, settings, event, ann, starting_kit_files):
    sub = _submit(session, settings, event, ann, starting_kit_files)
    with pytest.raises(ServiceError, match="cancel it before"):
        requeue(session, submission=sub)
    cancel(session, submission=sub)
    session.commit()
    assert sub.state is SubmissionState.CANCELLED
    assert {f.state for f in sub.folds} == {FoldState.CANCELLED}
    assert queue_position(session, submission=sub) is None
    with pytest.raises(ServiceError, match="only new, queued or training"):
        cancel(session, submission=sub)
    requeue(session, submission=sub)
    session.commit()
    assert sub.state is SubmissionState.QUEUED
    assert {f.state for f in sub.folds} == {FoldState.QUEUED}


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_upload_accepts_one_folder_and_refuses_bombs_and_traversal(starting_kit_files):
    ok = files_from_zip(
        _zip({f"mine/{k}": v for k, v in starting_kit_files.items()}), max_bytes=100_000
    )
    assert ok == starting_kit_files
    bomb = _zip({"image_preprocessor.py": b"0" * 50_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(SubmissionRejected, match="unpacks to"):
        files_from_zip(bomb, max_bytes=100_000)
    with pytest.raises(SubmissionRejected, match="no '..'"):
        files_from_zip(_zip({"../x.py": b"x"}), max_bytes=100_000)
    with pytest.raises(SubmissionRejected, match="not a valid zip"):
        files_from_zip(b"PK\x03\x04garbage", max_bytes=100_000)


def test_zip_bomb_with_lying_headers_is_bounded():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("batch_classifier.py", b"1" * 5_000_000)
    raw = bytearray(buf.getvalue())
    # rewrite the declared uncompressed sizes (local header and central directory) to 10 bytes
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        raw[i + off : i + off + 4] = (10).to_bytes(4, "little")
    with pytest.raises(SubmissionRejected):
        files_from_zip(bytes(raw), max_bytes=100_000)


def test_credits_follow_the_collaborative_phase(session, settings, event, ann, starting_kit_files):
    from ramp_server.db.models import SubmissionCredit
    from ramp_server.services.submissions import can_view_code

    bob = create_test_user(session, "bob")
    join_event(session, event=event, user=bob)
    update_event(session, event=event, public_opening_at=T0 + timedelta(days=1))
    session.commit()
    theirs = _submit(session, settings, event, bob, starting_kit_files, name="b", now=T0)
    mine = _submit(session, settings, event, ann, starting_kit_files, name="a", now=T0)
    assert not can_view_code(session, submission=theirs, user=ann, now=T0)
    assert can_view_code(session, submission=mine, user=ann, now=T0)
    with pytest.raises(SubmissionRejected, match="collaborative phase"):
        _submit(
            session,
            settings,
            event,
            ann,
            starting_kit_files,
            name="c",
            now=T0,
            credits={theirs.id: 50},
        )
    later = T0 + timedelta(days=2)
    assert can_view_code(session, submission=theirs, user=ann, now=later)
    with pytest.raises(SubmissionRejected, match="at most 100%"):
        _submit(
            session,
            settings,
            event,
            ann,
            starting_kit_files,
            name="c",
            now=later,
            credits={theirs.id: 60, mine.id: 50},
        )
    with pytest.raises(SubmissionRejected, match="no such submission"):
        _submit(
            session,
            settings,
            event,
            ann,
            starting_kit_files,
            name="c",
            now=later,
            credits={999999: 10},
        )
    sub = _submit(
        session,
        settings,
        event,
        ann,
        starting_kit_files,
        name="c",
        now=later,
        credits={theirs.id: 60, mine.id: 40},
    )
    got = session.execute(
        select(SubmissionCredit.credited_submission_id, SubmissionCredit.percent).where(
            SubmissionCredit.submission_id == sub.id
        )
    ).all()
    assert sorted(got) == sorted([(theirs.id, 60.0), (mine.id, 40.0)])


def test_a_deactivated_account_cannot_submit(session, settings, event, ann, starting_kit_files):
    ann.is_active = False
    session.commit()
    with pytest.raises(SubmissionRejected, match="deactivated"):
        _submit(session, settings, event, ann, starting_kit_files)


def test_a_participant_archive_holds_only_their_code_and_no_test_scores(
    session, settings, event, ann, starting_kit_files
):
    import json

    from ramp_server.services.exports import export_archive

    bob = create_test_user(session, "bob")
    join_event(session, event=event, user=bob)
    _submit(session, settings, event, ann, starting_kit_files, name="mine")
    _submit(session, settings, event, bob, starting_kit_files, name="theirs")
    buf = io.BytesIO()
    assert export_archive(session, settings=settings, event=event, out=buf, user=ann) == 1
    with zipfile.ZipFile(buf) as zf:
        names = set(zf.namelist())
        table = json.loads(zf.read("submissions.json"))
    assert names == {
        "submissions.json",
        "code/ann/mine/batch_classifier.py",
        "code/ann/mine/image_preprocessor.py",
    }
    assert [r["submission"] for r in table] == ["mine"]
    assert "test_scores" not in table[0]


def test_allowance_counts_the_teams_submissions_left_and_the_next_time(
    session, settings, event, ann, starting_kit_files
):
    from ramp_server.services.submissions import team_allowance

    update_event(session, event=event, daily_quota=2, min_delay_s=600)
    session.commit()
    fresh = team_allowance(session, event=event, user=ann, now=T0)
    assert (fresh.left_today, fresh.daily_quota, fresh.next_at) == (2, 2, None)
    _submit(session, settings, event, ann, starting_kit_files, name="a", now=T0)
    after_one = team_allowance(session, event=event, user=ann, now=T0 + timedelta(seconds=60))
    assert after_one.left_today == 1
    assert after_one.next_at == T0 + timedelta(seconds=600)  # the minimum delay
    later = T0 + timedelta(hours=1)
    _submit(session, settings, event, ann, starting_kit_files, name="b", now=later)
    spent = team_allowance(session, event=event, user=ann, now=later + timedelta(hours=1))
    assert spent.left_today == 0
    assert spent.next_at == T0 + timedelta(days=1)  # the first leaves the 24-hour window
    with pytest.raises(SubmissionRejected, match="daily quota reached"):
        _submit(
            session,
            settings,
            event,
            ann,
            starting_kit_files,
            name="c",
            now=later + timedelta(hours=1),
        )
    next_day = team_allowance(session, event=event, user=ann, now=T0 + timedelta(days=1))
    assert (next_day.left_today, next_day.next_at) == (1, None)
