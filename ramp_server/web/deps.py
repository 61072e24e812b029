"""FastAPI dependencies: database session, current user (cookie or API token), guards, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from ramp_server.config import Settings
from ramp_server.db.engine import session_scope
from ramp_server.db.models import User
from ramp_server.services import accounts
from ramp_server.web.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_csrf


@dataclass(frozen=True)
class Viewer:
    """A detached snapshot of the logged-in user for templates (valid after a rollback)."""

    id: int
    name: str
    email: str
    is_admin: bool


def _set_user(request: Request, user: User | None) -> None:
    request.state.user = user
    request.state.viewer = (
        None if user is None else Viewer(user.id, user.name, user.email, user.is_admin)
    )


class LoginRequired(Exception):
    """Raised by page guards: the handler redirects to the login page."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler returns without error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user(request: Request, db: Db) -> User | None:
    """The logged-in user, from an API bearer token (``/api/`` only) or the session cookie."""
    if hasattr(request.state, "user"):
        return request.state.user
    user: User | None = None
    raw = _bearer(request)
    if raw is not None and request.url.path.startswith("/api/"):
        user = accounts.user_for_api_token(db, raw=raw)
        if user is None:
            raise HTTPException(401, "invalid or revoked API token", {"WWW-Authenticate": "Bearer"})
        request.state.auth = "token"
    else:
        session = request.state.session
        uid = session.get("uid")
        if uid is not None:
            user = accounts.get_active_user(db, user_id=uid)
            if user is None or session.get("pw") != accounts.password_fingerprint(user):
                session.pop("uid", None)
                session.pop("pw", None)
                user = None
        request.state.auth = "cookie" if user else None
    _set_user(request, user)
    return user


OptionalUser = Annotated[User | None, Depends(current_user)]


def require_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "log in or send 'Authorization: Bearer <API token>'")
        raise LoginRequired()
    return user


CurrentUser = Annotated[User, Depends(require_user)]


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "administrators only")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token (form field or header) is wrong.

    Requests authenticated by a bearer token are exempt (no ambient credentials involved).
    """
    if request.method in SAFE_METHODS:
        return
    if request.url.path.startswith("/api/") and _bearer(request) is not None:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    check_csrf(request, submitted)


Csrf = Depends(verify_csrf)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def log_in(request: Request, user: User) -> None:
    """Start an authenticated session (fresh CSRF token: no fixation)."""
    session = request.state.session
    flashes = session.get("flashes", [])
    session.clear()
    session["uid"] = user.id
    session["pw"] = accounts.password_fingerprint(user)
    if flashes:
        session["flashes"] = flashes
    _set_user(request, user)


def log_out(request: Request) -> None:
    request.state.session.clear()
    _set_user(request, None)
