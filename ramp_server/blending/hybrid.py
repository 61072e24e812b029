"""The whole blend: greedy selection on every fold, contributivity and the hybrid-model scores.

``blend`` reproduces rampwf's ``blend_submissions`` over arrays:

- per fold, :func:`~ramp_server.blending.greedy.greedy_fold` on the candidates' validation
  predictions (a candidate missing on the fold, or with any NaN there, is left out of that fold);
- contributivity of a submission = its share of the fold's picks, averaged over folds
  (``fold_contributivity`` holds rampwf's ``fold_i`` columns, ``contributivity`` sums to 1);
- combined scores: the fold ensembles' validation predictions bagged across folds as rampwf's
  ``get_score_cv_bags`` does, and their test predictions (the same picks applied to the fold
  models' test predictions) bagged over folds; the same for the fold-wise best single model.

Beyond rampwf (``nested=True``): an honest hybrid validation score. Each fold's validation rows
are split in two stratified halves; the ensemble is selected on one half and scored on the other
(and vice versa), then bagged over folds like the combined score: no row is scored by an
ensemble selected on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from .combine import bag_scores, clip_normalise, mean_of_picks
from .greedy import FoldBlend, greedy_fold
from .scores import ScoreType

TestLoader = Callable[[int], "np.ndarray | None"]


@dataclass
class FoldInput:
    """The candidates' predictions on one CV fold.

    ``valid_proba[i]`` is candidate ``i``'s (n_valid, d) probabilities on ``valid_indices`` (None:
    missing); ``test_proba`` is a sequence or a loader ``i -> array`` called only for picked
    candidates (None: no test scores).

    Optional, to spare a copy of all the fold's predictions: ``stacked`` (K, n_valid, d) whose
    row ``i`` is ``valid_proba[i]`` (or a function returning it, called once those are read),
    which the blend may then normalise in place, reading the raw predictions it still needs
    through ``raw_valid(i)`` (both or neither). Used only when every row is that candidate's.
    """

    valid_indices: np.ndarray
    valid_proba: Sequence[np.ndarray | None]
    test_proba: Sequence[np.ndarray | None] | TestLoader | None = None
    stacked: np.ndarray | Callable[[], np.ndarray | None] | None = None
    raw_valid: Callable[[int], np.ndarray | None] | None = None

    def test_of(self, i: int) -> np.ndarray | None:
        if self.test_proba is None:
            return None
        if callable(self.test_proba):
            return self.test_proba(i)
        return self.test_proba[i]


@dataclass
class BlendResult:
    """Everything a blend computes; indices refer to ``names`` (candidate order)."""

    names: list[str]
    score_name: str
    is_lower_the_better: bool
    picks: list[list[int]]  # per fold; empty when the fold had no usable candidate
    fold_contributivity: np.ndarray  # (K, F): share of fold f's picks / F (rampwf's fold_i)
    contributivity: np.ndarray  # (K,) fractions summing to 1 (0 everywhere when nothing blended)
    combined_valid_scores: list[float]  # bagging curve: score of the first 1, 2, ... folds
    combined_test_scores: list[float]
    foldwise_best_valid_scores: list[float]
    foldwise_best_test_scores: list[float]
    nested_valid_scores: list[float] = field(default_factory=list)
    ensemble_scores: list[list[float]] = field(default_factory=list)  # per fold, per step
    time_s: float = 0.0
    #: per fold: {candidate: clipped+renormalised validation proba} of the picked candidates
    members_valid: list[dict[int, np.ndarray]] = field(default_factory=list, repr=False)
    members_test: list[dict[int, np.ndarray]] = field(default_factory=list, repr=False)
    valid_rows: list[np.ndarray] = field(default_factory=list, repr=False)
    combined_valid_proba: np.ndarray | None = field(default=None, repr=False)
    combined_valid_mask: np.ndarray | None = field(default=None, repr=False)
    combined_test_proba: np.ndarray | None = field(default=None, repr=False)

    @staticmethod
    def _last(values: list[float]) -> float | None:
        return values[-1] if values else None

    @property
    def combined_valid(self) -> float | None:
        return self._last(self.combined_valid_scores)

    @property
    def combined_test(self) -> float | None:
        return self._last(self.combined_test_scores)

    @property
    def foldwise_best_valid(self) -> float | None:
        return self._last(self.foldwise_best_valid_scores)

    @property
    def foldwise_best_test(self) -> float | None:
        return self._last(self.foldwise_best_test_scores)

    @property
    def nested_valid(self) -> float | None:
        return self._last(self.nested_valid_scores)

    def pick_counts(self) -> np.ndarray:
        """(K, F) number of times each candidate was picked on each fold."""
        out = np.zeros((len(self.names), len(self.picks)), dtype=np.int64)
        for f, picks in enumerate(self.picks):
            np.add.at(out[:, f], picks, 1)
        return out


def _usable(arr: np.ndarray | None, n_rows: int, n_classes: int | None) -> bool:
    if arr is None or arr.ndim != 2 or arr.shape[0] != n_rows:
        return False
    if n_classes is not None and arr.shape[1] != n_classes:
        return False
    return not np.isnan(arr).any()


def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def _halves(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint, stratified, deterministic halves of the rows of ``y``."""
    order = np.argsort(y, kind="stable")
    return np.sort(order[0::2]), np.sort(order[1::2])


