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
never holds a slot while its bytes trickle in; bodies over ``MAX_BUFFERED_BODY`` (refused
later anyway) are not buffered.
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
#: bytes of a request body read ahead of admission at most (uploads are far smaller)
MAX_BUFFERED_BODY = 16 << 20


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
        # one semaphore per event loop (a test client may run the app on several loops)
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        receive = await _read_ahead(receive)
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.limit)
        async with slots:
            await self.app(scope, receive, send)


async def _read_ahead(receive: Receive) -> Receive:
    """A ``receive`` that replays the request body read now (up to MAX_BUFFERED_BODY)."""
    messages: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > MAX_BUFFERED_BODY:
            break

    async def replay() -> Message:
        return messages.popleft() if messages else await receive()

    return replay
