"""Events: creation from a kit folder (folds computed once), rules, opening and closing.

Who takes part is in :mod:`ramp_server.services.participants`.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import (
    CVFold,
    Event,
    LeaderboardVisibility,
    User,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError
from ramp_server.services.blend_requests import request_blend
from ramp_server.storage import Storage, atomic_write_bytes

if TYPE_CHECKING:
    from ramp_server.config import Settings

EVENT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")

#: rules an organizer may set at creation and change later, with their types
RULES: dict[str, type | tuple[type, ...]] = {
    "title": str,
    "description": str,
    "opening_at": (datetime, type(None)),
    "public_opening_at": (datetime, type(None)),
    "closing_at": (datetime, type(None)),
    "min_delay_s": int,
    "daily_quota": (int, type(None)),
    "upload_max_bytes": int,
    "fold_time_limit_s": int,
    "memory_limit_mb": int,
    "uses_gpu": bool,
    "max_n_ensemble": int,
    "max_running_folds": (int, type(None)),
    "worker_time_budget_s": (int, type(None)),
    "max_team_size": (int, type(None)),
    "team_formation_until": (datetime, type(None)),
    "freeze_at": (datetime, type(None)),
    "approval_required": bool,
    "leaderboard_visibility": (LeaderboardVisibility, str),
    "official_score_name": str,
}
_NON_NEGATIVE = ("min_delay_s", "daily_quota")
_POSITIVE = (
    "upload_max_bytes",
    "fold_time_limit_s",
    "memory_limit_mb",
    "max_n_ensemble",
    "max_running_folds",
    "worker_time_budget_s",
    "max_team_size",
)
#: what the kit snapshot keeps besides problem.py (the data goes to the public bundle)
_KIT_EXTRAS = ("README.md", "requirements.txt", "environment.yml")


class EventError(ServiceError):
    """Invalid event settings or kit."""


def get_event(session: Session, *, name: str) -> Event:
    """The event called ``name``; :class:`NotFound` otherwise."""
    event = session.scalar(select(Event).where(Event.name == name))
    if event is None:
        raise NotFound(f"no event named {name!r} (list them with `ramp-server event list`)")
    return event


def list_events(session: Session) -> list[Event]:
    return list(session.scalars(select(Event).order_by(Event.created_at.desc(), Event.id.desc())))


# -- problem and folds ---------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _load_problem_cached(kit_dir: str, mtime_ns: int) -> ModuleType:
    from ramp_server.kit.scoring import check_problem, load_problem

    return check_problem(load_problem(kit_dir))


def event_problem(*, settings: Settings, event: Event) -> ModuleType:
    """The event's ``problem.py`` (its snapshot), imported once per process and change."""
    kit = Storage.from_settings(settings).resolve(event.kit_dir)
    return _load_problem_cached(str(kit), (kit / "problem.py").stat().st_mtime_ns)


@dataclass(frozen=True)
class Folds:
    train: list[np.ndarray]
    valid: list[np.ndarray]


@lru_cache(maxsize=32)
def _read_folds(path: str, mtime_ns: int) -> Folds:
    with np.load(path) as z:
        n = int(z["n_folds"])
        return Folds(
            train=[z[f"train_{k}"] for k in range(n)], valid=[z[f"valid_{k}"] for k in range(n)]
        )


def event_folds(*, settings: Settings, event: Event) -> Folds:
    """The event's CV folds (train and validation row indices), as stored at creation."""
    path = Storage.from_settings(settings).folds_path(event.name)
    return _read_folds(str(path), path.stat().st_mtime_ns)


def score_type_specs(problem: ModuleType) -> list[dict[str, Any]]:
    """``[{name, precision, is_lower_better}]`` of a problem's score types (official first)."""
    return [
        {
            "name": st.name,
            "precision": int(getattr(st, "precision", 4)),
            "is_lower_better": bool(st.is_lower_the_better),
        }
        for st in problem.score_types
    ]


# -- creation and rules ------------------------------------------------------------------------


