"""The organiser's toolkit on the pages and the JSON API (issue #14 items 2–6): submissions
left, baselines, the leaderboard freeze, re-scoring, notifications."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ramp_test_plugin import read_starting_kit
from web_helpers import join, post_form, signup


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
    csrf = __import__("web_helpers").csrf_of(client, "/events/spipoll/submit")
    r = client.post(
        "/api/events/spipoll/submissions",
        data={"name": "too_soon"},
        files=[("files", (n, d)) for n, d in read_starting_kit().items()],
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 400 and "wait" in r.json()["detail"]
