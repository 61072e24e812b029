"""Transforms computed once per image when deterministic, every time when random; batch arrays
recycled only once nobody holds them."""

from __future__ import annotations

import pickle
import textwrap

import numpy as np

from ramp_server.kit.batching import BufferPool
from ramp_server.kit.taxa import N_CLASSES
from ramp_server.kit.transform_cache import PROBE_IMAGES
from ramp_server.kit.workflow import BatchGeneratorBuilder, ImageClassifierWorkflow

EPOCHS = 3

# Records, per epoch, every batch it was given (copies), keyed by the image's row id, which the
# transforms below keep in their first output values.
CLASSIFIER = f"""\
import numpy as np

EPOCHS = {EPOCHS}


class BatchClassifier:
    def fit(self, gen_builder):
        gen, gen_valid, n, n_valid = gen_builder.get_train_valid_generators(
            batch_size=16, valid_ratio=VALID_RATIO
        )
        self.epochs = []
        for _ in range(EPOCHS):
            seen = {{}}
            for _ in range(gen_builder.get_nb_minibatches(n, 16)):
                X, _ = next(gen)
                for x in X:
                    seen[ROW(x)] = x.copy()
            self.epochs.append(seen)
        self.valid = [next(gen_valid)[0].copy() for _ in range(2 * gen_builder.get_nb_minibatches(n_valid, 16))]

    def predict_proba(self, X):
        return np.full((len(X), {N_CLASSES}), 1.0 / {N_CLASSES})


def ROW(x):
    return int(round(float(x.flat[0]))) + 256 * int(round(float(x.flat[1])))
"""

# Deterministic and slow for its 16 bytes of output: the default "auto" mode keeps it.
SUMMARY = """\
import numpy as np

CALLS = []


def transform(x):
    CALLS.append(1)
    x = x.astype(np.float64)
    return np.array([x[0, 0, 0], x[0, 0, 1], x.mean(), x.std()], dtype=np.float32)
"""


def _data(n_per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = rng.integers(0, 256, size=(len(y), 64, 64, 3), dtype=np.uint8)
    X[:, 0, 0, 0] = np.arange(len(y)) % 256  # row id
    X[:, 0, 0, 1] = np.arange(len(y)) // 256
    return X, y


def _train(tmp_path, preprocessor, *, valid_ratio=0.0, **workflow_kwargs):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "image_preprocessor.py").write_text(textwrap.dedent(preprocessor))
    (sub / "batch_classifier.py").write_text(CLASSIFIER.replace("VALID_RATIO", str(valid_ratio)))
    X, y = _data()
    model = ImageClassifierWorkflow(n_jobs=2, **workflow_kwargs).train_submission(str(sub), X, y)
    return X, model


def test_deterministic_slow_transform_runs_once_per_image_with_unchanged_batches(tmp_path):
    X, (transform, _, clf) = _train(tmp_path, SUMMARY, valid_ratio=0.25)
    # every image once (training and validation rows), plus the second pass of the check
    calls = transform.__globals__["CALLS"]
    assert len(calls) == len(X) + PROBE_IMAGES
    expected = {row: transform(X[row]) for row in range(len(X))}
    valid_rows = {int(x[0]) + 256 * int(x[1]) for batch in clf.valid for x in batch}
    for seen in clf.epochs:
        assert set(seen) | valid_rows == set(range(len(X))) and not set(seen) & valid_rows
        for row, x in seen.items():
            assert np.array_equal(x, expected[row])
    for batch in clf.valid:
        for x in batch:
            assert np.array_equal(x, expected[int(x[0]) + 256 * int(x[1])])


def test_transform_flagged_random_runs_on_every_image_of_every_epoch(tmp_path):
    flagged = SUMMARY + "\nTRANSFORM_IS_RANDOM = True\n"
    X, (transform, _, clf) = _train(tmp_path, flagged)
    # (the generator runs ahead of the classifier: a few more calls than images consumed)
    assert len(transform.__globals__["CALLS"]) >= EPOCHS * len(X)


