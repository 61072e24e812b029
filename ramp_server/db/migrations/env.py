"""Alembic environment, configured programmatically by :mod:`ramp_server.db.migrate`."""

from __future__ import annotations

from alembic import context

from ramp_server.db.engine import make_engine
from ramp_server.db.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # migrations store plain DateTime: UTCDateTime only converts values in Python
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(url=config.attributes["url"])
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
