"""Leaderboards: each one SQL query over submissions and bagged scores (never stored HTML).

Rows are plain dicts (JSON/CSV friendly). Scores are under ``"scores"`` as ``{name: value}`` in the
event's score-type order; the official score is ``event.official_score_name`` and ``"ci"`` its 95%
bootstrap interval ``[low, high]`` on the same split (None when not computed). Which board a
user may see is decided by the caller (see :func:`ramp_server.services.events.can_see_private_leaderboard`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from ramp_server.db.models import (
    Blend,
    Event,
    Score,
    Split,
    Submission,
    SubmissionState,
    Team,
    User,
)
from ramp_server.services.board_columns import (
    bagged_score,
    board_base,
    ci_of,
    common_fields,
    official_spec,
    order_by,
    score_spec,
    scores_of,
    with_scores,
)
from ramp_server.services.scheduling import OWNER_KEY
from ramp_server.services.teams import with_members


def public_leaderboard(
    session: Session,
    *,
    event: Event,
    sort_by: str | None = None,
    best_first: bool = True,
    limit: int | None = None,
    offset: int = 0,
    where: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """Scored submissions with their bagged validation scores, best first by ``sort_by``.

    ``sort_by``: a score name (default: the official one), ``contributivity``,
    ``historical_contributivity``, ``train_time``, ``valid_time``, ``test_time`` or
    ``submitted_at``. Each row also has ``rank`` (position in this order, 1 = first).
    Sorted by a score, a page (``limit``/``offset``) is an ordered index scan of
    ``ix_scores_bagged``: fast at any number of submissions. Ties: the first scored ranks first.
    ``where``: more conditions on the submissions (the frozen board's, :mod:`.freeze`).
    """
    names = [s["name"] for s in event.score_types]
    sort_by = sort_by or event.official_score_name
    if sort_by in names:
        key = aliased(Score, name="k")
        base = (
            board_base(event, select_from=key)
            # "+ 0": no index probe of k by submission, so every planner (SQLite's included)
            # walks ix_scores_bagged in order and stops after the page
            .join(Submission, Submission.id == key.submission_id + 0)
            .join(User, User.id == Submission.user_id)
            .outerjoin(Team, Team.id == Submission.team_id)
            .where(key.event_id == event.id, *bagged_score(Split.VALID, sort_by, key))
        )
        query, _ = with_scores(base, event, Split.VALID, "v")
        ascending = bool(score_spec(event, sort_by)["is_lower_better"]) == best_first
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
        query, _ = with_scores(board_base(event), event, Split.VALID, "v")
        order = order_by(col, {"is_lower_better": lower_better}, best_first)
        if sort_by == "submitted_at":  # never NULL: a plain order can walk the index
            order = order[1:]
        order.append(Submission.id)
    query = query.where(*where).order_by(*order)
    # baselines take no rank: count those on the pages before this one
    rank = offset - _baselines_in(session, query.limit(offset)) if offset else 0
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for row in session.execute(query):
        d = common_fields(row)
        if d["baseline"]:
            d["rank"] = None
        else:
            rank += 1
            d["rank"] = rank
        d["scores"] = scores_of(row, event, "v")
        d["ci"] = ci_of(row, "v")
        rows.append(d)
    return with_members(session, rows)


def _baselines_in(session: Session, query: Select) -> int:
    """How many rows of a board query are baselines."""
    rows = query.subquery()
    return session.scalar(select(func.count()).select_from(rows).where(rows.c.is_baseline)) or 0


def board_version(session: Session, *, event: Event) -> tuple:
    """What changes whenever the public board's content may change: the number of scored
    submissions, the time of the latest blend and the number of baselines (one aggregate). Pages memoize
    what they derive from the scored submissions and blends under it."""
    last_blend = (
        select(func.max(Blend.computed_at)).where(Blend.event_id == event.id).scalar_subquery()
    )
    baselines = func.coalesce(func.sum(case((Submission.is_baseline, 1), else_=0)), 0)
    row = session.execute(
        select(func.count(), last_blend, baselines)
        .select_from(Submission)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
    ).one()
    return tuple(row)


def best_score(
    session: Session, *, event: Event, scored_by: datetime | None = None
) -> float | None:
    """The best bagged official validation score of the event's scored submissions (those
    scored by ``scored_by`` if given: a frozen board's)."""
    spec = official_spec(event)
    best = func.min(Score.value) if spec["is_lower_better"] else func.max(Score.value)
    return session.scalar(
        select(best)
        .join(Submission, Submission.id == Score.submission_id)
        .where(
            Submission.event_id == event.id,
            Submission.state == SubmissionState.SCORED,
            *bagged_score(Split.VALID, spec["name"]),
            *_scored_by(scored_by),
        )
    )


def _scored_by(at: datetime | None) -> tuple[Any, ...]:
    return () if at is None else (Submission.finished_at <= at,)


def competition_leaderboard(
    session: Session, *, event: Event, include_test: bool = False, where: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """One submission per team: the one it selected, else its best on validation; each row
    with the team's members and its contributivity (the sum of its submissions').

    Ranked by the official validation score; with ``include_test`` (private phase) the rows also
    carry test scores and are ranked by the official test score. ``where``: more conditions
    on the submissions (the frozen board's, :mod:`.freeze`).
    """
    official = official_spec(event)
    ranked = board_base(event).where(Submission.is_baseline.is_(False), *where)  # no baselines
    query, vcols = with_scores(ranked, event, Split.VALID, "v")
    if include_test:
        query, tcols = with_scores(query, event, Split.TEST, "t")
    ov = vcols[event.official_score_name]
    pick = func.row_number().over(
        partition_by=OWNER_KEY,
        order_by=[Submission.selected_for_competition.desc(), *order_by(ov, official)]
        + [Submission.submitted_at, Submission.id],
    )
    inner = query.add_columns(pick.label("pick")).subquery()
    rank_col = inner.c[f"{'t' if include_test else 'v'}{_index(event)}"]
    outer = (
        select(inner)
        .where(inner.c.pick == 1)
        .order_by(*order_by(rank_col, official), inner.c.submitted_at, inner.c.id)
    )
    rows = []
    for rank, row in enumerate(session.execute(outer), start=1):
        d = common_fields(row)
        d["rank"] = rank
        d["scores"], d["ci"] = scores_of(row, event, "v"), ci_of(row, "v")
        if include_test:
            d["test_scores"], d["test_ci"] = scores_of(row, event, "t"), ci_of(row, "t")
        rows.append(d)
    shares = team_contributivity(session, event=event)
    for d in rows:
        share = shares.get(d["team_id"] if d["team_id"] is not None else -d["user_id"], {})
        d["team_contributivity"] = share.get("contributivity")
        d["team_historical_contributivity"] = share.get("historical_contributivity")
    return with_members(session, rows)


def team_contributivity(session: Session, *, event: Event) -> dict[int, dict[str, float]]:
    """``{team key: {"contributivity", "historical_contributivity"}}``: the sums over each
    team's scored submissions (a submission outside any team counts under ``-user id``)."""
    rows = session.execute(
        select(
            OWNER_KEY,
            func.sum(Submission.contributivity),
            func.sum(Submission.historical_contributivity),
        )
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
        .group_by(OWNER_KEY)
    )
    return {key: {"contributivity": c, "historical_contributivity": h} for key, c, h in rows}


def _index(event: Event) -> int:
    return [s["name"] for s in event.score_types].index(event.official_score_name)


def private_leaderboard(
    session: Session, *, event: Event, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Scored submissions ranked by the bagged TEST official score, with the rank change.

    ``public_rank`` is the rank by validation score; ``rank_change`` = public - private (positive:
    the submission moved up on the private data).
    """
    official = official_spec(event)
    query, vcols = with_scores(board_base(event), event, Split.VALID, "v")
    query, tcols = with_scores(query, event, Split.TEST, "t")
    ov, ot = vcols[event.official_score_name], tcols[event.official_score_name]
    by_valid = [*order_by(ov, official), Submission.submitted_at, Submission.id]
    by_test = [*order_by(ot, official), Submission.submitted_at, Submission.id]
    # ranks among the non-baselines (a partition of their own); the order over all
    query = query.add_columns(
        func.rank()
        .over(partition_by=Submission.is_baseline, order_by=by_valid)
        .label("public_rank"),
        func.rank()
        .over(partition_by=Submission.is_baseline, order_by=by_test)
        .label("private_rank"),
        func.row_number().over(order_by=by_test).label("position"),
    )
    inner = query.subquery()
    outer = select(inner).order_by(inner.c.position).offset(offset)
    if limit is not None:
        outer = outer.limit(limit)
    rows = []
    for row in session.execute(outer):
        d = common_fields(row)
        ranked = not d["baseline"]
        d["rank"] = row.private_rank if ranked else None
        d["public_rank"] = row.public_rank if ranked else None
        d["rank_change"] = row.public_rank - row.private_rank if ranked else None
        d["scores"], d["ci"] = scores_of(row, event, "t"), ci_of(row, "t")
        d["valid_scores"], d["valid_ci"] = scores_of(row, event, "v"), ci_of(row, "v")
        rows.append(d)
    return with_members(session, rows)


def score_history(
    session: Session, *, event: Event, scored_by: datetime | None = None
) -> list[dict[str, Any]]:
    """(submitted_at, official validation score) of every scored submission (by ``scored_by``
    if given), oldest first: the data of the scores-over-time plot (the Pareto front is the
    running best)."""
    spec = official_spec(event)
    sc = aliased(Score)
    query = (
        select(Submission.id, Submission.name, User.name.label("user"), Submission.submitted_at)
        .add_columns(sc.value)
        .join(User, User.id == Submission.user_id)
        .join(
            sc,
            and_(sc.submission_id == Submission.id, *bagged_score(Split.VALID, spec["name"], sc)),
        )
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.SCORED)
        .where(*_scored_by(scored_by))
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
