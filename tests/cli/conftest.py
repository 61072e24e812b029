"""The CLI tests' fixture: ``cli(*argv)`` runs a ``ramp-server`` verb on the test database."""

from __future__ import annotations

import pytest

from ramp_server.cli import main


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """Run a verb with RAMP_DATABASE_URL / RAMP_STORAGE_DIR of the test; returns (rc, out, err)."""
    monkeypatch.setenv("RAMP_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("RAMP_STORAGE_DIR", str(settings.storage_dir))
    monkeypatch.delenv("RAMP_CONFIG_FILE", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    return run
