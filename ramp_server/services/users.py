"""Look-ups of users by name (account creation and log-in live in :mod:`.accounts`)."""

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