def _nested_fold(
    proba: np.ndarray, y: np.ndarray, score: ScoreType, max_n: int, min_improvement: float
) -> np.ndarray:
    """Honest prediction of one fold: select on one half, predict the other (both ways)."""
    out = np.empty(proba.shape[1:], dtype=np.float64)
    a, b = _halves(y)
    for sel, ev in ((a, b), (b, a)):
        if len(sel) == 0 or len(ev) == 0:
            continue
        sub = proba[:, sel]
        fb = greedy_fold(sub, y[sel], score, max_n_ensemble=max_n, min_improvement=min_improvement)
        members = {i: clip_normalise(np.array(proba[i, ev], copy=True)) for i in set(fb.picks)}
        out[ev] = mean_of_picks(members, fb.picks)
    return out


@dataclass
class FoldSelection:
    """One fold's greedy selection and what the rest of the blend needs from its inputs."""

    fold: FoldBlend
    picks: list[int]  # candidate indices
    members_valid: dict[int, np.ndarray]  # clipped + renormalised
    best_valid: np.ndarray  # raw validation proba of the first pick
    raw_test: dict[int, np.ndarray | None]
    nested: np.ndarray | None


def _first_n_classes(folds: Sequence[FoldInput], rows_all: list[np.ndarray]) -> int | None:
    """Classes of the first usable candidate (of the first fold that has one)."""
    for fold, rows in zip(folds, rows_all, strict=True):
        for p in fold.valid_proba:
            if _usable(p, len(rows), None):
                return p.shape[1]
    return None


def _select(
    fold: FoldInput,
    rows: np.ndarray,
    y_f: np.ndarray,
    n_classes: int | None,
    score: ScoreType,
    max_n_ensemble: int,
    min_improvement: float,
    nested: bool,
) -> FoldSelection | None:
    avail = [i for i, p in enumerate(fold.valid_proba) if _usable(p, len(rows), n_classes)]
    if not avail or len(rows) == 0:
        return None
    dtype = np.result_type(*(fold.valid_proba[i].dtype for i in avail), np.float32)
    shape = (len(avail), len(rows), n_classes)
    stacked = fold.stacked() if callable(fold.stacked) else fold.stacked
    in_place = (
        stacked is not None
        and fold.raw_valid is not None
        and len(avail) == len(fold.valid_proba)
        and stacked.shape == shape
        and stacked.dtype == dtype
        and all(_address(fold.valid_proba[i]) == _address(stacked[i]) for i in avail)
    )
    if in_place:  # every candidate usable: blend the caller's array itself
        proba = stacked
    else:
        proba = np.empty(shape, dtype=dtype)
        for j, i in enumerate(avail):
            proba[j] = fold.valid_proba[i]
    nested_pred = None
    if nested:
        nested_pred = _nested_fold(proba, y_f, score, max_n_ensemble, min_improvement)
    fb = greedy_fold(
        proba, y_f, score, max_n_ensemble=max_n_ensemble, min_improvement=min_improvement
    )
    picks = [avail[j] for j in fb.picks]
    mv = {avail[j]: proba[j].copy() for j in set(fb.picks)}  # already clipped+renormalised
    best = fold.raw_valid(picks[0]) if in_place else fold.valid_proba[picks[0]]
    if best is None:
        raise ValueError(f"the raw predictions of candidate {picks[0]} could not be read again")
    return FoldSelection(
        fold=fb,
        picks=picks,
        members_valid=mv,
        best_valid=np.asarray(best),
        raw_test={i: fold.test_of(i) for i in set(picks)},
        nested=nested_pred,
    )


