"""The organiser's toolkit from the command line (issue #14 items 2–6), on SQLite and
PostgreSQL: submissions left, baselines, freeze, re-scoring and re-training, notifications."""

from __future__ import annotations

from ramp_test_plugin import REPO_ROOT

STARTING_KIT = REPO_ROOT / "submissions" / "starting_kit"


def _event_with(cli, event_kit, *rules: str) -> None:  # noqa: ANN001
    assert cli("event", "add", "--name", "spipoll", "--kit", str(event_kit), *rules)[0] == 0
    for name in ("ann", "bob"):
        assert (
            cli("user", "add", name, "--email", f"{name}@x.org", "--password", "s3cret-pass")[0]
            == 0
        )
        assert cli("user", "approve", name, "--event", "spipoll")[0] == 0


def _submit(cli, user: str, name: str):  # noqa: ANN001, ANN202
    return cli("submit", "--event", "spipoll", "--user", user, "--name", name, str(STARTING_KIT))


def test_submit_prints_the_submissions_left_today(cli, event_kit):
    _event_with(cli, event_kit, "--daily-quota", "2")
    rc, out, err = _submit(cli, "ann", "one")
    assert rc == 0, err
    assert "1 of 2 submissions left today; next allowed now" in out
    rc, out, err = _submit(cli, "ann", "two")
    assert rc == 0, err
    assert "0 of 2 submissions left today; next allowed at " in out
    rc, _, err = _submit(cli, "ann", "three")
    assert rc == 2 and "daily quota reached" in err
    rc, out, err = _submit(cli, "bob", "one")  # another team: its own quota
    assert rc == 0 and "1 of 2 submissions left today" in out, err


def test_baseline_marks_a_submission_unranked_on_the_leaderboard(cli, event_kit, session, settings):
    from ramp_test_plugin import score_folds

    _event_with(cli, event_kit)
    ids = []
    for user, name, quality in (("ann", "reference", 0.6), ("bob", "mine", 0.2)):
        rc, out, err = _submit(cli, user, name)
        assert rc == 0, err
        ids.append(int(out.split()[1]))  # "submission ID (user/name) queued"
        score_folds(session, settings, ids[-1], quality=quality, seed=len(ids))
    rc, out, err = cli("baseline", str(ids[0]))
    assert rc == 0 and f"submission {ids[0]} (ann/reference) is a baseline" in out, err
    rc, out, _ = cli("leaderboard", "--event", "spipoll")
    assert "reference (baseline)" in out
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "json")
    rows = {r["submission"]: r for r in __import__("json").loads(out)}
    assert rows["reference"]["rank"] is None and rows["reference"]["baseline"] is True
    assert rows["mine"]["rank"] == 1
    rc, out, _ = cli("baseline", str(ids[0]), "--off")
    assert rc == 0 and "is no longer a baseline" in out
    rc, _, err = cli("baseline", "999999")
    assert rc == 2 and "no submission with id 999999" in err


def test_event_freeze_flag_sets_and_checks_the_freeze(cli, event_kit):
    _event_with(cli, event_kit, "--closing", "2026-06-02T00:00Z")
    rc, out, err = cli("event", "update", "spipoll", "--freeze", "2026-06-01T23:00Z")
    assert rc == 0 and "freeze_at" in out, err
    rc, out, _ = cli("event", "list", "--format", "json")
    assert __import__("json").loads(out)[0]["freeze_at"] == "2026-06-01T23:00:00+00:00"
    rc, _, err = cli("event", "update", "spipoll", "--freeze", "2026-06-03")
    assert rc == 2 and "must not be after closing_at" in err
    rc, _, err = cli("event", "update", "spipoll", "--freeze", "none")
    assert rc == 0, err


def test_event_rescore_shows_progress_and_retrain_asks_for_yes(cli, event_kit, session, settings):
    from ramp_server.services.events import get_event
    from ramp_server.storage import Storage

    from ramp_test_plugin import score_folds

    _event_with(cli, event_kit)
    for user, name in (("ann", "one"), ("bob", "two")):
        rc, out, err = _submit(cli, user, name)
        assert rc == 0, err
        score_folds(session, settings, int(out.split()[1]), quality=0.4, seed=len(name))
    event = get_event(session, name="spipoll")
    problem = Storage.from_settings(settings).resolve(event.kit_dir) / "problem.py"
    problem.write_text(
        problem.read_text()
        + '\nscore_types.append(rw.score_types.F1Above(name="f1_50", threshold=0.5))\n'
    )
    rc, out, err = cli("event", "rescore", "spipoll")
    assert rc == 0, err
    assert "2 submission(s) re-scored with acc, nll, bal_acc, f1_70, f1_50" in out
    assert "re-scoring spipoll" in err and "2/2" in err  # the progress bar
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "json")
    rows = __import__("json").loads(out)
    assert all(r["scores"]["f1_50"] is not None for r in rows)
    rc, _, err = cli("event", "retrain", "spipoll")
    assert rc == 2 and "requeues the 2 scored or failed submission(s)" in err and "--yes" in err
    rc, out, err = cli("event", "retrain", "spipoll", "--yes")
    assert rc == 0 and "2 submission(s) requeued" in out, err


def test_event_email_queues_messages_to_the_participants(cli, event_kit, session):
    from sqlalchemy import select

    from ramp_server.db.models import OutboxMessage

    _event_with(cli, event_kit)
    rc, out, err = cli(
        "event", "email", "spipoll", "--subject", "Welcome", "--body", "Good luck.", "--to", "all"
    )
    assert rc == 0 and "2 e-mail(s) queued to the all participants of spipoll" in out, err
    to = sorted(m.to_addr for m in session.scalars(select(OutboxMessage)))
    assert to == ["ann@x.org", "bob@x.org"]
    rc, _, err = cli("event", "email", "spipoll", "--subject", " ", "--body", "x")
    assert rc == 2 and "subject and body" in err
