"""The dispatcher: queued folds in the database → Dask tasks → scores in the database.

One loop (:meth:`Dispatcher.run`) that

1. reconciles at start: folds left ``training`` by a previous dispatcher are requeued;
2. claims queued folds in fair-share order (:mod:`ramp_server.services.scheduling`: the
   participant with the least worker time used so far first) while the cluster has free worker
   threads, and submits one Dask task per (submission, fold) (``resources={'GPU': 1}`` for GPU
   events when the cluster has GPU workers); folds of one submission run in parallel;
3. collects finished tasks: predictions are scored HERE, on the server side, by
   ``results.record_fold_result`` (idempotent per (submission, fold)); errors are classified
   (``jobs.fail_fold``), platform faults (lost worker, broken task) retried up to
   ``settings.max_fold_retries`` without charging the quota;
4. watches the database for cancellations and kills the running sandboxes through a Dask
   ``Event`` the worker polls (:mod:`ramp_server.engine.cancellation`); forwards progress
   reports from workers to ``submission_folds`` (:mod:`ramp_server.engine.progress_relay`);
5. watches for stuck work (:mod:`ramp_server.engine.health`): a silent worker, a fold far past
   its time limit or a task the scheduler lost is requeued and the worker retired; writes what it
   sees of the cluster to the database for the operations view.

Only one dispatcher should run against a database at a time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ramp_server.db.models import ErrorKind, Submission, SubmissionState
from ramp_server.engine.cancellation import CancelWatcher, send_cancel
from ramp_server.engine.health import ClusterView, ClusterWatch
from ramp_server.engine.inflight import InFlight
from ramp_server.engine.progress_relay import ProgressRelay, clean_progress
from ramp_server.engine.sandbox_policy import SandboxLimits, limits_from_settings, resolve_mode
from ramp_server.engine.simulation import SimulatedTraining, parse_marker
from ramp_server.engine.tasks import FoldJob, FoldOutcome, cancel_event_name

if TYPE_CHECKING:
    from distributed import Client
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.config import Settings
    from ramp_server.services.results import ScoredCallback

log = logging.getLogger(__name__)


class Dispatcher:
    """Trains queued submissions on a Dask cluster; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Client,
        session_factory: sessionmaker[Session] | None = None,
        limits: SandboxLimits | None = None,
        poll_s: float = 0.5,
        local_sandboxes: bool = True,
        on_scored: ScoredCallback | None = None,
    ) -> None:
        from ramp_server.db.engine import make_engine, make_session_factory
        from ramp_server.storage import Storage

        self.settings = settings
        self.client = client
        self.mode = resolve_mode(
            sandbox=settings.sandbox,
            allow_unsafe=settings.allow_unsafe_sandbox,
            local=local_sandboxes,
        )
        self._own_engine = None
        if session_factory is None:
            self._own_engine = make_engine(settings)
            session_factory = make_session_factory(self._own_engine)
        self.sessions = session_factory
        self.storage = Storage.from_settings(settings)
        self.limits = limits or limits_from_settings(settings)
        self.poll_s = poll_s
        self.on_scored = on_scored  # told of every newly scored submission (the re-blender)
        self.inflight: dict[str, InFlight] = {}
        self._cancels = CancelWatcher(client=client, sessions=session_factory)
        self.n_scored = 0
        self._progress = ProgressRelay(client=client, sessions=session_factory)
        self.watch = ClusterWatch(
            client=client,
            sessions=session_factory,
            worker_timeout_s=settings.worker_timeout_s,
            fold_grace_s=settings.fold_grace_s,
        )

    # -- main loop ---------------------------------------------------------------------------

    def run(self, *, until_idle: bool = False, stop: threading.Event | None = None) -> None:
        """Loop until ``stop`` is set, or (``until_idle``) until nothing is queued or running."""
        from distributed import wait

        self.reconcile()
        stop = stop or threading.Event()
        failures = 0
        while not stop.is_set():
            try:
                busy = self.tick()
                failures = 0
            except Exception:  # noqa: BLE001 - DB or scheduler hiccup: log, back off, go on
                failures += 1
                log.exception("dispatcher: round failed (%d in a row)", failures)
                stop.wait(min(30.0, self.poll_s * 2**failures))
                continue
            if until_idle and not busy:
                return
            futures = [f.future for f in self.inflight.values()]
            if futures:
                try:
                    wait(futures, timeout=self.poll_s, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    pass
            else:
                stop.wait(self.poll_s)

    def tick(self) -> bool:
        """One round: progress, finished tasks, cancellations, new claims. True while busy."""
        from ramp_server.services import jobs

        self._progress.drain(running=self.inflight.values())
        done = self._take_done()
        self._cancels.watch(self.inflight.values())
        view = self.watch.look()
        self._requeue_stuck(view)
        # the freed workers get their next folds first, the results are recorded while they
        # train (a finished fold stays "training" until then: it cannot be claimed twice)
        self._submit_new(view)
        self._collect(done)
        self.watch.snapshot(view, self.inflight.values())
        if self.inflight:
            return True
        with self.sessions() as session:
            return jobs.pending_fold_count(session) > 0

    def reconcile(self) -> int:
        """Requeue folds marked ``training`` that this dispatcher does not track."""
        from ramp_server.services import jobs

        with self.sessions() as session:
            orphans = jobs.reconcile(session, live_keys=set(self.inflight))
        for row in orphans:  # a task of a dead dispatcher may still run on a shared cluster
            if row.dask_key and not send_cancel(self.client, cancel_event_name(row.dask_key)):
                log.debug("could not signal leftover task %s", row.dask_key)
        if orphans:
            log.warning("dispatcher: requeued %d interrupted fold(s)", len(orphans))
        return len(orphans)

    def close(self) -> None:
        """Stop: running folds are killed and stay ``training`` in the database, so the next
        dispatcher requeues them (:meth:`reconcile`) without charging an attempt."""
        self._progress.close()
        for item in self.inflight.values():
            send_cancel(self.client, item.cancel_name)
            item.future.release()
        self.inflight.clear()
        if self._own_engine is not None:
            self._own_engine.dispose()

    # -- submitting --------------------------------------------------------------------------

    def _submit_new(self, view: ClusterView) -> None:
        from ramp_server.services import jobs, scheduling

        threads, gpus = view.capacity()
        free = threads - len(self.inflight)
        if free <= 0:
            return
        free_gpus = gpus - sum(1 for f in self.inflight.values() if f.gpu)
        with self.sessions() as session:
            tickets = scheduling.next_folds(session, limit=free * 4)
            for t in tickets:
                if free <= 0:
                    break
                on_gpu = t.uses_gpu and gpus > 0  # no GPU worker at all: train on CPUs
                if on_gpu and free_gpus <= 0:
                    continue  # wait for a GPU; CPU folds behind it may go first
                key = (
                    f"ramp-fold-{t.submission_id}-{t.fold}-a{t.attempts + 1}-{uuid.uuid4().hex[:8]}"
                )
                try:
                    job = self._build_job(session, t, attempt=t.attempts + 1, key=key)
                except Exception as exc:  # noqa: BLE001 - missing blob/bundle: not the participant's
                    log.exception("dispatcher: cannot prepare fold %s/%s", t.submission_id, t.fold)
                    if jobs.claim_fold(session, fold_id=t.fold_id, dask_key=key):
                        jobs.fail_fold(
                            session,
                            submission_id=t.submission_id,
                            fold=t.fold,
                            kind=ErrorKind.PLATFORM,
                            message=f"the platform could not prepare the fold: {exc}",
                            max_retries=self.settings.max_fold_retries,
                        )
                    continue
                if not jobs.claim_fold(session, fold_id=t.fold_id, dask_key=key):
                    continue
                resources = {"GPU": 1} if on_gpu else None
                free -= 1
                free_gpus -= int(on_gpu)
                future = self.client.submit(
                    _run_fold, job, key=key, pure=False, resources=resources, retries=0
                )
                self.inflight[key] = InFlight(
                    future=future,
                    fold_id=t.fold_id,
                    submission_id=t.submission_id,
                    fold=t.fold,
                    attempt=job.attempt,
                    event_name=t.event_name,
                    label=f"submission {t.submission_id} ({t.event_name}/{t.submission_name})",
                    cancel_name=cancel_event_name(key),
                    gpu=on_gpu,
                    limit_s=float(t.fold_time_limit_s),
                )
                log.info("dispatcher: %s: started fold %d", self.inflight[key].label, t.fold)

    def _build_job(self, session: Session, t: Any, *, attempt: int, key: str) -> FoldJob:
        from ramp_server.services.events import event_folds
        from ramp_server.services.submissions import submission_sources

        sub = session.get(Submission, t.submission_id)
        folds = event_folds(settings=self.settings, event=sub.event)
        limits = replace(
            self.limits, wall_time_s=float(t.fold_time_limit_s), memory_mb=t.memory_limit_mb
        )
        root = self.storage.root
        forbidden = [root / "blobs", self.storage.private_dir(t.event_name)]
        if self.settings.db_url.startswith("sqlite"):
            forbidden.append(Path(self.settings.db_url.split("///", 1)[-1]))
        files = submission_sources(settings=self.settings, submission=sub)
        return FoldJob(
            submission_id=t.submission_id,
            fold=t.fold,
            attempt=attempt,
            files=files,
            bundle_dir=str(self.storage.public_dir(t.event_name)),
            train_is=folds.train[t.fold],
            valid_is=folds.valid[t.fold],
            limits=limits,
            sandbox_mode=self.mode,
            gpu=t.uses_gpu,
            forbidden=tuple(str(p) for p in forbidden),
            cancel_key=key,
            simulation=self._simulation(sub, files, folds.valid[t.fold]),
        )

    def _simulation(
        self, sub: Submission, files: dict[str, bytes], valid_is: Any
    ) -> SimulatedTraining | None:
        """Benchmarks only: the simulated fold of a marked submission when the operator set
        ``engine_simulation`` (:mod:`ramp_server.engine.simulation`); otherwise None."""
        if not self.settings.engine_simulation:
            return None
        marker = parse_marker(files)
        if marker is None:
            return None
        from ramp_server.kit.taxa import N_CLASSES
        from ramp_server.services.predictions import event_labels

        y_train, y_test = event_labels(settings=self.settings, event=sub.event)
        skill, style, seed = marker
        return SimulatedTraining(
            skill=skill,
            style=style,
            seed=seed,
            time_scale=self.settings.engine_simulation_time_scale,
            n_train=len(y_train),
            y_valid=y_train[valid_is],
            y_test=y_test,
            n_classes=N_CLASSES,
        )

    # -- collecting --------------------------------------------------------------------------

    def _take_done(self) -> list[InFlight]:
        """The finished tasks, out of the in-flight set (their workers are free)."""
        keys = [k for k, f in self.inflight.items() if f.future.done()]
        return [self.inflight.pop(k) for k in keys]

    def _collect(self, done: list[InFlight]) -> None:
        for item in done:
            key = item.future.key
            try:
                outcome: FoldOutcome = item.future.result()
            except Exception as exc:  # noqa: BLE001 - lost worker, KilledWorker, broken task
                self._platform_fault(item, f"{type(exc).__name__}: {exc}")
                continue
            finally:
                item.future.release()
            try:
                self._record(item, outcome)
            except Exception as exc:  # noqa: BLE001 - never let one fold stop the loop
                log.exception("dispatcher: recording fold %s failed", key)
                self._platform_fault(item, f"recording the result failed: {exc}")
            if item.cancel_sent:
                self._cancels.clear(item)

    def _platform_fault(self, item: InFlight, message: str) -> None:
        from ramp_server.services import jobs

        log.warning("dispatcher: %s: platform fault on fold %s: %s", item.label, item.fold, message)
        with self.sessions() as session:
            jobs.fail_fold(
                session,
                submission_id=item.submission_id,
                fold=item.fold,
                kind=ErrorKind.PLATFORM,
                message=message,
                max_retries=self.settings.max_fold_retries,
                worker=item.worker,
            )

    def _requeue_stuck(self, view: ClusterView) -> None:
        """Release and requeue the folds the watch finds stuck; retire their workers."""
        for stuck in self.watch.stuck(view, list(self.inflight.values())):
            item = self.inflight.pop(stuck.key, None)
            if item is None:
                continue
            send_cancel(self.client, item.cancel_name)
            try:
                self.client.cancel([item.future], force=True)
            except Exception:  # noqa: BLE001 - the scheduler may have lost it already
                pass
            item.future.release()
            self._platform_fault(item, stuck.reason)
            if stuck.retire and stuck.worker:
                self.watch.retire(stuck.worker, stuck.reason)
                view.workers.pop(stuck.worker, None)

    def _record(self, item: InFlight, outcome: FoldOutcome) -> None:
        from ramp_server.services import jobs, results
        from ramp_server.services import progress as progress_log
        from ramp_server.storage import atomic_write_bytes

        log_file = self.storage.log_path(item.submission_id, item.fold)
        atomic_write_bytes(log_file, outcome.log)
        charged = outcome.wall_time_s or None
        with self.sessions() as session:
            # the whole learning curve, whatever the live relay missed (committed just below)
            progress_log.record_progress(
                session,
                submission_id=item.submission_id,
                fold=item.fold,
                reports=[clean_progress(p) or {} for p in outcome.progress],
            )
            jobs.note_fold_run(
                session,
                submission_id=item.submission_id,
                fold=item.fold,
                worker=outcome.worker,
                log_path=self.storage.relative(log_file),
                progress=clean_progress(outcome.progress[-1]) if outcome.progress else None,
            )
            if outcome.error_kind == "cancelled":
                jobs.cancel_fold(
                    session, submission_id=item.submission_id, fold=item.fold, charged_s=charged
                )
                return
            if not outcome.ok:
                log.info(
                    "dispatcher: %s: fold %d failed (%s)", item.label, item.fold, outcome.error_kind
                )
                jobs.fail_fold(
                    session,
                    submission_id=item.submission_id,
                    fold=item.fold,
                    kind=outcome.error_kind or ErrorKind.PLATFORM,
                    message=outcome.error_message or "unknown error",
                    traceback=outcome.traceback,
                    max_retries=self.settings.max_fold_retries,
                    charged_s=charged,
                    worker=outcome.worker,
                )
                return
            log.info(
                "dispatcher: %s: fold %d trained in %.0f s",
                item.label,
                item.fold,
                outcome.train_time or 0.0,
            )
            try:
                sub = results.record_fold_result(
                    session,
                    settings=self.settings,
                    submission_id=item.submission_id,
                    fold=item.fold,
                    valid_proba=outcome.valid_proba,
                    test_proba=outcome.test_proba,
                    train_proba=outcome.train_proba,
                    train_time=outcome.train_time or 0.0,
                    valid_time=outcome.valid_time or 0.0,
                    test_time=outcome.test_time or 0.0,
                    peak_memory_mb=outcome.peak_memory_mb,
                    on_scored=self.on_scored,
                    charged_s=charged,
                    worker_finished_at=outcome.finished_at_utc,
                )
            except results.InvalidPredictions as exc:
                session.rollback()
                jobs.fail_fold(
                    session,
                    submission_id=item.submission_id,
                    fold=item.fold,
                    kind=ErrorKind.INVALID_PREDICTIONS,
                    message=str(exc),
                    charged_s=charged,
                )
                return
            if sub.state == SubmissionState.SCORED:
                self.n_scored += 1
                log.info("dispatcher: %s: scored", item.label)


def _run_fold(job: FoldJob) -> FoldOutcome:
    """The Dask task (module-level so that workers import it by name)."""
    from ramp_server.engine.tasks import run_fold_job

    return run_fold_job(job)
