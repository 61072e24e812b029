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
