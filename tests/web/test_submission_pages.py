"""Submitting through the form, the submission page, code visibility, diff, downloads."""

from __future__ import annotations

import html
import io
import zipfile
from datetime import timedelta

import pytest

from ramp_server.db.models import Interaction, InteractionKind, Submission, utcnow

from ramp_test_plugin import read_starting_kit
from web_helpers import join, post_form, score_submission, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def editor_form(name: str, files: dict[str, bytes] | None = None) -> dict:
    files = files or read_starting_kit()
    return {
        "name": name,
        "code_image_preprocessor": files["image_preprocessor.py"].decode(),
        "code_batch_classifier": files["batch_classifier.py"].decode(),
    }


def submit_via_form(client, name: str, **kw) -> int:
    r = post_form(client, "/events/spipoll/submit", editor_form(name), follow_redirects=False, **kw)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_submit_form_prefills_the_starting_kit(client, event):
    signup(client, "alice")
    join(client)
    page = client.get("/events/spipoll/submit")
    assert "class BatchClassifier" in page.text and "def transform" in page.text


def test_submitting_the_editor_text_queues_and_shows_the_state(client, event):
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "first")
    page = client.get(f"/submissions/{sid}")
    assert page.status_code == 200
    assert "queued: position 1" in page.text
    assert 'class="hl"' in page.text  # highlighted code
    status = client.get(f"/api/submissions/{sid}").json()
    assert status["state"] == "queued" and status["queue_position"] == 1
    assert status["n_folds"] == event.n_folds and status["folds_done"] == 0


def test_submitting_by_upload_stores_the_uploaded_files(client, event, session):
    signup(client, "alice")
    join(client)
    files = read_starting_kit()
    r = post_form(
        client,
        "/events/spipoll/submit",
        {"name": "uploaded", "code_image_preprocessor": "", "code_batch_classifier": ""},
        files={
            "image_preprocessor": ("image_preprocessor.py", files["image_preprocessor.py"]),
            "batch_classifier": ("batch_classifier.py", files["batch_classifier.py"]),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.get(f"/submissions/{sid}/download.zip")
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert zf.read("uploaded/batch_classifier.py") == files["batch_classifier.py"]


UPLOAD_CASES = {
    "oversized": (("batch_classifier.py", b"# x\n" * 80_000), "larger than this event's limit"),
    "binary": (("batch_classifier.py", b"import os\n\x00\x01\x02"), "binary content"),
    "non_utf8": (("batch_classifier.py", "x = 'é'\n".encode("latin-1")), "not UTF-8"),
    "path_traversal": (("../../batch_classifier.py", b"x = 1\n"), "not allowed"),
}


@pytest.mark.parametrize("case", sorted(UPLOAD_CASES))
@SQLITE_ONLY
def test_upload_rejections_are_shown_as_clear_messages(client, event, case):
    signup(client, "alice")
    join(client)
    (filename, content), message = UPLOAD_CASES[case]
    form = editor_form("bad")
    r = post_form(
        client,
        "/events/spipoll/submit",
        form,
        files={"batch_classifier": (filename, content)},
    )
    assert r.status_code == 400
    text = html.unescape(r.text)
    assert "Not submitted" in text and message in text, text[text.find("submit-error") :][:600]
    # nothing typed is lost: the editor keeps the other file's text
    assert "def transform" in r.text


@SQLITE_ONLY
def test_syntax_error_in_the_editor_names_file_and_line(client, event):
    signup(client, "alice")
    join(client)
    form = editor_form("broken")
    form["code_batch_classifier"] = "def fit(:\n    pass\n"
    r = post_form(client, "/events/spipoll/submit", form)
    assert r.status_code == 400
    assert "batch_classifier.py:1: syntax error" in r.text


def test_duplicate_submission_name_is_refused(client, event):
    signup(client, "alice")
    join(client)
    submit_via_form(client, "same")
    r = post_form(client, "/events/spipoll/submit", editor_form("same"))
    assert r.status_code == 400 and "already have a submission named" in html.unescape(r.text)


def test_scored_submission_page_shows_fold_scores_times_and_memory(
    client, event, session, settings
):
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "scored")
    score_submission(session, settings, sid)
    page = client.get(f"/submissions/{sid}")
    assert "scored on" in page.text
    assert page.text.count("512.0 MB") == event.n_folds
    assert "bagged" in page.text and "valid <b>" + event.official_score_name in page.text
    status = client.get(f"/api/submissions/{sid}").json()
    assert status["state"] == "scored" and status["progress"] == 1.0


@SQLITE_ONLY
def test_failed_submission_page_shows_the_traceback(client, event, session):
    from ramp_server.services import results

    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "fails")
    results.record_fold_error(
        session,
        submission_id=sid,
        fold=0,
        kind="participant",
        message="ValueError: bad shape",
        traceback="Traceback (most recent call last):\n  File 'batch_classifier.py', line 3\nValueError: bad shape",
    )
    page = client.get(f"/submissions/{sid}")
    assert 'id="traceback"' in page.text and "ValueError: bad shape" in page.text
    assert "bad shape" in client.get("/events/spipoll/failed").text


