"""Contributivity shares and RAMP's historical credit propagation."""

from __future__ import annotations

import numpy as np
import pytest

from ramp_server.blending.contributivity import (
    contributivity,
    fold_contributivity,
    historical_contributivity,
    rounded_percentages,
)


def test_contributivity_is_the_share_of_picks_averaged_over_folds():
    picks = [[0, 0, 1, 2], [1], [0, 2]]
    per_fold = fold_contributivity(picks, 4)
    assert per_fold[:, 0].tolist() == pytest.approx([0.5 / 3, 0.25 / 3, 0.25 / 3, 0])
    c = contributivity(picks, 4)
    assert c.sum() == pytest.approx(1.0)
    assert c.tolist() == pytest.approx([(0.5 + 0.5) / 3, (0.25 + 1) / 3, (0.25 + 0.5) / 3, 0])
    assert rounded_percentages(c).tolist() == [33, 42, 25, 0]


def test_credit_flows_transitively_from_newest_to_oldest():
    order = ["a", "b", "c"]  # oldest first
    contrib = {"a": 0.0, "b": 0.2, "c": 0.8}
    credits = {"c": [("b", 50.0)], "b": [("a", 50.0)]}
    hist = historical_contributivity(order=order, contributivity=contrib, credits=credits)
    # c keeps half of its 0.8; b holds 0.2 + 0.4 and gives half of it to a
    assert hist == pytest.approx({"c": 0.4, "b": 0.3, "a": 0.3})


def test_historical_contributivity_conserves_the_total_on_random_credit_graphs():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 15))
        order = list(range(n))
        contrib = dict(enumerate(rng.dirichlet(np.ones(n))))
        credits = {}
        for t in range(1, n):
            k = int(rng.integers(0, min(t, 3) + 1))
            sources = rng.choice(t, size=k, replace=False)
            pct = rng.dirichlet(np.ones(k + 1))[:k] * 100
            credits[t] = list(zip(sources.tolist(), pct.tolist(), strict=True))
        hist = historical_contributivity(order=order, contributivity=contrib, credits=credits)
        assert sum(hist.values()) == pytest.approx(sum(contrib.values()))
        assert min(hist.values()) >= -1e-12


def test_credit_to_a_newer_submission_or_over_100_percent_is_refused():
    with pytest.raises(ValueError, match="not older"):
        historical_contributivity(
            order=["a", "b"], contributivity={"a": 1.0}, credits={"a": [("b", 10.0)]}
        )
    with pytest.raises(ValueError, match="at most 100"):
        historical_contributivity(
            order=["a", "b", "c"], contributivity={}, credits={"c": [("a", 60.0), ("b", 50.0)]}
        )
