"""The JSON API: schema, bearer tokens, multipart submissions, status, errors."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ramp_test_plugin import read_starting_kit
from web_helpers import join, post_form, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def token_for(client: TestClient) -> dict[str, str]:
    """Create an API token with the logged-in browser session (CSRF header) and return headers."""
    csrf = __import__("web_helpers").csrf_of(client, "/account/tokens")
    r = client.post("/api/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def multipart(files: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (name, data)) for name, data in files.items()]


@SQLITE_ONLY
def test_openapi_schema_is_published_with_every_api_route(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/events",
        "/api/events/{name}",
        "/api/events/{name}/leaderboard",
        "/api/events/{name}/submissions",
        "/api/submissions/{submission_id}",
        "/api/tokens",
    ):
        assert path in paths, path
    assert not any(not p.startswith("/api/") for p in paths)  # pages stay out of the schema
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/events/{name}/leaderboard" in docs.text


def test_api_submission_with_a_bearer_token_and_status(client, app, event):
    signup(client, "alice")
    join(client)
    headers = token_for(client)
    with TestClient(app) as api:  # no cookie: the token alone authenticates
        r = api.post(
            "/api/events/spipoll/submissions",
            data={"name": "via_api"},
            files=multipart(read_starting_kit()),
            headers=headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["state"] == "queued" and body["name"] == "via_api"
        status = api.get(f"/api/submissions/{body['id']}", headers=headers).json()
        assert status["queue_position"] == 1
        mine = api.get("/api/events/spipoll/submissions", headers=headers).json()
        assert [m["submission"] for m in mine] == ["via_api"]
        code = api.get(f"/api/submissions/{body['id']}/code", headers=headers).json()
        assert set(code) == {"image_preprocessor.py", "batch_classifier.py"}


@pytest.mark.parametrize(
    ("filename", "message"),
    [("../batch_classifier.py", "not allowed"), ("evil.sh", "not allowed")],
)
@SQLITE_ONLY
def test_api_rejects_bad_file_names_with_a_clear_message(client, event, filename, message):
    signup(client, "alice")
    join(client)
    headers = token_for(client)
    files = read_starting_kit()
    parts = [
        ("files", ("image_preprocessor.py", files["image_preprocessor.py"])),
        ("files", (filename, files["batch_classifier.py"])),
    ]
    r = client.post(
        "/api/events/spipoll/submissions", data={"name": "x"}, files=parts, headers=headers
    )
    assert r.status_code == 400 and message in r.json()["detail"]


@SQLITE_ONLY
def test_api_rejects_a_missing_file_and_bad_credits(client, event):
    signup(client, "alice")
    join(client)
    headers = token_for(client)
    files = read_starting_kit()
    parts = [("files", ("image_preprocessor.py", files["image_preprocessor.py"]))]
    r = client.post(
        "/api/events/spipoll/submissions", data={"name": "x"}, files=parts, headers=headers
    )
    assert r.status_code == 400 and "missing file" in r.json()["detail"]
    r = client.post(
        "/api/events/spipoll/submissions",
        data={"name": "x", "credits": "not json"},
        files=multipart(files),
        headers=headers,
    )
    assert r.status_code == 400 and "credits must be a JSON object" in r.json()["detail"]
    r = client.post(
        "/api/events/spipoll/submissions",
        data={"name": "x", "credits": json.dumps({"99999": 20})},
        files=multipart(files),
        headers=headers,
    )
    assert r.status_code == 400 and "no such submission" in r.json()["detail"]


def test_api_requires_authentication(client, event):
    assert client.get("/api/me").status_code == 401
    r = client.post("/api/events/spipoll/submissions", data={"name": "x"})
    assert r.status_code in (401, 403)
    r = client.get("/api/me", headers={"Authorization": "Bearer ramp_not-a-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


@SQLITE_ONLY
def test_api_write_with_a_session_cookie_needs_the_csrf_header(client, event):
    signup(client, "alice")
    r = client.post("/api/tokens", json={"name": "x"})
    assert r.status_code == 403 and "security token" in r.json()["detail"]
    r = client.post("/api/events/spipoll/join")
    assert r.status_code == 403


def test_api_lists_events_and_leaderboards(client, event):
    events = client.get("/api/events").json()
    assert [e["name"] for e in events] == ["spipoll"]
    assert events[0]["phase"] in ("open", "collaborative")
    board = client.get("/api/events/spipoll/leaderboard").json()
    assert board["kind"] == "public" and board["rows"] == [] and board["page_size"] > 0
    assert client.get("/api/events/spipoll/leaderboard?kind=competition").status_code == 200
    assert client.get("/api/events/spipoll/leaderboard?kind=failed").status_code == 200


@SQLITE_ONLY
def test_api_submission_status_of_another_user_is_forbidden(client, other_client, event):
    signup(client, "alice")
    join(client)
    files = read_starting_kit()
    r = post_form(
        client,
        "/events/spipoll/submit",
        {
            "name": "s",
            "code_image_preprocessor": files["image_preprocessor.py"].decode(),
            "code_batch_classifier": files["batch_classifier.py"].decode(),
        },
        follow_redirects=False,
    )
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    signup(other_client, "bob")
    assert other_client.get(f"/api/submissions/{sid}").status_code == 403
    assert (
        other_client.post(
            f"/api/submissions/{sid}/cancel", headers=token_for(other_client)
        ).status_code
        == 403
    )


@SQLITE_ONLY
def test_api_token_revocation_through_the_api(client, app):
    signup(client, "alice")
    headers = token_for(client)
    with TestClient(app) as api:
        tokens = api.get("/api/tokens", headers=headers).json()
        assert api.delete(f"/api/tokens/{tokens[0]['id']}", headers=headers).status_code == 204
        assert api.get("/api/me", headers=headers).status_code == 401


@SQLITE_ONLY
def test_a_deactivated_accounts_token_is_refused_until_it_is_reactivated(client, app, session):
    from sqlalchemy import select

    from ramp_server.db.models import User
    from ramp_server.services import accounts

    signup(client, "alice")
    headers = token_for(client)
    user_id = session.scalar(select(User.id).where(User.name == "alice"))
    with TestClient(app) as api:
        assert api.get("/api/me", headers=headers).json()["name"] == "alice"
        accounts.set_active(session, user_id=user_id, is_active=False)
        session.commit()
        assert api.get("/api/me", headers=headers).status_code == 401
        accounts.set_active(session, user_id=user_id, is_active=True)
        session.commit()
        assert api.get("/api/me", headers=headers).json()["name"] == "alice"
