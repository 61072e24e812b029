"""The dispatcher as a background service of ``ramp-server serve``, and the re-blend hook."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ramp_server.engine.dispatcher import Dispatcher
from ramp_server.engine.sandbox_policy import SandboxLimits, limits_from_settings, resolve_mode

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)


class DispatcherHandle:
    """A dispatcher running in a background thread (``ramp-server serve``); :meth:`stop` it."""

    def __init__(self, settings: Settings, *, n_workers: int | None = None) -> None:
        self.settings = settings
        self.n_workers = n_workers
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="ramp-dispatcher", daemon=True)

    def start(self) -> DispatcherHandle:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        from ramp_server.engine.cluster import close, connect
        from ramp_server.engine.sandbox_policy import SandboxUnavailable

        client = cluster = dispatcher = hook = None
        try:
            local = not self.settings.scheduler_address  # else the workers run the sandboxes
            resolve_mode(
                sandbox=self.settings.sandbox,
                allow_unsafe=self.settings.allow_unsafe_sandbox,
                local=local,
            )
            client, cluster = connect(self.settings, n_workers=self.n_workers)
            hook = ReblendHook(self.settings).start()
            dispatcher = Dispatcher(
                self.settings,
                client=client,
                limits=local_limits(self.settings, cluster),
                local_sandboxes=local,
                on_scored=hook.on_scored,
            )
            dispatcher.run(stop=self._stop)
        except SandboxUnavailable as exc:
            self.error = str(exc)
            log.error("dispatcher NOT started: %s", exc)
        except Exception as exc:  # noqa: BLE001 - reported on the admin page, logged
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("dispatcher stopped on an error")
        finally:
            if hook is not None:
                hook.close()
            if dispatcher is not None:
                dispatcher.close()
            if client is not None:
                close(client, cluster)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait for it (running folds are requeued at next start)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def start_background_dispatcher(
    settings: Settings, *, n_workers: int | None = None
) -> DispatcherHandle:
    """Start the dispatcher (and its embedded LocalCluster unless ``settings.scheduler_address``)
    in a daemon thread; call ``handle.stop()`` at shutdown. A missing sandbox is logged loudly
    and recorded in ``handle.error`` instead of raising."""
    return DispatcherHandle(settings, n_workers=n_workers).start()


def local_limits(settings: Settings, cluster: Any) -> SandboxLimits:
    """Default limits; on an embedded cluster the machine's cores are shared by its workers."""
    if cluster is None:
        return limits_from_settings(settings)  # each worker derives its share of cores itself
    n = max(1, len(getattr(cluster, "workers", {})) or settings.local_workers)
    return replace(limits_from_settings(settings), cpu_threads=max(1, (os.cpu_count() or 1) // n))


class ReblendHook:
    """The dispatcher process's re-blending: a debounced :class:`Reblender` fed by the
    dispatcher (:meth:`on_scored`, passed to it, after each newly scored submission) and by the
    durable re-blend marks any process sets in the database (:class:`BlendRequestPoller`);
    beside them, the e-mail outbox's sender thread (:class:`OutboxSender`)."""

    def __init__(self, settings: Settings, *, session_factory: Any = None) -> None:
        from ramp_server.db.engine import make_engine, make_session_factory
        from ramp_server.engine.blend_requests import BlendRequestPoller
        from ramp_server.engine.mail_sender import OutboxSender
        from ramp_server.engine.reblender import Reblender

        self._engine = None
        if session_factory is None:
            self._engine = make_engine(settings)
            session_factory = make_session_factory(self._engine)
        self.reblender = Reblender(settings, session_factory=session_factory)
        self.poller = BlendRequestPoller(
            self.reblender, session_factory=session_factory, poll_s=settings.reblend_poll_s
        )
        self.mailer = OutboxSender(settings, session_factory=session_factory)

    def on_scored(self, *, event_id: int, submission_id: int) -> None:
        """Re-blend at once (debounced); the durable mark is the poller's backup."""
        self.reblender.request(event_id)

    def start(self) -> ReblendHook:
        self.poller.start()
        self.mailer.start()
        return self

    def close(self, *, wait_s: float = 0.0) -> None:
        """Stop; with ``wait_s`` first blend what is requested and let pending re-blends finish
        (``--until-idle``)."""
        self.poller.stop()
        self.mailer.stop()
        if wait_s > 0:
            self.poller.drain(wait_s)
        self.reblender.stop()
        if self._engine is not None:
            self._engine.dispose()
