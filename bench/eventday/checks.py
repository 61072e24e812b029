"""After the day: the database read back and checked against what the server accepted.

Nothing lost (every accepted upload is there), nothing added or duplicated (no other
submission, no (participant, name) twice), nothing stuck (every submission finished, every
fold scored, or counted as still waiting when the bench stopped), nothing scored twice (one
score row per fold, split and score type), every fold accounted for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ramp_server.config import Settings


@dataclass
class DayRecords:
    """The rows the figures are computed from (times as POSIX seconds)."""

    n_folds: int
    #: id -> {user, name, state, submitted, finished, error}
    submissions: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (submission id, fold) -> {state, attempts, started, finished, worker_finished, worker}
    folds: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: id -> {computed, started, n, duration}
    blends: dict[int, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: submissions still queued or training when the bench stopped (not lost: waiting)
    unfinished: list[int] = field(default_factory=list)
    #: folds whose log shows a real sandboxed run (no simulation line)
    real_folds: int = 0


def _ts(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.timestamp()


def read_day(settings: Settings, *, event: str, accepted: dict[int, tuple[str, str]]) -> DayRecords:
    """Read the event's submissions, folds and blends; check them against ``accepted``
    (submission id -> (participant, name) the server answered with)."""
    from sqlalchemy import func, select

    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.models import (
        Blend,
        Event,
        Score,
        Split,
        Submission,
        SubmissionFold,
        User,
    )

    engine = make_engine(settings)
    session = make_session_factory(engine)()
    try:
        ev = session.scalar(select(Event).where(Event.name == event))
        rec = DayRecords(n_folds=ev.n_folds)
        for s, user in session.execute(
            select(Submission, User.name)
            .join(User, User.id == Submission.user_id)
            .where(Submission.event_id == ev.id)
        ):
            rec.submissions[s.id] = {
                "user": user,
                "name": s.name,
                "state": s.state.value,
                "submitted": _ts(s.submitted_at),
                "finished": _ts(s.finished_at),
                "error": f"{s.error_kind}: {s.error_message}" if s.error_kind else None,
            }
        for f in session.scalars(
            select(SubmissionFold).where(SubmissionFold.submission_id.in_(list(rec.submissions)))
        ):
            rec.folds[(f.submission_id, f.fold)] = {
                "state": f.state.value,
                "attempts": f.attempts,
                "started": _ts(f.started_at),
                "finished": _ts(f.finished_at),
                "worker_finished": _ts(f.worker_finished_at),
                "worker": f.worker,
            }
            log = settings.storage_dir / f.log_path if f.log_path else None
            if log is not None and log.is_file() and b"simulated training" not in log.read_bytes():
                rec.real_folds += 1
        for b in session.scalars(select(Blend).where(Blend.event_id == ev.id)):
            rec.blends[b.id] = {
                "computed": _ts(b.computed_at),
                "started": _ts((b.details or {}).get("started_at")),
                "n": b.n_submissions,
                "duration": b.duration_s,
            }
        n_types = len(ev.score_types) or None
        twice = session.execute(
            select(Score.submission_id, Score.fold, Score.split, Score.score_name, func.count())
            .where(Score.event_id == ev.id, Score.split == Split.VALID)
            .group_by(Score.submission_id, Score.fold, Score.split, Score.score_name)
            .having(func.count() > 1)
        ).all()
        rec.problems += [f"scored twice: {row}" for row in twice]
        per_fold = Counter(
            (sid, fold)
            for sid, fold in session.execute(
                select(Score.submission_id, Score.fold).where(
                    Score.event_id == ev.id, Score.split == Split.VALID, Score.fold.is_not(None)
                )
            )
        )
    finally:
        session.close()
        engine.dispose()
    _check(rec, accepted=accepted, per_fold=per_fold, n_types=n_types)
    return rec


def _check(
    rec: DayRecords,
    *,
    accepted: dict[int, tuple[str, str]],
    per_fold: Counter,
    n_types: int | None,
) -> None:
    p = rec.problems
    for sid, (user, name) in accepted.items():
        got = rec.submissions.get(sid)
        if got is None:
            p.append(f"lost: submission {sid} ({user}/{name}) accepted but not in the database")
        elif (got["user"], got["name"]) != (user, name):
            p.append(f"submission {sid} is {got['user']}/{got['name']}, accepted as {user}/{name}")
    extra = set(rec.submissions) - set(accepted)
    p += [f"added: submission {sid} was never accepted" for sid in sorted(extra)]
    names = Counter((s["user"], s["name"]) for s in rec.submissions.values())
    p += [f"duplicated: {k} {n} times" for k, n in names.items() if n > 1]
    for sid, s in rec.submissions.items():
        folds = [rec.folds.get((sid, k)) for k in range(rec.n_folds)]
        if any(f is None for f in folds):
            p.append(f"submission {sid}: folds missing ({len([f for f in folds if f])})")
            continue
        if s["state"] in ("new", "queued", "training"):
            rec.unfinished.append(sid)
            continue
        if s["state"] != "scored":
            p.append(f"submission {sid} ended {s['state']}: {s['error']}")
            continue
        for k, f in enumerate(folds):
            if f["state"] != "scored":
                p.append(f"submission {sid} scored but fold {k} is {f['state']}")
            n = per_fold.get((sid, k), 0)
            if n == 0 or (n_types is not None and n != n_types):
                p.append(f"submission {sid} fold {k}: {n} validation score rows")
            if f["worker_finished"] is None:
                p.append(f"submission {sid} fold {k}: no worker finish time")
