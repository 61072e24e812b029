"""An event's blends: what the re-blender writes, and what the pages read of it.

A blend is one :class:`~ramp_server.db.models.Blend` row (hybrid scores, picks, timings in
``details``), its :class:`~ramp_server.db.models.BlendContribution` rows (each submission's
share in it: contributivity over time) and the per-submission columns it sets
(``contributivity``, ``historical_contributivity``). Writes are serialized per event (the
event's row lock) and a blend that started before the last written one is dropped, so a slow
blend never overwrites a newer one.

The expensive extras (Shapley values, the nested honest score, bootstrap intervals) are written
apart, later, by :func:`record_extras`: on the blend they were computed for, with their own time
(``details["extras"]["computed_at"]``), and into ``submissions.shapley``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Blend,
    BlendContribution,
    Event,
    Submission,
    SubmissionCredit,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services.blend_requests import clear_blend_request


@dataclass(frozen=True)
class BlendCandidate:
    """A scored submission of the event, in blend order (the earliest first); ``scored_at``
    changes when it is scored again (its predictions changed)."""

    submission_id: int
    withdrawn: bool
    scored_at: datetime | None = None


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
        select(Submission.id, Submission.withdrawn_from_blend, Submission.finished_at)
        .where(Submission.event_id == event_id, Submission.state == SubmissionState.SCORED)
        .order_by(Submission.submitted_at, Submission.id)  # the tie rule favours the earlier
    ).all()
    candidates = [BlendCandidate(sid, bool(w), at) for sid, w, at in rows]
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
    blend: dict[str, Any] | None,
    shapley: dict[int, float] | None = None,
) -> Blend | None:
    """Write one re-blend of ``inputs.event_id``; **commits**. None when it was dropped.

    ``blend`` holds the :class:`~ramp_server.db.models.Blend` columns (``score_name``,
    ``combined_valid``, ... ``details``; None: nothing was blended, only the per-submission
    columns are reset). A blend whose ``started_at`` (ISO time) is older than the last written
    one's is dropped. The event's re-blend mark is cleared only if it still holds the value read
    by :func:`blend_inputs`. Scored submissions outside the blend get a contributivity of 0; only
    the submissions whose values change are written. ``shapley`` (computed with the blend, as
    ``ramp-server event reblend --now`` does) is written as :func:`record_extras` would.
    """
    lock_row(session, Event, inputs.event_id)
    last = latest_blend(session, event_id=inputs.event_id)
    if last is not None and (last.details or {}).get("started_at", "") > started_at:
        session.rollback()
        return None
    clear_blend_request(session, event_id=inputs.event_id, seen=inputs.requested_at)
    in_blend = set(inputs.blended_ids)
    current = session.execute(
        select(
            Submission.id, Submission.contributivity, Submission.historical_contributivity
        ).where(Submission.id.in_(inputs.scored_ids))
    ).all()
    changes = []
    for sid, old_c, old_h in current:
        c = float(contributivity.get(sid, 0.0)) if sid in in_blend else 0.0
        h = float(historical_contributivity.get(sid, 0.0))
        if (old_c, old_h) != (c, h):
            changes.append({"id": sid, "contributivity": c, "historical_contributivity": h})
    if changes:
        session.execute(update(Submission), changes)
    row = None
    if blend is not None:
        row = Blend(event_id=inputs.event_id, **blend)
        session.add(row)
        session.flush()
        shares = [
            {
                "blend_id": row.id,
                "submission_id": sid,
                "contributivity": float(contributivity.get(sid, 0.0)) if sid in in_blend else 0.0,
                "historical_contributivity": float(historical_contributivity.get(sid, 0.0)),
            }
            for sid in inputs.scored_ids
            if contributivity.get(sid) or historical_contributivity.get(sid)
        ]
        if shares:
            session.execute(insert(BlendContribution), shares)
    if shapley is not None:
        _write_shapley(session, inputs=inputs, shapley=shapley)
    session.commit()
    return row


def _write_shapley(session: Session, *, inputs: BlendInputs, shapley: dict[int, float]) -> None:
    in_blend = set(inputs.blended_ids)
    rows = [
        {"id": sid, "shapley": float(shapley.get(sid, 0.0)) if sid in in_blend else None}
        for sid in inputs.scored_ids
    ]
    if rows:
        session.execute(update(Submission), rows)


def record_extras(
    session: Session,
    *,
    inputs: BlendInputs,
    blend_id: int,
    shapley: dict[int, float],
    nested_valid: float | None,
    extras: dict[str, Any],
    computed_at: datetime | None = None,
) -> bool:
    """Write the extras computed for the blend ``blend_id`` (**commits**): its nested score,
    ``details["shapley"]``, ``details["ci95"]`` and ``details["extras"]`` (their time), and each
    blended submission's Shapley value. False when a newer blend's extras were already written
    (these are dropped)."""
    computed_at = computed_at or utcnow()
    lock_row(session, Event, inputs.event_id)
    newer = session.scalar(
        select(func.max(Blend.id)).where(
            Blend.event_id == inputs.event_id, Blend.extras_at.is_not(None)
        )
    )
    if newer is not None and newer > blend_id:
        session.rollback()
        return False
    row = session.get(Blend, blend_id, populate_existing=True)
    if row is None:
        session.rollback()
        return False
    details = dict(row.details or {})
    details.update(
        shapley=extras.get("shapley"),
        ci95=extras.get("ci95", {}),
        players=extras.get("players", []),
        extras={"computed_at": computed_at.isoformat(), "time_s": extras.get("time_s", {})},
    )
    row.details = details
    row.nested_valid = nested_valid
    row.extras_at = computed_at
    _write_shapley(session, inputs=inputs, shapley=shapley)
    session.commit()
    return True


def latest_blend(session: Session, *, event_id: int) -> Blend | None:
    """The newest blend of an event (None before the first); ties: the last written."""
    return session.scalar(
        select(Blend)
        .where(Blend.event_id == event_id)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(1)
    )


def latest_extras(session: Session, *, event_id: int) -> Blend | None:
    """The newest blend whose extras were written (its Shapley values and nested score are the
    ones the pages show, "as of" its ``extras_at``)."""
    return session.scalar(
        select(Blend)
        .where(Blend.event_id == event_id, Blend.extras_at.is_not(None))
        .order_by(Blend.extras_at.desc(), Blend.id.desc())
        .limit(1)
    )


def contributivity_history(session: Session, *, submission: Submission) -> list[dict[str, Any]]:
    """The submission's share of every blend of its event since it was first blended, oldest
    first: ``{"blend_id", "computed_at", "contributivity", "historical_contributivity"}`` (0 in
    the blends it had no share of)."""
    shares = {
        b: (c, h)
        for b, c, h in session.execute(
            select(
                BlendContribution.blend_id,
                BlendContribution.contributivity,
                BlendContribution.historical_contributivity,
            ).where(BlendContribution.submission_id == submission.id)
        )
    }
    if not shares:
        return []
    rows = session.execute(
        select(Blend.id, Blend.computed_at)
        .where(Blend.event_id == submission.event_id, Blend.id >= min(shares))
        .order_by(Blend.computed_at, Blend.id)
    ).all()
    return [
        {
            "blend_id": bid,
            "computed_at": at,
            "contributivity": shares.get(bid, (0.0, 0.0))[0],
            "historical_contributivity": shares.get(bid, (0.0, 0.0))[1],
        }
        for bid, at in rows
    ]


def contributivity_over_time(session: Session, *, event: Event, top: int = 8) -> dict[str, Any]:
    """How the largest contributivities of the event changed as submissions arrived: the
    ``blends`` (id, time, number of submissions) and, for the ``top`` submissions by their
    largest share ever, their share of each blend (``series``)."""
    leaders = session.execute(
        select(BlendContribution.submission_id, func.max(BlendContribution.contributivity))
        .join(Blend, Blend.id == BlendContribution.blend_id)
        .where(Blend.event_id == event.id)
        .group_by(BlendContribution.submission_id)
        .order_by(
            func.max(BlendContribution.contributivity).desc(), BlendContribution.submission_id
        )
        .limit(top)
    ).all()
    ids = [sid for sid, _ in leaders]
    blends = session.execute(
        select(Blend.id, Blend.computed_at, Blend.n_submissions)
        .where(Blend.event_id == event.id)
        .order_by(Blend.computed_at, Blend.id)
    ).all()
    shares: dict[int, dict[int, float]] = {sid: {} for sid in ids}
    for bid, sid, c in session.execute(
        select(
            BlendContribution.blend_id,
            BlendContribution.submission_id,
            BlendContribution.contributivity,
        ).where(BlendContribution.submission_id.in_(ids))
    ):
        shares[sid][bid] = c
    names = {
        sid: (name, user)
        for sid, name, user in session.execute(
            select(Submission.id, Submission.name, User.name)
            .join(User, User.id == Submission.user_id)
            .where(Submission.id.in_(ids))
        )
    }
    series = []
    for sid in ids:
        first = min(shares[sid])
        series.append(
            {
                "submission_id": sid,
                "submission": names[sid][0],
                "user": names[sid][1],
                "points": [
                    {"blend_id": bid, "contributivity": shares[sid].get(bid, 0.0)}
                    for bid, _, _ in blends
                    if bid >= first
                ],
            }
        )
    return {
        "blends": [{"blend_id": b, "computed_at": at, "n_submissions": n} for b, at, n in blends],
        "series": series,
    }


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
