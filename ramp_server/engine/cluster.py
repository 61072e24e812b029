"""Connecting to Dask: an embedded ``LocalCluster`` (processes) or a real scheduler."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

    from ramp_server.config import Settings

log = logging.getLogger(__name__)


def connect(
    settings: Settings,
    *,
    scheduler_address: str | None = None,
    n_workers: int | None = None,
    timeout_s: float = 60.0,
) -> tuple[Client, Any]:
    """``(client, cluster)``: a client of ``scheduler_address`` (or ``settings.scheduler_address``;
    ``cluster`` is then None) or of a new ``LocalCluster`` of ``n_workers`` (default
    ``settings.local_workers``) single-threaded worker processes, which the caller closes."""
    from distributed import Client, LocalCluster

    address = scheduler_address or settings.scheduler_address
    if address:
        log.info("dispatcher: connecting to the Dask scheduler at %s", address)
        return Client(address, timeout=timeout_s), None
    n = n_workers or settings.local_workers
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never clash with another cluster
        silence_logs=logging.WARNING,
        preload=["ramp_server.engine.local_worker"],  # Ctrl-C is the dispatcher's to handle
    )
    log.info("dispatcher: started a local Dask cluster of %d worker process(es)", n)
    return Client(cluster, timeout=timeout_s), cluster


#: Dask loggers whose shutdown races (a heartbeat to a scheduler already gone, a task cancelled
#: mid-instruction) print tracebacks that say nothing about the platform's state.
_DASK_LOGGERS = ("distributed", "tornado")


def _silence_dask_logs() -> None:
    for name in _DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def close(client: Client, cluster: Any, *, timeout_s: float = 5.0) -> None:
    """Close ``client`` and, when the dispatcher started it, ``cluster`` (from :func:`connect`).

    Stopping the embedded cluster is intentional (the database keeps every fold's state and the
    next dispatcher requeues what was running), so its workers' Dask loggers and this process's
    are silenced first: a Ctrl-C must end with one line, not a worker's heartbeat traceback. A
    worker that does not answer within ``timeout_s`` (frozen) is closed without it.
    """
    if cluster is None:
        client.close()
        return
    quiet = threading.Thread(
        target=client.run, args=(_silence_dask_logs,), kwargs={"on_error": "ignore"}, daemon=True
    )
    quiet.start()
    quiet.join(timeout_s)
    levels = {name: logging.getLogger(name).level for name in _DASK_LOGGERS}
    _silence_dask_logs()
    try:
        client.close()
        cluster.close()
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
