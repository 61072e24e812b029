"""Event list and event page: taxa with samples, charts, rules, joining, the starting kit."""

from __future__ import annotations

import io
import zipfile

import pytest

from ramp_server.kit.taxa import CLASS_NAMES

from web_helpers import join, post_form, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def test_home_lists_the_events_with_their_phase(client, event):
    page = client.get("/")
    assert page.status_code == 200
    assert event.title in page.text and "/events/spipoll" in page.text


def test_event_page_presents_the_taxa_charts_rules_and_score_types(client, event):
    page = client.get("/events/spipoll")
    assert page.status_code == 200
    text = page.text
    from html import escape

    for name in CLASS_NAMES:
        assert escape(name) in text, name
    assert text.count('src="/events/spipoll/taxa/') == len(CLASS_NAMES)
    assert "Class frequencies" in text and "<svg" in text
    for st in event.score_types:
        assert st["name"] in text
    assert "Scores over time" in text and "Hybrid model vs best single submission" in text
    assert "Contributivity" in text and "/events/spipoll/starting-kit.zip" in text


@SQLITE_ONLY
def test_taxon_samples_are_png_images_from_the_public_bundle(client, event):
    r = client.get("/events/spipoll/taxa/0.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/events/spipoll/taxa/99.png").status_code == 404


def test_starting_kit_zip_holds_problem_and_starting_kit(client, event):
    r = client.get("/events/spipoll/starting-kit.zip")
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "problem.py" in names
    assert "submissions/starting_kit/image_preprocessor.py" in names
    assert "submissions/starting_kit/batch_classifier.py" in names
    data_md = zipfile.ZipFile(io.BytesIO(r.content)).read("DATA.md").decode()
    assert "ramp-server data download" in data_md


@SQLITE_ONLY
def test_unknown_event_is_not_found(client):
    r = client.get("/events/nope")
    assert r.status_code == 404 and "no event named" in r.text
    assert client.get("/api/events/nope").json()["detail"].startswith("no event named")


def test_join_requires_login(client, event):
    r = post_form(client, "/events/spipoll/join", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_joining_an_open_event_allows_submitting(client, event):
    signup(client, "alice")
    join(client)
    page = client.get("/events/spipoll")
    assert 'href="/events/spipoll/submit"' in page.text
    assert client.get("/events/spipoll/submit").status_code == 200


def test_submit_button_is_shown_only_while_the_event_accepts_submissions(client, event, session):
    from datetime import timedelta

    from ramp_server.db.models import utcnow
    from ramp_server.services import events

    signup(client, "alice")
    join(client)
    event.opening_at = utcnow() + timedelta(days=1)
    session.commit()
    page = client.get("/events/spipoll").text
    assert 'href="/events/spipoll/submit"' not in page and "submissions not open yet" in page
    event.opening_at = None
    events.close_event(session, event=event)
    session.commit()
    page = client.get("/events/spipoll").text
    assert 'href="/events/spipoll/submit"' not in page and "submissions closed" in page


def test_joining_an_event_with_approval_waits_for_an_admin(client, make_event):
    make_event(approval_required=True)
    signup(client, "bob")
    join(client)
    assert "waiting for approval" in client.get("/events/spipoll").text
    r = client.get("/events/spipoll/submit")
    assert r.status_code == 403 and "approval" in r.text
