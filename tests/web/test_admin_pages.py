"""Administration pages: access, sign-up approval, roles, queue, closing, export, unsafe banner."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient

from ramp_server.db.models import EventParticipant, Submission, User

from web_helpers import join, make_admin, post_form, queue_one, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def test_admin_pages_are_forbidden_to_participants_and_anonymous(client, event):
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    signup(client, "alice")
    assert client.get("/admin").status_code == 403
    assert client.get("/admin/events/spipoll").status_code == 403
    assert post_form(client, "/admin/events/spipoll/close").status_code == 403
    assert post_form(client, "/admin/events/spipoll/reblend").status_code == 403
    assert client.get("/admin/events/spipoll/export.zip").status_code == 403


def test_admin_approves_a_waiting_participant(client, other_client, make_event, session):
    event = make_event(approval_required=True)
    signup(other_client, "bob")
    join(other_client)
    make_admin(session, client)
    page = client.get("/admin")
    assert "bob" in page.text and "Approve" in page.text
    bob = session.query(User).filter_by(name="bob").one()
    r = post_form(
        client, f"/admin/events/spipoll/participants/{bob.id}/approve", follow_redirects=False
    )
    assert r.status_code == 303
    session.expire_all()
    member = session.query(EventParticipant).filter_by(event_id=event.id, user_id=bob.id).one()
    assert member.approved
    assert other_client.get("/events/spipoll/submit").status_code == 200


@SQLITE_ONLY
def test_bulk_pre_approval_reports_addresses_without_account(
    client, other_client, make_event, session
):
    make_event(approval_required=True)
    signup(other_client, "carol")
    make_admin(session, client)
    r = post_form(
        client,
        "/admin/events/spipoll/preapprove",
        {"emails": "carol@example.org, ghost@example.org"},
    )
    assert r.status_code == 200
    assert "1 account(s) approved" in r.text and "ghost@example.org" in r.text
    assert other_client.get("/events/spipoll/submit").status_code == 200


@SQLITE_ONLY
def test_make_admin_and_deactivate(client, other_client, event, session):
    signup(other_client, "dave")
    make_admin(session, client)
    dave = session.query(User).filter_by(name="dave").one()
    post_form(client, f"/admin/users/{dave.id}/admin", {"is_admin": "1"})
    session.expire_all()
    assert session.get(User, dave.id).is_admin
    post_form(client, f"/admin/users/{dave.id}/active", {"is_active": "0"})
    # the deactivated user's session no longer authenticates
    assert "Log in" in other_client.get("/").text


def test_queue_view_cancel_and_requeue(client, event, session, settings):
    sub = queue_one(session, settings, event)
    make_admin(session, client)
    page = client.get("/admin")
    assert f"/submissions/{sub.id}" in page.text
    assert (
        post_form(client, f"/submissions/{sub.id}/cancel", follow_redirects=False).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Submission, sub.id).state.value == "cancelled"
    assert (
        post_form(client, f"/submissions/{sub.id}/requeue", follow_redirects=False).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Submission, sub.id).state.value == "queued"


def test_close_event_and_export_everything(client, event, session, settings):
    sub = queue_one(session, settings, event, "exported")
    make_admin(session, client)
    r = post_form(client, "/admin/events/spipoll/close", follow_redirects=False)
    assert r.status_code == 303
    assert "closed" in client.get("/events/spipoll").text
    r = client.get("/admin/events/spipoll/export.zip")
    assert r.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = zf.namelist()
    assert "scores.csv" in names and "submissions.json" in names
    assert f"code/u_exported/{sub.name}/batch_classifier.py" in names


def test_admin_requests_a_reblend_from_the_event_page(client, event, session):
    from ramp_server.services.blend_requests import blend_request_of

    make_admin(session, client)
    assert 'id="reblend-event"' in client.get("/admin/events/spipoll").text
    assert blend_request_of(session, event_id=event.id) is None
    r = post_form(client, "/admin/events/spipoll/reblend", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/events/spipoll"
    session.expire_all()
    assert blend_request_of(session, event_id=event.id) is not None
    assert "re-blend pending" in client.get("/events/spipoll").text


@SQLITE_ONLY
def test_unsafe_sandbox_shows_a_loud_banner_to_admins(settings, db_engine, session):
    from ramp_server.web.app import create_app

    unsafe = settings.model_copy(update={"sandbox": "unsafe-none", "allow_unsafe_sandbox": True})
    app = create_app(unsafe, engine=db_engine)
    with TestClient(app) as c:
        make_admin(session, c)
        assert re.search(r"UNSAFE MODE", c.get("/").text)
    with TestClient(create_app(settings, engine=db_engine)) as c:
        signup(c, "plain")
        assert "UNSAFE MODE" not in c.get("/").text
