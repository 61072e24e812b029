"""Connecting to Dask: an embedded ``LocalCluster`` (processes) or a real scheduler."""

from __future__ import annotations

import logging
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
