"""The live re-blend of an event: the database in, the blender's arrays through, the results out.

Two steps, so that the hybrid model on the pages is never held back by the expensive figures:

1. :func:`blend_event` (the critical path) reads the event's scored submissions through
   :func:`ramp_server.services.blends.blend_inputs` (oldest first: the tie rule favours the
   earlier submission), brings the event's :class:`LiveBlend` up to date with the new or
   re-scored ones (an :class:`~ramp_server.blending.incremental.IncrementalBlender`: a new
   submission costs a pass of its predictions along each fold's greedy path, the result is
   bit-identical to a blend from scratch), and writes the hybrid scores, each submission's
   contributivity and historical contributivity (credits propagated) and the blend's
   contributions through :func:`ramp_server.services.blends.record_blend`;
2. :func:`blend_event_extras` then computes, for the latest blend, the Shapley values (within
   ``settings.blend_extras_budget_s``), the nested honest score and the bootstrap intervals of
   the hybrid scores (:func:`ramp_server.blending.extras.blend_extras`), written with their own
   time by :func:`ramp_server.services.blends.record_extras`.

:class:`ramp_server.engine.reblender.Reblender` runs both in a background thread, debounced, the
blends first; :func:`reblend_event` runs both at once (``ramp-server event reblend --now``).

Memory of a :class:`LiveBlend`: the raw validation predictions of every blended submission
(read once from its files) and the blender's normalised copy, twice that with the nested score's
halves: about 6.5 GB at 3,000 submissions × 3 folds × 3,256 rows × 18 classes (float32).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ramp_server.blending.contributivity import historical_contributivity
from ramp_server.blending.extras import blend_extras
from ramp_server.blending.hybrid import BlendResult, FoldInput
from ramp_server.blending.incremental import IncrementalBlender
from ramp_server.blending.scores import ScoreType, from_rampwf
from ramp_server.blending.store import PredictionFileError, read_fold_predictions
from ramp_server.services import blends, results
from ramp_server.services.events import event_folds, event_problem
from ramp_server.services.predictions import event_labels
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ramp_server.config import Settings

log = logging.getLogger(__name__)


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
    #: per fold, the first greedy step this re-blend changed (None: the path was kept)
    changed_from: list[int | None] = field(default_factory=list)


@dataclass
class _Latest:
    """The latest written blend of a :class:`LiveBlend`, what its extras are computed from."""

    blend_id: int
    inputs: blends.BlendInputs
    result: BlendResult
    ids: list[int]
    score: ScoreType
    y_train: np.ndarray
    y_test: np.ndarray | None
    extras_done: bool = False


@dataclass
class LiveBlend:
    """One event's blend kept in memory between re-blends (one per event in the dispatcher's
    process): the incremental blender, the raw validation predictions it was given (read once
    per submission and fold), and the scored time of each submission (a new one means its
    predictions changed)."""

    blender: IncrementalBlender = field(default_factory=IncrementalBlender)
    raw: dict[tuple[int, int], np.ndarray | None] = field(default_factory=dict)
    versions: dict[int, Any] = field(default_factory=dict)
    latest: _Latest | None = None

    def forget(self, keep: set[int]) -> None:
        """Drop the predictions of submissions no longer blended."""
        for key in [k for k in self.raw if k[0] not in keep]:
            del self.raw[key]
        for sid in [s for s in self.versions if s not in keep]:
            del self.versions[sid]


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


def _read_valid(path: Any, valid_idx: np.ndarray, slug: str, sid: int, k: int) -> np.ndarray | None:
    try:
        fp = read_fold_predictions(path, load_test=False)
    except PredictionFileError as exc:
        log.warning("re-blend of %s: submission %s left out of fold %s: %s", slug, sid, k, exc)
        return None
    if not np.array_equal(fp.valid_indices, valid_idx):
        log.warning("re-blend of %s: %s has other validation rows than fold %s", slug, path, k)
        return None
    return fp.valid_proba


def _fold_inputs(
    live: LiveBlend,
    *,
    storage: Storage,
    slug: str,
    ids: list[int],
    changed: set[int],
    valid_rows: list[np.ndarray],
    with_test: bool,
) -> list[FoldInput]:
    folds = []
    for k, valid_idx in enumerate(valid_rows):
        paths = [storage.predictions_path(slug, sid, k) for sid in ids]
        valid: list[np.ndarray | None] = []
        for sid, path in zip(ids, paths, strict=True):
            if (sid, k) not in live.raw or sid in changed:
                live.raw[(sid, k)] = _read_valid(path, valid_idx, slug, sid, k)
            valid.append(live.raw[(sid, k)])

        def load_test(i: int, _paths=paths) -> np.ndarray | None:
            return read_fold_predictions(_paths[i]).test_proba

        folds.append(FoldInput(valid_idx, valid, load_test if with_test else None))
    return folds


def blend_event(
    session: Session,
    *,
    settings: Settings,
    event_id: int,
    live: LiveBlend | None = None,
    min_improvement: float = 0.0,
) -> BlendSummary:
    """Step 1: bring the event's blend up to date and write the hybrid scores and the
    contributivities (**commits**); the extras are :func:`blend_event_extras`."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat()
    live = live if live is not None else LiveBlend()
    inputs = blends.blend_inputs(session, event_id=event_id)
    ids = inputs.blended_ids
    event = inputs.event
    problem = event_problem(settings=settings, event=event)
    score = event_score(problem, inputs.official_score_name)
    folds_def = event_folds(settings=settings, event=event)
    y_train, y_test = event_labels(settings=settings, event=event, require_test=False)
    singles = results.bagged_scores_of(session, submission_ids=ids, score_name=score.name)
    session.commit()  # no transaction (nor lock) held while blending

    versions = {c.submission_id: c.scored_at for c in inputs.candidates if not c.withdrawn}
    changed = {
        sid for sid, at in versions.items() if sid in live.versions and live.versions[sid] != at
    }
    live.forget(set(ids))
    folds = _fold_inputs(
        live,
        storage=Storage.from_settings(settings),
        slug=inputs.event_name,
        ids=ids,
        changed=changed,
        valid_rows=list(folds_def.valid),
        with_test=y_test is not None,
    )
    summary = BlendSummary(
        event_id=event_id, blend_id=None, n_submissions=len(ids), score_name=score.name
    )
    result = None
    details: dict[str, Any] = {
        "started_at": started_at,
        "best_single": best_single(singles, ids, score),
    }
    if ids:
        result = live.blender.update(
            folds=folds,
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=ids,
            max_n_ensemble=inputs.max_n_ensemble,
            min_improvement=min_improvement,
            changed=[str(s) for s in changed],
        )
        summary.changed_from = live.blender.changed_from
        details.update(
            picks=[[int(result.names[i]) for i in p] for p in result.picks],
            blend_time_s=result.time_s,
            combined_valid_curve=result.combined_valid_scores,
            combined_test_curve=result.combined_test_scores,
            incremental={"changed_from": summary.changed_from, "changed": sorted(changed)},
        )
    live.versions = versions
    contrib = (
        {}
        if result is None
        else {sid: float(c) for sid, c in zip(ids, result.contributivity, strict=True)}
    )
    hist = historical_contributivity(
        order=inputs.scored_ids, contributivity=contrib, credits=inputs.credits
    )
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
            "duration_s": summary.time_s,
            "details": details,
        }
    row = blends.record_blend(
        session,
        inputs=inputs,
        started_at=started_at,
        contributivity=contrib,
        historical_contributivity=hist,
        blend=columns,
    )
    summary.contributivity = contrib
    if result is None:
        live.latest = None
        return summary
    if row is None:
        summary.written = False
        return summary
    live.latest = _Latest(row.id, inputs, result, ids, score, y_train, y_test)
    summary.blend_id = row.id
    summary.combined_valid = result.combined_valid
    summary.combined_test = result.combined_test
    summary.foldwise_best_valid = result.foldwise_best_valid
    summary.foldwise_best_test = result.foldwise_best_test
    summary.picks = [[ids[i] for i in p] for p in result.picks]
    return summary


