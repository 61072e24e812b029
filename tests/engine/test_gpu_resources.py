"""A real ``dask scheduler`` + ``dask worker --resources GPU=1 --nthreads 1`` (the documented GPU
node setup) and ``ramp-server dispatch --scheduler``: folds of a GPU event go to the GPU worker.
On a machine without a GPU the worker only *declares* the resource; the submission then trains on
its CPU, unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ramp_server.db.models import Submission, SubmissionFold, SubmissionState
from ramp_server.services import submissions as submission_service

from engine_support import submission_files
from ramp_test_plugin import free_port


@pytest.fixture
def gpu_cluster(tmp_path):
    """``(scheduler address, name of the GPU worker)``; a CPU-only worker runs next to it."""
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    common = ["--nthreads", "1", "--nworkers", "1", "--no-dashboard"]
    procs.append(
        subprocess.Popen(
            [dask, "worker", address, "--name", "gpu-0", "--resources", "GPU=1", *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    procs.append(
        subprocess.Popen(
            [dask, "worker", address, "--name", "cpu-0", *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    from distributed import Client

    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            gpu_address = next(
                a
                for a, w in client.scheduler_info()["workers"].items()
                if (w.get("resources") or {}).get("GPU")
            )
        yield address, gpu_address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_gpu_event_folds_run_on_the_gpu_worker_of_a_real_cluster(
    session, settings, session_factory, engine_event, admin, gpu_cluster
):
    address, gpu_worker = gpu_cluster
    engine_event.uses_gpu = True
    session.commit()
    sid = submission_service.submit(
        session,
        settings=settings,
        event=engine_event,
        user=admin,
        name="on-gpu",
        files=submission_files("quick"),
    ).id
    env = {
        **os.environ,
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ramp-server")), "dispatch", "--until-idle"]
        + ["--scheduler", address],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with session_factory() as s:
        assert s.get(Submission, sid).state == SubmissionState.SCORED
        workers = set(
            s.scalars(select(SubmissionFold.worker).where(SubmissionFold.submission_id == sid))
        )
    # every fold went to the worker that declares the GPU, none to the CPU-only worker
    assert workers == {gpu_worker}, (workers, time.monotonic() - t0)
