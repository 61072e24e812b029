"""The prediction store: round trip, validation with clear errors, atomic writes, the cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.scores import accuracy
from ramp_server.blending.store import (
    PredictionCache,
    PredictionFileError,
    read_fold_predictions,
    write_fold_predictions,
)

from blend_helpers import random_folds


def _arrays(rng, n_valid=20, n_test=8, d=5):
    p = rng.random((n_valid + n_test, d))
    p /= p.sum(1, keepdims=True)
    return np.arange(100, 100 + n_valid), p[:n_valid], p[n_valid:]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_round_trip_keeps_indices_and_probabilities(tmp_path, dtype):
    idx, valid, test = _arrays(np.random.default_rng(0))
    path = write_fold_predictions(
        tmp_path / "e" / "7" / "fold_0.npz",
        valid_indices=idx,
        valid_proba=valid,
        test_proba=test,
        dtype=dtype,
    )
    got = read_fold_predictions(path)
    assert np.array_equal(got.valid_indices, idx)
    assert got.valid_proba.dtype == dtype and got.test_proba.dtype == dtype
    assert np.array_equal(got.valid_proba, valid.astype(dtype))
    assert np.array_equal(got.test_proba, test.astype(dtype))
    assert os.listdir(path.parent) == ["fold_0.npz"]  # no temporary file left behind


def test_write_refuses_mismatched_rows_and_names_the_file(tmp_path):
    idx, valid, test = _arrays(np.random.default_rng(1))
    with pytest.raises(PredictionFileError, match=r"fold_1\.npz.*19 valid_indices"):
        write_fold_predictions(
            tmp_path / "fold_1.npz", valid_indices=idx[:19], valid_proba=valid, test_proba=test
        )
    with pytest.raises(PredictionFileError, match="test_proba has 4 classes"):
        write_fold_predictions(
            tmp_path / "fold_1.npz", valid_indices=idx, valid_proba=valid, test_proba=test[:, :4]
        )
    assert not (tmp_path / "fold_1.npz").exists()


def test_read_reports_missing_corrupt_and_malformed_files(tmp_path):
    with pytest.raises(PredictionFileError, match="does not exist"):
        read_fold_predictions(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(PredictionFileError, match=r"bad\.npz: not a readable"):
        read_fold_predictions(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, valid_indices=np.arange(3), valid_proba=np.ones((3, 2)) / 2)
    with pytest.raises(PredictionFileError, match=r"partial\.npz: missing arrays \['test_proba'\]"):
        read_fold_predictions(partial)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, valid_indices=np.arange(3), valid_proba=np.ones(3), test_proba=np.ones((2, 2)))
    with pytest.raises(PredictionFileError, match=r"wrong\.npz: valid_proba must be a 2-D"):
        read_fold_predictions(wrong)


def test_cache_reads_each_file_once_and_rereads_a_rewritten_file(tmp_path):
    rng = np.random.default_rng(2)
    idx, valid, test = _arrays(rng)
    path = write_fold_predictions(
        tmp_path / "fold_0.npz", valid_indices=idx, valid_proba=valid, test_proba=test
    )
    cache = PredictionCache()
    first = cache.get(path)
    assert cache.get(path) is first and cache.hits == 1 and cache.misses == 1
    assert first.test_proba is None  # test rows are not kept in memory
    _, valid2, test2 = _arrays(rng)
    write_fold_predictions(path, valid_indices=idx, valid_proba=valid2, test_proba=test2)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse-clock file systems
    again = cache.get(path)
    assert cache.misses == 2
    assert np.array_equal(again.valid_proba, valid2.astype(np.float32))


def test_cache_stays_within_its_byte_budget(tmp_path):
    rng = np.random.default_rng(3)
    paths = []
    for k in range(5):
        idx, valid, test = _arrays(rng)
        paths.append(
            write_fold_predictions(
                tmp_path / f"f{k}.npz", valid_indices=idx, valid_proba=valid, test_proba=test
            )
        )
    one = read_fold_predictions(paths[0], load_test=False).nbytes
    cache = PredictionCache(max_bytes=2 * one)
    for p in paths:
        cache.get(p)
    assert len(cache) == 2


def _blend_from_store(storage, n_subs, cache, y_train, y_test, rows):
    folds = []
    for f in range(len(rows)):
        paths = [storage / str(i) / f"fold_{f}.npz" for i in range(n_subs)]
        valid = [cache.get(p).valid_proba for p in paths]
        folds.append(
            FoldInput(rows[f], valid, lambda i, _p=paths: read_fold_predictions(_p[i]).test_proba)
        )
    return blend(folds=folds, y_train=y_train, y_test=y_test, score=accuracy())


def test_incremental_reblend_equals_from_scratch(tmp_path):
    rng = np.random.default_rng(4)
    valid, test, rows, y_train, y_test = random_folds(rng, K=7, n_train=210, n_test=50, d=4)
    for i in range(7):
        for f in range(3):
            write_fold_predictions(
                tmp_path / str(i) / f"fold_{f}.npz",
                valid_indices=rows[f],
                valid_proba=valid[f][i],
                test_proba=test[f][i],
            )
    cache = PredictionCache()
    _blend_from_store(tmp_path, 6, cache, y_train, y_test, rows)  # before the 7th arrives
    misses = cache.misses
    live = _blend_from_store(tmp_path, 7, cache, y_train, y_test, rows)
    assert cache.misses - misses == 3  # only the new submission's folds were read
    scratch = _blend_from_store(tmp_path, 7, PredictionCache(), y_train, y_test, rows)
    assert live.picks == scratch.picks
    assert np.array_equal(live.contributivity, scratch.contributivity)
    assert live.combined_valid_scores == scratch.combined_valid_scores
    assert live.combined_test_scores == scratch.combined_test_scores
