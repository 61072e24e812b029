"""Accounts through the real app: sign-up, log-in, rate limit, CSRF, reset, cookies, tokens."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from web_helpers import PASSWORD, csrf_of, post_form, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def test_signup_logs_the_user_in_and_shows_the_name(client):
    signup(client, "alice")
    page = client.get("/")
    assert "alice" in page.text and "Log out" in page.text


def test_signup_refuses_a_taken_email_with_a_clear_message(client, other_client):
    signup(client, "alice", email="same@example.org")
    token = csrf_of(other_client, "/signup")
    r = other_client.post(
        "/signup",
        data={
            "csrf_token": token,
            "name": "alice2",
            "email": "same@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert r.status_code == 400
    assert "already exists" in r.text


@SQLITE_ONLY
def test_signup_refuses_a_short_password(client):
    token = csrf_of(client, "/signup")
    r = client.post(
        "/signup",
        data={
            "csrf_token": token,
            "name": "bob",
            "email": "bob@example.org",
            "password": "short",
            "password2": "short",
        },
    )
    assert r.status_code == 400 and "at least 8 characters" in r.text


def test_login_logout_round_trip(client, other_client):
    signup(client, "carol")
    token = csrf_of(other_client, "/login")
    r = other_client.post(
        "/login",
        data={"csrf_token": token, "login": "carol@example.org", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "carol" in other_client.get("/").text
    r = post_form(other_client, "/logout", follow_redirects=False)
    assert r.status_code == 303
    assert "Log in" in other_client.get("/").text


def test_login_is_rate_limited_after_repeated_failures(app, client, other_client):
    signup(client, "dave")
    app.state.settings = app.state.settings.model_copy(update={"login_rate_limit": 3})
    token = csrf_of(other_client, "/login")
    codes = []
    for _ in range(4):
        r = other_client.post(
            "/login", data={"csrf_token": token, "login": "dave", "password": "wrong-password"}
        )
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429]
    assert "too many failed log-ins" in r.text
    # even the right password is refused while limited
    r = other_client.post(
        "/login", data={"csrf_token": token, "login": "dave", "password": PASSWORD}
    )
    assert r.status_code == 429


def test_post_without_csrf_token_is_refused(client):
    signup(client, "erin")
    r = client.post("/account/tokens", data={"name": "x"})
    assert r.status_code == 403
    assert "security token" in r.text
    r = client.post("/account/tokens", data={"name": "x", "csrf_token": "forged"})
    assert r.status_code == 403


@SQLITE_ONLY
def test_state_changing_routes_refuse_get(client, event):
    signup(client, "frank")
    for path in ("/logout", "/events/spipoll/join", "/account/tokens/1/revoke"):
        assert client.get(path).status_code == 405, path


@SQLITE_ONLY
def test_login_next_parameter_cannot_redirect_off_site(client):
    signup(client, "gina")
    post_form(client, "/logout")
    token = csrf_of(client, "/login")
    r = client.post(
        "/login",
        data={"csrf_token": token, "login": "gina", "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_session_cookie_is_httponly_and_samesite_lax(client):
    r = client.get("/signup")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # env=local default


@SQLITE_ONLY
def test_session_cookie_is_secure_when_configured(settings, db_engine):
    from ramp_server.web.app import create_app

    app = create_app(settings.model_copy(update={"cookie_secure": True}), engine=db_engine)
    with TestClient(app, base_url="https://testserver") as c:
        assert "Secure" in c.get("/signup").headers["set-cookie"]


def test_password_reset_link_from_the_log_sets_a_new_password(client, other_client, caplog):
    signup(client, "hugo")
    token = csrf_of(other_client, "/password-reset")
    with caplog.at_level(logging.WARNING, logger="ramp_server.accounts"):
        r = other_client.post(
            "/password-reset", data={"csrf_token": token, "email": "hugo@example.org"}
        )
    assert r.status_code == 200 and "on its way" in r.text
    link = re.search(r"/password-reset/(\S+)", caplog.text)
    assert link, caplog.text
    reset_path = f"/password-reset/{link.group(1)}"
    token = csrf_of(other_client, reset_path)
    r = other_client.post(
        reset_path,
        data={"csrf_token": token, "password": "brand-new-pass", "password2": "brand-new-pass"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    # the old session (password changed) is logged out; the link cannot be reused
    assert "Log in" in client.get("/").text
    token = csrf_of(other_client, reset_path)
    r = other_client.post(
        reset_path,
        data={"csrf_token": token, "password": "another-one1", "password2": "another-one1"},
    )
    assert r.status_code == 400 and "invalid or expired" in r.text


@SQLITE_ONLY
def test_password_reset_answers_the_same_for_unknown_addresses(client):
    token = csrf_of(client, "/password-reset")
    r = client.post("/password-reset", data={"csrf_token": token, "email": "nobody@example.org"})
    assert r.status_code == 200 and "on its way" in r.text


def test_api_token_created_on_the_page_authenticates_until_revoked(client, app):
    signup(client, "ivy")
    r = post_form(client, "/account/tokens", {"name": "laptop"})
    assert r.status_code == 200
    raw = re.search(r'<code id="new-token"[^>]*>(ramp_[^<]+)</code>', r.text).group(1)
    # shown once only
    assert raw not in client.get("/account/tokens").text
    with TestClient(app) as api:
        headers = {"Authorization": f"Bearer {raw}"}
        assert api.get("/api/me", headers=headers).json()["name"] == "ivy"
        token_id = api.get("/api/tokens", headers=headers).json()[0]["id"]
        r = post_form(client, f"/account/tokens/{token_id}/revoke", follow_redirects=False)
        assert r.status_code == 303
        r = api.get("/api/me", headers=headers)
        assert r.status_code == 401
        assert "revoked" in r.json()["detail"]


@SQLITE_ONLY
def test_revoking_another_users_token_is_not_found(client, other_client):
    signup(client, "jack")
    post_form(client, "/account/tokens", {"name": "mine"})
    signup(other_client, "kate")
    r = post_form(other_client, "/account/tokens/1/revoke")
    assert r.status_code == 404


@SQLITE_ONLY
def test_token_page_requires_login(client):
    r = client.get("/account/tokens", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
