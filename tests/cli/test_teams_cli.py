"""``ramp-server team ...`` and the team rules of ``ramp-server event add|update``, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

from ramp_test_plugin import REPO_ROOT

STARTING_KIT = REPO_ROOT / "submissions" / "starting_kit"


def _setup(cli, event_kit):  # noqa: ANN001, ANN202
    assert (
        cli("event", "add", "--name", "spipoll", "--kit", str(event_kit), "--max-team-size", "2")[0]
        == 0
    )
    for name in ("ann", "bob", "cid"):
        assert (
            cli("user", "add", name, "--email", f"{name}@x.org", "--password", "s3cret-pass")[0]
            == 0
        )
        assert cli("user", "approve", name, "--event", "spipoll")[0] == 0


def test_team_verbs_form_a_team_and_submissions_count_for_it(cli, event_kit):
    _setup(cli, event_kit)
    rc, out, err = cli("team", "create", "--event", "spipoll", "--user", "ann", "Heuritech")
    assert rc == 0, err
    assert "ann is in team Heuritech" in out
    rc, out, err = cli("team", "invite", "--event", "spipoll", "--user", "ann", "bob")
    assert rc == 0 and "bob is invited into team Heuritech" in out, err
    rc, out, err = cli("team", "join", "--event", "spipoll", "--user", "bob", "Heuritech")
    assert rc == 0 and "bob joined team Heuritech: ann, bob" in out, err
    rc, out, _ = cli("team", "list", "--event", "spipoll", "--format", "json")
    teams = {t["name"]: t for t in json.loads(out)}
    assert teams["Heuritech"]["members"] == ["ann", "bob"] and teams["cid"]["members"] == ["cid"]
    # the team is full (at most 2), and one team per participant
    rc, _, err = cli("team", "invite", "--event", "spipoll", "--user", "bob", "cid")
    assert rc == 2 and "team Heuritech is full" in err
    rc, _, err = cli("team", "invite", "--event", "spipoll", "--user", "cid", "ann")
    assert rc == 0, err
    rc, _, err = cli("team", "join", "--event", "spipoll", "--user", "ann", "cid")
    assert rc == 2 and "one team per participant" in err
    rc, _, err = cli("team", "decline", "--event", "spipoll", "--user", "ann", "cid")
    assert rc == 0, err
    # a submission of bob's is the team's: ann sees it in the team's submissions
    rc, out, err = cli(
        "submit", "--event", "spipoll", "--user", "bob", "--name", "one", str(STARTING_KIT)
    )
    assert rc == 0, err
    rc, out, _ = cli("submissions", "--event", "spipoll", "--user", "ann", "--format", "json")
    assert [(r["submission"], r["user"], r["team"]) for r in json.loads(out)] == [
        ("one", "bob", "Heuritech")
    ]
    rc, _, err = cli("team", "leave", "--event", "spipoll", "--user", "bob")
    assert rc == 2 and "waiting or training" in err


def test_team_errors_name_what_is_wrong(cli, event_kit):
    _setup(cli, event_kit)
    assert cli("user", "add", "zed", "--email", "z@x.org", "--password", "s3cret-pass")[0] == 0
    rc, _, err = cli("team", "invite", "--event", "spipoll", "--user", "ann", "zed")
    assert rc == 2 and "zed is not an approved participant of spipoll" in err
    rc, _, err = cli("team", "create", "--event", "spipoll", "--user", "ann", "BOB")
    assert rc == 2 and "already taken" in err
    rc, _, err = cli("team", "join", "--event", "spipoll", "--user", "ann", "nobody")
    assert rc == 2 and "no pending invitation from team 'nobody'" in err
    rc, _, err = cli("team", "leave", "--event", "spipoll", "--user", "ann")
    assert rc == 2 and "alone in team ann" in err
    rc, _, err = cli("event", "update", "spipoll", "--max-team-size", "0")
    assert rc == 2 and "max_team_size must be > 0" in err
