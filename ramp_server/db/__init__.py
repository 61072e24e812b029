"""Database layer: ORM models (:mod:`.models`), engines and sessions (:mod:`.engine`),
Alembic migrations (:mod:`.migrate`, scripts in ``migrations/``)."""
