"""Live re-blending of an event in the platform: DB in, contributivities and a Blend row out.

:func:`reblend_event` reads the event's scored, non-withdrawn submissions (oldest first: the tie
rule favours the earlier submission), their fold prediction files (through a
:class:`~ramp_server.blending.store.PredictionCache`, so only new files are read), blends them
with the event's ``max_n_ensemble`` on its official score, and writes each submission's
contributivity (a fraction, all summing to 1), historical contributivity (credits propagated),
Shapley contribution to the hybrid validation score, and one :class:`~ramp_server.db.models.Blend`
row with the hybrid scores, the honest nested score, bootstrap intervals and timings.

The blend clears the event's "re-blend requested" mark (:mod:`ramp_server.services.blend_requests`)
only if nobody set it again while it ran. :class:`ramp_server.blending.reblender.Reblender` runs
it in a background thread, debounced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .bootstrap import bootstrap_ci
from .contributivity import historical_contributivity
from .hybrid import FoldInput, blend
from .scores import ScoreType, from_rampwf
from .shapley import HybridGame, shapley_values
from .store import PredictionCache, PredictionFileError, read_fold_predictions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ramp_server.config import Settings

log = logging.getLogger(__name__)

#: the process-wide cache of validation predictions used by default
DEFAULT_CACHE = PredictionCache()


@dataclass
class BlendSummary:
    """What one re-blend computed (``blend_id`` is None when nothing was blended or written)."""

    event_id: int
    blend_id: int | None
    n_submissions: int
    score_name: str
    combined_valid: float | None = None
    combined_test: float | None = None
    foldwise_best_valid: float | None = None
    foldwise_best_test: float | None = None
    nested_valid: float | None = None
    contributivity: dict[int, float] = field(default_factory=dict)
    picks: list[list[int]] = field(default_factory=list)  # submission ids per fold
    time_s: float = 0.0
    written: bool = True


def _event_score(problem: Any, event: Any) -> ScoreType:
    n_classes = len(problem.Predictions.label_names)
    for st in problem.score_types:
        if st.name == event.official_score_name:
            return from_rampwf(st, n_classes=n_classes, predictions_cls=problem.Predictions)
    return from_rampwf(
        problem.score_types[0], n_classes=n_classes, predictions_cls=problem.Predictions
    )


def _best_single(session: Session, ids: list[int], score: ScoreType) -> dict[str, Any] | None:
    from sqlalchemy import select

    from ramp_server.db.models import Score, Split

    if not ids:
        return None
    rows = session.execute(
        select(Score.submission_id, Score.split, Score.value).where(
            Score.submission_id.in_(ids), Score.fold.is_(None), Score.score_name == score.name
        )
    ).all()
    valid = {sid: v for sid, split, v in rows if split == Split.VALID}
    test = {sid: v for sid, split, v in rows if split == Split.TEST}
    if not valid:
        return None
    best = None
    for sid in ids:  # the earliest submission wins a tie, as in the blend
        if sid in valid and (best is None or score.is_better(valid[sid], valid[best])):
            best = sid
    return {"submission_id": best, "valid": valid[best], "test": test.get(best)}


def reblend_event(
    session: Session,
    *,
    settings: Settings,
    event_id: int,
    cache: PredictionCache | None = None,
    nested: bool = True,
    shapley_seconds: float = 5.0,
    n_boot: int = 200,
    min_improvement: float = 0.0,
) -> BlendSummary:
    """Blend the event's scored submissions and write the results (**commits**)."""
    from sqlalchemy import select

    from ramp_server.db.engine import lock_row
    from ramp_server.db.models import Blend, Event, Submission, SubmissionCredit, SubmissionState
    from ramp_server.services.blend_requests import clear_blend_request
    from ramp_server.services.events import event_folds, event_problem
    from ramp_server.storage import Storage

    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat()
    cache = cache or DEFAULT_CACHE
    event = session.get(Event, event_id, populate_existing=True)  # the rules and mark as stored
    if event is None:
        raise LookupError(f"no event with id {event_id}")
    seen = event.blend_requested_at  # read before the submissions: what this blend covers
    storage = Storage.from_settings(settings)
    subs = list(
        session.scalars(
            select(Submission)
            .where(Submission.event_id == event_id, Submission.state == SubmissionState.SCORED)
            .order_by(Submission.submitted_at, Submission.id)
        )
    )
    blended = [s for s in subs if not s.withdrawn_from_blend]
    ids = [s.id for s in blended]
    problem = event_problem(settings=settings, event=event)
    score = _event_score(problem, event)
    folds_def = event_folds(settings=settings, event=event)
    y_train = np.load(storage.public_dir(event.name) / "train_labels.npy")
    test_path = storage.test_labels_path(event.name)
    y_test = np.load(test_path) if test_path.is_file() else None
    credits: dict[int, list[tuple[int, float]]] = {}
    for c in session.scalars(
        select(SubmissionCredit).where(SubmissionCredit.submission_id.in_([s.id for s in subs]))
    ):
        credits.setdefault(c.submission_id, []).append((c.credited_submission_id, c.percent))
    best_single = _best_single(session, ids, score)
    order = [s.id for s in subs]
    slug, max_n = event.name, int(event.max_n_ensemble or 80)
    session.commit()  # no transaction (nor lock) held while blending

    folds = []
    for k, valid_idx in enumerate(folds_def.valid):
        paths = [storage.predictions_path(slug, sid, k) for sid in ids]
        valid: list[np.ndarray | None] = []
        for sid, path in zip(ids, paths, strict=True):
            try:
                fp = cache.get(path)
            except PredictionFileError as exc:
                log.warning(
                    "re-blend of %s: submission %s left out of fold %s: %s", slug, sid, k, exc
                )
                valid.append(None)
                continue
            if not np.array_equal(fp.valid_indices, valid_idx):
                log.warning(
                    "re-blend of %s: %s has other validation rows than fold %s", slug, path, k
                )
                valid.append(None)
                continue
            valid.append(fp.valid_proba)

        def load_test(i: int, _paths=paths) -> np.ndarray | None:
            return read_fold_predictions(_paths[i]).test_proba

        folds.append(FoldInput(valid_idx, valid, load_test if y_test is not None else None))

    summary = BlendSummary(
        event_id=event_id, blend_id=None, n_submissions=len(ids), score_name=score.name
    )
    result = None
    shap = None
    details: dict[str, Any] = {"started_at": started_at, "best_single": best_single}
    if ids:
        result = blend(
            folds=folds,
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=ids,
            max_n_ensemble=max_n,
            min_improvement=min_improvement,
            nested=nested,
        )
        game = HybridGame(
            members=result.members_valid,
            picks=result.picks,
            rows=result.valid_rows,
            y=y_train,
            score=score,
        )
        shap = shapley_values(game, max_seconds=shapley_seconds)
        details.update(_details(result, shap, score, y_train, y_test, n_boot))
        details["players"] = [ids[j] for j in game.players]
    contrib = (
        {}
        if result is None
        else {sid: float(c) for sid, c in zip(ids, result.contributivity, strict=True)}
    )
    hist = historical_contributivity(order=order, contributivity=contrib, credits=credits)
    shap_by_id: dict[int, float] = {}
    if shap is not None:
        shap_by_id = {ids[j]: float(v) for j, v in zip(game.players, shap.values, strict=True)}

    # write, serialized per event; a blend that started before the last written one is dropped
    lock_row(session, Event, event_id)
    last = session.scalars(
        select(Blend)
        .where(Blend.event_id == event_id)
        .order_by(Blend.computed_at.desc(), Blend.id.desc())
        .limit(1)
    ).first()
    if last is not None and (last.details or {}).get("started_at", "") > started_at:
        session.rollback()
        summary.written = False
        return summary
    clear_blend_request(session, event_id=event_id, seen=seen)  # kept if requested meanwhile
    in_blend = set(ids)
    for s in session.scalars(select(Submission).where(Submission.id.in_(order))):
        s.contributivity = contrib.get(s.id, 0.0) if s.id in in_blend else 0.0
        s.historical_contributivity = float(hist.get(s.id, 0.0))
        s.shapley = shap_by_id.get(s.id, 0.0) if s.id in in_blend else None
    summary.time_s = time.perf_counter() - started
    if result is not None:
        details["time_s"] = summary.time_s
        row = Blend(
            event_id=event_id,
            score_name=score.name,
            n_submissions=len(ids),
            combined_valid=result.combined_valid,
            combined_test=result.combined_test,
            foldwise_best_valid=result.foldwise_best_valid,
            foldwise_best_test=result.foldwise_best_test,
            nested_valid=result.nested_valid,
            details=details,
        )
        session.add(row)
        session.flush()
        summary.blend_id = row.id
        summary.combined_valid = result.combined_valid
        summary.combined_test = result.combined_test
        summary.foldwise_best_valid = result.foldwise_best_valid
        summary.foldwise_best_test = result.foldwise_best_test
        summary.nested_valid = result.nested_valid
        summary.picks = [[ids[i] for i in p] for p in result.picks]
    summary.contributivity = contrib
    session.commit()
    return summary


def _details(result, shap, score, y_train, y_test, n_boot) -> dict[str, Any]:
    out: dict[str, Any] = {
        "picks": [[int(result.names[i]) for i in p] for p in result.picks],
        "blend_time_s": result.time_s,
        "combined_valid_curve": result.combined_valid_scores,
        "combined_test_curve": result.combined_test_scores,
        "shapley": {
            "exact": shap.exact,
            "n_permutations": shap.n_permutations,
            "empty_value": shap.empty_value,
            "full_value": shap.full_value,
            "confidence": shap.confidence,
            "hoeffding_bound": shap.hoeffding_bound,
            "time_s": shap.time_s,
        },
    }
    ci: dict[str, list[float]] = {}
    if n_boot and result.combined_valid_proba is not None:
        iv = bootstrap_ci(
            score, y_train[result.combined_valid_mask], result.combined_valid_proba, n_boot=n_boot
        )
        ci["combined_valid"] = [iv.low, iv.high]
    if n_boot and y_test is not None and result.combined_test_proba is not None:
        iv = bootstrap_ci(score, y_test, result.combined_test_proba, n_boot=n_boot)
        ci["combined_test"] = [iv.low, iv.high]
    out["ci95"] = ci
    return out
