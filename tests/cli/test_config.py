"""Settings: environment > TOML file > defaults; the placeholder secret refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ramp_server.cli import main
from ramp_server.config import PLACEHOLDER_SECRET, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("RAMP_"):
            monkeypatch.delenv(key)


def test_environment_wins_over_the_file_and_the_file_over_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "ramp.toml"
    cfg.write_text('[ramp]\nport = 9000\nhost = "0.0.0.0"\n', encoding="utf-8")
    monkeypatch.setenv("RAMP_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("RAMP_PORT", "9100")
    s = load_settings()
    assert (s.port, s.host) == (9100, "0.0.0.0")
    assert load_settings(port=9200).port == 9200


def test_default_database_is_sqlite_in_the_storage_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMP_STORAGE_DIR", str(tmp_path))
    assert load_settings().db_url == f"sqlite:///{tmp_path.resolve() / 'ramp.sqlite3'}"
    monkeypatch.setenv("RAMP_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_settings().db_url == "postgresql+psycopg://u@h/db"


def test_placeholder_secret_is_refused_outside_local_runs():
    assert load_settings().secret_key == PLACEHOLDER_SECRET
    with pytest.raises(ValidationError, match="RAMP_SECRET_KEY is the placeholder"):
        load_settings(env="production")
    assert load_settings(env="production", secret_key="x" * 40).secure_cookies


def test_unknown_settings_and_missing_files_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValidationError, match="nonsense"):
        load_settings(nonsense=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    assert main(["--config", str(tmp_path / "missing.toml"), "init"]) == 2
    assert "does not exist" in capsys.readouterr().err
