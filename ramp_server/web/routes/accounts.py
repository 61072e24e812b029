"""Account pages: sign up, log in/out, password reset, API tokens."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ramp_server.services import accounts
from ramp_server.web.deps import Csrf, CurrentUser, Db, OptionalUser, client_ip, log_in, log_out
from ramp_server.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: no open redirect through ``?next=``."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/signup")
def signup_page(request: Request, user: OptionalUser) -> Response:
    if user:
        return RedirectResponse("/", status_code=303)
    return render(request, "accounts/signup.html", {"form": {}, "error": None})


@router.post("/signup", dependencies=[Csrf])
def signup(
    request: Request,
    db: Db,
    name: Annotated[str, Form()],
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    password2: Annotated[str, Form()],
    full_name: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "email": email, "full_name": full_name}
    try:
        if password != password2:
            raise accounts.AccountError("password2", "the two passwords differ")
        user = accounts.sign_up(db, name=name, email=email, password=password, full_name=full_name)
    except accounts.AccountError as exc:
        return render(
            request, "accounts/signup.html", {"form": form, "error": exc}, status_code=400
        )
    db.commit()
    log_in(request, user)
    flash(request, f"Welcome, {user.name}! Pick an event and join it.", "success")
    return RedirectResponse("/", status_code=303)


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "accounts/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    db: Db,
    login: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    settings = request.app.state.settings
    try:
        user = accounts.authenticate(
            db,
            login=login,
            password=password,
            ip=client_ip(request),
            rate_limit=settings.login_rate_limit,
        )
    except accounts.LoginRateLimited as exc:
        response = render(
            request,
            "accounts/login.html",
            {"next": _safe_next(next), "error": str(exc), "login": login},
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    db.commit()  # the attempt is recorded even when the password is wrong
    if user is None:
        return render(
            request,
            "accounts/login.html",
            {"next": _safe_next(next), "error": "wrong user name or password", "login": login},
            status_code=401,
        )
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    log_out(request)
    flash(request, "You are logged out.")
    return RedirectResponse("/", status_code=303)


@router.get("/password-reset")
def reset_request_page(request: Request) -> Response:
    return render(request, "accounts/reset_request.html", {"sent": False})


@router.post("/password-reset", dependencies=[Csrf])
def reset_request(request: Request, db: Db, email: Annotated[str, Form()]) -> Response:
    settings = request.app.state.settings
    made = accounts.create_reset_token(db, email=email)
    db.commit()
    if made is not None:
        user, raw = made
        base = (settings.base_url or str(request.base_url)).rstrip("/")
        accounts.send_mail(
            settings,
            accounts.Mail(
                to=user.email,
                subject="RAMP password reset",
                body=f"Hello {user.name},\n\nset a new password within 2 hours at:\n"
                f"{base}/password-reset/{raw}\n\nIgnore this message if you did not ask for it.",
            ),
        )
    # Same answer whether or not the address exists: no account enumeration.
    return render(request, "accounts/reset_request.html", {"sent": True})


@router.get("/password-reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    return render(request, "accounts/reset.html", {"token": token, "error": None})


@router.post("/password-reset/{token}", dependencies=[Csrf])
def reset(
    request: Request,
    db: Db,
    token: str,
    password: Annotated[str, Form()],
    password2: Annotated[str, Form()],
) -> Response:
    try:
        if password != password2:
            raise accounts.AccountError("password2", "the two passwords differ")
        user = accounts.reset_password(db, token=token, new_password=password)
    except accounts.AccountError as exc:
        return render(
            request, "accounts/reset.html", {"token": token, "error": exc.message}, status_code=400
        )
    db.commit()
    log_in(request, user)
    flash(request, "Your password is changed.", "success")
    return RedirectResponse("/", status_code=303)


@router.get("/account/tokens")
def tokens_page(request: Request, db: Db, user: CurrentUser) -> Response:
    tokens = accounts.list_api_tokens(db, user=user)
    new_token = request.state.session.pop("new_token", None)
    return render(
        request,
        "accounts/tokens.html",
        {"tokens": tokens, "new_token": new_token, "notify_by_email": user.notify_by_email},
    )


@router.post("/account/tokens", dependencies=[Csrf])
def create_token(
    request: Request, db: Db, user: CurrentUser, name: Annotated[str, Form()] = ""
) -> Response:
    _token, raw = accounts.create_api_token(db, user=user, name=name)
    db.commit()
    # Shown once on the next page; kept in the signed session only until then.
    request.state.session["new_token"] = raw
    return RedirectResponse("/account/tokens", status_code=303)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[Csrf])
def revoke_token(request: Request, db: Db, user: CurrentUser, token_id: int) -> Response:
    accounts.revoke_api_token(db, user=user, token_id=token_id)  # NotFound: 404
    db.commit()
    flash(request, "Token revoked.", "success")
    return RedirectResponse("/account/tokens", status_code=303)


@router.post("/account/notifications", dependencies=[Csrf])
def set_notifications(
    request: Request, db: Db, user: CurrentUser, notify: Annotated[str, Form()] = ""
) -> Response:
    """The account page's opt-out: e-mails when a submission is scored or fails."""
    accounts.set_notifications(db, user=user, by_email=notify == "1")
    db.commit()
    flash(
        request,
        "You get an e-mail when a submission is scored or fails."
        if user.notify_by_email
        else "No more e-mails about your submissions.",
        "success",
    )
    return RedirectResponse("/account/tokens", status_code=303)
