"""What one load run measured and checked: latency percentiles per page, the database check."""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .participant import DUPLICATE_MESSAGE, LOGIN_PAGES, PAGES, Sample, Upload
from .seed import Seeded

if TYPE_CHECKING:
    from ramp_server.config import Settings


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def machine() -> str:
    """CPU model, cores, memory and load of this machine (the server runs on it too)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores{mem}, load average {load:.1f}"


@dataclass
class LoadReport:
    """Everything one run measured and checked."""

    backend: str
    participants: int
    duration_s: float
    think_s: float
    #: seconds for every participant to log in (all at once), then of the browsing
    login_s: float = 0.0
    wall_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    pages_by_participant: dict[str, set[str]] = field(default_factory=dict)
    db_problems: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    machine: str = ""

    @property
    def server_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None and s.status >= 500]

    @property
    def connection_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is None]

    @property
    def accepted(self) -> list[Upload]:
        return [u for u in self.uploads if u.submission_id is not None]

    @property
    def rejected(self) -> list[Upload]:
        return [u for u in self.uploads if u.submission_id is None]

    def table(self) -> str:
        by_page: dict[str, list[Sample]] = {p: [] for p in PAGES}
        for s in self.samples:
            by_page.setdefault(s.page, []).append(s)
        anchor = sorted(s.latency_s for s in by_page[PAGES[0]]) or [float("nan")]
        anchor_p95 = percentile(anchor, 0.95)
        lines = [
            f"{'page':26s} {'requests':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} "
            f"{'errors':>6s} {'p95/anchor':>10s}"
        ]
        for page, samples in by_page.items():
            if not samples:
                lines.append(f"{page:26s} {0:8d}")
                continue
            lat = sorted(s.latency_s for s in samples)
            p95 = percentile(lat, 0.95)
            lines.append(
                f"{page:26s} {len(lat):8d} {1000 * percentile(lat, 0.5):8.1f} "
                f"{1000 * p95:8.1f} {1000 * lat[-1]:8.1f} "
                f"{sum(not s.expected for s in samples):6d} {p95 / anchor_p95:9.1f}x"
            )
        browse = [s for s in self.samples if s.page not in LOGIN_PAGES]
        statuses = Counter(s.status for s in self.samples)
        unexpected = sum(not s.expected for s in self.samples)
        web = sum(u.via == "web" for u in self.accepted)
        dup = sum(DUPLICATE_MESSAGE in u.message for u in self.rejected)
        lines += [
            f"{self.participants} logins at once, all done in {self.login_s:.1f} s; then "
            f"{len(browse):,} requests in {self.wall_s:.1f} s "
            f"({len(browse) / max(self.wall_s, 1e-9):.0f} req/s)",
            f"statuses {dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))}",
            f"submissions: {len(self.accepted)} accepted ({web} web form, "
            f"{len(self.accepted) - web} API), {len(self.rejected)} refused "
            f"({dup} duplicate names, 400 with the reason)",
            f"server errors (5xx): {len(self.server_errors)}; connection errors: "
            f"{len(self.connection_errors)}; other unexpected responses: "
            f"{unexpected - len(self.server_errors) - len(self.connection_errors)}; "
            f"server tracebacks: {len(self.tracebacks)}",
            "database: "
            + (
                "every accepted submission present exactly once (files, folds), nothing else added"
                if not self.db_problems
                else f"{len(self.db_problems)} PROBLEM(S): " + "; ".join(self.db_problems[:5])
            ),
            f"{self.participants} participants, {self.duration_s:g} s, think time 0-"
            f"{2 * self.think_s:g} s between requests, {self.backend}, 1 uvicorn worker",
            f"machine: {self.machine}",
        ]
        for p in self.problems[:10]:
            lines.append(f"  problem: {p}")
        for tb in self.tracebacks[:2]:
            lines.append("  server traceback:\n" + tb[-1500:])
        return "\n".join(lines)


def check_database(settings: Settings, seeded: Seeded, report: LoadReport) -> list[str]:
    """Compare the event's submissions with what the server accepted; the problems found."""
    from sqlalchemy import func, select

    from ramp_server.db.engine import make_engine
    from ramp_server.db.models import Submission, SubmissionFile, SubmissionFold, User

    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Submission.id, User.name, Submission.name)
                .join(User, User.id == Submission.user_id)
                .where(Submission.event_id == seeded.event_id)
            ).all()
            n_files = dict(
                conn.execute(
                    select(SubmissionFile.submission_id, func.count()).group_by(
                        SubmissionFile.submission_id
                    )
                ).all()
            )
            n_folds = dict(
                conn.execute(
                    select(SubmissionFold.submission_id, func.count()).group_by(
                        SubmissionFold.submission_id
                    )
                ).all()
            )
    finally:
        engine.dispose()
    problems = []
    in_db = {sid: (user, name) for sid, user, name in rows if sid not in seeded.seeded_ids}
    accepted = {u.submission_id: (u.participant, u.name) for u in report.accepted}
    if len(accepted) != len(report.accepted):
        problems.append("the server gave one submission id to two accepted uploads")
    pairs = Counter((user, name) for _, user, name in rows)
    problems += [f"{u}/{n} is in the database {k} times" for (u, n), k in pairs.items() if k > 1]
    for sid, who in accepted.items():
        if sid not in in_db:
            problems.append(f"accepted submission #{sid} {who[0]}/{who[1]} is missing")
        elif in_db[sid] != who:
            problems.append(f"submission #{sid} is {in_db[sid]} in the database, accepted as {who}")
        elif n_files.get(sid) != 2 or n_folds.get(sid) != seeded.n_folds:
            problems.append(
                f"submission #{sid} has {n_files.get(sid, 0)} files and "
                f"{n_folds.get(sid, 0)} folds (expected 2 and {seeded.n_folds})"
            )
    problems += [
        f"submission #{sid} {u}/{n} is in the database but no upload was accepted for it"
        for sid, (u, n) in in_db.items()
        if sid not in accepted
    ]
    return problems
