"""The incremental re-blend returns exactly (bit for bit) what a from-scratch blend returns.

Every case replays a random arrival schedule: candidates are ordered by submission time but
arrive (are scored) in another order, one at a time or in batches, so they land anywhere in
the candidate order; after each arrival the IncrementalBlender's result is compared with
hybrid.blend on copies of the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.incremental import IncrementalBlender
from ramp_server.blending.scores import accuracy, from_rampwf, negative_log_likelihood

from blend_helpers import RAMPWF_SCORE_TYPES, random_folds


def assert_identical(ours, ref):
    """Every field of two BlendResults equal, arrays with np.array_equal (no tolerance)."""
    assert ours.names == ref.names
    assert ours.picks == ref.picks
    assert ours.ensemble_scores == ref.ensemble_scores
    assert np.array_equal(ours.fold_contributivity, ref.fold_contributivity)
    assert np.array_equal(ours.contributivity, ref.contributivity)
    for curve in (
        "combined_valid_scores",
        "combined_test_scores",
        "foldwise_best_valid_scores",
        "foldwise_best_test_scores",
        "nested_valid_scores",
    ):
        assert getattr(ours, curve) == getattr(ref, curve), curve
    for name in ("combined_valid_proba", "combined_valid_mask", "combined_test_proba"):
        a, b = getattr(ours, name), getattr(ref, name)
        assert (a is None and b is None) or np.array_equal(a, b), name
    for mine, theirs in zip(
        ours.members_valid + ours.members_test, ref.members_valid + ref.members_test, strict=True
    ):
        assert mine.keys() == theirs.keys()
        assert all(np.array_equal(mine[i], theirs[i]) for i in mine)
    assert all(np.array_equal(a, b) for a, b in zip(ours.valid_rows, ref.valid_rows, strict=True))


def _inputs(data, present, drop=frozenset(), copy=False):
    """FoldInputs of the candidates ``present`` (candidate order); ``drop``: (fold, i) None."""
    valid, test, rows = data[:3]

    def arr(a):
        return a.copy() if copy and a is not None else a

    return [
        FoldInput(
            rows[f],
            [None if (f, i) in drop else arr(valid[f][i]) for i in present],
            [arr(test[f][i]) for i in present],
        )
        for f in range(len(rows))
    ]


def replay(data, score, schedule, *, drop=frozenset(), nested=False, **kw):
    """Feed ``schedule`` (batches of candidate indices) to one blender; compare every step."""
    _, _, _, y_train, y_test = data
    blender = IncrementalBlender()
    blender.seen = []  # every fold's changed_from after each update
    present: list[int] = []
    for batch in schedule:
        present = sorted(present + list(batch))
        names = [f"sub{i}" for i in present]
        ours = blender.update(
            folds=_inputs(data, present, drop),
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=names,
            nested=nested,
            **kw,
        )
        ref = blend(
            folds=_inputs(data, present, drop, copy=True),
            y_train=y_train,
            y_test=y_test,
            score=score,
            names=names,
            nested=nested,
            **kw,
        )
        assert_identical(ours, ref)
        blender.seen += blender.changed_from
    return blender, ours


def schedule_of(rng, K, max_batch):
    order = [int(i) for i in rng.permutation(K)]
    out = []
    while order:
        b = int(rng.integers(1, max_batch + 1))
        out.append(order[:b])
        order = order[b:]
    return out


KINDS = ["accuracy", "nll", "balanced_accuracy", "balanced_accuracy_adjusted"]
KINDS += ["macro_recall", "error"]


@pytest.mark.parametrize(
    ("kind", "dtype"),
    [(kind, np.float32) for kind in KINDS] + [("accuracy", np.float64), ("nll", np.float64)],
)
def test_arrivals_one_at_a_time_anywhere_in_the_order_equal_a_from_scratch_blend(kind, dtype):
    rng = np.random.default_rng(100 + KINDS.index(kind))
    data = random_folds(rng, K=13, n_train=240, n_test=40, d=5, dtype=dtype, strength=2.0)
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=5)
    blender, res = replay(data, score, schedule_of(rng, 13, 1), max_n_ensemble=12)
    assert max(len(p) for p in res.picks) >= 3  # the paths went beyond a few steps


@pytest.mark.parametrize("kind", ["accuracy", "nll", "balanced_accuracy"])
def test_batches_of_arrivals_equal_a_from_scratch_blend(kind):
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=4)
    seen = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        data = random_folds(rng, K=20, n_train=270, n_test=30, d=4, strength=2.5)
        blender, _ = replay(data, score, schedule_of(rng, 20, 5), max_n_ensemble=20)
        seen += blender.seen
    # paths were kept, changed from step 1, and changed after a kept prefix
    assert None in seen and 0 in seen
    assert any(c not in (None, 0) for c in seen)


def test_a_generic_score_type_equals_a_from_scratch_blend():
    rng = np.random.default_rng(7)
    data = random_folds(rng, K=8, n_train=150, n_test=30, d=3)
    score = from_rampwf(RAMPWF_SCORE_TYPES["f1_above (generic)"](), n_classes=3)
    replay(data, score, schedule_of(rng, 8, 2), max_n_ensemble=6)


@pytest.mark.parametrize("kind", ["accuracy", "nll", "balanced_accuracy"])
def test_ties_duplicated_candidates_and_identical_scores(kind):
    rng = np.random.default_rng(8)
    valid, test, rows, y_train, y_test = random_folds(rng, K=12, n_train=180, n_test=30, d=4)
    for f in range(3):
        for i in range(12):  # coarse probabilities: many exactly equal scores
            valid[f][i] = np.round(valid[f][i] * 4) / 4
        for dup, src in ((5, 1), (9, 1), (11, 3)):  # identical submissions
            valid[f][dup] = valid[f][src].copy()
            test[f][dup] = test[f][src].copy()
    data = (valid, test, rows, y_train, y_test)
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=4)
    # the copies arrive before their originals: the original, earlier in order, takes the tie
    schedule = [[9], [5], [11], [1], [3], [0, 2], [8], [4, 6], [7], [10]]
    replay(data, score, schedule, max_n_ensemble=15)


def test_nan_rows_and_missing_folds_leave_a_candidate_out_of_that_fold_only():
    rng = np.random.default_rng(9)
    valid, test, rows, y_train, y_test = random_folds(rng, K=14, n_train=210, n_test=30, d=3)
    for f in range(3):  # candidate 4 is the best everywhere, but failed on fold 1
        valid[f][4] = np.eye(3)[y_train[rows[f]]] * 0.9 + 0.1 / 3
    valid[1][4] = valid[1][4].copy()
    valid[1][4][7] = np.nan
    data = (valid, test, rows, y_train, y_test)
    _, res = replay(data, accuracy(), schedule_of(rng, 14, 3), drop={(0, 11), (2, 2)})
    best = res.names.index("sub4")
    assert best in res.picks[0] and best in res.picks[2] and best not in res.picks[1]
    assert res.names.index("sub11") not in res.picks[0]


@pytest.mark.parametrize("kind", ["accuracy", "nll"])
def test_min_improvement_and_a_full_ensemble(kind):
    rng = np.random.default_rng(10)
    data = random_folds(rng, K=14, n_train=240, n_test=30, d=4, strength=1.0)
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=4)
    mi = 0.004 if kind == "accuracy" else 0.002
    _, res = replay(data, score, schedule_of(rng, 14, 3), min_improvement=mi)
    _, res = replay(data, score, schedule_of(rng, 14, 3), max_n_ensemble=4)
    assert max(len(p) for p in res.picks) == 4  # the ensembles are full


def test_nested_score_kept_incrementally_equals_the_from_scratch_nested_score():
    rng = np.random.default_rng(11)
    data = random_folds(rng, K=16, n_train=300, n_test=30, d=4, strength=2.0)
    blender, res = replay(data, accuracy(), schedule_of(rng, 16, 3), nested=True)
    assert res.nested_valid_scores
    assert blender.nested_valid_scores() == res.nested_valid_scores


def test_a_withdrawal_selects_again_from_the_kept_predictions():
    rng = np.random.default_rng(12)
    data = random_folds(rng, K=15, n_train=240, n_test=30, d=4, strength=2.0)
    _, _, _, y_train, y_test = data
    blender, res = replay(data, accuracy(), [list(range(15))])
    gone = int(res.names[res.picks[0][0]][3:])  # fold 0's best single model leaves
    present = [i for i in range(15) if i != gone]
    kw = dict(y_train=y_train, y_test=y_test, score=accuracy(), names=[f"sub{i}" for i in present])
    steps = blender.full_steps
    ours = blender.update(folds=_inputs(data, present), **kw)
    assert blender.full_steps > steps and blender.changed_from == [0, 0, 0]
    assert_identical(ours, blend(folds=_inputs(data, present, copy=True), **kw))
    # and back again (a withdrawal undone): an arrival like any other
    kw["names"] = [f"sub{i}" for i in range(15)]
    ours = blender.update(folds=_inputs(data, range(15)), **kw)
    assert_identical(ours, blend(folds=_inputs(data, range(15), copy=True), **kw))


@pytest.mark.parametrize("kind", ["accuracy", "nll"])
def test_candidates_named_as_changed_are_read_again(kind):
    rng = np.random.default_rng(13)
    valid, test, rows, y_train, y_test = random_folds(rng, K=12, n_train=210, n_test=30, d=4)
    data = (valid, test, rows, y_train, y_test)
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=4)
    blender, _ = replay(data, score, [list(range(12))])
    for f in range(3):  # candidate 6 was trained again: new predictions, same name
        valid[f][6] = np.eye(4)[y_train[rows[f]]] * 0.7 + 0.3 / 4
        test[f][6] = np.full_like(test[f][6], 0.25)
    kw = dict(y_train=y_train, y_test=y_test, score=score, names=[f"sub{i}" for i in range(12)])
    ours = blender.update(folds=_inputs(data, range(12)), changed={"sub6"}, **kw)
    assert_identical(ours, blend(folds=_inputs(data, range(12), copy=True), **kw))
    assert all(ours.names.index("sub6") in p for p in ours.picks)


def test_other_settings_select_from_scratch():
    rng = np.random.default_rng(14)
    data = random_folds(rng, K=12, n_train=210, n_test=30, d=4, strength=2.0)
    _, _, _, y_train, y_test = data
    present = list(range(12))
    blender = IncrementalBlender()
    for score, max_n, mi in [
        (accuracy(), 80, 0.0),
        (accuracy(), 3, 0.0),
        (negative_log_likelihood(), 3, 0.0),
        (negative_log_likelihood(), 80, 0.01),
        (accuracy(), 80, 0.0),
    ]:
        kw = dict(y_train=y_train, y_test=y_test, score=score, max_n_ensemble=max_n)
        kw["min_improvement"] = mi
        ours = blender.update(folds=_inputs(data, present), **kw)
        assert_identical(ours, blend(folds=_inputs(data, present, copy=True), **kw))


def test_a_float64_arrival_in_a_float32_blend_restacks_the_fold():
    rng = np.random.default_rng(15)
    valid, test, rows, y_train, y_test = random_folds(
        rng, K=10, n_train=210, n_test=30, d=4, dtype=np.float32
    )
    for f in range(3):
        valid[f][3] = valid[f][3].astype(np.float64)
    data = (valid, test, rows, y_train, y_test)
    replay(data, negative_log_likelihood(), [[0, 1, 2], [5, 4], [3], [6, 7, 8, 9]])


@pytest.mark.parametrize("kind", ["accuracy", "nll", "balanced_accuracy"])
def test_a_new_candidate_that_never_wins_costs_one_pass_along_the_kept_path(kind):
    rng = np.random.default_rng(16)
    valid, test, rows, y_train, y_test = random_folds(
        rng, K=20, n_train=300, n_test=30, d=4, strength=2.5
    )
    for f in range(3):  # candidate 10 is confidently wrong everywhere: never useful
        p = np.full_like(valid[f][10], 0.01)
        p[np.arange(len(p)), (y_train[rows[f]] + 1) % 4] = 0.97
        valid[f][10] = p
    data = (valid, test, rows, y_train, y_test)
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=4)
    present = [i for i in range(20) if i != 10]
    blender, before = replay(data, score, [present])
    paths = [list(p) for p in before.picks]
    evaluations, full_steps = blender.evaluations, blender.full_steps
    blender, after = replay(data, score, [present, [10]])  # (a fresh blender, same schedule)
    scans = sum(len(s.path.scans) for s in (f.state for f in blender._folds))
    assert blender.changed_from == [None, None, None]  # every path kept as it was
    assert blender.full_steps == full_steps  # no step scanned the kept candidates again
    assert blender.evaluations == evaluations + scans  # one scoring per kept scan
    new = after.names.index("sub10")
    assert [[after.names[i] for i in p] for p in after.picks] == [
        [before.names[i] for i in p] for p in paths
    ]
    assert all(new not in p for p in after.picks)


@pytest.mark.parametrize("kind", ["accuracy", "nll", "balanced_accuracy"])
def test_a_scan_state_grown_with_new_candidates_scores_as_a_new_one(kind):
    from ramp_server.blending.candidates import Candidates
    from ramp_server.blending.combine import clip_normalise

    rng = np.random.default_rng(17)
    valid, _, rows, y_train, _ = random_folds(rng, K=90, n_train=1200, n_test=10, d=6)
    proba = clip_normalise(np.stack(valid[0]).astype(np.float32))
    y = y_train[rows[0]]
    score = from_rampwf(RAMPWF_SCORE_TYPES[kind](), n_classes=6)
    kept = Candidates(proba[:60], y, score)
    total = proba[3].copy()
    for k, pick in enumerate([7, 3, 11, 7, 25, 40, 3, 7, 50, 12, 33, 7, 3], start=1):
        if k in (5, 9):  # arrivals between two scans
            kept.grow(proba[: 75 if k == 5 else 90])
        fresh = Candidates(proba[: len(kept.proba)], y, score)
        ours, ref = kept.scores(total, k), fresh.scores(total, k)
        if kind == "nll":  # float32 means of logs: the scan relies on them within delta only
            assert np.all(np.abs(ours - ref) <= fresh.delta)
        else:  # label counts: exact
            assert np.array_equal(ours, ref)
        total += proba[pick]
    assert kept._gap is not None or kind == "nll"  # the sparse state was kept and grown
