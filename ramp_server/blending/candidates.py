"""Vectorized scoring of every candidate added to the current ensemble (one greedy step).

Speed: the ensemble is kept as a running sum ``S`` of its members (exactly the sequential sum
rampwf's ``nanmean`` computes, so every combined value is bit-identical); a step scores all K
candidates ``(S + P_i) / (k + 1)`` in one vectorized pass:

- label-based scores (accuracy, error, balanced accuracy, macro recall): candidate ``i`` can only
  change the ensemble's label ``c*`` on row ``r`` if its own preference for another class,
  ``max_c P_i[r, c] - P_i[r, c*]``, reaches the ensemble's margin there (a member adds at most
  that to a rival's lead). Only those (candidate, row) pairs are recomputed, and when no class
  outside the ensemble's few best can win, only on those classes. Work per step
  O(K * n + pairs * m) instead of rampwf's O(K * k * n * d);
- NLL: only the true class's probability is needed, O(K * n) per step;
- other score types: the official function on each candidate.
"""

from __future__ import annotations

import numpy as np

from .combine import clip_normalise
from .scores import LABEL_KINDS, ScoreType, label_scores

_TOP_M = 4  # rival classes examined on the fast path
_CHUNK_ELEMENTS = 1 << 22  # candidates are processed in chunks of about this many floats
_DENSE_CHUNK = 1 << 19  # floats per chunk of the dense path (stays in cache)
_DENSE_PAIRS = 0.1  # above this fraction of (candidate, row) pairs to re-examine, go dense