def test_random_augmentation_is_drawn_again_at_every_epoch(tmp_path):
    random_noise = """\
    import numpy as np

    RNG = np.random.default_rng(0)


    def transform(x):
        out = x.astype(np.float32)
        out[32:] = RNG.random((32,) + out.shape[1:])  # the lower half is noise
        return out
    """
    X, (_, _, clf) = _train(tmp_path, random_noise)
    first, second = clf.epochs[0], clf.epochs[1]
    assert first.keys() == second.keys() == set(range(len(X)))
    for row in first:
        assert np.array_equal(first[row][:32], second[row][:32])  # the image itself
        assert not np.array_equal(first[row][32:], second[row][32:])  # fresh noise


def test_draw_from_a_random_generator_counts_as_random_even_if_rarely_visible(tmp_path):
    # flips with probability 1e-9: the outputs look deterministic, the generator's state moves
    rare = SUMMARY.replace("CALLS = []", "CALLS = []\nRNG = np.random.default_rng(0)").replace(
        "    CALLS.append(1)\n",
        "    CALLS.append(1)\n    if RNG.random() < 1e-9:\n        x = x[::-1]\n",
    )
    X, (transform, _, _) = _train(tmp_path, rare)
    assert len(transform.__globals__["CALLS"]) >= 2 * PROBE_IMAGES + EPOCHS * len(X)


def _count_calls(X, y, **builder_kwargs) -> int:
    calls = []

    def transform(x):
        calls.append(1)
        return x[:2, :2].astype(np.float32)

    builder = BatchGeneratorBuilder(X, y, transform, transform, n_jobs=1, **builder_kwargs)
    gen, _, n, _ = builder.get_train_valid_generators(batch_size=16, valid_ratio=0.0)
    for _ in range(2 * builder.get_nb_minibatches(n, 16)):
        next(gen)
    gen.close()  # stops the generator running ahead
    builder.close()
    return len(calls)


def test_cache_larger_than_the_budget_is_not_kept():
    X, y = _data()
    # 48 bytes per image: 72 images do not fit in 1000 bytes
    assert _count_calls(X, y, cache_transforms=True, cache_budget=1000) >= 2 * len(X)
    assert _count_calls(X, y, cache_transforms=True) == PROBE_IMAGES + len(X)
    assert _count_calls(X, y, cache_transforms=False) >= 2 * len(X)


def test_a_batch_that_is_kept_is_never_overwritten():
    X, y = _data()
    pool = BufferPool()
    builder = BatchGeneratorBuilder(
        X, y, lambda x: x.astype(np.float32), lambda x: x, n_jobs=2, buffers=pool
    )
    gen, _, n, _ = builder.get_train_valid_generators(batch_size=8, valid_ratio=0.0)
    kept, _ = next(gen)
    view = kept[:, 0, 0]  # a view keeps its base alive too
    snapshot, view_snapshot = kept.copy(), view.copy()
    del kept
    n_batches = 20 * builder.get_nb_minibatches(n, 8)
    for _ in range(n_batches):
        next(gen)
    assert np.array_equal(view, view_snapshot)
    assert np.array_equal(view.base, snapshot)
    # the others were recycled: far fewer arrays than batches (at most those in flight)
    assert len(pool._arrays) < n_batches // 2


def _top_rows(x):
    return x[:4]


def test_a_pickled_builder_starts_with_empty_caches_and_pools():
    X, y = _data()
    builder = BatchGeneratorBuilder(X, y, _top_rows, _top_rows, n_jobs=1, cache_transforms=True)
    next(builder.get_train_valid_generators(batch_size=4)[0])
    assert builder._planner._caches  # decided and kept: a DataLoader worker gets none of it
    clone = pickle.loads(pickle.dumps(builder))
    assert not clone._planner._caches
    Xb, Yb = next(clone.get_train_valid_generators(batch_size=4)[0])
    assert Xb.shape == (4, 4, 64, 3) and Yb.shape == (4, N_CLASSES)
    builder.close()
    clone.close()
