"""Admission: at most as many requests at once as the database pool has connections.

Why: FastAPI runs the blocking steps of a request (its dependencies, its handler, the validation
of its response) one after the other in a shared pool of threads (40), and the request's session
keeps its pooled connection from its first query until the request ends, also while the request
waits for a free thread between two steps. With more requests in flight than connections, every
thread could end up waiting for a connection that only requests waiting for a thread could give
back: they all waited for the pool's timeout (30 s), then answered 500. Admitted at most
pool-size at a time, a request never waits for a connection; the others wait their turn in the
event loop, in order, holding nothing.

A request body (an upload) is read before the request waits for its turn, so a slow client
never holds a slot while its bytes trickle in. Read-ahead is bounded: at most
``MAX_BUFFERED_BODY`` per request (uploads are far smaller and bigger ones are refused later
anyway) and ``MAX_BUFFERED_TOTAL`` for all waiting requests together; beyond that a body
streams in after admission, as without this middleware.

``/healthz`` (the container health check) has its own single slot: a busy site still answers
it, and a flood of health checks cannot take the threads that admitted requests need.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: paths that never touch the database (served even while every slot is taken)
UNLIMITED_PREFIXES = ("/static/",)
#: bytes of one request body read ahead of admission at most (uploads are far smaller)
MAX_BUFFERED_BODY = 1 << 20
#: bytes read ahead for all the requests of a process together
MAX_BUFFERED_TOTAL = 64 << 20
#: the health check, admitted on its own
HEALTH_PATH = "/healthz"


def pool_capacity(engine: Engine) -> int | None:
    """How many connections ``engine``'s pool hands out at most (``None``: no limit)."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None  # NullPool, SingletonThreadPool, StaticPool: nobody waits for a connection
    overflow = pool._max_overflow  # no public getter; -1 means unlimited
    return None if overflow < 0 else pool.size() + overflow


class AdmissionMiddleware:
    """Pure ASGI middleware letting at most ``limit`` HTTP requests in at once (FIFO)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"admission limit must be at least 1, not {limit}")
        self.app = app
        self.limit = limit
        # semaphores per event loop (a test client may run the app on several loops)
        self._slots: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()
        self.buffered = 0  # bytes read ahead by the requests waiting or running now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = (asyncio.Semaphore(self.limit), asyncio.Semaphore(1))
        slots, health = self._slots[loop]
        if scope["path"] == HEALTH_PATH:
            async with health:
                await self.app(scope, receive, send)
            return
        receive, size = await self._read_ahead(scope, receive)
        try:
            async with slots:
                await self.app(scope, receive, send)
        finally:
            self.buffered -= size

    async def _read_ahead(self, scope: Scope, receive: Receive) -> tuple[Receive, int]:
        """A ``receive`` replaying the body read now, and its size (counted in ``buffered``)."""
        if scope.get("method") in ("GET", "HEAD"):
            return receive, 0  # no body
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        try:
            declared_size = int(declared)
        except ValueError:
            declared_size = 0
        room = min(MAX_BUFFERED_BODY, MAX_BUFFERED_TOTAL - self.buffered)
        if declared_size > room:
            return receive, 0  # too big to hold: it streams in after admission
        messages: deque[Message] = deque()
        size = 0
        try:
            while size <= room:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":  # the client went away
                    break
                chunk = len(message.get("body", b""))
                size += chunk
                self.buffered += chunk
                if not message.get("more_body", False):
                    break
        except BaseException:
            self.buffered -= size
            raise

        async def replay() -> Message:
            return messages.popleft() if messages else await receive()

        return replay, size
