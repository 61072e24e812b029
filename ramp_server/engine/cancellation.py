"""Killing running folds: the Dask ``Event`` that a fold's worker polls, set by the dispatcher.

Each fold's task has an event named :func:`~ramp_server.engine.tasks.cancel_event_name` of its
key; the worker kills the sandbox once it is set. The :class:`CancelWatcher` sets it when the
database no longer wants the fold trained (``ramp-server cancel``, the web page, an error of the
submission); the dispatcher also sets it on tasks it stops tracking (:func:`send_cancel`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from ramp_server.db.models import FoldState, SubmissionState

if TYPE_CHECKING:
    from distributed import Client
    from sqlalchemy.orm import Session, sessionmaker

    from ramp_server.engine.inflight import InFlight

# the kill lines are the dispatcher's narrative: they keep its logger name
log = logging.getLogger("ramp_server.engine.dispatcher")


def send_cancel(client: Client, name: str) -> bool:
    """Set the cancel event ``name``; False when it could not be set (best effort: the cluster
    may already be gone)."""
    from distributed import Event

    try:
        Event(name, client=client).set()
    except Exception:  # noqa: BLE001
        return False
    return True


class CancelWatcher:
    """Compares the running folds with their states in the database, at most once a second."""

    def __init__(self, *, client: Client, sessions: sessionmaker[Session]) -> None:
        self.client = client
        self.sessions = sessions
        self._last_watch = 0.0

    def watch(self, running: Collection[InFlight]) -> None:
        """Kill every running fold whose fold left ``training`` or whose submission was
        cancelled or failed; each is signalled once (``cancel_sent``)."""
        from ramp_server.services import jobs

        now = time.monotonic()
        if not running or now - self._last_watch < 1.0:
            return
        self._last_watch = now
        with self.sessions() as session:
            states = jobs.fold_states(session, fold_ids=[f.fold_id for f in running])
            sub_states = jobs.submission_states(
                session, submission_ids=list({f.submission_id for f in running})
            )
        for item in running:
            stale = states.get(item.fold_id) != FoldState.TRAINING or sub_states.get(
                item.submission_id
            ) in (SubmissionState.CANCELLED, SubmissionState.ERROR)
            if stale and not item.cancel_sent:
                log.info(
                    "dispatcher: killing fold %d of submission %d", item.fold, item.submission_id
                )
                # retried on the next round if the scheduler did not take it
                item.cancel_sent = send_cancel(self.client, item.cancel_name)

    def clear(self, item: InFlight) -> None:
        """Reset a finished fold's cancel event (best effort)."""
        from distributed import Event

        try:
            Event(item.cancel_name, client=self.client).clear()
        except Exception:  # noqa: BLE001
            pass
