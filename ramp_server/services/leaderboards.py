"""Leaderboards: each one SQL query over submissions and bagged scores (never stored HTML).

Rows are plain dicts (JSON/CSV friendly). Scores are under ``"scores"`` as ``{name: value}`` in the
event's score-type order; the official score is ``event.official_score_name``. Which board a
user may see is decided by the caller (see :func:`ramp_server.services.events.can_see_private_leaderboard`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.orm import Session, aliased

from ramp_server.db.models import (
    Event,
    Score,
    Split,
    Submission,
    SubmissionState,
    User,
)


def _score_spec(event: Event, name: str) -> dict[str, Any]:
    for spec in event.score_types:
        if spec["name"] == name:
            return spec
    raise ValueError(
        f"unknown score {name!r}; this event's scores: {[s['name'] for s in event.score_types]}"
    )


def _with_scores(
    query: Select, event: Event, split: Split, prefix: str
) -> tuple[Select, dict[str, Any]]:
    """Add the bagged ``split`` score of each score type as columns ``<prefix><i>``.

    Correlated scalar subqueries (one primary-key-like index probe each) rather than joins: the
    same work per row, but PostgreSQL plans them in a fraction of the time of a 7-way join.
    """
    cols = {}
    for i, spec in enumerate(event.score_types):
        col = (
            select(Score.value)
            .where(
                Score.submission_id == Submission.id,
                Score.split == split,
                Score.fold.is_(None),
                Score.score_name == spec["name"],
            )
            .correlate(Submission)
            .scalar_subquery()
        )
        query = query.add_columns(col.label(f"{prefix}{i}"))
        cols[spec["name"]] = col
    return query, cols


def _order(col: Any, spec: dict[str, Any], best_first: bool = True) -> list[Any]:
    ascending = bool(spec["is_lower_better"]) == best_first
    return [col.is_(None), col.asc() if ascending else col.desc()]  # NULLs last on both backends


def _scores(row: Any, event: Event, prefix: str) -> dict[str, float | None]:
    m = row._mapping
    return {s["name"]: m[f"{prefix}{i}"] for i, s in enumerate(event.score_types)}


def _base(event: Event, select_from: Any = None) -> Select:
    """Columns of a leaderboard row; joined from ``submissions`` unless ``select_from`` is given
    (then the caller joins submissions and users)."""
    query = select(
        Submission.id,
        Submission.name,
        Submission.user_id,
        User.name.label("user"),
        Submission.submitted_at,
        Submission.train_time,
        Submission.valid_time,
        Submission.test_time,
        Submission.contributivity,
        Submission.historical_contributivity,
    )
    if select_from is None:
        query = query.select_from(Submission).join(User, User.id == Submission.user_id)
    else:
        query = query.select_from(select_from)
    return query.where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)


def _common(row: Any) -> dict[str, Any]:
    return {
        "submission_id": row.id,
        "submission": row.name,
        "user": row.user,
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
        "train_time": row.train_time,
        "valid_time": row.valid_time,
        "test_time": row.test_time,
        "contributivity": row.contributivity,
        "historical_contributivity": row.historical_contributivity,
    }


def public_leaderboard(
    session: Session,
    *,
    event: Event,
    sort_by: str | None = None,
    best_first: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Scored submissions with their bagged validation scores, best first by ``sort_by``.

    ``sort_by``: a score name (default: the official one), ``contributivity``,
    ``historical_contributivity``, ``train_time``, ``valid_time``, ``test_time`` or
    ``submitted_at``. Each row also has ``rank`` (position in this order, 1 = first).
    Sorted by a score, a page (``limit``/``offset``) is an ordered index scan of
    ``ix_scores_bagged``: fast at any number of submissions. Ties: the first scored ranks first.
    """
    names = [s["name"] for s in event.score_types]
    sort_by = sort_by or event.official_score_name
    if sort_by in names:
        key = aliased(Score, name="k")
        base = (
            _base(event, select_from=key)
            # "+ 0": no index probe of k by submission, so every planner (SQLite's included)
            # walks ix_scores_bagged in order and stops after the page
            .join(Submission, Submission.id == key.submission_id + 0)
            .join(User, User.id == Submission.user_id)
            .where(
                key.event_id == event.id,
                key.split == Split.VALID,
                key.fold.is_(None),
                key.score_name == sort_by,
            )
        )
        query, _ = _with_scores(base, event, Split.VALID, "v")
        ascending = bool(_score_spec(event, sort_by)["is_lower_better"]) == best_first
        order = [key.value.asc() if ascending else key.value.desc(), key.id]
    else:
        sortable = {
            "contributivity": (Submission.contributivity, False),
            "historical_contributivity": (Submission.historical_contributivity, False),
            "train_time": (Submission.train_time, True),
            "valid_time": (Submission.valid_time, True),
            "test_time": (Submission.test_time, True),
            "submitted_at": (Submission.submitted_at, False),
        }
        if sort_by not in sortable:
            raise ValueError(
                f"cannot sort by {sort_by!r}: use a score ({', '.join(names)}) or one of "
                f"{', '.join(sortable)}"
            )
        col, lower_better = sortable[sort_by]
        query, _ = _with_scores(_base(event), event, Split.VALID, "v")
        order = _order(col, {"is_lower_better": lower_better}, best_first)
        if sort_by == "submitted_at":  # never NULL: a plain order can walk the index
            order = order[1:]
        order.append(Submission.id)
    query = query.order_by(*order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for rank, row in enumerate(session.execute(query), start=offset + 1):
        d = _common(row)
        d["rank"] = rank
        d["scores"] = _scores(row, event, "v")
        rows.append(d)
    return rows


def count_scored(session: Session, *, event: Event) -> int:
    """Number of rows of the public leaderboard (for paging)."""
    return int(
        session.scalar(
            select(func.count(Submission.id)).where(
                Submission.event_id == event.id, Submission.state == SubmissionState.SCORED
            )
        )
        or 0
    )


def competition_leaderboard(
    session: Session, *, event: Event, include_test: bool = False
) -> list[dict[str, Any]]:
    """One submission per participant: the one they selected, else their best on validation.

    Ranked by the official validation score; with ``include_test`` (private phase) the rows also
    carry test scores and are ranked by the official test score.
    """
    official = _score_spec(event, event.official_score_name)
    query, vcols = _with_scores(_base(event), event, Split.VALID, "v")
    if include_test:
        query, tcols = _with_scores(query, event, Split.TEST, "t")
    ov = vcols[event.official_score_name]
    pick = func.row_number().over(
        partition_by=Submission.user_id,
        order_by=[Submission.selected_for_competition.desc(), *_order(ov, official)]
        + [Submission.submitted_at, Submission.id],
    )
    inner = query.add_columns(pick.label("pick")).subquery()
    rank_col = inner.c[f"{'t' if include_test else 'v'}{_index(event)}"]
    outer = (
        select(inner)
        .where(inner.c.pick == 1)
        .order_by(*_order(rank_col, official), inner.c.submitted_at, inner.c.id)
    )
    rows = []
    for rank, row in enumerate(session.execute(outer), start=1):
        d = _common(row)
        d["rank"] = rank
        d["scores"] = _scores(row, event, "v")
        if include_test:
            d["test_scores"] = _scores(row, event, "t")
        rows.append(d)
    return rows


def _index(event: Event) -> int:
    return [s["name"] for s in event.score_types].index(event.official_score_name)


def private_leaderboard(
    session: Session, *, event: Event, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Scored submissions ranked by the bagged TEST official score, with the rank change.

    ``public_rank`` is the rank by validation score; ``rank_change`` = public - private (positive:
    the submission moved up on the private data).
    """
    official = _score_spec(event, event.official_score_name)
    query, vcols = _with_scores(_base(event), event, Split.VALID, "v")
    query, tcols = _with_scores(query, event, Split.TEST, "t")
    ov, ot = vcols[event.official_score_name], tcols[event.official_score_name]
    query = query.add_columns(
        func.rank()
        .over(order_by=[*_order(ov, official), Submission.submitted_at, Submission.id])
        .label("public_rank"),
        func.rank()
        .over(order_by=[*_order(ot, official), Submission.submitted_at, Submission.id])
        .label("private_rank"),
    )
    inner = query.subquery()
    outer = select(inner).order_by(inner.c.private_rank, inner.c.id).offset(offset)
    if limit is not None:
        outer = outer.limit(limit)
    rows = []
    for row in session.execute(outer):
        d = _common(row)
        d["rank"] = row.private_rank
        d["public_rank"] = row.public_rank
        d["rank_change"] = row.public_rank - row.private_rank
        d["scores"] = _scores(row, event, "t")
        d["valid_scores"] = _scores(row, event, "v")
        rows.append(d)
    return rows


def submissions_table(
    session: Session, *, event: Event, user: User | None = None
) -> list[dict[str, Any]]:
    """Every submission (of ``user`` if given) with state, error, bagged valid+test scores and,
    for queued ones, the platform-wide queue position (1 = next)."""
    queued = (
        select(
            Submission.id.label("qid"),
            func.row_number().over(order_by=[Submission.queued_at, Submission.id]).label("pos"),
        )
        .where(Submission.state == SubmissionState.QUEUED)
        .subquery()
    )
    query = (
        select(
            Submission.id,
            Submission.name,
            User.name.label("user"),
            Submission.state,
            Submission.error_kind,
            Submission.error_message,
            Submission.submitted_at,
            Submission.finished_at,
            Submission.train_time,
            Submission.valid_time,
            Submission.test_time,
            Submission.peak_memory_mb,
            Submission.contributivity,
            Submission.historical_contributivity,
            Submission.withdrawn_from_blend,
            Submission.selected_for_competition,
            queued.c.pos,
        )
        .join(User, User.id == Submission.user_id)
        .outerjoin(queued, queued.c.qid == Submission.id)
        .where(Submission.event_id == event.id)
    )
    if user is not None:
        query = query.where(Submission.user_id == user.id)
    query, _ = _with_scores(query, event, Split.VALID, "v")
    query, _ = _with_scores(query, event, Split.TEST, "t")
    query = query.order_by(Submission.submitted_at.desc(), Submission.id.desc())
    out = []
    for row in session.execute(query):
        out.append(
            {
                "submission_id": row.id,
                "submission": row.name,
                "user": row.user,
                "state": row.state.value,
                "queue_position": row.pos,
                "error_kind": row.error_kind.value if row.error_kind else None,
                "error_message": row.error_message,
                "submitted_at": row.submitted_at.isoformat(),
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                "train_time": row.train_time,
                "valid_time": row.valid_time,
                "test_time": row.test_time,
                "peak_memory_mb": row.peak_memory_mb,
                "contributivity": row.contributivity,
                "historical_contributivity": row.historical_contributivity,
                "withdrawn_from_blend": row.withdrawn_from_blend,
                "selected_for_competition": row.selected_for_competition,
                "valid_scores": _scores(row, event, "v"),
                "test_scores": _scores(row, event, "t"),
            }
        )
    return out


def my_submissions(session: Session, *, event: Event, user: User) -> list[dict[str, Any]]:
    """The user's submissions, newest first, with queue positions (see :func:`submissions_table`)."""
    rows = submissions_table(session, event=event, user=user)
    for r in rows:
        r.pop("test_scores")  # hidden from participants until the private phase
    return rows


def failed_submissions(session: Session, *, event: Event) -> list[dict[str, Any]]:
    """Submissions that ended in error, newest first, with the error kind and message."""
    query = (
        select(
            Submission.id,
            Submission.name,
            User.name.label("user"),
            Submission.error_kind,
            Submission.error_message,
            Submission.submitted_at,
        )
        .join(User, User.id == Submission.user_id)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.ERROR)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    )
    return [
        {
            "submission_id": r.id,
            "submission": r.name,
            "user": r.user,
            "error_kind": r.error_kind.value if r.error_kind else None,
            "error_message": r.error_message,
            "submitted_at": r.submitted_at.isoformat(),
        }
        for r in session.execute(query)
    ]


def score_history(session: Session, *, event: Event) -> list[dict[str, Any]]:
    """(submitted_at, official validation score) of every scored submission, oldest first:
    the data of the scores-over-time plot (the Pareto front is the running best)."""
    spec = _score_spec(event, event.official_score_name)
    sc = aliased(Score)
    query = (
        select(Submission.id, Submission.name, User.name.label("user"), Submission.submitted_at)
        .add_columns(sc.value)
        .join(User, User.id == Submission.user_id)
        .join(
            sc,
            and_(
                sc.submission_id == Submission.id,
                sc.split == Split.VALID,
                sc.fold.is_(None),
                sc.score_name == literal(spec["name"]),
            ),
        )
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
        .order_by(Submission.submitted_at, Submission.id)
    )
    out, best = [], None
    for r in session.execute(query):
        better = best is None or (r.value < best if spec["is_lower_better"] else r.value > best)
        best = r.value if better else best
        out.append(
            {
                "submission_id": r.id,
                "submission": r.name,
                "user": r.user,
                "submitted_at": r.submitted_at.isoformat(),
                "score": r.value,
                "best_so_far": best,
                "improves": better,
            }
        )
    return out
