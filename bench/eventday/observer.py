"""The organiser's eye: what the API shows, when (polled), and the database's size as it grows.

Polled about once a second with an administrator's token: every submission of the event
(``/api/events/{name}/submissions?all=true``) to see when each score becomes visible, and the
re-blends (``/api/events/{name}/contributivity``) to see when each blend becomes visible.
Times are POSIX seconds taken when the answer arrived (a figure includes up to one polling
period); the bench's result latency and hybrid staleness are built from them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from load.participant import Sample

from .crowd import KEEPALIVE


@dataclass
class Observed:
    """What the observer saw."""

    #: submission id -> first time it was seen scored / finished (scored, error, cancelled)
    scored_seen: dict[int, float] = field(default_factory=dict)
    finished_seen: dict[int, float] = field(default_factory=dict)
    #: blend id -> first time it was seen
    blend_seen: dict[int, float] = field(default_factory=dict)
    #: (scored submissions, database bytes) samples
    db_size: list[tuple[int, int]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    polls: int = 0


def _database_bytes(engine, sqlite_path: Path | None) -> int:  # noqa: ANN001
    from sqlalchemy import text

    if sqlite_path is not None:
        return sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())


def observe(
    *,
    base_url: str,
    token: str,
    event: str,
    db_url: str,
    stop: threading.Event,
    out: Observed,
    period_s: float = 1.0,
    size_every: int = 250,
) -> None:
    """Poll until ``stop`` is set; fills ``out`` (run it in a thread)."""
    import httpx
    from sqlalchemy import create_engine

    sqlite_path = Path(db_url.split("///", 1)[1]) if db_url.startswith("sqlite") else None
    engine = None if sqlite_path else create_engine(db_url, pool_size=1)
    http = httpx.Client(
        base_url=base_url,
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        limits=KEEPALIVE,
    )
    next_size = 0
    try:
        while not stop.is_set():
            t_next = time.monotonic() + period_s
            rows = _get(
                http,
                out,
                "observer: all submissions (API)",
                f"/api/events/{event}/submissions",
                params={"all": "true"},
            )
            now = time.time()
            for row in rows or []:
                if row["state"] == "scored":
                    out.scored_seen.setdefault(row["submission_id"], now)
                if row["state"] in ("scored", "error", "cancelled"):
                    out.finished_seen.setdefault(row["submission_id"], now)
            blends = _get(
                http,
                out,
                "observer: re-blends (API)",
                f"/api/events/{event}/contributivity",
                params={"top": "1"},
            )
            now = time.time()
            for b in (blends or {}).get("blends", []):
                out.blend_seen.setdefault(b["blend_id"], now)
            out.polls += 1
            if len(out.scored_seen) >= next_size:
                out.db_size.append((len(out.scored_seen), _database_bytes(engine, sqlite_path)))
                next_size = len(out.scored_seen) + size_every
            stop.wait(max(0.0, t_next - time.monotonic()))
        out.db_size.append((len(out.scored_seen), _database_bytes(engine, sqlite_path)))
    except Exception as exc:  # noqa: BLE001 - a driver bug must show in the report
        out.problems.append(f"observer: {type(exc).__name__}: {exc}")
    finally:
        http.close()
        if engine is not None:
            engine.dispose()


def _get(http, out: Observed, page: str, url: str, **kw):  # noqa: ANN001, ANN202
    import httpx

    t = time.perf_counter()
    try:
        r = http.get(url, **kw)
    except httpx.HTTPError as exc:
        out.samples.append(Sample(page, None, time.perf_counter() - t, False))
        out.problems.append(f"observer GET {url}: {type(exc).__name__}: {exc}")
        return None
    ok = r.status_code == 200
    out.samples.append(Sample(page, r.status_code, time.perf_counter() - t, ok))
    if not ok:
        out.problems.append(f"observer GET {url}: HTTP {r.status_code}: {r.text[:300]}")
        return None
    return r.json()