def blend_event_extras(
    session: Session, *, settings: Settings, live: LiveBlend, nested: bool = True
) -> dict[str, Any] | None:
    """Step 2: the extras of ``live``'s latest blend (Shapley values, the nested score, the
    bootstrap intervals), written with their own time (**commits**). None when there is
    nothing to do (no blend, or its extras are written)."""
    latest = live.latest
    if latest is None or latest.extras_done:
        return None
    extras = blend_extras(
        latest.result,
        y_train=latest.y_train,
        score=latest.score,
        y_test=latest.y_test,
        shapley_seconds=settings.blend_extras_budget_s,
        n_boot=settings.blend_bootstrap_n,
        nested=live.blender.nested_valid_scores if nested else None,
    )
    shapley: dict[int, float] = {}
    data: dict[str, Any] = {
        "ci95": extras.ci95,
        "time_s": extras.time_s,
        "players": [],
        "nested_valid": extras.nested_valid,
    }
    if extras.shapley is not None:
        shapley = {
            latest.ids[j]: float(v)
            for j, v in zip(extras.players, extras.shapley.values, strict=True)
        }
        data["players"] = [latest.ids[j] for j in extras.players]
        shap = extras.shapley
        data["shapley"] = {
            "exact": shap.exact,
            "n_permutations": shap.n_permutations,
            "empty_value": shap.empty_value,
            "full_value": shap.full_value,
            "confidence": shap.confidence,
            "hoeffding_bound": shap.hoeffding_bound,
            "time_s": shap.time_s,
        }
    blends.record_extras(
        session,
        inputs=latest.inputs,
        blend_id=latest.blend_id,
        shapley=shapley,
        nested_valid=extras.nested_valid,
        extras=data,
    )
    latest.extras_done = True
    return data


def reblend_event(
    session: Session,
    *,
    settings: Settings,
    event_id: int,
    live: LiveBlend | None = None,
    nested: bool = True,
) -> BlendSummary:
    """Both steps at once: the blend, then its extras (**commits**)."""
    live = live if live is not None else LiveBlend()
    summary = blend_event(session, settings=settings, event_id=event_id, live=live)
    if summary.blend_id is not None:
        extras = blend_event_extras(session, settings=settings, live=live, nested=nested)
        summary.nested_valid = (extras or {}).get("nested_valid")
    return summary
