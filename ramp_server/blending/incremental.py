"""The live blend kept in memory: a re-blend after new submissions costs a pass along the path.

:class:`IncrementalBlender` returns, for the same inputs, exactly the :class:`~.hybrid.BlendResult`
that :func:`~.hybrid.blend` computes from scratch (picks, contributivities, every score, the
combined probabilities: bit-identical), but keeps one :class:`~.foldstate.FoldState` per fold
between calls, so that

- a new candidate (anywhere in candidate order, one or several at a time) costs one pass of its
  own predictions along each fold's kept greedy path; the path is recomputed, with every
  candidate, only from the first step where the new candidates change its outcome;
- a candidate that left (withdrawn, or now missing / NaN on a fold), a candidate named in
  ``changed``, or other settings (score, ``max_n_ensemble``, ``min_improvement``, labels, folds,
  number of classes, the stack's dtype) select that fold again from scratch, from the kept
  predictions (only changed predictions are read again).

Memory: per fold, every usable candidate's clipped and renormalised validation predictions in
the blend's dtype (N x n_valid x d: 3,000 x 3,256 x 18 float32 is 0.7 GB a fold, 2.1 GB for 3
folds; growing the stack briefly holds the old and the new one), for label scores each row's
largest probability and the last scan's gaps (3/d of that: 0.11 GB a fold at d = 18), a few
floats per candidate and greedy step, and the raw test predictions of the picked candidates. With the nested score
(:meth:`IncrementalBlender.nested_valid_scores`), the two stratified halves of each fold are
greedy problems of their own and keep their own stacks: as much again.

Pure computation: arrays in, results out; nothing is read from disk or a database here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from .combine import bag_scores, mean_of_picks
from .foldstate import FoldState
from .greedy import FoldBlend, check_settings
from .hybrid import (
    BlendResult,
    FoldInput,
    FoldSelection,
    _first_n_classes,
    _halves,
    _usable,
    assemble,
)
from .scores import ScoreType


def _score_key(score: ScoreType) -> tuple:
    # ScoreType holds a function (compared by identity, and rebuilt by every caller that wraps
    # rampwf's score types): compare what defines the score instead
    return (
        score.name,
        score.kind,
        score.is_lower_the_better,
        score.adjusted,
        score.minimum,
        score.maximum,
    )


@dataclass
class _Fold:
    """What the blender keeps for one fold."""

    state: FoldState | None = None
    halves: list[tuple[np.ndarray, np.ndarray, FoldState]] = field(default_factory=list)
    test: dict[str, np.ndarray | None] = field(default_factory=dict)  # raw, picked names only


@dataclass
class _Call:
    """The inputs of the last update (references only: the caller keeps the arrays)."""

    names: list[str]
    folds: Sequence[FoldInput]
    rows: list[np.ndarray]
    y_train: np.ndarray
    usable: list[list[int]]  # per fold, candidate indices


class IncrementalBlender:
    """:func:`~.hybrid.blend` kept up to date between re-blends (see the module docstring).

    Call :meth:`update` with the *whole* current candidate list each time, exactly as
    :func:`~.hybrid.blend` (the same arguments): candidates are identified by ``names``
    (stable: submission ids), whose order is the candidate order (tie rule: the first wins).
    The caller keeps the arrays it passes (they are read, never written); a candidate's
    predictions are assumed unchanged while its name stays, unless it is named in ``changed``.

    Counters over all folds (for tests and benches): ``evaluations`` (candidate, step)
    approximate scorings, ``full_steps`` steps scanned with every candidate, ``changed_from``
    per fold the first step the last update changed (None: the fold's path was kept).
    """

    def __init__(self) -> None:
        self._folds: list[_Fold] = []
        self._settings: tuple | None = None
        self._call: _Call | None = None
        self._max_n = 80
        self._min_improvement = 0.0
        self._score: ScoreType | None = None

    # -- public API ------------------------------------------------------------------------

    @property
    def evaluations(self) -> int:
        return sum(f.state.evaluations for f in self._folds if f.state is not None)

    @property
    def full_steps(self) -> int:
        return sum(f.state.full_steps for f in self._folds if f.state is not None)

    @property
    def changed_from(self) -> list[int | None]:
        return [None if f.state is None else f.state.changed_from for f in self._folds]

    @property
    def nbytes(self) -> tuple[int, int]:
        """Bytes of kept predictions: (the folds, the nested score's halves)."""
        folds = sum(f.state.nbytes for f in self._folds if f.state is not None)
        halves = sum(h.nbytes for f in self._folds for _, _, h in f.halves)
        return folds, halves

    def update(
        self,
        *,
        folds: Sequence[FoldInput],
        y_train: np.ndarray,
        score: ScoreType,
        y_test: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        max_n_ensemble: int = 80,
        min_improvement: float = 0.0,
        nested: bool = False,
        changed: Collection[str] = (),
    ) -> BlendResult:
        """The blend of these candidates, as :func:`~.hybrid.blend` with the same arguments.

        ``changed`` names candidates whose predictions changed since the last update (they are
        read again and their folds selected from scratch). ``nested=True`` also fills
        ``nested_valid_scores`` (see :meth:`nested_valid_scores`).
        """
        t0 = time.perf_counter()
        check_settings(max_n_ensemble, min_improvement)
        y_train = np.asarray(y_train, dtype=np.intp)
        K = max((len(f.valid_proba) for f in folds), default=0)
        names = [str(n) for n in (names if names is not None else range(K))]
        if len(names) != K:
            raise ValueError(f"{len(names)} names for {K} candidates")
        if len(set(names)) != K:
            raise ValueError("candidate names must be unique")
        rows = [np.asarray(f.valid_indices, dtype=np.intp) for f in folds]
        n_classes = _first_n_classes(folds, rows)
        self._reset_if_new_settings(
            rows, y_train, score, n_classes, max_n_ensemble, min_improvement
        )
        self._score, self._max_n, self._min_improvement = score, max_n_ensemble, min_improvement
        changed = set(map(str, changed))
        selections: list[FoldSelection | None] = []
        usable_all: list[list[int]] = []
        for f, fold in enumerate(folds):
            usable = self._usable(f, fold, names, rows[f], n_classes, changed)
            usable_all.append(usable)
            selections.append(
                self._sync_fold(f, fold, names, usable, rows[f], y_train, n_classes, changed)
            )
        self._call = _Call(names, folds, rows, y_train, usable_all)
        nested_pred = self._nested_predictions() if nested else None
        for sel, pred in zip(selections, nested_pred or [], strict=False):
            if sel is not None:
                sel.nested = pred
        return assemble(
            names=names,
            selections=selections,
            rows=rows,
            y_train=y_train,
            y_test=y_test,
            score=score,
            nested=nested,
            t0=t0,
        )

    def nested_valid_scores(self) -> list[float]:
        """The honest nested curve of the last update's candidates (``blend(nested=True)``'s
        ``nested_valid_scores``): each fold's halves are greedy problems kept like the folds,
        so after the first call this costs what an update costs (and as much memory again).
        It reads the arrays of the last update's ``folds`` (kept by reference until the next)."""
        if self._call is None:
            return []
        call = self._call
        preds = self._nested_predictions()
        return bag_scores(preds, call.rows, call.y_train, self._score)[0]

    # -- internals -------------------------------------------------------------------------

    def _reset_if_new_settings(self, rows, y_train, score, n_classes, max_n, min_improvement):
        settings = (_score_key(score), n_classes, max_n, min_improvement, len(rows))
        old = self._call
        same = (
            settings == self._settings
            and old is not None
            and np.array_equal(old.y_train, y_train)
            and all(np.array_equal(a, b) for a, b in zip(old.rows, rows, strict=True))
        )
        if not same:
            self._folds = [_Fold() for _ in rows]
            self._settings = settings

    def _usable(self, f, fold, names, rows, n_classes, changed) -> list[int]:
        """Candidate indices usable on the fold; only new or changed ones are checked in full
        (the NaN check reads every value)."""
        state = self._folds[f].state
        out = []
        for i, p in enumerate(fold.valid_proba):
            if p is None:
                continue
            known = state is not None and names[i] in state.slots and names[i] not in changed
            if known or _usable(p, len(rows), n_classes):
                out.append(i)
        return out

    def _sync_fold(
        self, f, fold, names, usable, rows, y_train, n_classes, changed
    ) -> FoldSelection | None:
        keep = self._folds[f]
        if not usable or len(rows) == 0:
            self._folds[f] = _Fold()
            return None
        dtype = np.result_type(*{fold.valid_proba[i].dtype for i in usable}, np.float32)
        y_f = y_train[rows]
        if keep.state is None or keep.state.dtype != dtype:
            keep.state = FoldState(
                y_f,
                self._score,
                n_classes=n_classes,
                dtype=dtype,
                max_n_ensemble=self._max_n,
                min_improvement=self._min_improvement,
            )
            keep.halves = []
            keep.test.clear()
        state = keep.state
        for name in changed:
            state.discard(name)
            keep.test.pop(name, None)
            for _, _, half in keep.halves:
                half.discard(name)
        index = {names[i]: i for i in usable}
        state.sync([names[i] for i in usable], lambda nm: fold.valid_proba[index[nm]])
        picked = state.picks()
        picks = [index[nm] for nm in picked]
        distinct = dict.fromkeys(picked)
        keep.test = {
            nm: keep.test[nm] if nm in keep.test else fold.test_of(index[nm]) for nm in distinct
        }
        return FoldSelection(
            fold=FoldBlend(picks=picks, scores=list(state.path.scores), n_candidates=state.size),
            picks=picks,
            members_valid={index[nm]: state.member(nm).copy() for nm in distinct},
            best_valid=np.asarray(fold.valid_proba[picks[0]]),
            raw_test={index[nm]: keep.test[nm] for nm in distinct},
            nested=None,
        )

    def _nested_predictions(self) -> list[np.ndarray | None]:
        """Per fold: the honest predictions (select on one half, predict the other)."""
        call = self._call
        out: list[np.ndarray | None] = []
        for f, fold in enumerate(call.folds):
            keep = self._folds[f]
            state = keep.state
            if state is None:
                out.append(None)
                continue
            if not keep.halves:
                y_f = state.y
                for sel, ev in zip(_halves(y_f), _halves(y_f)[::-1], strict=True):
                    half = FoldState(
                        y_f[sel],
                        self._score,
                        n_classes=state.proba.shape[2],
                        dtype=state.dtype,
                        max_n_ensemble=self._max_n,
                        min_improvement=self._min_improvement,
                    )
                    keep.halves.append((sel, ev, half))
            index = {call.names[i]: i for i in call.usable[f]}
            order = [call.names[i] for i in call.usable[f]]
            pred = np.empty(state.proba.shape[1:], dtype=np.float64)
            for sel, ev, half in keep.halves:
                if len(sel) == 0 or len(ev) == 0:
                    continue
                half.sync(order, lambda nm, _s=sel, _v=fold.valid_proba, _i=index: _v[_i[nm]][_s])
                picked = half.picks()
                members = {nm: state.member(nm)[ev] for nm in dict.fromkeys(picked)}
                pred[ev] = mean_of_picks(members, picked)
            out.append(pred)
        return out