def test_others_code_is_forbidden_before_the_collaborative_phase(
    client, other_client, make_event, session
):
    make_event(public_opening_at=utcnow() + timedelta(days=1))
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "secret")
    signup(other_client, "bob")
    join(other_client)
    for path in (
        f"/submissions/{sid}",
        f"/submissions/{sid}/download.zip",
        f"/api/submissions/{sid}/code",
        f"/events/spipoll/submit?from={sid}",
    ):
        assert other_client.get(path).status_code == 403, path
    # unauthenticated: sent to the log-in page (pages) or 401 (API)
    with_anon = other_client.__class__(other_client.app)
    assert with_anon.get(f"/submissions/{sid}", follow_redirects=False).status_code == 303
    assert with_anon.get(f"/api/submissions/{sid}").status_code == 401


def test_collaborative_phase_allows_viewing_diffing_and_copying_with_a_log(
    client, other_client, make_event, session
):
    event = make_event(public_opening_at=utcnow() - timedelta(minutes=1))
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "shared")
    signup(other_client, "bob")
    join(other_client)
    assert other_client.get(f"/submissions/{sid}").status_code == 200
    form_page = other_client.get(f"/events/spipoll/submit?from={sid}")
    assert form_page.status_code == 200 and "remember to credit it" in form_page.text
    form = editor_form("bobs_copy")
    form["code_batch_classifier"] = form["code_batch_classifier"].replace(
        "N_EPOCHS = 2", "N_EPOCHS = 3"
    )
    form["copied_from"] = str(sid)
    r = post_form(other_client, "/events/spipoll/submit", form, follow_redirects=False)
    assert r.status_code == 303, r.text
    bob_sid = int(r.headers["location"].rsplit("/", 1)[1])
    diff = other_client.get(f"/submissions/{bob_sid}/diff?against={sid}")
    assert diff.status_code == 200 and "N_EPOCHS" in diff.text
    session.expire_all()
    kinds = {
        i.kind
        for i in session.query(Interaction).filter(Interaction.event_id == event.id)
        if i.submission_id == sid
    }
    assert {InteractionKind.VIEW, InteractionKind.COPY, InteractionKind.DIFF} <= kinds
    log = other_client.get("/events/spipoll/interactions")
    assert log.status_code == 200 and "copy" in log.text


@SQLITE_ONLY
def test_credits_are_recorded_with_the_submission(client, make_event, session, settings):
    make_event(public_opening_at=utcnow() - timedelta(minutes=1))
    signup(client, "alice")
    join(client)
    first = submit_via_form(client, "base")
    score_submission(session, settings, first)
    form = editor_form("credited")
    form.update({"credit_sub": str(first), "credit_pct": "40"})
    r = post_form(client, "/events/spipoll/submit", form, follow_redirects=False)
    assert r.status_code == 303, r.text
    from ramp_server.db.models import SubmissionCredit

    credits = session.query(SubmissionCredit).all()
    assert [(c.credited_submission_id, c.percent) for c in credits] == [(first, 40.0)]


