"""The seeded database of the load run: a tiny synthetic kit, its event, N participants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ramp_server.kit.folder import write_kit_folder

if TYPE_CHECKING:
    from ramp_server.config import Settings

REPO = Path(__file__).resolve().parents[2]
EVENT = "load"
PASSWORD = "load-password-1"
#: argon2 parameters of the web tests (tests/web/conftest.py): same code paths, ~1 ms a hash
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@dataclass(frozen=True)
class Seeded:
    """What the load needs from the seeded database."""

    event: str
    event_id: int
    #: (user name, API token) of every participant
    participants: list[tuple[str, str]]
    #: ids of the submissions seeded before the load (scored, on the leaderboard)
    seeded_ids: frozenset[int]
    n_folds: int


def make_kit(root: Path, *, n_images: int = 300, seed: int = 0) -> Path:
    """A kit folder (the repository's problem.py and starting kit, tiny synthetic data)."""
    from ramp_server.kit.synth import generate

    write_kit_folder(root)
    generate(root / "data", seed=seed, n=n_images, n_jobs=1, progress=False)
    return root


def seed_database(
    settings: Settings,
    *,
    kit_dir: Path,
    participants: int,
    scored: int,
    cheap_password_hashing: bool,
    rules: dict[str, Any] | None = None,
) -> Seeded:
    """Migrate, then add the event, ``participants`` users (joined, each with an API token) and
    ``scored`` scored submissions spread over the first participants. ``rules`` are event
    rules (``events.RULES``) over the load's own (no delay, no quota, others' code public)."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert, select

    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.migrate import upgrade
    from ramp_server.db.models import User
    from ramp_server.services import accounts, events, passwords
    from ramp_server.services import participants as participants_service

    engine = make_engine(settings)
    upgrade(engine)
    session = make_session_factory(engine)()
    try:
        event = events.create_event_from_kit(
            session,
            settings=settings,
            slug=EVENT,
            kit_dir=kit_dir,
            title="Load test",
            **{
                "min_delay_s": 0,
                "daily_quota": None,
                # others' code and pages are viewable
                "public_opening_at": datetime.now(UTC) - timedelta(days=1),
                **(rules or {}),
            },
        )
        session.commit()
        # argon2 is slow on purpose: one hash shared by every participant
        if cheap_password_hashing:
            shared_hash = PasswordHasher(**CHEAP_ARGON2).hash(PASSWORD)
        else:
            shared_hash = passwords.hash_password(PASSWORD)
        names = [f"p{i:03d}" for i in range(participants)]
        session.execute(
            insert(User),
            [
                {
                    "name": n,
                    "email": f"{n}@example.org",
                    "full_name": "",
                    "password_hash": shared_hash,
                    "is_admin": False,
                    "is_active": True,
                }
                for n in names
            ],
        )
        users = list(session.scalars(select(User).where(User.name.in_(names)).order_by(User.name)))
        tokens = []
        for user in users:
            participants_service.join_event(session, event=event, user=user)
            _, raw = accounts.create_api_token(session, user=user, name="load")
            tokens.append((user.name, raw))
        session.commit()
        seeded: list[int] = []
        owners = users[: max(1, min(len(users), scored // 2))]
        for k, user in enumerate(owners):
            n = scored // len(owners) + (1 if k < scored % len(owners) else 0)
            if n:
                seeded += _scored_submissions(settings, session, event=event, user=user, n=n)
        session.commit()
        return Seeded(
            event=event.name,
            event_id=event.id,
            participants=tokens,
            seeded_ids=frozenset(seeded),
            n_folds=event.n_folds,
        )
    finally:
        session.close()
        engine.dispose()


def _scored_submissions(settings: Settings, session, *, event, user, n: int) -> list[int]:  # noqa: ANN001
    """``n`` submissions of ``user`` made through the submit service (the starting kit's files)
    and scored on every fold through the results service, as the engine reports them, with
    synthetic predictions of increasing quality; their ids."""
    import numpy as np

    from ramp_server.blending.synthetic import synthetic_proba
    from ramp_server.kit.taxa import N_CLASSES
    from ramp_server.services import results, submissions
    from ramp_server.services.events import event_folds
    from ramp_server.services.predictions import event_labels

    kit = REPO / "submissions" / "starting_kit"
    files = {p.name: p.read_bytes() for p in sorted(kit.glob("*.py"))}
    y_train, y_test = event_labels(settings=settings, event=event)
    folds = event_folds(settings=settings, event=event)
    ids = []
    for i in range(n):
        sub = submissions.submit(
            session, settings=settings, event=event, user=user, name=f"m{i}", files=files
        )
        rng = np.random.default_rng((user.id, i))
        for k, valid in enumerate(folds.valid):
            results.record_fold_result(
                session,
                settings=settings,
                submission_id=sub.id,
                fold=k,
                valid_proba=synthetic_proba(rng, y_train[valid], N_CLASSES, strength=1.0 + i),
                test_proba=synthetic_proba(rng, y_test, N_CLASSES, strength=1.0 + i),
                train_time=1.0,
                valid_time=0.1,
                test_time=0.1,
            )
        ids.append(sub.id)
    return ids
