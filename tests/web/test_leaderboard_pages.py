"""Leaderboard pages: sorting by every column, visibility rules, competition, private, mine."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ramp_server.db.models import Submission

from ramp_test_plugin import read_starting_kit
from web_helpers import join, post_form, score_submission, signup

SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
ROW_RE = re.compile(r'<a href="/submissions/(\d+)">')


def submit(session, settings, event, user_name: str, name: str) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from ramp_server.db.models import User
    from ramp_server.services import participants, submissions

    user = session.scalar(select(User).where(User.name == user_name))
    participants.join_event(session, event=event, user=user)
    session.commit()
    sub = submissions.submit(
        session,
        settings=settings,
        event=event,
        user=user,
        name=name,
        files=read_starting_kit(),
    )
    return sub.id


@pytest.fixture
def scored(client, other_client, event, session, settings) -> list[int]:  # noqa: ANN001
    """Three scored submissions of two participants (random predictions)."""
    signup(client, "alice")
    signup(other_client, "bob")
    ids = []
    for i, (who, name) in enumerate([("alice", "a1"), ("bob", "b1"), ("alice", "a2")]):
        sid = submit(session, settings, event, who, name)
        score_submission(session, settings, sid, seed=i)
        ids.append(sid)
    return ids


def order_shown(page_text: str) -> list[int]:
    return [int(x) for x in ROW_RE.findall(page_text)]


def expected_order(session, ids, event, score: str, best_first: bool) -> list[int]:  # noqa: ANN001
    from ramp_server.db.models import Score, Split

    session.expire_all()
    values = {
        s.submission_id: s.value
        for s in session.query(Score).filter(
            Score.submission_id.in_(ids),
            Score.fold.is_(None),
            Score.split == Split.VALID,
            Score.score_name == score,
        )
    }
    spec = next(st for st in event.score_types if st["name"] == score)
    reverse = (not spec["is_lower_better"]) == best_first
    return sorted(ids, key=lambda i: values[i], reverse=reverse)


def test_public_leaderboard_sorts_by_every_score_type(client, event, scored, session):
    for st in event.score_types:
        for order in ("best", "worst"):
            page = client.get(f"/events/spipoll/leaderboard?sort={st['name']}&order={order}")
            assert page.status_code == 200
            expected = expected_order(session, scored, event, st["name"], order == "best")
            shown = order_shown(page.text)
            values_tie = len(set(expected)) != len(expected)
            assert values_tie or shown == expected, (st["name"], order)


@SQLITE_ONLY
def test_public_leaderboard_sorts_by_contributivity_and_times(client, event, scored, session):
    for i, sid in enumerate(scored):
        session.get(Submission, sid).contributivity = [0.1, 0.6, 0.3][i]
    session.commit()
    page = client.get("/events/spipoll/leaderboard?sort=contributivity")
    assert order_shown(page.text) == [scored[1], scored[2], scored[0]]
    assert "60.0 %" in page.text
    for col in ("historical_contributivity", "train_time", "submitted_at"):
        assert client.get(f"/events/spipoll/leaderboard?sort={col}").status_code == 200
    # the viewer's own rows are highlighted (client is logged in as alice)
    assert 'tr[data-user="alice"]' in page.text and page.text.count('data-user="alice"') == 3
    r = client.get("/events/spipoll/leaderboard?sort=bogus")
    assert r.status_code == 400 and "cannot sort by" in r.text


@SQLITE_ONLY
def test_competition_shows_one_submission_per_participant(client, event, scored):
    page = client.get("/events/spipoll/competition")
    assert page.status_code == 200
    assert len(order_shown(page.text)) == 2


def test_private_leaderboard_is_hidden_until_the_event_closes(
    client, event, scored, session, settings
):
    assert client.get("/events/spipoll/private").status_code == 403
    assert client.get("/api/events/spipoll/leaderboard?kind=private").status_code == 403
    from ramp_server.services import events

    events.close_event(session, event=event)
    session.commit()
    page = client.get("/events/spipoll/private")
    assert page.status_code == 200 and len(order_shown(page.text)) == len(scored)


@SQLITE_ONLY
def test_admins_always_see_the_private_leaderboard(app, event, scored, session):
    from ramp_server.services import accounts

    accounts.sign_up(
        session, name="root", email="root@example.org", password="root-pass-1", is_admin=True
    )
    session.commit()
    with TestClient(app) as admin:
        token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/login").text).group(1)
        admin.post("/login", data={"csrf_token": token, "login": "root", "password": "root-pass-1"})
        assert admin.get("/events/spipoll/private").status_code == 200


@SQLITE_ONLY
def test_leaderboard_visible_to_participants_only_when_configured(client, other_client, make_event):
    make_event(leaderboard_visibility="participants")
    with TestClient(client.app) as anonymous:
        assert anonymous.get("/events/spipoll/leaderboard").status_code == 401
    signup(client, "carol")
    assert client.get("/events/spipoll/leaderboard").status_code == 403
    join(client)
    assert client.get("/events/spipoll/leaderboard").status_code == 200


def test_my_submissions_lists_queued_ones_with_their_position(client, event):
    signup(client, "dan")
    join(client)
    files = read_starting_kit()
    r = post_form(
        client,
        "/events/spipoll/submit",
        {
            "name": "waiting",
            "code_image_preprocessor": files["image_preprocessor.py"].decode(),
            "code_batch_classifier": files["batch_classifier.py"].decode(),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/events/spipoll/my-submissions")
    assert "waiting" in page.text and "#1 in queue" in page.text


@SQLITE_ONLY
def test_public_leaderboard_is_paginated(client, event, scored, monkeypatch):
    from ramp_server.web import context

    monkeypatch.setattr(context, "PAGE_SIZE", 2)
    first = client.get("/events/spipoll/leaderboard")
    assert len(order_shown(first.text)) == 2 and "page=2" in first.text
    second = client.get("/events/spipoll/leaderboard?page=2")
    assert len(order_shown(second.text)) == 1


def test_leaderboards_show_the_official_scores_bootstrap_interval_and_explain_it(
    client, event, scored, session, settings
):
    from ramp_server.db.models import Score, Split

    def interval(sid, split):
        row = session.scalars(
            select(Score).where(
                Score.submission_id == sid,
                Score.fold.is_(None),
                Score.split == split,
                Score.score_name == event.official_score_name,
            )
        ).one()
        assert row.ci_low <= row.value <= row.ci_high
        return f"[{row.ci_low:.4f}, {row.ci_high:.4f}]"

    from sqlalchemy import select

    page = client.get("/events/spipoll/leaderboard").text
    for sid in scored:
        assert f'<span class="ci">{interval(sid, Split.VALID)}</span>' in page
    note = re.search(r'<p [^>]*id="ci-note"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "95% percentile bootstrap interval" in note
    assert f"{settings.bootstrap_n} times" in note and "validation rows" in note

    rows = client.get("/api/events/spipoll/leaderboard").json()["rows"]
    assert {r["submission_id"]: f"[{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]" for r in rows} == {
        sid: interval(sid, Split.VALID) for sid in scored
    }
    competition = client.get("/events/spipoll/competition").text
    assert 'id="ci-note"' in competition and '<span class="ci">[' in competition

    from ramp_server.services import events

    events.close_event(session, event=event)
    session.commit()
    private = client.get("/events/spipoll/private").text
    for sid in scored:
        assert f'<span class="ci">{interval(sid, Split.TEST)}</span>' in private
    assert "test rows" in private
    api_private = client.get("/api/events/spipoll/leaderboard?kind=private").json()["rows"]
    assert all(
        r["ci"][0] <= r["scores"][event.official_score_name] <= r["ci"][1] for r in api_private
    )


def test_a_withdrawal_shows_re_blend_pending_until_the_dispatcher_blends(
    client, event, scored, session, settings
):
    from ramp_server.engine.reblend import reblend_event

    reblend_event(session, settings=settings, event_id=event.id)  # the dispatcher's blend
    for path in ("/events/spipoll", "/events/spipoll/leaderboard"):
        assert "re-blend pending" not in client.get(path).text
    assert client.get("/api/events/spipoll").json()["blend_requested_at"] is None

    alices = scored[0]  # the client is logged in as alice
    r = post_form(client, f"/submissions/{alices}/withdraw", follow_redirects=False)
    assert r.status_code == 303
    for path in ("/events/spipoll", "/events/spipoll/leaderboard"):
        assert 'id="reblend-pending"' in client.get(path).text, path
    assert client.get("/api/events/spipoll").json()["blend_requested_at"] is not None

    summary = reblend_event(session, settings=settings, event_id=event.id)
    assert summary.n_submissions == len(scored) - 1
    for path in ("/events/spipoll", "/events/spipoll/leaderboard"):
        assert "re-blend pending" not in client.get(path).text


def test_pages_and_api_show_contributivity_over_time_and_when_the_extras_were_computed(
    client, event, scored, session, settings
):
    from ramp_server.engine.reblend import LiveBlend, blend_event, blend_event_extras

    live = LiveBlend()
    blend_event(session, settings=settings, event_id=event.id, live=live)
    page = client.get("/events/spipoll").text
    assert 'id="contributivity-history"' in page and 'id="blend-extras"' not in page
    blend_event_extras(session, settings=settings, live=live)
    page = client.get("/events/spipoll").text
    assert re.search(r'id="blend-extras">Honest \(nested\) hybrid score [0-9.]+', page)
    assert "Shapley values and intervals as of" in page

    over_time = client.get("/api/events/spipoll/contributivity").json()
    assert len(over_time["blends"]) == 1
    assert {s["submission_id"] for s in over_time["series"]} <= set(scored)
    shares = {s["submission_id"]: s["points"][-1]["contributivity"] for s in over_time["series"]}
    for sid in (scored[0], scored[2]):  # alice's own submissions
        history = client.get(f"/api/submissions/{sid}/contributivity").json()
        assert [p["contributivity"] for p in history] == ([shares[sid]] if sid in shares else [])
        sub_page = client.get(f"/submissions/{sid}").text
        assert 'id="contributivity-over-time"' in sub_page and 'id="shapley"' in sub_page
    # bob's submission is not alice's to see before the collaborative phase
    assert client.get(f"/api/submissions/{scored[1]}/contributivity").status_code == 403