@SQLITE_ONLY
def test_submission_pages_list_the_credits_given_and_received(
    client, other_client, make_event, session, settings
):
    make_event(public_opening_at=utcnow() - timedelta(minutes=1))
    signup(client, "alice")
    join(client)
    base = submit_via_form(client, "base")
    score_submission(session, settings, base)
    signup(other_client, "bob")
    join(other_client)
    form = editor_form("remix")
    form.update({"credit_sub": str(base), "credit_pct": "40"})
    r = post_form(other_client, "/events/spipoll/submit", form, follow_redirects=False)
    assert r.status_code == 303, r.text
    remix = int(r.headers["location"].rsplit("/", 1)[1])
    given = other_client.get(f"/submissions/{remix}").text
    assert 'id="credits-given"' in given
    assert f'<a href="/submissions/{base}">alice / base</a> (40 %)' in given
    received = client.get(f"/submissions/{base}").text
    assert f'<a href="/submissions/{remix}">bob / remix</a> (40 %)' in received
    assert 'id="credits-given"' not in received
    # a submission without credits either way has no credits section
    plain = submit_via_form(client, "plain")
    assert 'id="credits"' not in client.get(f"/submissions/{plain}").text


@SQLITE_ONLY
def test_credit_candidates_put_the_submissions_one_looked_at_first(
    client, other_client, make_event, session, settings
):
    make_event(public_opening_at=utcnow() - timedelta(minutes=1))
    signup(client, "alice")
    join(client)
    looked = submit_via_form(client, "looked")
    ignored = submit_via_form(client, "ignored")  # newer: listed first without the log
    for sid in (looked, ignored):
        score_submission(session, settings, sid)
    signup(other_client, "bob")
    join(other_client)
    assert other_client.get(f"/submissions/{looked}").status_code == 200
    page = other_client.get("/events/spipoll/submit").text
    assert f"alice / looked (#{looked}) · looked at" in page
    assert f"alice / ignored (#{ignored})" in page
    assert f"alice / ignored (#{ignored}) · looked at" not in page
    assert page.index(f"(#{looked})") < page.index(f"(#{ignored})")


def test_another_participant_cannot_cancel_my_submission(client, other_client, event):
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "mine")
    signup(other_client, "bob")
    assert post_form(other_client, f"/submissions/{sid}/cancel").status_code == 403
    r = post_form(client, f"/submissions/{sid}/cancel", follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/submissions/{sid}").json()["state"] == "cancelled"


@SQLITE_ONLY
def test_download_all_my_submissions_as_one_archive(client, event):
    signup(client, "alice")
    join(client)
    submit_via_form(client, "one")
    submit_via_form(client, "two")
    r = client.get("/events/spipoll/my-submissions.zip")
    names = set(zipfile.ZipFile(io.BytesIO(r.content)).namelist())
    assert "code/alice/one/batch_classifier.py" in names
    assert "code/alice/two/image_preprocessor.py" in names


@SQLITE_ONLY
def test_select_for_competition_and_withdraw_from_blend(client, event, session, settings):
    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "pick")
    score_submission(session, settings, sid)
    assert (
        post_form(client, f"/submissions/{sid}/select", follow_redirects=False).status_code == 303
    )
    assert (
        post_form(client, f"/submissions/{sid}/withdraw", follow_redirects=False).status_code == 303
    )
    session.expire_all()
    sub = session.get(Submission, sid)
    assert sub.selected_for_competition and sub.withdrawn_from_blend


def test_training_progress_shows_fold_and_epoch(client, event, session):
    from ramp_server.services import jobs

    signup(client, "alice")
    join(client)
    sid = submit_via_form(client, "training")
    fold = session.get(Submission, sid).folds[0]
    assert jobs.claim_fold(session, fold_id=fold.id, dask_key="k-0")
    jobs.note_fold_run(
        session,
        submission_id=sid,
        fold=0,
        worker="tcp://127.0.0.1:4242",
        progress={"epoch": 2, "n_epochs": 5, "metrics": {"loss": 1.2}},
    )
    status = client.get(f"/api/submissions/{sid}").json()
    assert status["state"] == "training"
    assert "training fold 1 of 3, epoch 2/5" in status["progress_text"]
    assert status["progress"] == pytest.approx(0.4 / event.n_folds)
    page = client.get(f"/submissions/{sid}")
    assert "2/5" in page.text and 'data-live-submission="' + str(sid) in page.text
