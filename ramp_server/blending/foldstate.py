"""One greedy problem (a CV fold, or half of one) kept in memory between re-blends.

Caruana's greedy selection is deterministic given its candidates, and a candidate's score at a
step depends only on its own predictions and on the ensemble of that step. So a
:class:`FoldState` keeps

- ``proba``: every candidate's clipped and renormalised predictions, one *slot* each, stacked
  (capacity grown by half when full: an arrival copies only its own rows);
- ``singles``: each slot's score alone on its *raw* predictions (step 1 of the greedy);
- for label-based scores, ``pmax``: each slot's largest probability on each row (what the
  sparse scan needs of every candidate first; 1/d of the stack);
- ``path``: the picks (slots), the ensemble's official score after each pick, and every scan's
  approximate score of every slot (``GreedyPath``, a few floats per candidate and step);
- the last full scan's :class:`~.candidates.Candidates` state (for label scores the
  candidates' gaps to the ensemble's two best classes, 2 x N x n floats; for the NLL the true
  class's probability, N x n), so that a path that changes needs no fresh set-up.

Nothing else: no raw predictions (the caller passes them again when asked, see ``raw``), no
running sums (they are replayed ``total += proba[pick]`` in pick order, bit-identically).

New candidates are judged along the kept path: at each step only their scores are computed,
merged with the kept ones in candidate order and scanned with :func:`greedy.scan_step` (the
from-scratch blend's own scan: tie rule, ``min_improvement``, exact official scores near a
decision). The path is kept up to the first step whose outcome changes; from there the
selection continues with every candidate (:func:`greedy.advance_path`). A removed candidate
resets the path (a from-scratch selection, without re-reading any prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .candidates import Candidates
from .combine import clip_normalise
from .greedy import (
    GreedyPath,
    advance_path,
    check_settings,
    first_pick,
    scan_step,
    start_path,
)
from .scores import LABEL_KINDS, ScoreType

RawLoader = Callable[[str], np.ndarray]
_GROWTH = 1.5  # capacity factor when the stack is full
_DENSE_NEW = 32  # up to this many arrivals, their label scores take the dense pass


class FoldState:
    """The greedy selection on one fold, kept up to date by :meth:`sync`.

    ``y`` (n,) labels of the fold's rows; predictions are stored as ``dtype``. Counters (for
    tests and benches): ``evaluations`` counts (candidate, step) approximate scorings, and
    ``full_steps`` the steps scanned with every candidate; ``changed_from`` is the first step
    (number of members kept) where the last :meth:`sync` changed the path (None: unchanged).
    """

    def __init__(
        self,
        y: np.ndarray,
        score: ScoreType,
        *,
        n_classes: int,
        dtype: np.dtype,
        max_n_ensemble: int = 80,
        min_improvement: float = 0.0,
    ) -> None:
        check_settings(max_n_ensemble, min_improvement)
        self.y = np.asarray(y, dtype=np.intp)
        self.score = score
        self.sign = -1.0 if score.is_lower_the_better else 1.0
        self.max_n_ensemble = max_n_ensemble
        self.min_improvement = min_improvement
        self.proba = np.empty((0, len(self.y), n_classes), dtype=dtype)  # [:size] in use
        self.singles = np.empty(0)
        self.labels = score.kind in LABEL_KINDS
        self.pmax = np.empty((0, len(self.y)), dtype=dtype)  # label kinds only
        self.size = 0
        self.names: list[str] = []  # slot -> name
        self.slots: dict[str, int] = {}
        self.order = np.empty(0, dtype=np.intp)  # slots in candidate order
        self.path: GreedyPath | None = None
        self._exact: dict[int, float] = {}  # slot -> sign * official raw single score
        self._cands: Candidates | None = None  # the last full scan's (see _candidates)
        self.evaluations = 0
        self.full_steps = 0
        self.changed_from: int | None = None

    @property
    def dtype(self) -> np.dtype:
        return self.proba.dtype

    @property
    def nbytes(self) -> int:
        """Bytes kept in use: the stack, the row maxima, the last scan's state (not the spare
        room of the stack)."""
        scan = 0 if self._cands is None else self._cands.state_nbytes
        return self.proba[: self.size].nbytes + self.pmax[: self.size].nbytes + scan

    def picks(self) -> list[str]:
        """The path's picks, as candidate names."""
        return [] if self.path is None else [self.names[s] for s in self.path.picks]

    def member(self, name: str) -> np.ndarray:
        """The kept (clipped and renormalised) predictions of ``name`` (a view)."""
        return self.proba[self.slots[name]]

    def discard(self, name: str) -> None:
        """Forget ``name`` (its predictions changed, or it left): the next sync starts over."""
        if name not in self.slots:
            return
        slot, last = self.slots.pop(name), self.size - 1
        if slot != last:  # the last slot fills the hole: no other slot moves
            moved = self.names[last]
            self.proba[slot] = self.proba[last]
            self.singles[slot] = self.singles[last]
            if self.labels:
                self.pmax[slot] = self.pmax[last]
            self.names[slot] = moved
            self.slots[moved] = slot
            if last in self._exact:
                self._exact[slot] = self._exact.pop(last)
            else:
                self._exact.pop(slot, None)
        else:
            self._exact.pop(slot, None)
        self.names.pop()
        self.size -= 1
        self.path = None
        self._cands = None

    def sync(self, names: Sequence[str], raw: RawLoader) -> None:
        """Bring the selection up to date with the candidates ``names`` (candidate order).

        ``raw(name)`` returns a candidate's raw (n, d) predictions on the fold's rows; it is
        called for the candidates new to the state and, rarely, for the exact single score of a
        candidate within the score's tolerance of the best one.
        """
        wanted = set(names)
        for name in [nm for nm in self.names if nm not in wanted]:
            self.discard(name)
        known = self.size
        new = [nm for nm in names if nm not in self.slots]
        if new:
            self._insert(new, raw)
        self.order = np.fromiter((self.slots[nm] for nm in names), np.intp, count=len(names))
        self.changed_from = None
        if self.size == 0:
            self.path = None
        elif self.path is None:
            self._select(raw)
        elif new:
            self._judge(known, raw)

    # -- internals -------------------------------------------------------------------------

    def _reserve(self, size: int) -> None:
        if size <= len(self.proba):
            return
        # untouched capacity costs no memory (np.empty maps pages lazily): a first stack
        # gets room for a quarter more, so arrivals seldom copy it
        cap = max(size + size // 4 + 4, int(len(self.proba) * _GROWTH))
        grown = np.empty((cap, *self.proba.shape[1:]), dtype=self.dtype)
        grown[: self.size] = self.proba[: self.size]
        self.proba = grown
        self.singles = np.concatenate([self.singles[: self.size], np.empty(cap - self.size)])
        if self.labels:
            pmax = np.empty((cap, self.proba.shape[1]), dtype=self.dtype)
            pmax[: self.size] = self.pmax[: self.size]
            self.pmax = pmax

    def _insert(self, names: list[str], raw: RawLoader) -> None:
        start, stop = self.size, self.size + len(names)
        self._reserve(stop)
        block = self.proba[start:stop]
        for j, name in enumerate(names):
            block[j] = raw(name)
        # the same passes as the from-scratch greedy_fold: raw single scores, then normalising
        cands = Candidates(block, self.y, self.score)
        self.singles[start:stop] = self.sign * cands.singles()
        if not cands.normalised:
            clip_normalise(block, out=block)
        if self.labels:
            np.max(block, axis=2, out=self.pmax[start:stop])
        for j, name in enumerate(names):
            self.slots[name] = start + j
        self.names.extend(names)
        self.size = stop

    def _candidates(self) -> Candidates:
        """Every kept slot, for a scan: the last scan's (what its steps left about every
        candidate, extended to the new slots) while no slot left, else a new one."""
        pmax = self.pmax[: self.size] if self.labels else None
        cands = self._cands
        if cands is not None and cands.proba.shape[0] <= self.size:
            cands.grow(self.proba[: self.size], pmax)
            return cands
        cands = Candidates(self.proba[: self.size], self.y, self.score)
        if pmax is not None:
            cands.set_row_max(pmax)
        return cands

    def _first(self, cands: Candidates, raw: RawLoader) -> int:
        def exact(pos: int) -> float:
            slot = int(self.order[pos])
            if slot not in self._exact:
                p = np.asarray(raw(self.names[slot]), dtype=self.dtype)
                self._exact[slot] = self.sign * self.score(self.y, p)
            return self._exact[slot]

        return int(self.order[first_pick(self.singles[self.order], cands.delta, exact)])

    def _advance(self, cands: Candidates, total: np.ndarray) -> None:
        self._cands = cands  # what its steps compute about every candidate serves the next scan
        steps = advance_path(
            cands,
            self.path,
            total,
            max_n_ensemble=self.max_n_ensemble,
            min_improvement=self.min_improvement,
            order=self.order,
        )
        self.full_steps += steps
        self.evaluations += steps * self.size

    def _select(self, raw: RawLoader) -> None:
        """From-scratch selection over every kept candidate (no prediction is read again)."""
        cands = self._candidates()
        self.path, total = start_path(cands.proba, self._first(cands, raw), self.y, self.score)
        self.changed_from = 0
        self._advance(cands, total)

    def _judge(self, known: int, raw: RawLoader) -> None:
        """Re-judge the kept path with the slots ``known:`` added (see the module docstring)."""
        path, sign = self.path, self.sign
        # official scores of any slot near a decision; the full scan's state only if needed
        cands = Candidates(self.proba[: self.size], self.y, self.score)
        if self._first(cands, raw) != path.picks[0]:
            self._select(raw)
            return
        few = self.size - known <= _DENSE_NEW
        new = Candidates(self.proba[known : self.size], self.y, self.score, always_dense=few)
        total = np.array(self.proba[path.picks[0]], copy=True)
        for j in range(len(path.scans)):
            k = j + 1  # members of the ensemble scanned at this step
            approx = np.concatenate([path.scans[j], sign * new.scores(total, k)])
            self.evaluations += self.size - known
            path.scans[j] = approx
            winner, base = scan_step(
                cands,
                approx,
                total,
                k,
                sign * path.scores[j],
                min_improvement=self.min_improvement,
                order=self.order,
            )
            kept = path.picks[k] if k < len(path.picks) else -1
            if winner != kept or (winner >= 0 and sign * base != path.scores[k]):
                del path.picks[k:], path.scores[k:], path.scans[k:]
                self.changed_from = k
                if winner >= 0:
                    path.picks.append(winner)
                    path.scores.append(sign * base)
                    total += self.proba[winner]
                    self._advance(self._candidates(), total)
                return
            if kept >= 0:
                total += self.proba[kept]
        # a path that stopped on max_n_ensemble has no scan after its last pick: nothing to judge
