"""Dask preload of the embedded cluster's worker processes (``LocalCluster(preload=...)``).

A terminal's Ctrl-C reaches the whole process group: the dispatcher, its worker processes and
their sandboxes. Only the dispatcher should act on it (it stops the cluster and leaves the
running folds to be requeued); workers that died of it on their own would print tracebacks
and could report half-trained folds as failed. Sandboxes inherit the ignored signal.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:  # noqa: ARG001 - the preload protocol's signature
    """Ignore SIGINT in this worker process (Dask calls it when the worker starts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
