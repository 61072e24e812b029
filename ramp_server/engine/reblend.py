"""One live re-blend of an event: the database in, the blender's arrays through, the results out.

:func:`reblend_event` reads the event's scored submissions through
:func:`ramp_server.services.blends.blend_inputs` (oldest first: the tie rule favours the earlier
submission), their fold prediction files (through a
:class:`~ramp_server.blending.store.PredictionCache`, so only new files are read), blends the
non-withdrawn ones with the event's ``max_n_ensemble`` on its official score
(:mod:`ramp_server.blending`: pure computation), and writes, through
:func:`ramp_server.services.blends.record_blend`, each submission's contributivity (a fraction,
all summing to 1), historical contributivity (credits propagated), Shapley contribution to the
hybrid validation score, and one Blend row with the hybrid scores, the honest nested score,
bootstrap intervals and timings.

:class:`ramp_server.engine.reblender.Reblender` runs it in a background thread, debounced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ramp_server.blending.bootstrap import bootstrap_ci
from ramp_server.blending.contributivity import historical_contributivity
from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.scores import ScoreType, from_rampwf
from ramp_server.blending.shapley import HybridGame, shapley_values
from ramp_server.blending.store import PredictionCache, PredictionFileError, read_fold_predictions
from ramp_server.services import blends, results
from ramp_server.services.events import event_folds, event_problem
from ramp_server.services.predictions import event_labels
from ramp_server.storage import Storage

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


def event_score(problem: ModuleType, official_score_name: str) -> ScoreType:
    """The blender's form of the event's official score type (the first one if unknown)."""
    n_classes = len(problem.Predictions.label_names)
    chosen = next(
        (st for st in problem.score_types if st.name == official_score_name),
        problem.score_types[0],
    )
    return from_rampwf(chosen, n_classes=n_classes, predictions_cls=problem.Predictions)


def best_single(
    scores: dict[int, dict[str, float]], ids: list[int], score: ScoreType
) -> dict[str, Any] | None:
    """The best submission alone on its bagged validation score (the earliest on a tie, as in
    the blend): ``{"submission_id", "valid", "test"}``; None when none is scored."""
    best = None
    for sid in ids:
        valid = scores.get(sid, {}).get("valid")
        if valid is not None and (best is None or score.is_better(valid, scores[best]["valid"])):
            best = sid
    if best is None:
        return None
    return {"submission_id": best, "valid": scores[best]["valid"], "test": scores[best].get("test")}


def _fold_inputs(
    *,
    storage: Storage,
    slug: str,
    ids: list[int],
    valid_rows: list[np.ndarray],
    cache: PredictionCache,
    with_test: bool,
) -> list[FoldInput]:
    folds = []
    for k, valid_idx in enumerate(valid_rows):
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

        folds.append(FoldInput(valid_idx, valid, load_test if with_test else None))
    return folds


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
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat()
    cache = cache or DEFAULT_CACHE
    inputs = blends.blend_inputs(session, event_id=event_id)
    ids = inputs.blended_ids
    event = inputs.event
    problem = event_problem(settings=settings, event=event)
    score = event_score(problem, inputs.official_score_name)
    folds_def = event_folds(settings=settings, event=event)
    y_train, y_test = event_labels(settings=settings, event=event, require_test=False)
    singles = results.bagged_scores_of(session, submission_ids=ids, score_name=score.name)
    session.commit()  # no transaction (nor lock) held while blending

    folds = _fold_inputs(
        storage=Storage.from_settings(settings),
        slug=inputs.event_name,
        ids=ids,
        valid_rows=list(folds_def.valid),
        cache=cache,
        with_test=y_test is not None,
    )
    summary = BlendSummary(
        event_id=event_id, blend_id=None, n_submissions=len(ids), score_name=score.name
    )
    result = shap = game = None
    details: dict[str, Any] = {
        "started_at": started_at,
        "best_single": best_single(singles, ids, score),
    }
    if ids:
        result = blend(
            folds=folds,
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=ids,
            max_n_ensemble=inputs.max_n_ensemble,
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
    hist = historical_contributivity(
        order=inputs.scored_ids, contributivity=contrib, credits=inputs.credits
    )
    shap_by_id: dict[int, float] = {}
    if shap is not None:
        shap_by_id = {ids[j]: float(v) for j, v in zip(game.players, shap.values, strict=True)}

    summary.time_s = time.perf_counter() - started
    columns = None
    if result is not None:
        details["time_s"] = summary.time_s
        columns = {
            "score_name": score.name,
            "n_submissions": len(ids),
            "combined_valid": result.combined_valid,
            "combined_test": result.combined_test,
            "foldwise_best_valid": result.foldwise_best_valid,
            "foldwise_best_test": result.foldwise_best_test,
            "nested_valid": result.nested_valid,
            "details": details,
        }
    row = blends.record_blend(
        session,
        inputs=inputs,
        started_at=started_at,
        contributivity=contrib,
        historical_contributivity=hist,
        shapley=shap_by_id if shap is not None else None,
        blend=columns,
    )
    if row is None and result is not None:
        summary.written = False
        return summary
    if result is not None:
        summary.blend_id = row.id
        summary.combined_valid = result.combined_valid
        summary.combined_test = result.combined_test
        summary.foldwise_best_valid = result.foldwise_best_valid
        summary.foldwise_best_test = result.foldwise_best_test
        summary.nested_valid = result.nested_valid
        summary.picks = [[ids[i] for i in p] for p in result.picks]
    summary.contributivity = contrib
    return summary


def _details(result, shap, score, y_train, y_test, n_boot) -> dict[str, Any]:  # noqa: ANN001
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
