"""``GET /healthz``: is this web process serving, and can it reach its database?

For container health checks and load balancers: no session, no template, no login; the answer
is 200 ``{"status": "ok", ...}`` or 503 (the reason goes to the log), so a web server whose
database is gone leaves the pool instead of serving error pages.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

log = logging.getLogger("ramp_server.web.health")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """200 when ``SELECT 1`` succeeds on the app's database, else 503 (reason logged).

    A plain ``def``: FastAPI runs it in its thread pool, so a slow database never blocks the
    event loop that serves the other requests.
    """
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", with its reason
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip()
        log.warning("health check: the database %s is unreachable: %s", engine.url, reason)
        return JSONResponse(
            # the reason stays in the log: this page is public, and errors may name hosts
            {
                "status": "error",
                "database": engine.url.get_backend_name(),
                "detail": "the database is unreachable: see the web server's log",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": engine.url.get_backend_name()})
