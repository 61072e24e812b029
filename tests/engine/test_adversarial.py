"""Hostile and broken submissions: each ends in a clear state, the workers survive, and the
next submission trains normally. They are trained together once (module fixture), then each
test checks one of them."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from sqlalchemy import select

from ramp_server.config import load_settings
from ramp_server.db.engine import make_engine, make_session_factory
from ramp_server.db.models import ErrorKind, Submission, SubmissionFold, SubmissionState
from ramp_server.services import submissions as submission_service

from engine_support import (
    EVENT_RULES,
    SECRET_MARKER,
    TEST_LIMITS,
    make_dispatcher,
    sandbox_processes,
    submission_files,
)

# snoop must be scored within the 15 s fold limit: it goes after the others, on warm workers
# (first on a fresh clone's cold machine it once ran past the limit)
HOSTILE = (
    "sockets",
    "fork_flood",
    "memory_hog",
    "infinite_loop",
    "disk_filler",
    "log_flood",
    "exit_in_fit",
    "nan_predictions",
    "wrong_shape",
    "raises_in_fit",
    "self_kill",
    "snoop",
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sqlite_template_path, event_kit, dask_client):
    """Every hostile submission, then a normal one, trained by one dispatcher run."""
    from ramp_test_plugin import create_test_event, create_test_user

    root = tmp_path_factory.mktemp("adversarial")
    db = root / "ramp.sqlite3"
    shutil.copyfile(sqlite_template_path, db)
    settings = load_settings(storage_dir=root / "storage", database_url=f"sqlite:///{db}")
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory() as session:
        event = create_test_event(session, settings=settings, kit=event_kit, **EVENT_RULES)
        (settings.storage_dir / "secret.txt").write_text(SECRET_MARKER)
        user = create_test_user(session, "mallory", admin=True)
        ids = {}
        for name in (*HOSTILE, "quick"):
            sub = submission_service.submit(
                session,
                settings=settings,
                event=event,
                user=user,
                name=name.replace("_", "-"),
                files=submission_files(name),
            )
            ids[name] = sub.id
        n_scores = len(event.score_types)
    workers_before = dask_client.run(os.getpid)
    dispatcher = make_dispatcher(settings, factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()
    workers_after = dask_client.run(os.getpid)
    out = {"settings": settings, "n_scores": n_scores, "workers": (workers_before, workers_after)}
    with factory() as session:
        for name, sid in ids.items():
            sub = session.get(Submission, sid)
            folds = list(
                session.scalars(select(SubmissionFold).where(SubmissionFold.submission_id == sid))
            )
            logs = "".join(
                (settings.storage_dir / f.log_path).read_text(errors="replace")
                for f in folds
                if f.log_path
            )
            session.expunge_all()
            out[name] = (sub, folds, logs)
    engine.dispose()
    return out


def _error(trained, name):
    sub, folds, logs = trained[name]
    assert sub.state == SubmissionState.ERROR, (sub.state, sub.error_message)
    assert sub.charged_to_quota  # the participant's fault, not the platform's
    return sub, folds, logs


def test_workers_survive_every_hostile_submission_and_no_process_is_left(trained):
    before, after = trained["workers"]
    assert before == after  # same worker processes: none crashed or was restarted
    assert sandbox_processes() == []


def test_a_normal_submission_after_the_hostile_ones_is_scored(trained):
    sub, folds, _ = trained["quick"]
    assert sub.state == SubmissionState.SCORED
    assert all(f.attempts == 1 for f in folds)


def test_snooping_finds_no_test_labels_database_or_secrets(trained):
    sub, _, logs = trained["snoop"]
    assert sub.state == SubmissionState.SCORED, sub.error_message
    reports = [
        json.loads(line.split(" ", 1)[1]) for line in logs.splitlines() if "SNOOP-REPORT" in line
    ]
    assert reports, "the snooping submission reported nothing"
    for report in reports:
        assert report["n_files"] > 100  # it did walk a file system
        leaked = [p for p in report["names"] if "test_labels" in p or "sqlite3" in p]
        assert leaked == []
        assert not any("secret.txt" in p for p in report["names"])
        assert report["content_hits"] == []
        assert report["env"] == {}
        assert not {"RAMP_SECRET_KEY", "RAMP_DATABASE_URL", "GITHUB_TOKEN"} & set(
            report["env_keys"]
        )
    assert SECRET_MARKER not in logs


def test_sockets_cannot_reach_network_database_or_scheduler(trained):
    sub, _, logs = trained["sockets"]
    assert sub.state == SubmissionState.SCORED
    assert "SOCKET-FAILED" in logs
    assert "SOCKET-CONNECTED" not in logs


def test_fork_flood_hits_the_process_limit(trained):
    sub, _, _ = _error(trained, "fork_flood")
    assert sub.error_kind == ErrorKind.PARTICIPANT
    assert "Resource temporarily unavailable" in sub.error_message


def test_memory_hog_is_stopped_as_out_of_memory(trained):
    sub, _, _ = _error(trained, "memory_hog")
    assert sub.error_kind == ErrorKind.MEMORY


def test_infinite_loop_times_out(trained):
    sub, _, _ = _error(trained, "infinite_loop")
    assert sub.error_kind == ErrorKind.TIMEOUT
    assert f"{EVENT_RULES['fold_time_limit_s']} s" in sub.error_message


def test_disk_filler_is_bounded(trained):
    sub, _, logs = _error(trained, "disk_filler")
    assert sub.error_kind == ErrorKind.PARTICIPANT
    assert "No space left on device" in logs or "File too large" in logs
    for line in logs.splitlines():
        if line.startswith("DISK-FILL"):
            megabytes = int(line.split(": ", 1)[1].split(" MB")[0])
            assert megabytes <= TEST_LIMITS.file_size_mb


def test_log_flood_is_truncated_keeping_head_and_tail(trained):
    sub, folds, _ = trained["log_flood"]
    assert sub.state == SubmissionState.SCORED
    settings = trained["settings"]
    for f in folds:
        text = (settings.storage_dir / f.log_path).read_text()
        assert len(text) < TEST_LIMITS.log_max_bytes + 200
        assert "truncated by the platform" in text
        assert text.startswith("FLOOD")
        assert "FLOOD-END" in text


def test_exit_inside_fit_is_a_participant_error(trained):
    sub, _, _ = _error(trained, "exit_in_fit")
    assert sub.error_kind == ErrorKind.PARTICIPANT
    assert "exited" in sub.error_message and "os._exit" in sub.error_message


@pytest.mark.parametrize(
    ("name", "words"), [("nan_predictions", "finite"), ("wrong_shape", "shape")]
)
def test_invalid_predictions_are_their_own_error_kind(trained, name, words):
    sub, _, _ = _error(trained, name)
    assert sub.error_kind == ErrorKind.INVALID_PREDICTIONS
    assert words in sub.error_message
    assert "batch_classifier.py" in sub.error_message


def test_participant_exception_shows_only_the_participants_frames(trained):
    sub, _, _ = _error(trained, "raises_in_fit")
    assert sub.error_kind == ErrorKind.PARTICIPANT
    assert "KeyError" in sub.error_message
    assert 'batch_classifier.py", line 5, in helper' in sub.traceback
    assert "ramp_server" not in sub.traceback


def test_a_process_killed_by_a_signal_is_reported_as_killed(trained):
    sub, _, _ = _error(trained, "self_kill")
    assert sub.error_kind == ErrorKind.KILLED
    assert "SIGKILL" in sub.error_message