class Candidates:
    """Vectorized scoring of ``(S + P_i) / (k + 1)`` for all candidates ``i``."""

    def __init__(
        self, proba: np.ndarray, y: np.ndarray, score: ScoreType, *, always_dense: bool = False
    ) -> None:
        self.proba = proba  # (K, n, d), updated in place by the caller when normalising
        self.y = y
        self.score = score
        self.n_classes = proba.shape[2]
        self.true_count = np.bincount(y, minlength=self.n_classes)
        self.dtype = proba.dtype
        self._pmax: np.ndarray | None = None
        self._gap: np.ndarray | None = None
        self._p_true: np.ndarray | None = None
        self._cstar: np.ndarray | None = None
        self._gmax: np.ndarray | None = None
        self._g2: np.ndarray | None = None
        self._g2max: np.ndarray | None = None
        self._c2: np.ndarray | None = None
        self.normalised = False
        self._dense_buf: np.ndarray | None = None  # see _dense_label_scores
        # a few candidates (new arrivals): the dense pass costs less than the sparse set-up
        self.always_dense = always_dense

    def set_row_max(self, pmax: np.ndarray) -> None:
        """Give ``proba.max(axis=2)`` of the normalised candidates, when the caller keeps it."""
        self._pmax = pmax

    @property
    def state_nbytes(self) -> int:
        """Bytes of what the steps keep about every candidate (gaps, true-class probability)."""
        kept = (self._gap, self._g2, self._p_true)
        return sum(a.nbytes for a in kept if a is not None)

    def grow(self, proba: np.ndarray, pmax: np.ndarray | None = None) -> None:
        """The same candidates, then new ones: ``proba`` (normalised) starts with the current
        ``self.proba``. What the last steps left (the per-candidate gaps to the ensemble's
        labels, the true class's probability) is kept and extended to the new candidates, so a
        later step only updates what its ensemble changed (same values as a fresh start)."""
        old, self.proba = self.proba.shape[0], proba
        new = proba[old:]
        self._dense_buf = None  # sized for the old number of candidates
        rows = np.arange(proba.shape[1])
        if pmax is not None:
            self._pmax = pmax
        elif self._pmax is not None:
            self._pmax = np.concatenate([self._pmax, new.max(axis=2)])
        if self._gap is not None and len(new):
            p_star = new[:, rows, self._cstar]
            gap = self._pmax[old:] - p_star
            g2 = new[:, rows, self._c2] - p_star
            self._gap = np.concatenate([self._gap, gap])
            self._g2 = np.concatenate([self._g2, g2])
            np.maximum(self._gmax, gap.max(axis=0), out=self._gmax)
            np.maximum(self._g2max, g2.max(axis=0), out=self._g2max)
        if self._p_true is not None:
            self._p_true = np.concatenate([self._p_true, new[:, rows, self.y]])

    @property
    def delta(self) -> float:
        """Upper bound on |approximate - official| score."""
        kind = self.score.kind
        if kind in ("accuracy", "error"):
            return 0.0
        if kind in LABEL_KINDS:
            return 1e-12
        if kind == "nll":
            return 1e-5 if self.dtype != np.float64 else 1e-11
        return 0.0  # generic: official values

    def scores(self, total: np.ndarray | None, k: int) -> np.ndarray:
        kind = self.score.kind
        if kind in LABEL_KINDS:
            return self._label_scores(total, k)
        if kind == "nll":
            return self._nll_scores(total, k)
        return self._generic_scores(total, k)

    def _mean(self, total: np.ndarray | None, k: int, chunk: np.ndarray) -> np.ndarray:
        if total is None:
            return chunk
        chunk += total
        chunk /= k + 1
        return chunk

    def _label_scores(self, total: np.ndarray | None, k: int) -> np.ndarray:
        if total is None:
            return self._single_label_scores()
        K, n, d = self.proba.shape
        if self.always_dense:
            return self._dense_label_scores(total, k)
        y = self.y
        flat = self.proba.reshape(-1)
        rows = np.arange(n)
        cstar = np.argmax(total, axis=1)
        # c2: the best other class; margin2 / margin3: c*'s lead over c2 / over all the others
        others = total.copy()
        others[rows, cstar] = -np.inf
        c2 = np.argmax(others, axis=1)
        margin2 = total[rows, cstar] - others[rows, c2]
        others[rows, c2] = -np.inf
        margin3 = total[rows, cstar] - others.max(axis=1)
        # gap[i, r] = max_c P_i[r, c] - P_i[r, c*] bounds how much candidate i raises any rival
        # of c* on row r; g2[i, r] = P_i[r, c2] - P_i[r, c*] is that for c2 exactly. Both are
        # kept up to date incrementally (c* and c2 change on few rows per step).
        if self._gap is None:
            if self._pmax is None:
                self._pmax = self.proba.max(axis=2)
            p_star = self.proba[:, rows, cstar]
            self._gap = self._pmax - p_star
            self._g2 = self.proba[:, rows, c2] - p_star
            self._gmax = self._gap.max(axis=0)
            self._g2max = self._g2.max(axis=0)
        else:
            changed = np.flatnonzero((cstar != self._cstar) | (c2 != self._c2))
            if len(changed):
                p_star = self.proba[:, changed, cstar[changed]]
                g = self._pmax[:, changed] - p_star
                self._gap[:, changed] = g
                self._gmax[changed] = g.max(axis=0)
                g = self.proba[:, changed, c2[changed]] - p_star
                self._g2[:, changed] = g
                self._g2max[changed] = g.max(axis=0)
        self._cstar, self._c2 = cstar, c2
        m = min(_TOP_M, d - 1)
        top = np.argpartition(total, d - m - 1, axis=1)[:, d - m - 1 :]  # m+1 largest classes
        top_vals = np.take_along_axis(total, top, axis=1)
        order = np.argsort(-top_vals, axis=1, kind="stable")
        s_first = top_vals[rows, order[:, 0]]
        s_outside = top_vals[rows, order[:, m]]  # the largest sum outside the m best classes
        top_m = np.sort(np.take_along_axis(top, order[:, :m], axis=1), axis=1)
        slack = 64 * np.finfo(total.dtype).eps * (k + 1)
        lim2, lim3 = margin2 - slack, margin3 - slack
        # Candidate i keeps c* on row r unless g2 reaches margin2 (c2 may win) or gap reaches
        # margin3 (another class may win); rows where no candidate does are skipped.
        active = np.flatnonzero((self._g2max >= lim2) | (self._gmax >= lim3))
        if len(active) > 0.7 * n:
            ii, rr = np.nonzero((self._g2 >= lim2) | (self._gap >= lim3))
        else:
            ga, g2a = self._gap[:, active], self._g2[:, active]
            ii, loc = np.nonzero((g2a >= lim2[active]) | (ga >= lim3[active]))
            rr = active[loc]
        if len(ii) > _DENSE_PAIRS * K * n:  # (the state above stays up to date either way)
            return self._dense_label_scores(total, k)
        hit_star = cstar == y
        tp = np.tile(np.bincount(cstar[hit_star], minlength=d), (K, 1))
        pc = np.tile(np.bincount(cstar, minlength=d), (K, 1))
        if not len(ii):
            return label_scores(self.score, tp, pc, self.true_count)
        key = ii * d + cstar[rr]
        pc -= np.bincount(key, minlength=K * d).reshape(K, d)
        tp -= np.bincount(key[hit_star[rr]], minlength=K * d).reshape(K, d)
        labels = np.empty(len(ii), dtype=np.intp)
        gap_pairs = self._gap[ii, rr]
        duel = gap_pairs < lim3[rr]  # only c2 can beat c*: compare the two
        if duel.any():
            i2, r2 = ii[duel], rr[duel]
            cs, cr = cstar[r2], c2[r2]
            base = (i2 * n + r2) * d
            v_star = flat[base + cs] + total[r2, cs]
            v_star /= k + 1
            v_two = flat[base + cr] + total[r2, cr]
            v_two /= k + 1
            wins = (v_two > v_star) | ((v_two == v_star) & (cr < cs))
            labels[duel] = np.where(wins, cr, cs)
        # Easy pairs: no class outside the ensemble's m best can win (it trails c* by more than
        # the gap), so the new label is the first maximum among those m classes (index order).
        easy = ~duel & (s_outside[rr] < s_first[rr] - gap_pairs - slack)
        ie, re_ = ii[easy], rr[easy]
        if len(ie):
            cls = top_m[re_]  # (pairs, m), ascending class index
            vals = flat[((ie * n + re_) * d)[:, None] + cls]
            vals += np.take_along_axis(total, top_m, axis=1)[re_]
            vals /= k + 1
            best_val = vals[:, 0].copy()
            best_lab = cls[:, 0].copy()
            for j in range(1, m):
                better = vals[:, j] > best_val
                best_val[better] = vals[better, j]
                best_lab[better] = cls[better, j]
            labels[easy] = best_lab
        hard = np.flatnonzero(~easy & ~duel)
        step = max(1, _CHUNK_ELEMENTS // d)
        for a in range(0, len(hard), step):
            h = hard[a : a + step]
            sub = self.proba[ii[h], rr[h]]  # (pairs, d), a copy
            sub += total[rr[h]]
            sub /= k + 1
            labels[h] = np.argmax(sub, axis=1)
        key = ii * d + labels
        pc += np.bincount(key, minlength=K * d).reshape(K, d)
        tp += np.bincount(key[labels == y[rr]], minlength=K * d).reshape(K, d)
        return label_scores(self.score, tp, pc, self.true_count)

    def _dense_label_scores(self, total: np.ndarray, k: int) -> np.ndarray:
        """Every candidate's labels on every row, as the official score computes them.

        Cheaper than examining pairs one by one when many (candidate, row) pairs may change
        the label (typically the first few steps).
        """
        K, n, d = self.proba.shape
        tp = np.empty((K, d), dtype=np.int64)
        pc = np.empty((K, d), dtype=np.int64)
        step = max(1, _DENSE_CHUNK // (n * d))
        if self._dense_buf is None:  # one buffer for all the dense steps
            self._dense_buf = np.empty((min(step, K), n, d), dtype=total.dtype)
        buf = self._dense_buf
        for a in range(0, K, step):
            b = min(K, a + step)
            chunk = np.add(self.proba[a:b], total, out=buf[: b - a])
            chunk /= k + 1  # the same operations, in the same order, as the official mean
            lab = np.argmax(chunk, axis=2)
            key = lab + (np.arange(b - a) * d)[:, None]
            pc[a:b] = np.bincount(key.ravel(), minlength=(b - a) * d).reshape(-1, d)
            tp[a:b] = np.bincount(key[lab == self.y], minlength=(b - a) * d).reshape(-1, d)
        return label_scores(self.score, tp, pc, self.true_count)

    def singles(self) -> np.ndarray:
        """Scores of each candidate alone on its raw probabilities (as rampwf scores them).

        For accuracy and error the same chunked pass also clips and renormalises the members in
        place and notes each row's top probability (``normalised`` is then True).
        """
        if self.score.kind not in ("accuracy", "error"):
            return self.scores(None, 0)
        K, n, d = self.proba.shape
        tp = np.zeros((K, d), dtype=np.int64)
        pc = np.zeros((K, d), dtype=np.int64)
        self._pmax = np.empty((K, n), dtype=self.dtype)
        step = max(1, _CHUNK_ELEMENTS // (4 * n * d))  # a chunk stays in cache
        for a in range(0, K, step):
            b = min(K, a + step)
            chunk = self.proba[a:b]
            lab = np.argmax(chunk, axis=2)  # raw predictions
            offs = (np.arange(b - a) * d)[:, None]
            key = lab + offs
            pc[a:b] = np.bincount(key.ravel(), minlength=(b - a) * d).reshape(-1, d)
            tp[a:b] = np.bincount(key[lab == self.y], minlength=(b - a) * d).reshape(-1, d)
            clip_normalise(chunk, out=chunk)
            np.max(chunk, axis=2, out=self._pmax[a:b])
        self.normalised = True
        return label_scores(self.score, tp, pc, self.true_count)

    def _single_label_scores(self) -> np.ndarray:
        K, n, d = self.proba.shape
        tp = np.zeros((K, d), dtype=np.int64)
        pc = np.zeros((K, d), dtype=np.int64)
        step = max(1, _CHUNK_ELEMENTS // (n * d))
        for a in range(0, K, step):
            b = min(K, a + step)
            lab = np.argmax(self.proba[a:b], axis=2)  # raw predictions, as rampwf scores them
            offs = (np.arange(b - a) * d)[:, None]
            key = lab + offs
            pc[a:b] = np.bincount(key.ravel(), minlength=(b - a) * d).reshape(-1, d)
            tp[a:b] = np.bincount(key[lab == self.y], minlength=(b - a) * d).reshape(-1, d)
        return label_scores(self.score, tp, pc, self.true_count)

    def _nll_scores(self, total: np.ndarray | None, k: int) -> np.ndarray:
        K, n, _ = self.proba.shape
        rows = np.arange(n)
        if total is None:
            p_true = self.proba[:, rows, self.y]  # raw, for the single-model scores
        else:
            if self._p_true is None:  # members are normalised from here on
                self._p_true = self.proba[:, rows, self.y]
            p_true = self._p_true + total[rows, self.y]
            p_true /= k + 1
        eps = np.finfo(p_true.dtype).eps
        loss = -np.log(np.clip(p_true, eps, 1 - eps))
        return np.mean(loss, axis=1).astype(np.float64)

    def _generic_scores(self, total: np.ndarray | None, k: int) -> np.ndarray:
        out = np.empty(self.proba.shape[0])
        for i in range(len(out)):
            out[i] = self.official_candidate(total, k, i)
        return out

    def official_candidate(self, total: np.ndarray | None, k: int, i: int) -> float:
        chunk = np.array(self.proba[i], copy=True)
        return self.score(self.y, self._mean(total, k, chunk))
