"""What the dispatcher knows of a fold it submitted to the cluster and waits for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Future


@dataclass
class InFlight:
    """A fold submitted to the cluster that the dispatcher waits for."""

    future: Future
    fold_id: int
    submission_id: int
    fold: int
    attempt: int
    event_name: str
    label: str
    cancel_name: str
    gpu: bool = False
    cancel_sent: bool = False
    #: the fold's time limit (the dispatcher's own watch adds a grace to it)
    limit_s: float = 3600.0
    #: the worker processing it, as the scheduler last said
    worker: str | None = None
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> str:
        return self.future.key
