"""Look-ups of users (account creation and log-in live in :mod:`.accounts`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import User
from ramp_server.services import NotFound


def get_user(session: Session, *, name: str) -> User:
    """The user called ``name``; :class:`NotFound` otherwise."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}: create it with `ramp-server user add`")
    return user


def get_user_by_id(session: Session, *, user_id: int) -> User:
    """The user with id ``user_id``; :class:`NotFound` otherwise."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def list_users(session: Session, *, limit: int | None = None) -> list[User]:
    """User accounts by name (``limit``: the newest first, at most that many)."""
    query = select(User)
    if limit is None:
        query = query.order_by(User.name)
    else:
        query = query.order_by(User.created_at.desc(), User.id.desc()).limit(limit)
    return list(session.scalars(query))
