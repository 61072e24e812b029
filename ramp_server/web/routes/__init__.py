"""Routes, one module per area; :func:`include_routes` mounts them all."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

#: route modules, each exposing ``router``; a module not written yet is skipped
ROUTE_MODULES = (
    "accounts",
    "events",
    "submit",
    "submission_page",
    "leaderboards",
    "admin",
    "api",
    "health",
)


def include_routes(app: FastAPI) -> None:
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        app.include_router(module.router)
