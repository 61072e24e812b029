"""Progress reports of running folds, from the Dask workers to ``submission_folds``.

A worker publishes every report its sandbox writes on the Dask topic
:data:`~ramp_server.engine.tasks.PROGRESS_TOPIC`. The relay queues them as they arrive (on the
client's event loop) and, on the dispatcher's thread, stores the latest report of each fold,
keeps every epoch's report in ``progress_log`` (:mod:`ramp_server.services.progress`, the
learning curves) and logs the epoch: the terminal's view of training.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ramp_server.engine.tasks import PROGRESS_TOPIC

if TYPE_CHECKING:
    from distributed import Client
    from sqlalchemy.orm import Session, sessionmaker

# the progress lines are the dispatcher's narrative: they keep its logger name
log = logging.getLogger("ramp_server.engine.dispatcher")


class ProgressRelay:
    """Subscribes to the workers' progress topic; :meth:`drain` stores what arrived since."""

    def __init__(self, *, client: Client, sessions: sessionmaker[Session]) -> None:
        self.client = client
        self.sessions = sessions
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_event)

    def close(self) -> None:
        """Stop listening (best effort: the cluster may already be gone)."""
        try:
            self.client.unsubscribe_topic(PROGRESS_TOPIC)
        except Exception:  # noqa: BLE001
            pass

    def _on_event(self, event: Any) -> None:
        # runs on the client's event loop: hand over to the dispatcher thread
        _, msg = event
        if isinstance(msg, dict):
            self._queue.put(msg)

    def drain(self, *, running: Iterable[Any]) -> None:
        """Store the latest report of each fold heard from, and every epoch reported in the
        progress log; the ``running`` folds (with ``submission_id``, ``fold`` and ``label``)
        name them in the log lines."""
        from ramp_server.services import jobs
        from ramp_server.services import progress as progress_log

        heard: dict[tuple[int, int], list[dict[str, Any]]] = {}
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                heard.setdefault((int(msg["submission_id"]), int(msg["fold"])), []).append(msg)
            except (KeyError, TypeError, ValueError):
                continue
        if not heard:
            return
        labels = {(f.submission_id, f.fold): f.label for f in running}
        with self.sessions() as session:
            for (sid, fold), msgs in heard.items():
                msg = msgs[-1]
                # every epoch heard since the last drain goes to the learning curve (committed
                # with the fold's latest report just below)
                progress_log.record_progress(
                    session,
                    submission_id=sid,
                    fold=fold,
                    reports=[clean_progress(m.get("progress")) or {} for m in msgs],
                )
                progress = clean_progress(msg.get("progress"))
                line = _describe_progress(progress) if progress else None
                if line:  # the terminal's view of training
                    log.info(
                        "dispatcher: %s: fold %d %s",
                        labels.get((sid, fold), f"submission {sid}"),
                        fold,
                        line,
                    )
                jobs.note_fold_run(
                    session,
                    submission_id=sid,
                    fold=fold,
                    progress=progress,
                    worker=msg.get("worker"),
                )


def clean_progress(progress: Any) -> dict[str, Any] | None:
    """A participant's progress report reduced to at most 20 scalar entries (short strings)."""
    if not isinstance(progress, dict):
        return None
    out: dict[str, Any] = {}
    for k, v in list(progress.items())[:20]:
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[str(k)[:64]] = v[:200] if isinstance(v, str) else v
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe_progress(progress: dict[str, Any]) -> str | None:
    """``epoch 3/15, loss 1.234, valid_acc 0.412`` from a workflow progress report, or None.

    The report comes from participant code: only integers, floats and identifier-like names
    reach the log, so it cannot forge log lines (newlines, terminal escapes).
    """
    epoch, n_epochs = progress.get("epoch"), progress.get("n_epochs")
    if not _is_int(epoch):
        return None
    parts = [f"epoch {epoch}/{n_epochs if _is_int(n_epochs) else '?'}"]
    for key, value in progress.items():
        if key not in ("epoch", "n_epochs") and isinstance(value, float) and key.isidentifier():
            parts.append(f"{key} {value:.3f}")
    return ", ".join(parts[:5])
