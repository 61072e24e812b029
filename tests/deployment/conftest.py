"""Deployment fixtures: the compose file (raw and interpolated) and the organizers' guide."""

from __future__ import annotations

import pytest
import yaml

from deployment_support import (
    COMPOSE_FILE,
    DEPLOYMENT_DOC,
    SAMPLE_ENV,
    interpolate,
)


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    """The compose file as compose sees it with the secrets set and nothing else."""
    data = yaml.safe_load(interpolate(compose_text, SAMPLE_ENV))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        f"{COMPOSE_FILE}: no 'services' mapping"
    )
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def guide() -> str:
    assert DEPLOYMENT_DOC.is_file(), f"{DEPLOYMENT_DOC} is missing"
    return DEPLOYMENT_DOC.read_text(encoding="utf-8")
