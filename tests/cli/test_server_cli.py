"""Round trips through ``ramp-server`` verbs (ramp_server.cli.main) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from ramp_server.cli import main

from ramp_test_plugin import REPO_ROOT, score_folds

STARTING_KIT = REPO_ROOT / "submissions" / "starting_kit"


def _score_all_folds(settings, submission_id: int, quality: float) -> None:
    """Stand-in for the engine, in its own session as the dispatcher would."""
    from ramp_server.db.engine import open_database

    with open_database(settings) as factory, factory() as session:
        score_folds(
            session,
            settings,
            submission_id,
            quality=quality,
            train_time=2.0,
            valid_time=0.5,
            test_time=0.5,
        )


def test_init_creates_then_reports_up_to_date(cli, settings):
    rc, out, _ = cli("init")
    assert rc == 0 and "at revision" in out
    rc, out, _ = cli("init")
    assert rc == 0 and "up to date" in out
    assert (settings.storage_dir / "blobs").is_dir()


def test_init_reports_an_unreachable_database(cli, monkeypatch):
    monkeypatch.setenv("RAMP_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    rc, _, err = cli("init")
    assert rc == 2 and "cannot initialise the database" in err


def test_full_round_trip_from_users_to_export(cli, settings, event_kit, tmp_path):
    assert cli("init")[0] == 0
    assert (
        cli("user", "add", "ann", "--email", "ann@example.org", "--password", "s3cret-pass")[0] == 0
    )
    rc, _, err = cli("user", "add", "ann", "--email", "x@example.org", "--password", "s3cret-pass")
    assert rc == 2 and "taken" in err
    assert (
        cli("user", "add", "bob", "--email", "bob@example.org", "--password", "s3cret-pass")[0] == 0
    )

    rc, out, err = cli(
        "event",
        "add",
        "--name",
        "spipoll",
        "--kit",
        str(event_kit),
        "--daily-quota",
        "5",
        "--closing",
        "2099-01-01T00:00Z",
        "--approval-required",
    )
    assert rc == 0, err
    assert "3 folds" in out
    rc, _, err = cli(
        "event", "update", "spipoll", "--min-delay", "0", "--leaderboard-visibility", "participants"
    )
    assert rc == 0, err
    rc, out, _ = cli("event", "list", "--format", "json")
    listed = json.loads(out)[0]
    assert listed["leaderboard_visibility"] == "participants" and listed["daily_quota"] == 5
    assert listed["closing_at"].startswith("2099-01-01")

    # approval required: a plain submit is refused until an admin approves
    rc, _, err = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "first", str(STARTING_KIT)
    )
    assert rc == 2 and "approval" in err
    assert cli("user", "approve", "ann", "--event", "spipoll")[0] == 0
    assert cli("user", "approve", "bob", "--event", "spipoll")[0] == 0
    rc, out, err = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "first", str(STARTING_KIT)
    )
    assert rc == 0, err
    first_id = int(out.split()[1])
    rc, _, err = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "first", str(STARTING_KIT)
    )
    assert rc == 2 and "already have a submission named 'first'" in err
    rc, out, _ = cli(
        "submit", "--event", "spipoll", "--user", "bob", "--name", "b1", str(STARTING_KIT)
    )
    second_id = int(out.split()[1])

    rc, out, _ = cli("submissions", "--event", "spipoll", "--format", "json")
    rows = {r["submission_id"]: r for r in json.loads(out)}
    assert rows[first_id]["state"] == "queued" and rows[first_id]["queue_position"] == 1
    assert rows[second_id]["queue_position"] == 2

    _score_all_folds(settings, first_id, quality=0.4)
    _score_all_folds(settings, second_id, quality=0.1)

    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "json")
    board = json.loads(out)
    assert [r["submission"] for r in board] == ["first", "b1"]
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "csv", "--sort-by", "nll")
    rows_csv = list(csv.DictReader(io.StringIO(out)))
    assert {"rank", "user", "submission", "acc", "nll"} <= set(rows_csv[0])
    assert float(rows_csv[0]["nll"]) <= float(rows_csv[1]["nll"])
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "table")
    assert rc == 0 and "first" in out.splitlines()[1]
    assert "hybrid model" not in out  # not blended yet
    rc, _, err = cli("event", "reblend", "spipoll", "--now")
    assert rc == 0, err
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "table")
    hybrid = out.splitlines()[-1]
    assert hybrid.startswith("hybrid model of 2 submissions: acc ") and hybrid.endswith("(valid)")
    assert 0.0 <= float(hybrid.split("acc ")[1].split()[0]) <= 1.0
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--private", "--format", "json")
    assert {"public_rank", "rank_change"} <= set(json.loads(out)[0])
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--competition", "--format", "table")
    assert rc == 0 and "ann" in out and "bob" in out
    rc, _, err = cli("leaderboard", "--event", "spipoll", "--sort-by", "bogus")
    assert rc == 2 and "cannot sort by" in err

    rc, out, _ = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "third", str(STARTING_KIT)
    )
    third_id = int(out.split()[1])
    rc, out, _ = cli("cancel", str(third_id))
    assert rc == 0 and "cancelled" in out
    rc, _, err = cli("cancel", str(third_id))
    assert rc == 2 and "only new, queued or training" in err
    rc, out, _ = cli("requeue", str(third_id))
    assert rc == 0 and "queued" in out
    rc, _, err = cli("requeue", "999999")
    assert rc == 2 and "no submission with id 999999" in err

    out_zip = tmp_path / "export.zip"
    rc, out, _ = cli("export", "--event", "spipoll", "--out", str(out_zip))
    assert rc == 0 and "3 submissions" in out
    with zipfile.ZipFile(out_zip) as zf:
        names = set(zf.namelist())
        assert "code/ann/first/batch_classifier.py" in names
        assert f"predictions/{first_id}/fold_0.npz" in names
        assert (
            zf.read("code/ann/first/image_preprocessor.py")
            == (STARTING_KIT / "image_preprocessor.py").read_bytes()
        )
        scores = list(csv.DictReader(io.StringIO(zf.read("scores.csv").decode())))
        assert any(r["fold"] == "" and r["split"] == "test" for r in scores)


def test_unknown_names_are_clear_errors(cli):
    assert cli("init")[0] == 0
    rc, _, err = cli("leaderboard", "--event", "nope")
    assert rc == 2 and "no event named 'nope'" in err
    rc, _, err = cli("user", "approve", "ghost", "--event", "nope")
    assert rc == 2 and "no event named 'nope'" in err
    rc, _, err = cli("event", "update", "nope")
    assert rc == 2 and "nothing to change" in err


def test_init_creates_the_default_sqlite_database_inside_the_storage_dir(
    tmp_path, monkeypatch, capsys
):
    storage = tmp_path / "fresh"
    monkeypatch.delenv("RAMP_DATABASE_URL", raising=False)
    monkeypatch.delenv("RAMP_CONFIG_FILE", raising=False)
    monkeypatch.setenv("RAMP_STORAGE_DIR", str(storage))
    assert main(["init"]) == 0
    assert "database created at revision" in capsys.readouterr().out
    assert (storage / "ramp.sqlite3").is_file()
    assert main(["init"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_event_reblend_requests_a_blend_or_runs_it_now(cli, settings, event_kit):
    from ramp_server.db.engine import open_database
    from ramp_server.db.models import Blend
    from ramp_server.services.blend_requests import blend_request_of
    from ramp_server.services.events import get_event

    def state() -> tuple:
        with open_database(settings) as factory, factory() as s:
            event = get_event(s, name="spipoll")
            blends = s.query(Blend).filter(Blend.event_id == event.id).all()
            return blend_request_of(s, event_id=event.id), [b.n_submissions for b in blends]

    assert cli("event", "add", "--name", "spipoll", "--kit", str(event_kit))[0] == 0
    assert state() == (None, [])
    rc, out, err = cli("event", "reblend", "spipoll")
    assert rc == 0, err
    assert "requested" in out
    requested, blends = state()
    assert requested is not None and blends == []  # the dispatcher would blend it

    assert (
        cli("user", "add", "ann", "--email", "a@example.org", "--password", "s3cret-pass")[0] == 0
    )
    rc, out, err = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "one", str(STARTING_KIT)
    )
    assert rc == 0, err
    _score_all_folds(settings, int(out.split()[1]), quality=0.4)
    rc, out, err = cli("event", "reblend", "spipoll", "--now")
    assert rc == 0, err
    assert "re-blended: 1 submission(s)" in out
    assert state() == (None, [1])
    rc, out, _ = cli("leaderboard", "--event", "spipoll", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert float(row["ci_low"]) <= float(row["acc"]) <= float(row["ci_high"])
    rc, _, err = cli("event", "reblend", "nope")
    assert rc == 2 and "nope" in err


def test_event_fill_intervals_computes_the_missing_ones(cli, settings, event_kit, monkeypatch):
    assert cli("event", "add", "--name", "spipoll", "--kit", str(event_kit))[0] == 0
    assert (
        cli("user", "add", "ann", "--email", "a@example.org", "--password", "s3cret-pass")[0] == 0
    )
    rc, out, err = cli(
        "submit", "--event", "spipoll", "--user", "ann", "--name", "one", str(STARTING_KIT)
    )
    assert rc == 0, err
    # scored while the intervals were turned off: the leaderboard has none
    _score_all_folds(
        settings.model_copy(update={"bootstrap_n": 0}), int(out.split()[1]), quality=0.4
    )
    row = next(
        csv.DictReader(io.StringIO(cli("leaderboard", "--event", "spipoll", "--format", "csv")[1]))
    )
    assert row["ci_low"] == ""

    rc, out, err = cli("event", "fill-intervals", "spipoll")
    assert rc == 0, err
    assert "intervals computed for 1 submission(s)" in out
    row = next(
        csv.DictReader(io.StringIO(cli("leaderboard", "--event", "spipoll", "--format", "csv")[1]))
    )
    assert float(row["ci_low"]) <= float(row["acc"]) <= float(row["ci_high"])
    assert "for 0 submission(s)" in cli("event", "fill-intervals", "spipoll")[1]

    rc, _, err = cli("event", "fill-intervals", "nope")
    assert rc == 2 and "nope" in err
    monkeypatch.setenv("RAMP_BOOTSTRAP_N", "0")
    rc, _, err = cli("event", "fill-intervals", "spipoll")
    assert rc == 2 and "bootstrap_n is 0" in err
