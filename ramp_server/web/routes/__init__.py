"""Routes, one module per area; :func:`include_routes` mounts them all."""

from __future__ import annotations

from fastapi import FastAPI

from ramp_server.web.routes import (
    accounts,
    admin,
    admin_toolkit,
    api,
    api_accounts,
    api_pictures,
    api_teams,
    api_toolkit,
    events,
    health,
    leaderboards,
    metrics,
    submission_page,
    submit,
    teams,
)

#: the route modules, each exposing ``router``, in mounting order
ROUTE_MODULES = (
    accounts,
    events,
    submit,
    submission_page,
    teams,
    leaderboards,
    admin,
    admin_toolkit,
    api,
    api_accounts,
    api_pictures,
    api_teams,
    api_toolkit,
    health,
    metrics,
)


def include_routes(app: FastAPI) -> None:
    for module in ROUTE_MODULES:
        app.include_router(module.router)
