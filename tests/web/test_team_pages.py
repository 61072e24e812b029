"""Team pages and the teams' JSON API: invite, accept, decline, rename, leave, errors shown."""

from __future__ import annotations

from web_helpers import csrf_of, join, post_form, signup


def _two_participants(client, other_client):  # noqa: ANN001, ANN202
    signup(client, "ann")
    join(client)
    signup(other_client, "bob")
    join(other_client)


def test_a_team_forms_through_the_pages(client, other_client, event):
    _two_participants(client, other_client)
    page = client.get("/events/spipoll/team").text
    assert 'id="team-name">ann<' in page and 'id="invite-btn"' in page
    r = post_form(client, "/events/spipoll/team/rename", {"team_name": "Heuritech"})
    assert r.status_code == 200 and "Your team is now Heuritech." in r.text
    r = post_form(client, "/events/spipoll/team/invite", {"invitee": "bob"})
    assert "bob is invited into team Heuritech." in r.text and 'id="sent"' in r.text
    bobs = other_client.get("/events/spipoll/team").text
    assert 'id="invitations"' in bobs and 'data-accept="Heuritech"' in bobs
    r = post_form(other_client, "/events/spipoll/team/join", {"team": "Heuritech"})
    assert "You joined team Heuritech." in r.text
    assert "<li>ann</li>" in r.text and "bob <span" in r.text
    teams_page = client.get("/events/spipoll/teams").text
    assert "Heuritech" in teams_page and "ann, bob" in teams_page
    r = post_form(other_client, "/events/spipoll/team/leave")
    assert "You left your team; you are now in team bob alone." in r.text


def test_refusals_are_shown_on_the_team_page(client, other_client, event):
    _two_participants(client, other_client)
    r = post_form(client, "/events/spipoll/team/invite", {"invitee": "nobody"})
    assert r.status_code == 200 and "no user named &#39;nobody&#39;" in r.text
    r = post_form(client, "/events/spipoll/team/rename", {"team_name": "bob"})
    assert "already taken" in r.text
    r = post_form(client, "/events/spipoll/team/leave")
    assert "alone in team ann" in r.text


def test_the_teams_api_mirrors_the_pages(client, other_client, event):
    _two_participants(client, other_client)
    headers = {"X-CSRF-Token": csrf_of(client, "/events/spipoll/team")}
    r = client.post("/api/events/spipoll/team", json={"name": "Heuritech"}, headers=headers)
    assert r.status_code == 200 and r.json()["team"]["name"] == "Heuritech"
    r = client.post("/api/events/spipoll/team/invitations", json={"user": "bob"}, headers=headers)
    assert r.status_code == 201 and r.json()["invitee"] == "bob"
    bob_headers = {"X-CSRF-Token": csrf_of(other_client, "/events/spipoll/team")}
    mine = other_client.get("/api/events/spipoll/team").json()
    assert [i["team"] for i in mine["invitations_received"]] == ["Heuritech"]
    r = other_client.post(
        "/api/events/spipoll/team/join", json={"team": "Heuritech"}, headers=bob_headers
    )
    assert r.status_code == 200 and r.json()["team"]["members"] == ["ann", "bob"]
    listed = client.get("/api/events/spipoll/teams").json()
    assert [(t["name"], t["members"]) for t in listed] == [("Heuritech", ["ann", "bob"])]
    r = client.post("/api/events/spipoll/team/invitations", json={"user": "ann"}, headers=headers)
    assert r.status_code == 400 and r.json()["detail"] == "you are already in your own team"
    r = other_client.post("/api/events/spipoll/team/leave", headers=bob_headers)
    assert r.status_code == 200 and r.json()["team"]["members"] == ["bob"]
