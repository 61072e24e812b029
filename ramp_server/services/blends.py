"""An event's blends: what the re-blender writes, and what the pages read of it.

A blend is one :class:`~ramp_server.db.models.Blend` row (hybrid scores, picks, timings in
``details``) plus the per-submission columns it computed (``contributivity``,
``historical_contributivity``, ``shapley``). Writes are serialized per event (the event's row
lock) and a blend that started before the last written one is dropped, so a slow blend never
overwrites a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import Blend, Event, Submission, SubmissionCredit, SubmissionState, User
from ramp_server.services.blend_requests import clear_blend_request


@dataclass(frozen=True)
class BlendCandidate:
    """A scored submission of the event, in blend order (the earliest first)."""

    submission_id: int
    withdrawn: bool


@dataclass(frozen=True)
class BlendInputs:
    """What one re-blend of an event reads from the database (in one short transaction)."""

    event: Event
    event_id: int
    event_name: str
    official_score_name: str
    max_n_ensemble: int
    requested_at: datetime | None  # the re-blend mark as read before the submissions
    candidates: list[BlendCandidate]
    credits: dict[int, list[tuple[int, float]]]  # submission -> [(credited submission, %)]

    @property
    def blended_ids(self) -> list[int]:
        """Submissions in the blend: scored and not withdrawn, oldest first."""
        return [c.submission_id for c in self.candidates if not c.withdrawn]

    @property
    def scored_ids(self) -> list[int]:
        return [c.submission_id for c in self.candidates]


def blend_inputs(session: Session, *, event_id: int) -> BlendInputs:
    """Read the event's rules, its re-blend mark, its scored submissions and their credits.

    The mark is read first: a request made after this read is not covered by this blend and
    survives it (see :func:`record_blend`). Ends the transaction, so no lock is held while the
    caller blends.
    """
    event = session.get(Event, event_id, populate_existing=True)
    if event is None:
        raise LookupError(f"no event with id {event_id}")
    seen = event.blend_requested_at
    rows = session.execute(
        select(Submission.id, Submission.withdrawn_from_blend)
        .where(Submission.event_id == event_id, Submission.state == SubmissionState.SCORED)
        .order_by(Submission.submitted_at, Submission.id)  # the tie rule favours the earlier
    ).all()
    candidates = [BlendCandidate(sid, bool(w)) for sid, w in rows]
    credits: dict[int, list[tuple[int, float]]] = {}
    ids = [c.submission_id for c in candidates]
    for c in session.scalars(
        select(SubmissionCredit).where(SubmissionCredit.submission_id.in_(ids))
    ):
        credits.setdefault(c.submission_id, []).append((c.credited_submission_id, c.percent))
    inputs = BlendInputs(
        event=event,
        event_id=event.id,
        event_name=event.name,
        official_score_name=event.official_score_name,
        max_n_ensemble=int(event.max_n_ensemble or 80),
        requested_at=seen,
        candidates=candidates,
        credits=credits,
    )
    session.commit()
    return inputs


def record_blend(
    session: Session,
    *,
    inputs: BlendInputs,
    started_at: str,
    contributivity: dict[int, float],
    historical_contributivity: dict[int, float],
    shapley: dict[int, float] | None,
    blend: dict[str, Any] | None,
) -> Blend | None:
    """Write one re-blend of ``inputs.event_id``; **commits**. None when it was dropped.

    ``blend`` holds the :class:`~ramp_server.db.models.Blend` columns (``score_name``,
    ``combined_valid``, ... ``details``; None: nothing was blended, only the per-submission
    columns are reset). A blend whose ``started_at`` (ISO time) is older than the last written
    one's is dropped. The event's re-blend mark is cleared only if it still holds the value read
    by :func:`blend_inputs`. Scored submissions outside the blend get a contributivity of 0 and
    no Shapley value.
    """
    lock_row(session, Event, inputs.event_id)
    last = latest_blend(session, event_id=inputs.event_id)
    if last is not None and (last.details or {}).get("started_at", "") > started_at:
        session.rollback()
        return None
    clear_blend_request(session, event_id=inputs.event_id, seen=inputs.requested_at)
    in_blend = set(inputs.blended_ids)
    shapley = shapley or {}
    for s in session.scalars(select(Submission).where(Submission.id.in_(inputs.scored_ids))):
        s.contributivity = contributivity.get(s.id, 0.0) if s.id in in_blend else 0.0
        s.historical_contributivity = float(historical_contributivity.get(s.id, 0.0))
        s.shapley = shapley.get(s.id, 0.0) if s.id in in_blend and shapley else None
    row = None
    if blend is not None:
        row = Blend(event_id=inputs.event_id, **blend)
        session.add(row)
        session.flush()
    session.commit()
    return row


def latest_blend(session: Session, *, event_id: int) -> Blend | None:
    """The newest blend of an event (None before the first); ties: the last written."""
    return session.scalar(
        select(Blend)
        .where(Blend.event_id == event_id)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(1)
    )


def blend_history(session: Session, *, event: Event) -> list[dict[str, Any]]:
    """Every blend with a hybrid validation score, oldest first: its time, the hybrid score and
    the best single submission's validation score at that blend (None when not recorded)."""
    rows = session.execute(
        select(Blend.computed_at, Blend.combined_valid, Blend.details)
        .where(Blend.event_id == event.id, Blend.combined_valid.is_not(None))
        .order_by(Blend.computed_at, Blend.id)
    ).all()
    out = []
    for at, value, details in rows:
        best = (details or {}).get("best_single") or {}
        out.append(
            {
                "computed_at": at,
                "combined_valid": float(value),
                "best_single_valid": best.get("valid"),
            }
        )
    return out


def top_contributions(session: Session, *, event: Event, top: int = 15) -> list[dict[str, Any]]:
    """The submissions with the largest contributivity to the current hybrid model."""
    rows = session.execute(
        select(Submission.id, Submission.name, User.name, Submission.contributivity)
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, Submission.contributivity > 0)
        .order_by(Submission.contributivity.desc(), Submission.id)
        .limit(top)
    ).all()
    return [
        {"submission_id": sid, "submission": name, "user": user, "contributivity": float(c)}
        for sid, name, user, c in rows
    ]
