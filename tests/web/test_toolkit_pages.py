"""The organiser's toolkit on the pages and the JSON API (issue #14 items 2–6): submissions
left, baselines, the leaderboard freeze, re-scoring, notifications."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from ramp_test_plugin import read_starting_kit
from web_helpers import csrf_of, join, make_admin, post_form, score_submission, signup


def _editor(name: str) -> dict[str, str]:
    files = read_starting_kit()
    return {
        "name": name,
        "code_image_preprocessor": files["image_preprocessor.py"].decode(),
        "code_batch_classifier": files["batch_classifier.py"].decode(),
    }


def test_submit_page_and_api_show_the_submissions_left(client: TestClient, make_event):
    make_event(daily_quota=2, min_delay_s=3600)
    signup(client, "alice")
    join(client)
    page = client.get("/events/spipoll/submit")
    assert "<b>2</b> of 2 submissions left" in page.text and "you may submit now" in page.text
    assert client.get("/api/events/spipoll/submissions-left").json() == {
        "daily_quota": 2,
        "min_delay_s": 3600,
        "left_today": 2,
        "next_at": None,
    }
    r = post_form(client, "/events/spipoll/submit", _editor("first"), follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/events/spipoll/submit")
    assert "<b>1</b> of 2 submissions left" in page.text
    assert "the next is allowed at" in page.text
    left = client.get("/api/events/spipoll/submissions-left").json()
    assert left["left_today"] == 1 and left["next_at"] is not None
    # the API's upload answers with what is left
    csrf = csrf_of(client, "/events/spipoll/submit")
    r = client.post(
        "/api/events/spipoll/submissions",
        data={"name": "too_soon"},
        files=[("files", (n, d)) for n, d in read_starting_kit().items()],
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 400 and "wait" in r.json()["detail"]


def _submit_form(client: TestClient, name: str) -> int:
    r = post_form(client, "/events/spipoll/submit", _editor(name), follow_redirects=False)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_admin_marks_a_baseline_shown_with_a_badge_and_no_rank(
    client: TestClient, other_client: TestClient, event, session, settings
):
    make_admin(session, client)
    join(client)
    ref = _submit_form(client, "reference")
    signup(other_client, "alice")
    join(other_client)
    mine = _submit_form(other_client, "mine")
    score_submission(session, settings, ref, seed=1)
    score_submission(session, settings, mine, seed=2)
    # a participant may not mark baselines
    csrf = csrf_of(other_client, "/events/spipoll/submit")
    r = other_client.post(
        f"/api/submissions/{ref}/baseline", json={"baseline": True}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 403 and "administrators only" in r.json()["detail"]
    # the admin's button on the submission page
    page = client.get(f"/submissions/{ref}")
    assert "Mark as baseline" in page.text
    r = post_form(client, f"/admin/submissions/{ref}/baseline", {"baseline": "1"})
    assert r.status_code == 200 and 'id="baseline-badge"' in r.text
    assert "Unmark as baseline" in r.text
    board = other_client.get("/events/spipoll/leaderboard").text
    assert 'class="badge baseline"' in board
    rows = other_client.get("/api/events/spipoll/leaderboard").json()["rows"]
    assert [(r["submission"], r["rank"], r["baseline"]) for r in rows if r["baseline"]] == [
        ("reference", None, True)
    ]
    assert [r["rank"] for r in rows if not r["baseline"]] == [1]
    assert other_client.get(f"/api/submissions/{mine}").json()["baseline"] is False
    assert client.get(f"/api/submissions/{ref}").json()["baseline"] is True
    comp = other_client.get("/api/events/spipoll/leaderboard?kind=competition").json()["rows"]
    assert [r["submission"] for r in comp] == ["mine"]
    # unmarked through the API
    csrf = csrf_of(client, "/events/spipoll/submit")
    r = client.post(
        f"/api/submissions/{ref}/baseline", json={"baseline": False}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json() == {"id": ref, "name": "reference", "baseline": False}


def test_a_frozen_board_for_participants_and_the_live_one_for_organisers(
    client: TestClient, other_client: TestClient, event, session, settings
):
    from ramp_server.db.models import utcnow

    make_admin(session, client)
    signup(other_client, "alice")
    join(other_client)
    early = _submit_form(other_client, "early")
    score_submission(session, settings, early, seed=1)
    # the admin's form sets the freeze; a bad time is refused naming the field
    r = post_form(client, "/admin/events/spipoll/freeze", {"freeze_at": "tomorrow"})
    assert r.status_code == 400
    assert "freeze_at: 'tomorrow' is not a date and time" in html.unescape(r.text)
    at = utcnow().isoformat()  # to the microsecond: "early" was scored before it
    r = post_form(client, "/admin/events/spipoll/freeze", {"freeze_at": at})
    assert r.status_code == 200 and 'id="freeze-at"' in r.text
    late = _submit_form(other_client, "late")
    score_submission(session, settings, late, seed=2)

    page = other_client.get("/events/spipoll/leaderboard").text
    assert 'id="frozen-banner"' in page
    own, board = page.split('id="own-after-freeze"')[1].split("</tbody>", 1)
    assert ">late</a>" in own and "after freeze" in own
    assert ">early</a>" in board and ">late</a>" not in board
    api = other_client.get("/api/events/spipoll/leaderboard").json()
    assert api["frozen_at"] is not None
    assert [r["submission"] for r in api["rows"]] == ["early"]
    assert [r["submission"] for r in api["own_after_freeze"]] == ["late"]
    comp = other_client.get("/api/events/spipoll/leaderboard?kind=competition").json()
    assert [r["submission"] for r in comp["rows"]] == ["early"]
    assert "frozen-banner" in other_client.get("/events/spipoll/competition").text
    overview = other_client.get("/events/spipoll").text
    assert 'id="frozen-blend-charts"' in overview and 'id="frozen-banner"' in overview
    assert other_client.get("/api/events/spipoll/contributivity").status_code == 403
    assert 'id="frozen-blend-charts"' not in client.get("/events/spipoll").text
    # the organiser sees the live board, and a note that participants do not
    admin_page = client.get("/events/spipoll/leaderboard").text
    assert 'id="frozen-banner-admin"' in admin_page and ">late</a>" in admin_page
    live = client.get("/api/events/spipoll/leaderboard").json()
    assert live["frozen_at"] is None and len(live["rows"]) == 2
    # cleared: live for everyone
    post_form(client, "/admin/events/spipoll/freeze", {"freeze_at": ""})
    assert "frozen-banner" not in other_client.get("/events/spipoll/leaderboard").text


def test_admin_rescores_with_a_job_row_and_retrains_after_confirming(
    client: TestClient, other_client: TestClient, event, session, settings
):
    from ramp_server.storage import Storage

    make_admin(session, client)
    signup(other_client, "alice")
    join(other_client)
    sid = _submit_form(other_client, "mine")
    score_submission(session, settings, sid, seed=1)
    kit = Storage.from_settings(settings).resolve(event.kit_dir)
    problem = kit / "problem.py"
    problem.write_text(
        problem.read_text()
        + '\nscore_types.append(rw.score_types.F1Above(name="f1_50", threshold=0.5))\n'
    )
    page = client.get("/admin/events/spipoll")
    assert 'id="rescore-event"' in page.text and "No job yet." in page.text
    r = post_form(client, "/admin/events/spipoll/rescore")
    assert r.status_code == 200  # the job ran as the response's background task
    assert "Re-scoring 1 submission(s)" in r.text
    jobs = r.text.split('id="jobs-table"')[1]
    assert "rescore #" in jobs and ">done<" in jobs and "1 / 1" in jobs
    status = other_client.get(f"/submissions/{sid}").text
    assert "f1_50" in status
    # re-training asks for the confirmation, naming it
    r = post_form(client, "/admin/events/spipoll/retrain")
    assert r.status_code == 400 and "confirm: tick" in html.unescape(r.text)
    r = post_form(client, "/admin/events/spipoll/retrain", {"confirm": "yes"})
    assert r.status_code == 200 and "1 submission(s) of spipoll requeued" in r.text
    assert other_client.get(f"/api/submissions/{sid}").json()["state"] == "queued"


def test_account_opt_out_and_the_organisers_e_mail_form(
    client: TestClient, other_client: TestClient, event, session
):
    from sqlalchemy import select

    from ramp_server.db.models import OutboxMessage, User

    make_admin(session, client)
    signup(other_client, "alice")
    join(other_client)
    page = other_client.get("/account/tokens").text
    assert (
        'id="notify-by-email"' in page and "checked" in page.split('id="notify-by-email"')[1][:20]
    )
    r = post_form(other_client, "/account/notifications", {})
    assert r.status_code == 200 and "No more e-mails about your submissions." in r.text
    session.expire_all()
    assert session.scalars(select(User).where(User.name == "alice")).one().notify_by_email is False
    r = post_form(other_client, "/account/notifications", {"notify": "1"})
    assert "You get an e-mail when a submission is scored or fails." in r.text
    # the organiser writes to the approved participants
    r = post_form(
        client,
        "/admin/events/spipoll/email",
        {"audience": "approved", "subject": "Deadline", "body": "Friday at noon."},
    )
    assert r.status_code == 200 and "1 e-mail(s) queued to the approved participants." in r.text
    assert "1 waiting, 0 sent" in r.text
    queued = session.scalars(select(OutboxMessage)).one()
    assert (queued.to_addr, queued.subject) == ("alice@example.org", "[spipoll] Deadline")
    r = post_form(client, "/admin/events/spipoll/email", {"subject": "", "body": "x"})
    assert r.status_code == 400 and "subject and body" in r.text


def test_an_api_upload_answers_with_the_submissions_left(client: TestClient, make_event):
    make_event(daily_quota=3)
    signup(client, "alice")
    join(client)
    csrf = csrf_of(client, "/events/spipoll/submit")
    r = client.post(
        "/api/events/spipoll/submissions",
        data={"name": "via_api"},
        files=[("files", (n, d)) for n, d in read_starting_kit().items()],
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    assert r.json()["submissions_left"] == {
        "daily_quota": 3,
        "min_delay_s": 0,
        "left_today": 2,
        "next_at": None,
    }
    assert r.json()["baseline"] is False