def blend(
    *,
    folds: Sequence[FoldInput],
    y_train: np.ndarray,
    score: ScoreType,
    y_test: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    max_n_ensemble: int = 80,
    min_improvement: float = 0.0,
    nested: bool = False,
    progress: bool = False,
    threads: int = 1,
) -> BlendResult:
    """Blend K candidates over the CV folds; see the module docstring.

    ``threads`` > 1 selects that many folds at once (numpy releases the GIL in the heavy steps,
    and a fold whose inputs are still being read waits without holding back the others); the
    folds' sequences and test loaders are then used from several threads. Results do not depend
    on it.
    """
    t0 = time.perf_counter()
    y_train = np.asarray(y_train, dtype=np.intp)
    K = max((len(f.valid_proba) for f in folds), default=0)
    names = [str(n) for n in (names if names is not None else range(K))]
    if len(names) != K:
        raise ValueError(f"{len(names)} names for {K} candidates")
    F = len(folds)
    rows_all = [np.asarray(f.valid_indices, dtype=np.intp) for f in folds]
    n_classes = _first_n_classes(folds, rows_all)

    def select(f: int) -> FoldSelection | None:
        return _select(
            folds[f],
            rows_all[f],
            y_train[rows_all[f]],
            n_classes,
            score,
            max_n_ensemble,
            min_improvement,
            nested,
        )

    with ExitStack() as stack:
        if threads > 1 and F > 1:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=min(threads, F)))
            selections = pool.map(select, range(F))  # in fold order
        else:
            selections = map(select, range(F))
        if progress:
            from tqdm import tqdm

            selections = tqdm(selections, total=F, desc="blending folds", unit="fold")
        return assemble(
            names=names,
            selections=list(selections),
            rows=rows_all,
            y_train=y_train,
            y_test=y_test,
            score=score,
            nested=nested,
            t0=t0,
        )


def assemble(
    *,
    names: list[str],
    selections: Sequence[FoldSelection | None],
    rows: list[np.ndarray],
    y_train: np.ndarray,
    y_test: np.ndarray | None,
    score: ScoreType,
    nested: bool,
    t0: float,
) -> BlendResult:
    """The blend's result from each fold's selection (None: no usable candidate on the fold):
    contributivities, the combined and fold-wise best curves (validation and test)."""
    K, F = len(names), len(selections)
    fold_contrib = np.zeros((K, F))
    picks_all: list[list[int]] = []
    ens_scores: list[list[float]] = []
    comb_valid: list[np.ndarray | None] = []
    best_valid: list[np.ndarray | None] = []
    comb_test: list[np.ndarray | None] = []
    best_test: list[np.ndarray | None] = []
    nested_valid: list[np.ndarray | None] = []
    members_valid: list[dict[int, np.ndarray]] = []
    members_test: list[dict[int, np.ndarray]] = []
    for f, sel in enumerate(selections):
        if sel is None:
            for lst in (comb_valid, best_valid, comb_test, best_test, nested_valid):
                lst.append(None)
            picks_all.append([])
            ens_scores.append([])
            members_valid.append({})
            members_test.append({})
            continue
        picks = sel.picks
        if nested:
            nested_valid.append(sel.nested)
        picks_all.append(picks)
        ens_scores.append(sel.fold.scores)
        for i in picks:
            fold_contrib[i, f] += 1.0 / len(picks)
        members_valid.append(sel.members_valid)
        comb_valid.append(mean_of_picks(sel.members_valid, picks))
        best_valid.append(sel.best_valid)
        raw_test = sel.raw_test
        if all(t is not None for t in raw_test.values()):
            mt = {i: clip_normalise(np.array(t, copy=True)) for i, t in raw_test.items()}
            members_test.append(mt)
            comb_test.append(mean_of_picks(mt, picks))
            best_test.append(np.asarray(raw_test[picks[0]]))
        else:
            members_test.append({})
            comb_test.append(None)
            best_test.append(None)
    fold_contrib /= max(F, 1)
    total = fold_contrib.sum()
    contrib = fold_contrib.sum(axis=1) / total if total > 0 else np.zeros(K)

    cv_scores, cv_proba, cv_mask = bag_scores(comb_valid, rows, y_train, score)
    fb_scores, _, _ = bag_scores(best_valid, rows, y_train, score)
    nested_scores = bag_scores(nested_valid, rows, y_train, score)[0] if nested else []
    ct_scores: list[float] = []
    bt_scores: list[float] = []
    ct_proba = None
    if y_test is not None and any(p is not None for p in comb_test):
        y_test = np.asarray(y_test, dtype=np.intp)
        ct_scores, ct_proba, _ = bag_scores(comb_test, None, y_test, score)
        bt_scores = bag_scores(best_test, None, y_test, score)[0]
    return BlendResult(
        names=names,
        score_name=score.name,
        is_lower_the_better=score.is_lower_the_better,
        picks=picks_all,
        fold_contributivity=fold_contrib,
        contributivity=contrib,
        combined_valid_scores=cv_scores,
        combined_test_scores=ct_scores,
        foldwise_best_valid_scores=fb_scores,
        foldwise_best_test_scores=bt_scores,
        nested_valid_scores=nested_scores,
        ensemble_scores=ens_scores,
        time_s=time.perf_counter() - t0,
        members_valid=members_valid,
        members_test=members_test,
        valid_rows=rows,
        combined_valid_proba=cv_proba if len(cv_scores) else None,
        combined_valid_mask=cv_mask if len(cv_scores) else None,
        combined_test_proba=ct_proba,
    )
