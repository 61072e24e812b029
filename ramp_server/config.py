"""Typed settings of the platform: environment variables prefixed ``RAMP_`` or a TOML file.

Precedence: explicit keyword arguments > environment (``RAMP_*``) > the file named by
``RAMP_CONFIG_FILE`` > defaults. Every field is documented in ``docs/configuration.md``
(a test checks it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "insecure-local-only-change-me"


class Settings(BaseSettings):
    """All knobs of ``ramp-server``. Build one with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="RAMP_", extra="forbid")

    env: Literal["local", "production"] = Field(
        "local", description="'local' allows the placeholder secret and the embedded defaults."
    )
    storage_dir: Path = Field(
        Path("var"),
        description="Root of the platform's files: code blobs, event data, predictions, logs.",
    )
    database_url: str | None = Field(
        None, repr=False, description="SQLAlchemy URL; default: an SQLite file inside storage_dir."
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET, repr=False, description="Signs sessions and tokens."
    )
    host: str = Field("127.0.0.1", description="Address `ramp-server serve` binds to.")
    port: int = Field(8000, description="Port `ramp-server serve` listens on.")
    web_workers: int = Field(
        1, ge=1, description="Web server processes of `ramp-server serve` (one pool each)."
    )
    web_worker_timeout_s: int = Field(
        30,
        ge=1,
        description="Seconds a web server process (with web_workers > 1) may leave uvicorn's "
        "health check unanswered before it is killed and restarted (its requests in flight are "
        "then closed unanswered).",
    )
    base_url: str | None = Field(None, description="Public URL used in e-mails (reset links).")
    scheduler_address: str | None = Field(
        None, description="Dask scheduler address; unset: an embedded LocalCluster."
    )
    local_workers: int = Field(1, ge=1, description="Workers of the embedded LocalCluster.")
    embedded_dispatcher: bool = Field(
        True, description="`serve` also runs the dispatcher (and the local cluster)."
    )
    sandbox: Literal["bwrap", "unsafe-none"] = Field(
        "bwrap",
        description="How participant code is isolated; 'unsafe-none' needs allow_unsafe_sandbox.",
    )
    allow_unsafe_sandbox: bool = Field(
        False,
        description="Explicit opt-in to run untrusted code without bubblewrap (loud warnings).",
    )
    max_fold_retries: int = Field(2, ge=0, description="Retries of a fold after a platform fault.")
    worker_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A worker silent this long is retired and its folds requeued.",
    )
    fold_grace_s: float = Field(
        120.0,
        ge=0,
        description="A fold running this long past its time limit is requeued (worker retired).",
    )
    sandbox_max_processes: int = Field(
        512, ge=16, description="Tasks (processes and threads) a sandboxed fold may run."
    )
    sandbox_tmp_mb: int = Field(2048, ge=16, description="Size of a sandboxed fold's private /tmp.")
    sandbox_file_size_mb: int = Field(
        2048, ge=1, description="Largest file a sandboxed fold may write."
    )
    fold_log_max_bytes: int = Field(
        1_000_000,
        ge=10_000,
        description="A fold's captured output is cut (head and tail kept) here.",
    )
    reblend_debounce_s: float = Field(
        2.0, ge=0, description="Wait after a newly scored submission before re-blending."
    )
    reblend_max_wait_s: float = Field(
        5.0,
        gt=0,
        description="Longest wait from a re-blend's first request to its start while more keep "
        "coming (caps the debounce: bounds how stale the hybrid model gets).",
    )
    reblend_poll_s: float = Field(
        2.0, gt=0, description="How often the dispatcher looks for requested re-blends."
    )
    blend_extras_budget_s: float = Field(
        5.0,
        gt=0,
        description="Time budget of the Shapley values computed after each re-blend.",
    )
    blend_bootstrap_n: int = Field(
        200, ge=0, description="Bootstrap resamples of the hybrid model's score intervals."
    )
    bootstrap_n: int = Field(
        1000, ge=0, description="Bootstrap resamples of a submission's score interval (0: none)."
    )
    engine_simulation: bool = Field(
        False,
        description="Benchmarks only: marked submissions' folds are simulated (a sleep and "
        "generated predictions) instead of trained; refused with env=production.",
    )
    engine_simulation_time_scale: float = Field(
        60.0, gt=0, description="Benchmarks only: simulated fold durations are divided by this."
    )
    mail_backend: Literal["log", "smtp"] = Field("log", description="Where e-mails go.")
    smtp_url: str | None = Field(
        None, repr=False, description="smtp://user:pass@host:port when mail_backend=smtp."
    )
    smtp_from: str | None = Field(
        None, description="Sender address of e-mails (default: ramp@ the SMTP host)."
    )
    smtp_max_attempts: int = Field(
        5, ge=1, description="Attempts to send one e-mail before giving up (then logged)."
    )
    smtp_retry_s: float = Field(
        60.0, gt=0, description="Wait before the first retry of an e-mail; doubled after each."
    )
    smtp_poll_s: float = Field(
        2.0, gt=0, description="How often the dispatcher's e-mail sender reads the outbox."
    )
    metrics_token: str | None = Field(
        None, repr=False, description="Bearer token `/metrics` requires (unset: open)."
    )
    login_rate_limit: int = Field(10, ge=1, description="Failed logins per address per 15 minutes.")
    cookie_secure: bool | None = Field(
        None, description="Secure flag of the session cookie; default: on outside env=local."
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env != "local" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "RAMP_SECRET_KEY is the placeholder: set a long random secret "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))') outside env=local"
            )
        if self.env == "production" and self.engine_simulation:
            raise ValueError(
                "RAMP_ENGINE_SIMULATION is for benchmarks only (it fakes training): unset it "
                "outside env=local"
            )
        return self

    @property
    def db_url(self) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.storage_dir / 'ramp.sqlite3').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        return self.env != "local" if self.cookie_secure is None else self.cookie_secure


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, an optional TOML file (``[ramp]`` table or top level), overrides."""
    import os

    path = config_file or os.environ.get("RAMP_CONFIG_FILE")
    file_values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file {p} does not exist (RAMP_CONFIG_FILE / --config)")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"config file {p}: not valid TOML: {exc}") from None
        file_values = data.get("ramp", data)
    env_keys = {k[5:].lower() for k in os.environ if k.upper().startswith("RAMP_")}
    # The environment wins over the file: drop file keys that the environment sets.
    merged = {k: v for k, v in file_values.items() if k not in env_keys}
    merged.update(overrides)
    return Settings(**merged)
