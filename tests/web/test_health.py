"""``GET /healthz``: what the deployed web container's health check calls."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

#: the app's settings only matter for building it: one backend is enough
SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def test_healthz_answers_ok_when_the_database_answers(client):
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"}
    assert "set-cookie" not in r.headers  # a probe every few seconds must not mint sessions


@SQLITE_ONLY
def test_healthz_answers_503_and_logs_the_reason_when_the_database_is_unreachable(settings, caplog):
    from ramp_server.db.engine import make_engine
    from ramp_server.web.app import create_app

    # a real PostgreSQL engine aimed at a port where nothing listens: the database is "down"
    broken = make_engine(url="postgresql+psycopg://ramp:secret@127.0.0.1:1/ramp")
    caplog.set_level(logging.WARNING, logger="ramp_server.web.health")
    try:
        with TestClient(create_app(settings, engine=broken)) as c:
            r = c.get("/healthz")
    finally:
        broken.dispose()
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "error" and body["database"] == "postgresql"
    assert "127.0.0.1" not in r.text  # the public answer never names hosts or users
    assert any("unreachable" in m and "OperationalError" in m for m in caplog.messages)


@SQLITE_ONLY
def test_healthz_stays_out_of_the_published_api_schema(client):
    assert "/healthz" not in client.get("/api/openapi.json").json()["paths"]
