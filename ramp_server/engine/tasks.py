"""What runs in the Dask worker process: spawn the sandboxed fold runner, collect its results.

The worker never imports participant code. :func:`run_fold_job` writes the submission's files and
the fold's indices into a private temporary directory, starts ``python -m
ramp_server.engine.foldrun`` in the sandbox (:mod:`ramp_server.engine.sandbox`), forwards progress
lines as Dask events (topic :data:`PROGRESS_TOPIC`), polls a Dask ``Event`` for cancellation, and
returns a :class:`FoldOutcome`: predictions and metadata, or a classified error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ramp_server.engine import foldrun
from ramp_server.engine.sandbox import SandboxResult, run_sandboxed
from ramp_server.engine.sandbox_policy import SandboxLimits
from ramp_server.engine.simulation import SimulatedTraining, simulated_proba, sleep_fold

PROGRESS_TOPIC = "ramp-fold-progress"
#: most progress reports of a fold sent back with its outcome (the latest ones)
MAX_PROGRESS_REPORTS = 1000


def cancel_event_name(task_key: str) -> str:
    """Name of the Dask ``Event`` that, once set, kills the sandbox of the task ``task_key``."""
    return f"ramp-cancel-{task_key}"


@dataclass
class FoldJob:
    """Everything a worker needs for one fold (no database, no storage, no labels of test)."""

    submission_id: int
    fold: int
    attempt: int
    files: dict[str, bytes]
    bundle_dir: str  # public bundle, readable at this path on the worker
    train_is: np.ndarray
    valid_is: np.ndarray
    limits: SandboxLimits
    sandbox_mode: str = "bwrap"
    gpu: bool = False
    predict_train: bool = True
    seed: int = 0
    forbidden: tuple[str, ...] = ()  # host paths that must never be visible in the sandbox
    cancel_key: str = ""  # the Dask key; its cancel Event kills the sandbox
    #: benchmarks only (``engine_simulation``): simulate the fold instead of the sandbox
    simulation: SimulatedTraining | None = None


@dataclass
class FoldOutcome:
    """The result of one fold as the dispatcher receives it."""

    submission_id: int
    fold: int
    attempt: int
    ok: bool
    error_kind: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    valid_proba: np.ndarray | None = None
    test_proba: np.ndarray | None = None
    train_proba: np.ndarray | None = None
    train_time: float | None = None
    valid_time: float | None = None
    test_time: float | None = None
    peak_memory_mb: float | None = None
    wall_time_s: float = 0.0
    log: bytes = b""
    log_truncated: bool = False
    worker: str = ""
    progress: list[dict[str, Any]] = field(default_factory=list)
    #: POSIX time at which the worker finished the fold (result latency is measured from it)
    finished_at: float = field(default_factory=time.time)

    @property
    def finished_at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.finished_at, UTC)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _dask_hooks(job: FoldJob):
    """Progress forwarding and cancel polling through the Dask scheduler (no-ops outside Dask)."""
    try:
        from distributed import Event, get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None, None
    event = Event(cancel_event_name(job.cancel_key or f"{job.submission_id}-{job.fold}"))
    last = [0.0]

    def on_progress(item: dict[str, Any]) -> None:
        worker.log_event(
            PROGRESS_TOPIC,
            {
                "submission_id": job.submission_id,
                "fold": job.fold,
                "worker": worker.address,
                "progress": item,
            },
        )

    def should_cancel() -> bool:
        now = time.monotonic()
        if now - last[0] < 1.0:  # one scheduler round-trip per second at most
            return False
        last[0] = now
        try:
            return bool(event.is_set())
        except Exception:  # scheduler briefly unreachable: keep training
            return False

    return on_progress, should_cancel


def classify(
    sr: SandboxResult, status: dict[str, Any] | None, limits: SandboxLimits
) -> tuple[str, str]:
    """``(error_kind, message)`` of a fold that did not produce a valid status record."""
    if sr.timed_out:
        return "timeout", f"the fold ran longer than its limit of {limits.wall_time_s:g} s"
    if sr.memory_exceeded:
        return "memory", f"the fold used more than its memory limit of {limits.memory_mb} MB"
    if sr.cancelled:
        return "cancelled", "cancelled while training"
    if sr.signal is not None:
        name = signal.Signals(sr.signal).name if sr.signal in signal.valid_signals() else sr.signal
        if sr.signal == signal.SIGKILL and sr.peak_rss_mb > 0.9 * limits.memory_mb:
            return "memory", f"killed near its memory limit of {limits.memory_mb} MB"
        return "killed", f"the fold's process was killed by signal {name}"
    if status is None and sr.log.startswith(b"bwrap:"):  # the sandbox itself failed to start
        return "platform", "the sandbox failed to start: " + sr.log[:500].decode(errors="replace")
    if status is None:
        return (
            "participant",
            f"the submission's process exited (code {sr.returncode}) before the fold finished: "
            "do not call os._exit()/sys.exit() or kill the process in participant code",
        )
    return "platform", "the fold runner wrote an unreadable status"


def _auto_threads() -> int:
    """CPU threads for one sandbox: this machine's cores shared by the worker's task slots."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    slots = 1
    try:
        from distributed import get_worker

        slots = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        pass
    return max(1, (cores or 1) // slots)


def run_fold_job(job: FoldJob) -> FoldOutcome:
    """Run one fold in the sandbox; never raises for anything the participant's code does."""
    if job.simulation is not None:
        return _simulate(job)
    if job.limits.cpu_threads <= 0:
        job = replace(job, limits=replace(job.limits, cpu_threads=_auto_threads()))
    base = Path(tempfile.mkdtemp(prefix=f"ramp-fold-{job.submission_id}-{job.fold}-"))
    try:
        outcome = _run(job, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    outcome.finished_at = time.time()
    return outcome


def _run(job: FoldJob, base: Path) -> FoldOutcome:
    if not (Path(job.bundle_dir) / "meta.json").is_file():
        return FoldOutcome(
            submission_id=job.submission_id,
            fold=job.fold,
            attempt=job.attempt,
            ok=False,
            error_kind="platform",
            error_message=f"the public bundle {job.bundle_dir} is not readable on worker "
            f"{_worker_name()}: mount the storage's events/<event>/public there (same path)",
            worker=_worker_name(),
        )
    os.chmod(base, 0o755)
    code, jobdir, out = base / "submission", base / "job", base / "out"
    for d in (code, jobdir, out):
        d.mkdir(mode=0o755)
        os.chmod(d, 0o755)
    for name, data in job.files.items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"invalid submission file name {name!r}")
        (code / name).write_bytes(data)
        os.chmod(code / name, 0o644)
    np.savez(jobdir / "fold.npz", train_is=job.train_is, valid_is=job.valid_is)
    n_jobs = max(1, job.limits.cpu_threads)
    (jobdir / "job.json").write_text(
        json.dumps({"predict_train": job.predict_train, "seed": job.seed, "n_jobs": n_jobs})
    )
    for d in (jobdir,):
        for f in d.iterdir():
            os.chmod(f, 0o644)
    rw = {}
    for host, inside in (
        (out / "result.npz", foldrun.RESULT_FILE),
        (out / "status.json", foldrun.STATUS_FILE),
        (out / "progress.jsonl", foldrun.PROGRESS_FILE),
    ):
        host.touch()
        rw[host] = str(inside)
    on_progress, should_cancel = _dask_hooks(job)
    env = {"RAMP_PROGRESS_FILE": str(foldrun.PROGRESS_FILE), "RAMP_N_JOBS": str(n_jobs)}
    ro = {code: str(foldrun.SUBMISSION_DIR), jobdir: str(foldrun.JOB_DIR)}
    ro[Path(job.bundle_dir).resolve()] = str(foldrun.DATA_DIR)
    command = [sys.executable, "-m", "ramp_server.engine.foldrun"]
    if job.sandbox_mode != "bwrap":  # unsafe mode: no bind mounts, the runner reads host paths
        command = [
            sys.executable,
            "-c",
            _UNSAFE_SHIM,
            str(code),
            job.bundle_dir,
            str(jobdir),
            str(out),
        ]
        env["RAMP_PROGRESS_FILE"] = str(out / "progress.jsonl")
    sr = run_sandboxed(
        command,
        limits=job.limits,
        mode=job.sandbox_mode,
        ro_binds=ro,
        rw_files=rw,
        env=env,
        forbidden=[Path(p) for p in job.forbidden],
        progress_file=out / "progress.jsonl",
        on_progress=on_progress,
        should_cancel=should_cancel,
        gpu=job.gpu,
    )
    outcome = FoldOutcome(
        submission_id=job.submission_id,
        fold=job.fold,
        attempt=job.attempt,
        ok=False,
        wall_time_s=sr.wall_time_s,
        log=sr.log,
        log_truncated=sr.log_truncated,
        worker=_worker_name(),
        # every report (the learning curve), bounded: a report per batch is not worth shipping
        progress=sr.progress[-MAX_PROGRESS_REPORTS:],
        peak_memory_mb=sr.peak_rss_mb or None,
    )
    status = _read_status(out / "status.json")
    abnormal = sr.timed_out or sr.memory_exceeded or sr.cancelled or sr.signal is not None
    if status is None or abnormal:
        outcome.error_kind, outcome.error_message = classify(sr, status, job.limits)
        return outcome
    outcome.peak_memory_mb = max(sr.peak_rss_mb, float(status.get("peak_rss_mb") or 0.0))
    if not status.get("ok"):
        kind = status.get("error_kind")
        outcome.error_kind = kind if kind in (*foldrun.RUNNER_KINDS, "platform") else "participant"
        outcome.error_message = str(status.get("message", ""))[:4000]
        outcome.traceback = str(status.get("traceback", ""))[:20000] or None
        return outcome
    try:
        with np.load(out / "result.npz", allow_pickle=False) as res:
            arrays = {k: np.array(res[k]) for k in res.files}
        for name in ("train_time", "valid_time", "test_time"):
            setattr(outcome, name, float(status[name]))
    except Exception as exc:  # written by a process that ran participant code: not trusted
        outcome.error_kind = "invalid_predictions"
        outcome.error_message = f"the fold's predictions could not be read back: {exc}"
        return outcome
    if "valid_proba" not in arrays or "test_proba" not in arrays:
        outcome.error_kind = "invalid_predictions"
        outcome.error_message = "the fold's predictions are missing (valid_proba, test_proba)"
        return outcome
    outcome.ok = True
    outcome.valid_proba = arrays["valid_proba"]
    outcome.test_proba = arrays["test_proba"]
    outcome.train_proba = arrays.get("train_proba")
    return outcome


def _simulate(job: FoldJob) -> FoldOutcome:
    """The benchmark's stand-in for the sandboxed child (:mod:`ramp_server.engine.simulation`):
    everything around it (Dask, cancellation, result recording) is the real path."""
    _, should_cancel = _dask_hooks(job)
    slept, cancelled = sleep_fold(job.simulation, fold=job.fold, should_cancel=should_cancel)
    outcome = FoldOutcome(
        submission_id=job.submission_id,
        fold=job.fold,
        attempt=job.attempt,
        ok=False,
        wall_time_s=slept,
        worker=_worker_name(),
        log=b"simulated training (RAMP_ENGINE_SIMULATION, benchmarks only)\n",
    )
    if cancelled:
        outcome.error_kind, outcome.error_message = "cancelled", "cancelled while training"
        return outcome
    t0 = time.perf_counter()
    valid, test = simulated_proba(job.simulation, fold=job.fold, valid_is=job.valid_is)
    outcome.ok = True
    outcome.valid_proba, outcome.test_proba = valid, test
    outcome.train_time = slept
    outcome.valid_time = outcome.test_time = (time.perf_counter() - t0) / 2
    outcome.finished_at = time.time()
    return outcome


def _read_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes()[:1_000_000] or b"null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# Without bubblewrap (operator opt-in), the runner reads the host paths instead of /sandbox/...
_UNSAFE_SHIM = """
import sys
from pathlib import Path
from ramp_server.engine import foldrun
code, data, job, out = map(Path, sys.argv[1:5])
foldrun.SUBMISSION_DIR, foldrun.DATA_DIR, foldrun.JOB_DIR = code, data, job
foldrun.RESULT_FILE, foldrun.STATUS_FILE = out / "result.npz", out / "status.json"
foldrun.PROGRESS_FILE = out / "progress.jsonl"
foldrun.run_fold.__kwdefaults__.update(
    submission_dir=code, data_dir=data, job_dir=job, result_file=out / "result.npz")
foldrun.main()
"""
