"""Stuck work cannot stay stuck: the dispatcher's watch over its workers and running folds.

A worker that hangs (``SIGSTOP``, a dead disk, a driver lock-up) stops both its heartbeats and
its own time limits, so the dispatcher watches from outside, on every round:

- a fold whose worker sent no heartbeat for ``settings.worker_timeout_s`` seconds;
- a fold running past its event's time limit plus ``settings.fold_grace_s`` (its worker should
  have killed it at the limit);
- a task the scheduler lost (its future is ``lost`` or ``cancelled``).

Such a fold is released and requeued as a platform fault (never charged, retried up to
``settings.max_fold_retries``; the submission page says what happened), and its worker is
retired from the scheduler. Every few seconds the watch also writes what it sees of the cluster
to ``engine_workers`` (:func:`ramp_server.services.operations.record_workers`): the organisers'
operations view reads it from any process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.engine.inflight import InFlight

log = logging.getLogger("ramp_server.engine.dispatcher")


@dataclass
class ClusterView:
    """What the scheduler said this round."""

    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: worker address -> keys of the tasks it processes
    processing: dict[str, list[str]] = field(default_factory=dict)
    scheduler_now: float = 0.0

    def capacity(self) -> tuple[int, int]:
        """``(worker threads, GPU resources)`` of the workers that are alive."""
        threads = gpus = 0
        for w in self.workers.values():
            threads += int(w.get("nthreads", 1))
            gpus += int((w.get("resources") or {}).get("GPU", 0))
        return threads, gpus

    def worker_of(self, key: str) -> str | None:
        return next((w for w, keys in self.processing.items() if key in keys), None)


@dataclass(frozen=True)
class Stuck:
    """A fold to requeue, why, and whether its worker must be retired."""

    key: str
    reason: str
    worker: str | None
    retire: bool


async def _remove_worker(dask_scheduler: Any, address: str) -> str:  # runs on the scheduler
    return await dask_scheduler.remove_worker(
        address, stimulus_id=f"ramp-retire-{time.time()}", close=True
    )


class ClusterWatch:
    """The dispatcher's eyes on the cluster; see the module docstring."""

    def __init__(
        self,
        *,
        client: Client,
        sessions: sessionmaker[Session],
        worker_timeout_s: float,
        fold_grace_s: float,
        snapshot_s: float = 2.0,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.worker_timeout_s = worker_timeout_s
        self.fold_grace_s = fold_grace_s
        self.snapshot_s = snapshot_s
        self.retired: dict[str, str] = {}  # address -> why
        self._last_snapshot = 0.0

    def look(self) -> ClusterView:
        """Ask the scheduler for its workers and what each processes (one round-trip each)."""
        info = self.client.scheduler_info(n_workers=-1)
        workers = {a: w for a, w in info.get("workers", {}).items() if a not in self.retired}
        processing = {a: list(keys) for a, keys in self.client.processing().items()}
        return ClusterView(workers=workers, processing=processing, scheduler_now=time.time())

    def stuck(self, view: ClusterView, running: Iterable[InFlight]) -> list[Stuck]:
        """The running folds that must be requeued, with their reasons."""
        now = time.monotonic()
        out = []
        for item in running:
            worker = view.worker_of(item.key) or item.worker
            if worker:
                item.worker = worker
            status = getattr(item.future, "status", "pending")
            if status in ("lost", "cancelled"):
                out.append(Stuck(item.key, "the scheduler lost the task", worker, False))
                continue
            info = view.workers.get(worker) if worker else None
            if info is not None:
                silent = view.scheduler_now - float(info.get("last_seen", view.scheduler_now))
                if silent > self.worker_timeout_s:
                    reason = f"worker {worker} stopped responding (no heartbeat for {silent:.0f} s)"
                    out.append(Stuck(item.key, reason, worker, True))
                    continue
            elapsed = now - item.started
            if elapsed > item.limit_s + self.fold_grace_s:
                reason = (
                    f"the fold ran {elapsed:.0f} s, past its limit of {item.limit_s:g} s plus "
                    f"{self.fold_grace_s:g} s of grace, and its worker {worker or '?'} did not "
                    "stop it"
                )
                out.append(Stuck(item.key, reason, worker, worker is not None))
        return out

    def retire(self, address: str, reason: str) -> None:
        """Remove a worker from the scheduler (it gets no more work); noted in the snapshot."""
        if address in self.retired:
            return
        self.retired[address] = reason
        log.warning("dispatcher: retiring worker %s: %s", address, reason)
        try:
            self.client.run_on_scheduler(_remove_worker, address=address)
        except Exception:  # noqa: BLE001 - the scheduler's own TTL removes it eventually
            log.exception("could not remove worker %s from the scheduler", address)

    def snapshot(self, view: ClusterView, running: Iterable[InFlight], *, force: bool = False):
        """Write the workers as seen now to the database, every ``snapshot_s`` seconds."""
        from datetime import UTC, datetime

        from ramp_server.services import operations

        now = time.monotonic()
        if not force and now - self._last_snapshot < self.snapshot_s:
            return
        self._last_snapshot = now
        by_worker: dict[str, list[dict[str, Any]]] = {}
        for item in running:
            if item.worker:
                by_worker.setdefault(item.worker, []).append(
                    {
                        "submission_id": item.submission_id,
                        "fold": item.fold,
                        "since": item.started_at.isoformat(),
                        "label": item.label,
                    }
                )
        rows = []
        for address, w in view.workers.items():
            last_seen = w.get("last_seen")
            silent = view.scheduler_now - float(last_seen) if last_seen else 0.0
            rows.append(
                {
                    "address": address,
                    "name": str(w.get("name", "")),
                    "host": str(w.get("host", "")),
                    "resources": dict(w.get("resources") or {}),
                    "nthreads": int(w.get("nthreads", 1)),
                    "status": "silent" if silent > min(10.0, self.worker_timeout_s) else "running",
                    "last_seen": datetime.fromtimestamp(float(last_seen), UTC)
                    if last_seen
                    else None,
                    "running": by_worker.get(address, []),
                }
            )
        with self.sessions() as session:
            operations.record_workers(session, workers=rows, retired=dict(self.retired))
