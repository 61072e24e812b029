"""Accounts: sign-up, log-in with rate limiting, password reset tokens, API tokens, mail.

Secrets handed to users (reset links, API tokens) are random 32-byte tokens; only their SHA-256
is stored, so a database leak does not leak usable tokens. Passwords are hashed by
:mod:`ramp_server.services.passwords` (argon2).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramp_server.db.models import ApiToken, LoginAttempt, PasswordResetToken, User
from ramp_server.services import NotFound, ServiceError, passwords

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger("ramp_server.accounts")

LOGIN_WINDOW = timedelta(minutes=15)
RESET_TOKEN_TTL = timedelta(hours=2)


class AccountError(ServiceError):
    """Invalid account input; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class LoginRateLimited(ServiceError):
    """Too many failed logins from one address or for one account."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed log-ins: wait {max(1, retry_after_s // 60)} minute(s) and try again"
        )
        self.retry_after_s = retry_after_s


def _now() -> datetime:
    return datetime.now(UTC)


def token_digest(raw: str) -> str:
    """SHA-256 of a high-entropy token (what the database stores)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def password_fingerprint(user: User) -> str:
    """A short digest of the password hash: sessions carry it, so a password change logs out."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def _check_password_strength(password: str, *, name: str = "") -> None:
    try:
        passwords.check_password_strength(password)
    except ValueError as exc:
        raise AccountError("password", str(exc)) from None
    if name and password.lower() == name.lower():
        raise AccountError("password", "password must differ from the user name")


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def sign_up(
    session: Session,
    *,
    name: str,
    email: str,
    password: str,
    full_name: str = "",
    is_admin: bool = False,
) -> User:
    """Create an account after validating every field; raises :class:`AccountError`."""
    name, email = name.strip(), email.strip().lower()
    if not NAME_RE.match(name):
        raise AccountError(
            "name",
            f"user name {name!r} is invalid: 2-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError("email", f"e-mail {email!r} is not a valid address")
    _check_password_strength(password, name=name)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(
            "email", "an account with this e-mail already exists: log in or reset the password"
        )
    if session.scalar(select(User.id).where(func.lower(User.name) == name.lower())) is not None:
        raise AccountError("name", f"the user name {name!r} is taken: choose another")
    user = User(
        name=name,
        email=email,
        full_name=full_name.strip()[:200],
        password_hash=passwords.hash_password(password),
        is_admin=is_admin,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a concurrent sign-up took the name or e-mail
        raise AccountError("name", f"user name {name!r} or e-mail {email!r} is taken") from None
    return user


def recent_failures(
    session: Session, *, ip: str, username: str, now: datetime | None = None
) -> int:
    """Failed log-ins in the last 15 minutes from ``ip`` or for ``username`` (the larger)."""
    since = (now or _now()) - LOGIN_WINDOW
    base = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    )
    by_ip = session.scalar(base.where(LoginAttempt.ip == ip)) or 0
    by_name = session.scalar(base.where(LoginAttempt.username == username.lower())) or 0
    return max(by_ip, by_name)


def authenticate(
    session: Session, *, login: str, password: str, ip: str, rate_limit: int
) -> User | None:
    """The user whose name or e-mail is ``login`` if ``password`` matches, else ``None``.

    Every try is recorded in ``login_attempts``; past ``rate_limit`` failures per address or per
    account in 15 minutes, :class:`LoginRateLimited` is raised before the password is checked.
    """
    login = login.strip().lower()
    if recent_failures(session, ip=ip, username=login) >= rate_limit:
        raise LoginRateLimited(int(LOGIN_WINDOW.total_seconds()))
    user = session.scalar(
        select(User).where(or_(func.lower(User.name) == login, User.email == login))
    )
    ok = bool(
        user is not None
        and user.is_active
        and passwords.verify_password(user.password_hash, password)
    )
    session.add(LoginAttempt(ip=ip, username=login, success=ok))
    if ok and user is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.flush()
    return user if ok else None


def change_password(session: Session, *, user: User, new_password: str) -> None:
    """Set a new password (this also ends every other session of the user)."""
    _check_password_strength(new_password, name=user.name)
    user.password_hash = passwords.hash_password(new_password)
    session.flush()


def create_reset_token(session: Session, *, email: str) -> tuple[User, str] | None:
    """A one-time reset token for the account with ``email`` (``None`` if there is none)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        return None
    raw = secrets.token_urlsafe(32)
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=token_digest(raw), expires_at=_now() + RESET_TOKEN_TTL
        )
    )
    session.flush()
    return user, raw


def reset_password(session: Session, *, token: str, new_password: str) -> User:
    """Use a reset token once; raises :class:`AccountError` if it is unknown, used or expired."""
    row = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    )
    if row is None or row.used or row.expires_at < _now():
        raise AccountError("token", "this reset link is invalid or expired: ask for a new one")
    user = session.get(User, row.user_id)
    assert user is not None
    change_password(session, user=user, new_password=new_password)
    row.used = True
    row.used_at = _now()
    session.flush()
    return user


def create_api_token(session: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token; the raw value is returned once and never stored."""
    name = name.strip()[:100] or "token"
    raw = "ramp_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=token_digest(raw), name=name)
    session.add(token)
    session.flush()
    return token, raw


def list_api_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_api_token(session: Session, *, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens; :class:`NotFound` for someone else's."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"no API token {token_id} of yours")
    if token.revoked_at is None:
        token.revoked_at = _now()
        session.flush()
    return token


def user_for_api_token(session: Session, *, raw: str) -> User | None:
    """The active user owning the unrevoked token ``raw``; stamps ``last_used_at``."""
    # One round trip: every API request pays for this lookup.
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == token_digest(raw),
            ApiToken.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    ).first()
    if row is None:
        return None
    token, user = row
    now = _now()
    # Write at most once a minute: the API must not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        session.flush()
    return user


def get_active_user(session: Session, *, user_id: int) -> User | None:
    """The active account with id ``user_id`` (None if there is none, or it is deactivated)."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def set_admin(session: Session, *, user_id: int, is_admin: bool) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    user.is_admin = is_admin
    session.flush()
    return user


def set_active(session: Session, *, user_id: int, is_active: bool) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    user.is_active = is_active
    session.flush()
    return user


def set_notifications(session: Session, *, user: User, by_email: bool) -> User:
    """Turn the e-mails about the user's submissions (scored, failed) on or off."""
    user.notify_by_email = by_email
    session.flush()
    return user


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def send_mail(settings: Settings, mail: Mail) -> None:
    """Send ``mail`` through ``settings.mail_backend``: 'log' writes it to the log (default)."""
    if settings.mail_backend == "log":
        log.warning("mail to %s: %s\n%s", mail.to, mail.subject, mail.body)
        return
    if not settings.smtp_url:
        raise RuntimeError("mail_backend=smtp needs RAMP_SMTP_URL (smtp://user:pass@host:port)")
    url = urlsplit(settings.smtp_url)
    msg = EmailMessage()
    msg["From"] = settings.smtp_from or f"ramp@{url.hostname}"
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg.set_content(mail.body)
    smtp_cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_cls(url.hostname or "localhost", url.port or 25, timeout=20) as smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(msg)
