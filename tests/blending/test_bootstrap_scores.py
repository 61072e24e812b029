"""``bootstrap_scores``: the per-submission intervals of the leaderboards (vectorized, seeded)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ramp_server.blending.bootstrap import CONFUSION, bootstrap_scores, confusion_scores
from ramp_server.blending.scores import from_rampwf

from blend_helpers import RAMPWF_SCORE_TYPES, random_case

D = 6


def _scores():
    return [from_rampwf(make(), n_classes=D) for make in RAMPWF_SCORE_TYPES.values()]


def _case(n=500, seed=0):
    proba, y = random_case(np.random.default_rng(seed), K=1, n=n, d=D, strength=0.8)
    return y, proba[0]


def test_confusion_matrix_forms_equal_the_official_scores_on_resamples():
    y, proba = _case(n=60)  # small: some resamples miss a class, some predict absent ones
    scores = [s for s in _scores() if s.kind in CONFUSION]
    assert {s.kind for s in scores} == set(CONFUSION)
    cells = y * D + proba.argmax(axis=1)
    rows = np.random.default_rng(5).integers(0, len(y), size=(30, len(y)))
    conf = np.stack([np.bincount(cells[r], minlength=D * D).reshape(D, D) for r in rows])
    for s in scores:
        official = [s(y[r], proba[r]) for r in rows]
        assert confusion_scores(s, conf) == pytest.approx(official, abs=1e-12), s.name


def test_nll_intervals_equal_the_official_function_on_the_same_draws():
    y, proba = _case()
    nll = next(s for s in _scores() if s.kind == "nll")
    fast = bootstrap_scores([nll], y, proba, n_boot=150, seed=3, chunk=40)[0]
    slow = bootstrap_scores([replace(nll, kind="generic")], y, proba, n_boot=150, seed=3, chunk=40)
    assert (fast.low, fast.high) == pytest.approx((slow[0].low, slow[0].high), abs=1e-9)
    assert fast.estimate == slow[0].estimate == nll(y, proba)


def test_multinomial_draws_give_the_intervals_of_row_resampling():
    y, proba = _case(n=800)
    for s in (s for s in _scores() if s.kind in CONFUSION):
        cells = bootstrap_scores([s], y, proba, n_boot=1000, seed=1)[0]
        rows = bootstrap_scores([replace(s, kind="generic")], y, proba, n_boot=1000, seed=2)[0]
        # the same law: the bounds differ by Monte-Carlo noise only (the width is ~0.06)
        assert cells.low == pytest.approx(rows.low, abs=0.008), s.name
        assert cells.high == pytest.approx(rows.high, abs=0.008), s.name


def test_every_interval_contains_its_estimate_and_narrows_with_more_rows():
    for n in (300, 3000):
        y, proba = _case(n=n)
        for s, iv in zip(_scores(), bootstrap_scores(_scores(), y, proba, n_boot=200), strict=True):
            assert iv.low <= iv.estimate <= iv.high, (n, s.name)
            assert iv.low < iv.high or s.kind == "generic", (n, s.name)  # f1_70 may be 0 here
            assert iv.confidence == 0.95 and iv.n_boot == 200
    small = bootstrap_scores(_scores()[:1], *_case(n=300), n_boot=200)[0]
    large = bootstrap_scores(_scores()[:1], *_case(n=3000), n_boot=200)[0]
    assert large.high - large.low < small.high - small.low


def test_intervals_are_seeded_and_independent_of_the_chunk_size():
    y, proba = _case()
    scores = [s for s in _scores() if s.kind != "generic"]
    a = bootstrap_scores(scores, y, proba, n_boot=100, seed=7, chunk=64)
    b = bootstrap_scores(scores, y, proba, n_boot=100, seed=7, chunk=64)
    assert a == b
    other_seed = bootstrap_scores(scores, y, proba, n_boot=100, seed=8, chunk=64)
    assert [(i.low, i.high) for i in other_seed] != [(i.low, i.high) for i in a]
    # the draws are one seeded stream, whatever the chunks they are made in
    c = bootstrap_scores(scores, y, proba, n_boot=100, seed=7, chunk=33)
    assert c == a
