"""The Alembic migrations build exactly the schema of the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ramp_server.db.engine import make_engine
from ramp_server.db.migrate import current_revision, head_revision, upgrade
from ramp_server.db.models import Base


def test_upgrade_head_gives_the_models_schema(db_url):
    engine = make_engine(url=db_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_on_an_up_to_date_database(db_url):
    engine = make_engine(url=db_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_creates_an_empty_sqlite_database_from_scratch(tmp_path):
    engine = make_engine(url=f"sqlite:///{tmp_path / 'sub' / 'new.sqlite3'}")
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_downgrade_to_base_then_upgrade_again(db_url):
    from ramp_server.db.migrate import downgrade

    engine = make_engine(url=db_url)
    try:
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert not set(inspect(engine).get_table_names()) & set(Base.metadata.tables)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_revision_0002_adds_blend_requests_and_intervals_and_downgrades_keeping_rows(db_url):
    """0002: ``events.blend_requested_at`` and ``scores.ci_low/ci_high``; down and up again keep
    the rows (the new columns come back empty)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from ramp_server.db.migrate import downgrade
    from ramp_server.db.models import Event, Score, Split, Submission, User

    engine = make_engine(url=db_url)
    at = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(insert(User).values(id=1, name="ann", email="a@x.org", password_hash="x"))
            conn.execute(
                insert(Event).values(
                    id=1, name="ev", title="Ev", kit_dir="k", n_folds=2,
                    official_score_name="acc", score_types=[], blend_requested_at=at,
                )
            )  # fmt: skip
            conn.execute(insert(Submission).values(id=1, event_id=1, user_id=1, name="s"))
            conn.execute(
                insert(Score).values(
                    submission_id=1, event_id=1, fold=None, split=Split.VALID,
                    score_name="acc", value=0.7, ci_low=0.68, ci_high=0.72,
                )
            )  # fmt: skip
            assert conn.scalar(select(Event.blend_requested_at)) == at  # microseconds kept

        downgrade(engine, "0001")
        assert current_revision(engine) == "0001"
        cols = {
            t: {c["name"] for c in inspect(engine).get_columns(t)} for t in ("events", "scores")
        }
        assert "blend_requested_at" not in cols["events"]
        assert not {"ci_low", "ci_high"} & cols["scores"]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT value FROM scores").scalar() == 0.7

        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(select(Score.value, Score.ci_low, Score.ci_high)).one() == (
                0.7,
                None,
                None,
            )
            assert conn.scalar(select(Event.blend_requested_at)) is None
    finally:
        upgrade(engine)
        engine.dispose()


def test_revision_0003_charges_scored_folds_and_downgrades_keeping_rows(db_url):
    """0003: fold ``charged_s`` (filled for folds already scored), ``worker_finished_at`` and
    ``notes``; event budgets; the ``engine_workers`` table. Down and up again keep the rows."""
    from sqlalchemy import insert, select

    from ramp_server.db.migrate import downgrade
    from ramp_server.db.models import Event, Submission, SubmissionFold, User

    engine = make_engine(url=db_url)
    try:
        downgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(insert(User).values(id=1, name="ann", email="a@x.org", password_hash="x"))
            conn.exec_driver_sql(
                "INSERT INTO events (id, name, title, description, kit_dir, n_folds, cv_seed, "
                "n_train, n_test, min_delay_s, upload_max_bytes, fold_time_limit_s, "
                "memory_limit_mb, uses_gpu, max_n_ensemble, approval_required, "
                "leaderboard_visibility, closed, score_types, official_score_name, created_at) "
                "VALUES (1, 'ev', 'Ev', '', 'k', 2, 42, 0, 0, 0, 1000, 60, 1000, false, 80, "
                "false, 'public', false, '[]', 'acc', '2026-01-01 00:00:00')"
            )
            conn.execute(insert(Submission.__table__).values(id=1, event_id=1, user_id=1, name="s"))
            for fold, state in ((0, "scored"), (1, "queued")):
                conn.exec_driver_sql(
                    "INSERT INTO submission_folds (submission_id, fold, state, attempts, "
                    f"train_time, valid_time, test_time) VALUES (1, {fold}, '{state}', 1, "
                    "10.0, 1.5, 0.5)"
                )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            charged = dict(
                conn.execute(select(SubmissionFold.fold, SubmissionFold.charged_s)).all()
            )
            assert charged == {0: 12.0, 1: None}  # what the scored fold ran; the queued nothing
            assert conn.execute(select(Event.max_running_folds)).scalar() is None
        assert "engine_workers" in inspect(engine).get_table_names()
        downgrade(engine, "0002")
        assert "engine_workers" not in inspect(engine).get_table_names()
        assert "charged_s" not in {
            c["name"] for c in inspect(engine).get_columns("submission_folds")
        }
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM submission_folds").scalar() == 2
    finally:
        engine.dispose()


