"""What the dispatcher knows of a fold it submitted to the cluster and waits for."""

from __future__ import annotations

from dataclasses import dataclass
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
