"""What the dispatcher reports of the cluster: one row per Dask worker it has seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ramp_server.db.models.base import Base, UTCDateTime, utcnow


class EngineWorker(Base):
    """A Dask worker as the dispatcher last saw it (the organisers' operations view)."""

    __tablename__ = "engine_workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    #: {"GPU": 1, ...} as the worker declared them
    resources: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    nthreads: Mapped[int] = mapped_column(Integer, default=1)
    #: "running", "silent" (no heartbeat lately), "retired" (removed by the dispatcher), "gone"
    status: Mapped[str] = mapped_column(String(16), default="running")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the scheduler's last heartbeat of the worker
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: [{"submission_id", "fold", "since"}] of the folds it trains now
    running: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str | None] = mapped_column(String(1000), nullable=True)
