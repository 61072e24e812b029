"""A daemon thread that calls one step every few seconds, backing off while the step fails.

The dispatcher's process runs two of them beside the re-blender: the re-blend request poller
(:mod:`ramp_server.engine.blend_requests`) and the e-mail sender
(:mod:`ramp_server.engine.mail_sender`). A failing step (a database hiccup) is logged and
retried after ``interval_s × 2^failures`` (at most a minute), so it neither spins nor dies.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class PollingThread:
    """Subclasses define :meth:`step`, :attr:`thread_name` and :meth:`interval_s`."""

    thread_name = "polling"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> Any:
        """One pass of the work (also callable directly, without the thread)."""
        raise NotImplementedError

    def interval_s(self) -> float:
        """Seconds between two steps while they succeed."""
        raise NotImplementedError

    def start(self):  # noqa: ANN201 - returns self, of the subclass's type
        """Run :meth:`step` in a daemon thread until :meth:`stop`; returns self."""
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.step()
                failures = 0
            except Exception:  # noqa: BLE001 - a DB hiccup: log, back off, go on
                failures += 1
                log.exception("%s: a step failed (%d in a row)", self.thread_name, failures)
            self._stop.wait(min(60.0, self.interval_s() * 2**failures))
