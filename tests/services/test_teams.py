"""Teams on SQLite and PostgreSQL: forming them, their rules, and what counts per team."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ramp_server.db.models import SubmissionState, utcnow
from ramp_server.services import (
    leaderboards,
    scheduling,
    submission_tables,
    team_invitations,
    teams,
)
from ramp_server.services.events import update_event
from ramp_server.services.participants import approve_participant, join_event
from ramp_server.services.submissions import (
    SubmissionRejected,
    can_view_code,
    cancel,
    select_for_competition,
    submit,
)
from ramp_server.services.teams import TeamError

from ramp_test_plugin import create_test_user, score_folds


@pytest.fixture
def people(session, event):
    users = {n: create_test_user(session, n) for n in ("ann", "bob", "cid")}
    for u in users.values():
        join_event(session, event=event, user=u)
    session.commit()
    return users


def _submit(session, settings, event, user, name, files, **kw):
    sub = submit(session, settings=settings, event=event, user=user, name=name, files=files, **kw)
    session.commit()
    return sub


def _team(session, event, people, *names):
    """``names[0]`` invites the others, who accept; the team."""
    host = people[names[0]]
    for n in names[1:]:
        team_invitations.invite(session, event=event, inviter=host, invitee=people[n])
        team_invitations.accept(
            session,
            event=event,
            user=people[n],
            team_name=teams.team_of(session, event=event, user=host).name,
        )
    session.commit()
    return teams.team_of(session, event=event, user=host)


def test_every_participant_is_a_team_of_one_on_joining(session, event, people):
    views = {v.name: v for v in teams.list_teams(session, event=event)}
    assert {n: v.members for n, v in views.items()} == {
        "ann": ["ann"],
        "bob": ["bob"],
        "cid": ["cid"],
    }
    assert all(v.may_form and v.n_submissions == 0 for v in views.values())


def test_an_invitation_accepted_makes_a_team_of_two(session, event, people):
    ann, bob = people["ann"], people["bob"]
    teams.rename(session, event=event, user=ann, name="Heuritech")
    inv = team_invitations.invite(session, event=event, inviter=ann, invitee=bob)
    assert [i.id for i in team_invitations.invitations_for(session, event=event, user=bob)] == [
        inv.id
    ]
    team = team_invitations.accept(session, event=event, user=bob, team_name="Heuritech")
    session.commit()
    assert [u.name for u in teams.members(session, team=team)] == ["ann", "bob"]
    assert "bob" not in {v.name for v in teams.list_teams(session, event=event)}  # dissolved
    assert team_invitations.invitations_for(session, event=event, user=bob) == []


def test_a_declined_invitation_changes_nothing(session, event, people):
    team_invitations.invite(session, event=event, inviter=people["ann"], invitee=people["bob"])
    team_invitations.decline(session, event=event, user=people["bob"], team_name="ann")
    with pytest.raises(TeamError, match="no pending invitation from team 'ann'"):
        team_invitations.accept(session, event=event, user=people["bob"], team_name="ann")
    assert teams.team_of(session, event=event, user=people["bob"]).name == "bob"


def test_bad_team_actions_get_clear_errors(session, settings, event, people):
    ann, cid = people["ann"], people["cid"]
    outsider = create_test_user(session, "zed")
    with pytest.raises(TeamError, match="zed is not an approved participant"):
        team_invitations.invite(session, event=event, inviter=ann, invitee=outsider)
    with pytest.raises(TeamError, match="already taken"):
        teams.rename(session, event=event, user=ann, name="BOB")
    with pytest.raises(TeamError, match="not allowed"):
        teams.rename(session, event=event, user=ann, name="<script>")
    with pytest.raises(TeamError, match="alone in team ann"):
        teams.leave(session, event=event, user=ann)
    _team(session, event, people, "ann", "bob")
    # cid invited by two teams: joining one, then trying the other, is joining two teams
    team_invitations.invite(session, event=event, inviter=cid, invitee=ann)
    with pytest.raises(TeamError, match="already in team ann with bob: one team per participant"):
        team_invitations.accept(session, event=event, user=ann, team_name="cid")


def test_membership_is_fixed_after_the_first_submission_by_default(
    session, settings, event, people, starting_kit_files
):
    ann, bob = people["ann"], people["bob"]
    _submit(session, settings, event, ann, "a", starting_kit_files)
    with pytest.raises(TeamError, match="team ann has submitted: its membership is fixed"):
        team_invitations.invite(session, event=event, inviter=ann, invitee=bob)
    inv = team_invitations.invite(session, event=event, inviter=bob, invitee=ann)
    assert inv.team.name == "bob"
    with pytest.raises(TeamError, match="team ann has submitted"):  # ann's team is fixed too
        team_invitations.accept(session, event=event, user=ann, team_name="bob")


def test_a_formation_deadline_lets_teams_with_submissions_merge_within_one_quota(
    session, settings, event, people, starting_kit_files
):
    ann, bob = people["ann"], people["bob"]
    update_event(
        session, event=event, daily_quota=3, team_formation_until=utcnow() + timedelta(days=1)
    )
    session.commit()
    for i in range(2):
        _submit(session, settings, event, ann, f"a{i}", starting_kit_files)
        _submit(session, settings, event, bob, f"b{i}", starting_kit_files)
    team_invitations.invite(session, event=event, inviter=ann, invitee=bob)
    with pytest.raises(TeamError, match="4 submissions in the last 24 hours together, more than"):
        team_invitations.accept(session, event=event, user=bob, team_name="ann")
    update_event(session, event=event, daily_quota=4)
    session.commit()
    team = team_invitations.accept(session, event=event, user=bob, team_name="ann")
    session.commit()
    assert teams.n_submissions(session, team=team) == 4  # bob's came along
    with pytest.raises(SubmissionRejected, match="daily quota reached: 4 submissions per team"):
        _submit(session, settings, event, bob, "b9", starting_kit_files)


def test_the_maximum_team_size_is_enforced(session, event, people):
    update_event(session, event=event, max_team_size=2)
    session.commit()
    _team(session, event, people, "ann", "bob")
    with pytest.raises(TeamError, match="team ann is full: .* at most 2 members"):
        team_invitations.invite(session, event=event, inviter=people["ann"], invitee=people["cid"])


def test_leaving_with_submissions_in_the_queue_is_refused_then_allowed(
    session, settings, event, people, starting_kit_files
):
    bob = people["bob"]
    team = _team(session, event, people, "ann", "bob")
    sub = _submit(session, settings, event, bob, "b", starting_kit_files)
    assert sub.team_id == team.id and sub.user_id == bob.id
    with pytest.raises(TeamError, match="1 submission\\(s\\) of team ann waiting or training"):
        teams.leave(session, event=event, user=bob)
    cancel(session, submission=sub)
    session.commit()
    mine = teams.leave(session, event=event, user=bob)
    session.commit()
    assert mine.name == "bob" and [u.name for u in teams.members(session, team=mine)] == ["bob"]
    assert teams.n_submissions(session, team=team) == 1  # the submission stays with ann's team


def test_quota_delay_names_and_fair_share_count_per_team(
    session, settings, event, people, starting_kit_files
):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    team = _team(session, event, people, "ann", "bob")
    update_event(session, event=event, min_delay_s=600)
    session.commit()
    t0 = utcnow()
    _submit(session, settings, event, ann, "first", starting_kit_files, now=t0)
    with pytest.raises(SubmissionRejected, match="between two submissions of a team"):
        _submit(session, settings, event, bob, "second", starting_kit_files, now=t0)
    with pytest.raises(SubmissionRejected, match="already have a submission named 'first'"):
        _submit(
            session, settings, event, bob, "first", starting_kit_files, now=t0 + timedelta(hours=1)
        )
    _submit(
        session, settings, event, bob, "second", starting_kit_files, now=t0 + timedelta(hours=1)
    )
    other = _submit(session, settings, event, cid, "c", starting_kit_files, now=t0)
    plan = scheduling.queue_plan(session)
    owners = {t.owner for t in plan.folds}
    assert owners == {(event.id, team.id), (event.id, other.team_id)}  # two teams, not three


def test_boards_and_code_are_per_team(session, settings, event, people, starting_kit_files):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    team = _team(session, event, people, "ann", "bob")
    teams.rename(session, event=event, user=bob, name="Heuritech")
    session.commit()
    a = _submit(session, settings, event, ann, "a", starting_kit_files)
    b = _submit(session, settings, event, bob, "b", starting_kit_files)
    c = _submit(session, settings, event, cid, "c", starting_kit_files)
    for sub, q in ((a, 0.4), (b, 0.6), (c, 0.3)):
        score_folds(session, settings, sub.id, quality=q)
    assert can_view_code(session, submission=a, user=bob)  # a teammate's code
    assert not can_view_code(session, submission=c, user=bob)
    comp = leaderboards.competition_leaderboard(session, event=event)
    assert [(r["team"], r["members"], r["submission"]) for r in comp] == [
        ("Heuritech", ["ann", "bob"], "b"),  # the team's best
        ("cid", ["cid"], "c"),
    ]
    session.refresh(a)
    select_for_competition(session, submission=a)  # any member picks the team's entry
    session.commit()
    comp = leaderboards.competition_leaderboard(session, event=event)
    assert [r["submission"] for r in comp] == ["a", "c"]
    public = leaderboards.public_leaderboard(session, event=event)
    assert {r["submission"]: r["team"] for r in public} == {
        "a": "Heuritech",
        "b": "Heuritech",
        "c": "cid",
    }
    mine = submission_tables.my_submissions(session, event=event, user=ann)
    assert [(r["submission"], r["user"]) for r in mine] == [("b", "bob"), ("a", "ann")]
    assert {r["state"] for r in mine} == {SubmissionState.SCORED.value}
    assert team.id == a.team_id == b.team_id


def test_joining_an_event_later_approved_gets_a_team(session, event):
    update_event(session, event=event, approval_required=True)
    dee = create_test_user(session, "dee")
    join_event(session, event=event, user=dee)
    approve_participant(session, event=event, user=dee)
    session.commit()
    assert teams.team_of(session, event=event, user=dee).name == "dee"
