"""Cookie sessions, CSRF protection and the security headers of every response.

The session is a small JSON dict signed (not encrypted) with ``settings.secret_key`` through
itsdangerous and kept in an HttpOnly, SameSite=Lax cookie. It carries the user id, the user's
``session_epoch`` (bumped on logout-everywhere / password change, so stolen cookies die) and a
random CSRF token. Every state-changing form posts that token back (session-bound synchronizer
token); JavaScript sends it as the ``X-CSRF-Token`` header. Requests authenticated by an API token
(``Authorization: Bearer``) carry no cookie and are exempt: a browser cannot forge that header.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "ramp_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(Exception):
    """A state-changing request without a valid CSRF token."""


class Session(dict):
    """The decoded session; remembers whether it changed so the cookie is only re-sent then."""

    modified: bool = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.modified = True
        return super().pop(key, *default)


class SessionCodec:
    """Signs and verifies session cookies."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="ramp-session")

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def loads(self, value: str) -> dict[str, Any] | None:
        try:
            data = self._serializer.loads(value, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (anonymous visitors get one too)."""
    session: Session = request.state.session
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise :class:`CsrfError` unless ``submitted`` matches the session's token."""
    expected = request.state.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), str(submitted)):
        raise CsrfError(
            "the form's security token is missing or stale: reload the page and try again"
        )


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
]


class SessionMiddleware:
    """Pure ASGI middleware: loads ``request.state.session`` and writes the cookie back if changed.

    Written as plain ASGI (not ``BaseHTTPMiddleware``) so streaming responses and background
    tasks are untouched and the per-request overhead stays tiny.
    """

    def __init__(self, app: ASGIApp, *, secret_key: str, secure: bool) -> None:
        self.app = app
        self.codec = SessionCodec(secret_key)
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        raw = request.cookies.get(SESSION_COOKIE)
        data = self.codec.loads(raw) if raw else None
        session = Session(data or {})
        scope.setdefault("state", {})
        scope["state"]["session"] = session
        had_cookie = raw is not None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if session.modified or (had_cookie and data is None):
                    headers.append((b"set-cookie", self._cookie(session).encode("latin-1")))
                existing = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in existing)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _cookie(self, session: Session) -> str:
        response = Response()
        if session:
            response.set_cookie(
                SESSION_COOKIE,
                self.codec.dumps(dict(session)),
                max_age=SESSION_MAX_AGE_S,
                httponly=True,
                samesite="lax",
                secure=self.secure,
                path="/",
            )
        else:
            response.delete_cookie(
                SESSION_COOKIE, httponly=True, samesite="lax", secure=self.secure, path="/"
            )
        return response.headers["set-cookie"]