def _check_rules(rules: dict[str, Any], *, score_names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in rules.items():
        if key not in RULES:
            raise EventError(f"unknown event setting {key!r}; known: {', '.join(sorted(RULES))}")
        types = RULES[key] if isinstance(RULES[key], tuple) else (RULES[key],)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise EventError(f"event setting {key}={value!r} has the wrong type")
        if isinstance(value, datetime) and value.tzinfo is None:
            raise EventError(f"event setting {key}: give a time zone (e.g. 2026-05-01T12:00Z)")
        if key in _NON_NEGATIVE and value is not None and value < 0:
            raise EventError(f"event setting {key} must be >= 0, got {value}")
        if key in _POSITIVE and value is not None and value <= 0:
            raise EventError(f"event setting {key} must be > 0, got {value}")
        if key == "leaderboard_visibility":
            try:
                value = LeaderboardVisibility(value)
            except ValueError:
                choices = ", ".join(v.value for v in LeaderboardVisibility)
                raise EventError(f"leaderboard_visibility must be one of {choices}") from None
        if key == "official_score_name" and value not in score_names:
            raise EventError(f"official_score_name {value!r} is not a score type: {score_names}")
        if key == "title" and not value.strip():
            raise EventError("the event title must not be empty")
        out[key] = value
    return out


def _check_dates(event: Event) -> None:
    seq = [
        ("opening_at", event.opening_at),
        ("public_opening_at", event.public_opening_at),
        ("closing_at", event.closing_at),
    ]
    given = [(k, v) for k, v in seq if v is not None]
    for (k1, v1), (k2, v2) in zip(given, given[1:], strict=False):
        if v1 > v2:
            raise EventError(f"{k1} ({v1.isoformat()}) must not be after {k2} ({v2.isoformat()})")
    if event.freeze_at is not None and event.closing_at is not None:
        if event.freeze_at > event.closing_at:
            raise EventError(
                f"freeze_at ({event.freeze_at.isoformat()}) must not be after closing_at "
                f"({event.closing_at.isoformat()}): freeze the board before the deadline"
            )


def _copy_kit(kit_dir: Path, dest: Path) -> None:
    """Snapshot problem.py, the starting-kit submissions (.py files only) and small docs."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(kit_dir / "problem.py", dest / "problem.py")
    for name in _KIT_EXTRAS:
        if (kit_dir / name).is_file():
            shutil.copy2(kit_dir / name, dest / name)
    subs = kit_dir / "submissions"
    if subs.is_dir():
        for sub in sorted(p for p in subs.iterdir() if p.is_dir()):
            for f in sorted(sub.glob("*.py")):
                (dest / "submissions" / sub.name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / "submissions" / sub.name / f.name)


def create_event_from_kit(
    session: Session,
    *,
    settings: Settings,
    slug: str,
    kit_dir: str | Path,
    progress: bool = False,
    **rules: Any,
) -> Event:
    """Create an event from a kit folder (``problem.py`` + ``data/``).

    Exports the public bundle (what workers see) and the private test labels, computes the CV
    folds ONCE with the kit's ``get_cv`` and stores them, snapshots ``problem.py`` and the
    starting kit. ``rules`` are any of :data:`RULES`. The event row is flushed, not committed.
    """
    from ramp_server.kit import dataset
    from ramp_server.kit.scoring import ProblemError, check_problem, load_problem

    if not EVENT_NAME_RE.match(slug):
        raise EventError(
            f"event name {slug!r} is invalid: 2-64 lower-case letters, digits, '_' or '-'"
        )
    if session.scalar(select(Event.id).where(Event.name == slug)) is not None:
        raise EventError(f"an event named {slug!r} already exists; use `ramp-server event update`")
    kit = Path(kit_dir).resolve()
    if not (kit / "problem.py").is_file():
        raise EventError(f"{kit}: not a kit folder (no problem.py)")
    data_dir = kit / "data"
    try:
        problem = check_problem(load_problem(kit))
    except ProblemError as exc:
        raise EventError(str(exc)) from exc
    specs = score_type_specs(problem)
    names = [s["name"] for s in specs]
    checked = _check_rules(rules, score_names=names)

    storage = Storage.from_settings(settings)
    storage.init()
    public = storage.public_dir(slug)
    try:
        dataset.export_public_bundle(data_dir, public, progress=progress)
        _, y_test = dataset.load_split(data_dir, "test", progress=progress)
    except dataset.DataError as exc:
        raise EventError(str(exc)) from exc
    bundle = dataset.load_public_bundle(public)
    label_buf = _npy_bytes(np.asarray(y_test, dtype=np.int64))
    atomic_write_bytes(storage.test_labels_path(slug), label_buf, mode=0o600)

    y_train = np.asarray(bundle.train_labels)
    cv = list(problem.get_cv(bundle.train_images, y_train))
    if not cv:
        raise EventError(f"{kit}/problem.py: get_cv returned no fold")
    arrays: dict[str, np.ndarray] = {"n_folds": np.array(len(cv))}
    for k, (tr, va) in enumerate(cv):
        arrays[f"train_{k}"] = np.asarray(tr, dtype=np.int64)
        arrays[f"valid_{k}"] = np.asarray(va, dtype=np.int64)
    atomic_write_bytes(storage.folds_path(slug), _npz_bytes(arrays))
    _copy_kit(kit, storage.kit_dir(slug))

    event = Event(
        name=slug,
        title=checked.pop("title", None) or getattr(problem, "problem_title", slug),
        kit_dir=storage.relative(storage.kit_dir(slug)),
        n_folds=len(cv),
        cv_seed=int(getattr(problem, "CV_SEED", 0)),
        n_train=len(y_train),
        n_test=len(y_test),
        score_types=specs,
        official_score_name=checked.pop("official_score_name", names[0]),
        **checked,
    )
    _check_dates(event)
    session.add(event)
    session.flush()
    rel = storage.relative(storage.folds_path(slug))
    for k, (tr, va) in enumerate(cv):
        session.add(CVFold(event_id=event.id, fold=k, path=rel, n_train=len(tr), n_valid=len(va)))
    session.flush()
    return event


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def update_event(session: Session, *, event: Event, **rules: Any) -> Event:
    """Change rules of an event (the folds and data never change once created); a change of a
    rule the blend uses (``max_n_ensemble``, the official score) requests a re-blend."""
    checked = _check_rules(rules, score_names=[s["name"] for s in event.score_types])
    reblend = any(
        getattr(event, key) != checked[key]
        for key in ("max_n_ensemble", "official_score_name")
        if key in checked
    )
    for key, value in checked.items():
        setattr(event, key, value)
    _check_dates(event)
    session.flush()
    if reblend:
        request_blend(session, event_id=event.id)
    return event


def close_event(session: Session, *, event: Event, now: datetime | None = None) -> Event:
    """Close the event: no more submissions, the private leaderboard becomes public."""
    event.closed = True
    event.closed_at = now or utcnow()
    session.flush()
    return event


# -- phases and participants -------------------------------------------------------------------


def is_open(event: Event, *, now: datetime | None = None) -> bool:
    """True while the event accepts submissions (opened, not past closing, not closed)."""
    now = now or utcnow()
    if event.closed:
        return False
    if event.opening_at is not None and now < event.opening_at:
        return False
    return not (event.closing_at is not None and now >= event.closing_at)


def is_closed(event: Event, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return event.closed or (event.closing_at is not None and now >= event.closing_at)


def is_collaborative(event: Event, *, now: datetime | None = None) -> bool:
    """True after the public (collaborative) opening: code of others becomes visible."""
    now = now or utcnow()
    if event.public_opening_at is None:
        return is_closed(event, now=now)
    return now >= event.public_opening_at


def can_see_private_leaderboard(event: Event, *, user: User | None, now: datetime | None = None):
    """Admins always; everyone once the event is closed."""
    return bool(user is not None and user.is_admin) or is_closed(event, now=now)
