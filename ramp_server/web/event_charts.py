"""The event page's score charts, drawn from what the services return (no SQL here).

Scores over time (every scored submission and the running best), the hybrid model against the
best single submission at each re-blend, and the largest contributivities.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from ramp_server.db.models import Event
from ramp_server.services import blends, leaderboards
from ramp_server.services.board_columns import official_spec
from ramp_server.web import charts

#: most submissions drawn in the scores-over-time chart
MAX_POINTS = 1500


def event_charts(db: Session, event: Event) -> dict[str, Markup]:
    """``{"scores", "hybrid", "contributivity", "contributivity_history"}``: the event page's
    charts."""
    spec = official_spec(event)
    history = leaderboards.score_history(db, event=event)
    return {
        "scores": scores_over_time(history, spec),
        "hybrid": hybrid_over_time(blends.blend_history(db, event=event), history, spec),
        "contributivity": contributivity_chart(blends.top_contributions(db, event=event)),
        "contributivity_history": contributivity_history_chart(
            blends.contributivity_over_time(db, event=event)
        ),
    }


def frozen_event_charts(db: Session, event: Event, at: datetime) -> dict[str, Markup | None]:
    """The event page's charts as participants see them during a freeze: the scores over time
    up to ``at``; the blend charts (which would show later submissions) left out."""
    history = leaderboards.score_history(db, event=event, scored_by=at)
    return {
        "scores": scores_over_time(history, official_spec(event)),
        "hybrid": None,
        "contributivity": None,
        "contributivity_history": None,
    }


def _time(row: dict[str, Any], key: str) -> float:
    """POSIX time of ``row[key]``: a datetime, or its ISO text (the JSON-ready rows)."""
    value = row[key]
    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).timestamp()


def scores_over_time(history: list[dict[str, Any]], spec: dict[str, Any]) -> Markup:
    """Every scored submission's validation score over time, with the running-best front."""
    pts = [(_time(r, "submitted_at"), float(r["score"])) for r in history]
    titles = [f"{r['user']} / {r['submission']}: {r['score']:.4f}" for r in history]
    front = charts.running_best(pts, lower_is_better=bool(spec.get("is_lower_better")))
    if len(pts) > MAX_POINTS:  # keep the page light: an even sample (the front is drawn whole)
        step = len(pts) / MAX_POINTS
        keep = [int(i * step) for i in range(MAX_POINTS)]
        pts, titles = [pts[i] for i in keep], [titles[i] for i in keep]
    return charts.xy_chart(
        [
            charts.Series("submissions", pts, "points", charts.PALETTE[0], titles),
            charts.Series("Pareto front (best so far)", front, "step", charts.PALETTE[1]),
        ],
        y_label=f"validation {spec['name']}",
        title="Scores over time",
        empty_text="no scored submission yet",
    )


def hybrid_over_time(
    blend_rows: list[dict[str, Any]], history: list[dict[str, Any]], spec: dict[str, Any]
) -> Markup:
    """The blended (hybrid) model's validation score at each re-blend vs the best single one
    (recorded with the blend; for blends that did not record it, the running best of the
    submissions' own scores at that time)."""
    hybrid = [(_time(b, "computed_at"), b["combined_valid"]) for b in blend_rows]
    front = charts.running_best(
        [(_time(r, "submitted_at"), float(r["score"])) for r in history],
        lower_is_better=bool(spec.get("is_lower_better")),
    )
    times = [t for t, _ in front]
    best_single: list[tuple[float, float]] = []
    for (at, _value), row in zip(hybrid, blend_rows, strict=True):
        if row["best_single_valid"] is not None:
            best_single.append((at, float(row["best_single_valid"])))
            continue
        k = bisect.bisect_right(times, at)
        if k:
            best_single.append((at, front[k - 1][1]))
    return charts.xy_chart(
        [
            charts.Series("hybrid model", hybrid, "line", charts.PALETTE[2]),
            charts.Series("best single submission", best_single, "step", charts.PALETTE[0]),
        ],
        y_label=f"validation {spec['name']}",
        title="Hybrid model vs best single submission",
        empty_text="no blend computed yet",
        width=560,
        height=320,
    )


def contributivity_chart(rows: list[dict[str, Any]]) -> Markup:
    """The largest contributivities to the hybrid model, as bars."""
    if not rows:
        return charts.xy_chart(
            [], empty_text="no contributivity yet (computed by the blender)", width=560, height=200
        )
    return charts.bar_chart(
        [(f"{r['user']} / {r['submission']}", r["contributivity"]) for r in rows],
        color=charts.PALETTE[2],
        title="Contributivity to the hybrid model",
    )


def operations_charts(ops: dict[str, Any]) -> dict[str, Markup]:
    """The operations view's charts: folds finished per bucket over the last hour, and the
    duration of each recent re-blend."""
    scored = [(b["start"].timestamp(), float(b["scored"])) for b in ops["throughput"]]
    failed = [(b["start"].timestamp(), float(b["failed"])) for b in ops["throughput"]]
    reblends = [
        (r["computed_at"].timestamp(), float(r["time_s"]))
        for r in reversed(ops["reblends"])
        if r["time_s"] is not None
    ]
    return {
        "throughput_chart": charts.xy_chart(
            [
                charts.Series("scored", scored, "line", charts.PALETTE[2]),
                charts.Series("failed", failed, "line", charts.PALETTE[3]),
            ],
            y_label="folds per 5 min",
            empty_text="no fold finished in the last hour",
            width=560,
            height=260,
        ),
        "reblend_chart": charts.xy_chart(
            [charts.Series("re-blend", reblends, "points", charts.PALETTE[0])],
            y_label="seconds",
            empty_text="no re-blend yet",
            width=560,
            height=260,
        ),
    }


def contributivity_history_chart(data: dict[str, Any]) -> Markup:
    """The largest contributivities at each re-blend: how a submission's share changed as
    others arrived (a slight improvement of it takes most of it over)."""
    times = {b["blend_id"]: b["computed_at"].timestamp() for b in data["blends"]}
    series = [
        charts.Series(
            f"{s['user']} / {s['submission']}",
            [(times[p["blend_id"]], p["contributivity"]) for p in s["points"]],
            "step",
            charts.PALETTE[i % len(charts.PALETTE)],
        )
        for i, s in enumerate(data["series"])
    ]
    return charts.xy_chart(
        series,
        y_label="contributivity",
        title="Contributivity at each re-blend",
        empty_text="no blend computed yet",
        width=1100,
        height=300,
    )


def submission_contributivity_chart(points: list[dict[str, Any]]) -> Markup:
    """One submission's contributivity (and historical contributivity) at each re-blend."""
    own = [(p["computed_at"].timestamp(), p["contributivity"]) for p in points]
    hist = [(p["computed_at"].timestamp(), p["historical_contributivity"]) for p in points]
    return charts.xy_chart(
        [
            charts.Series("contributivity", own, "step", charts.PALETTE[2]),
            charts.Series("historical (credits)", hist, "step", charts.PALETTE[4]),
        ],
        y_label="share of the hybrid model",
        title="Contributivity over time",
        empty_text="not in a blend yet",
        width=560,
        height=240,
    )
