"""The FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ramp_server.services import NotFound, ServiceError
from ramp_server.web.admission import AdmissionMiddleware, pool_capacity
from ramp_server.web.deps import LoginRequired
from ramp_server.web.security import CsrfError, SessionMiddleware
from ramp_server.web.templating import make_templates, render

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ramp_server.config import Settings

log = logging.getLogger("ramp_server.web")
STATIC_DIR = Path(__file__).parent / "static"

_TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Server error",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    response = render(
        request,
        "error.html",
        {"status_code": status, "title": _TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )
    if headers:
        response.headers.update(headers)
    return response


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application for ``settings`` (pass ``engine`` to share one with the caller)."""
    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.web.context import BoardCache
    from ramp_server.web.routes import include_routes

    app = FastAPI(
        title="RAMP SPIPOLL platform API",
        version="1.0",
        description="JSON API of the RAMP platform. Authenticate with "
        "`Authorization: Bearer <token>` (create tokens on the API tokens page).",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN; /api/docs is a local page instead
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings)
    app.state.session_factory = make_session_factory(app.state.engine)
    unsafe = settings.sandbox == "unsafe-none"
    app.state.templates = make_templates(unsafe_sandbox=unsafe)
    app.state.board_cache = BoardCache()
    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret_key, secure=settings.secure_cookies
    )
    capacity = pool_capacity(app.state.engine)
    if capacity is not None:  # outermost: a waiting request has not even read its cookie
        app.add_middleware(AdmissionMiddleware, limit=capacity)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    include_routes(app)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) or "?" for e in exc.errors())
        return _error(request, 422, f"missing or invalid field(s): {fields}")

    if unsafe:
        log.warning("sandbox=unsafe-none: participant code runs WITHOUT isolation")
    return app


def create_app_from_env() -> FastAPI:
    """App factory for process managers (``uvicorn --factory ...:create_app_from_env``).

    Settings come from the environment / ``RAMP_CONFIG_FILE`` as for every ``ramp-server`` verb;
    each worker process builds its own app, engine and connection pool, and logs like
    ``ramp-server serve``.
    """
    from ramp_server.config import load_settings
    from ramp_server.logs import setup_logging

    setup_logging()
    return create_app(load_settings())
