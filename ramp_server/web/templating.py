"""Jinja2 environment of the pages: filters, globals and the ``render`` helper."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ramp_server.web.security import csrf_token

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fmt_datetime(value: datetime | str | None) -> str:
    """``2026-05-01 14:02 UTC`` of a datetime or of its ISO text (JSON columns hold text)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return _as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_score(value: float | None, precision: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{precision}f}"


def fmt_interval(value: list[float] | None, precision: int = 4) -> str:
    """``[low, high]`` of a bootstrap interval ("" when there is none)."""
    if not value:
        return ""
    return f"[{value[0]:.{precision}f}, {value[1]:.{precision}f}]"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    v = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return str(value)


def fmt_percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f} %"


def make_templates(*, unsafe_sandbox: bool) -> Jinja2Templates:
    """The app's template engine; ``unsafe_sandbox`` turns on the admin warning banner."""
    templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    env = templates.env
    env.filters.update(
        datetime=fmt_datetime,
        duration=fmt_duration,
        score=fmt_score,
        interval=fmt_interval,
        filesize=fmt_bytes,
        percent=fmt_percent,
    )
    env.globals["unsafe_sandbox"] = unsafe_sandbox
    env.globals["now"] = lambda: datetime.now(UTC)
    return templates


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render template ``name`` with the request, current user, CSRF token and flash messages."""
    templates: Jinja2Templates = request.app.state.templates
    ctx: dict[str, Any] = {
        "user": getattr(request.state, "viewer", None),
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
    }
    if context:
        ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def flash(request: Request, message: str, category: str = "info") -> None:
    """Queue a one-time message shown on the next rendered page."""
    session = request.state.session
    session["flashes"] = [*session.get("flashes", []), [category, message]]


def pop_flashes(request: Request) -> list[list[str]]:
    session = request.state.session
    if "flashes" not in session:
        return []
    return session.pop("flashes")