def test_revision_0006_makes_every_participant_a_team_of_one_with_their_submissions(db_url):
    """0006: teams, members, invitations; each participant of each event a team of one named
    after them, their submissions in it; down and up again keep the rows."""
    from sqlalchemy import insert, select

    from ramp_server.db.migrate import downgrade
    from ramp_server.db.models import Submission, Team, TeamMember, User

    engine = make_engine(url=db_url)
    try:
        downgrade(engine, "0003")
        with engine.begin() as conn:
            for uid, name in ((1, "ann"), (2, "bob")):
                conn.execute(
                    insert(User).values(id=uid, name=name, email=f"{name}@x.org", password_hash="x")
                )
            for eid in (1, 2):
                conn.exec_driver_sql(
                    "INSERT INTO events (id, name, title, description, kit_dir, n_folds, cv_seed, "
                    "n_train, n_test, min_delay_s, upload_max_bytes, fold_time_limit_s, "
                    "memory_limit_mb, uses_gpu, max_n_ensemble, approval_required, "
                    "leaderboard_visibility, closed, score_types, official_score_name, created_at) "
                    f"VALUES ({eid}, 'ev{eid}', 'Ev', '', 'k', 2, 42, 0, 0, 0, 1000, 60, 1000, "
                    "false, 80, false, 'public', false, '[]', 'acc', '2026-01-01 00:00:00')"
                )
            for eid, uid in ((1, 1), (1, 2), (2, 1)):
                conn.exec_driver_sql(
                    "INSERT INTO event_participants (event_id, user_id, approved, joined_at) "
                    f"VALUES ({eid}, {uid}, true, '2026-01-01 00:00:00')"
                )
            conn.exec_driver_sql(
                "INSERT INTO submissions (id, event_id, user_id, name, state, submitted_at, "
                "withdrawn_from_blend, selected_for_competition, charged_to_quota) VALUES "
                "(1, 1, 2, 's', 'new', '2026-01-01 00:00:00', false, false, true), "
                "(2, 2, 1, 't', 'new', '2026-01-01 00:00:00', false, false, true)"
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            teams = {
                (e, n): i for i, e, n in conn.execute(select(Team.id, Team.event_id, Team.name))
            }
            assert set(teams) == {(1, "ann"), (1, "bob"), (2, "ann")}
            members = set(conn.execute(select(TeamMember.team_id, TeamMember.user_id)).all())
            assert members == {
                (teams[(1, "ann")], 1),
                (teams[(1, "bob")], 2),
                (teams[(2, "ann")], 1),
            }
            owners = dict(conn.execute(select(Submission.id, Submission.team_id)).all())
            assert owners == {1: teams[(1, "bob")], 2: teams[(2, "ann")]}
        downgrade(engine, "0003")
        assert "teams" not in inspect(engine).get_table_names()
        assert "team_id" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM teams").scalar() == 3
    finally:
        engine.dispose()


def test_revision_0007_adds_the_progress_log_and_downgrades_dropping_it_only(db_url):
    """0007: ``progress_log``, one row per (submission, fold, epoch); down drops it alone."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from ramp_server.db.migrate import downgrade

    engine = make_engine(url=db_url)
    try:
        downgrade(engine, "0006")
        assert "progress_log" not in inspect(engine).get_table_names()
        assert "submission_folds" in inspect(engine).get_table_names()
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        uniques = inspect(engine).get_unique_constraints("progress_log")
        assert [u["column_names"] for u in uniques] == [["submission_id", "fold", "epoch"]]
        with pytest.raises(IntegrityError), engine.begin() as conn:  # no such submission
            conn.exec_driver_sql(
                "INSERT INTO progress_log (submission_id, fold, epoch, recorded_at) "
                "VALUES (42, 0, 1, '2026-01-01 00:00:00')"
            )
    finally:
        engine.dispose()


def test_revision_0008_adds_the_toolkit_with_defaults_for_existing_rows(db_url):
    """0008: events.freeze_at, submissions.is_baseline (false for existing rows),
    users.notify_by_email (true), the event_jobs and email_outbox tables; down and up again
    keep the rows."""
    from sqlalchemy import insert, select

    from ramp_server.db.migrate import downgrade
    from ramp_server.db.models import Event, Submission, User

    engine = make_engine(url=db_url)
    try:
        downgrade(engine, "0007")
        assert "email_outbox" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(insert(User).values(id=1, name="ann", email="a@x.org", password_hash="x"))
            conn.exec_driver_sql(
                "INSERT INTO events (id, name, title, description, kit_dir, n_folds, cv_seed, "
                "n_train, n_test, min_delay_s, upload_max_bytes, fold_time_limit_s, "
                "memory_limit_mb, uses_gpu, max_n_ensemble, approval_required, "
                "leaderboard_visibility, closed, score_types, official_score_name, created_at) "
                "VALUES (1, 'ev', 'Ev', '', 'k', 2, 42, 0, 0, 0, 1000, 60, 1000, false, 80, "
                "false, 'public', false, '[]', 'acc', '2026-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO submissions (id, event_id, user_id, name, state, submitted_at, "
                "withdrawn_from_blend, selected_for_competition, charged_to_quota) VALUES "
                "(1, 1, 1, 's', 'new', '2026-01-01 00:00:00', false, false, true)"
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(select(Submission.is_baseline)).scalar() is False
            assert conn.execute(select(User.notify_by_email)).scalar() is True
            assert conn.execute(select(Event.freeze_at)).scalar() is None
        assert {"event_jobs", "email_outbox"} <= set(inspect(engine).get_table_names())
        downgrade(engine, "0007")
        assert "is_baseline" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(select(Submission.name)).scalar() == "s"
    finally:
        engine.dispose()
