"""Reading rampwf's saved outputs (the fast .npz reader) and offline blends built on it."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from rampwf import score_types as rst

from ramp_server.blending import npz
from ramp_server.blending.hybrid import FoldInput, blend
from ramp_server.blending.npz import read_npz_view
from ramp_server.blending.offline import blend_kit
from ramp_server.blending.scores import from_rampwf
from ramp_server.blending.synthetic import write_synthetic_kit

from blend_helpers import random_folds


@pytest.fixture(params=["libdeflate", "zlib"])
def inflater(request, monkeypatch):
    """Each inflater in turn (zlib is the fallback when the deflate package is absent)."""
    if request.param == "zlib":
        monkeypatch.setattr(npz, "_libdeflate", None)
    elif npz._libdeflate is None:
        pytest.skip("the deflate package is not installed")
    return request.param


@pytest.mark.parametrize("writer", [np.savez_compressed, np.savez], ids=["deflated", "stored"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_reader_returns_what_np_load_returns(tmp_path, inflater, writer, order):
    rng = np.random.default_rng(0)
    arr = np.asarray(rng.random((300, 7)), order=order)
    path = tmp_path / "y_pred_train.npz"
    writer(path, y_pred=arr)
    got = read_npz_view(path)
    assert np.array_equal(got, np.load(path)["y_pred"]) and got.dtype == arr.dtype


def test_reader_falls_back_to_np_load_for_other_layouts(tmp_path):
    path = tmp_path / "two.npz"
    np.savez_compressed(path, y_pred=np.eye(3), other=np.zeros(2))
    assert np.array_equal(read_npz_view(path), np.eye(3))
    with pytest.raises(KeyError):
        read_npz_view(tmp_path / "two.npz", "missing")


def test_reader_refuses_damaged_files_and_reports_missing_ones(tmp_path, inflater):
    with pytest.raises(FileNotFoundError):
        read_npz_view(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz"):
        read_npz_view(tmp_path / "junk.npz")
    path = tmp_path / "y.npz"
    np.savez_compressed(path, y_pred=np.random.default_rng(1).random((400, 9)))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("y_pred.npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100 : start + 400] = bytes(300)  # damage the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        read_npz_view(path)


def test_blend_with_threads_equals_the_sequential_blend():
    rng = np.random.default_rng(5)
    valid, test, rows, y_train, y_test = random_folds(rng, K=9, n_train=300, n_test=80, d=4)
    score = from_rampwf(rst.Accuracy(name="acc"), n_classes=4)
    runs = [
        blend(
            folds=[FoldInput(rows[f], valid[f], test[f]) for f in range(3)],
            y_train=y_train,
            y_test=y_test,
            score=score,
            threads=threads,
            nested=True,
        )
        for threads in (1, 3)
    ]
    a, b = runs
    assert a.picks == b.picks and a.ensemble_scores == b.ensemble_scores
    assert a.combined_valid_scores == b.combined_valid_scores
    assert a.combined_test_scores == b.combined_test_scores
    assert a.nested_valid_scores == b.nested_valid_scores
    assert np.array_equal(a.fold_contributivity, b.fold_contributivity)


def _blend(kit):
    result, _, _ = blend_kit(
        ramp_kit_dir=kit,
        ramp_data_dir=kit,
        ramp_submission_dir=kit / "submissions",
        progress=False,
    )
    return result


def test_offline_blend_honours_a_problem_load_y_pred(tmp_path):
    kit = tmp_path / "kit"
    write_synthetic_kit(kit, n_submissions=5, n_train=240, n_test=60, n_classes=4, seed=3)
    reference = _blend(kit)
    # the same outputs re-saved as .npy files that only the problem's own loader can read
    for path in kit.glob("submissions/*/training_output/fold_*/y_pred_*.npz"):
        np.save(path.with_suffix(".npy"), np.load(path)["y_pred"])
        path.unlink()
    problem = kit / "problem.py"
    problem.write_text(
        problem.read_text()
        + "\n\ndef load_y_pred(data_path, input_path, suffix):\n"
        + "    return np.load(os.path.join(input_path, f'y_pred_{suffix}.npy'))\n"
    )
    again = _blend(kit)
    assert again.picks == reference.picks
    assert again.combined_valid_scores == reference.combined_valid_scores
    assert again.combined_test_scores == reference.combined_test_scores


@pytest.mark.parametrize("failed", [{}, {"sub_0002": [1]}], ids=["all-usable", "a-failed-fold"])
def test_offline_blend_equals_a_blend_of_the_arrays_read_with_np_load(tmp_path, failed):
    # the offline path blends the readers' (K, n, d) array in place (or copies it when a
    # submission is unusable on a fold); both must give what plain per-submission arrays give
    kit = tmp_path / "kit"
    names = write_synthetic_kit(
        kit, n_submissions=6, n_train=300, n_test=90, n_classes=5, seed=4, failed=failed
    )
    ours, _, _ = blend_kit(
        ramp_kit_dir=kit,
        ramp_data_dir=kit,
        submissions=names,
        progress=False,
        ramp_submission_dir=kit / "submissions",
    )
    labels = np.load(kit / "data" / "labels.npz")
    score = from_rampwf(rst.Accuracy(name="acc", precision=4), n_classes=5)
    out = kit / "submissions"
    folds = []
    for k in range(3):
        rows = labels[f"valid_{k}"]
        valid = [
            np.load(out / n / "training_output" / f"fold_{k}" / "y_pred_train.npz")["y_pred"][rows]
            for n in names
        ]
        test = [
            np.load(out / n / "training_output" / f"fold_{k}" / "y_pred_test.npz")["y_pred"]
            for n in names
        ]
        folds.append(FoldInput(rows, valid, test))
    plain = blend(
        folds=folds, y_train=labels["y_train"], y_test=labels["y_test"], score=score, names=names
    )
    assert ours.picks == plain.picks
    assert ours.combined_valid_scores == plain.combined_valid_scores
    assert ours.foldwise_best_valid_scores == plain.foldwise_best_valid_scores
    assert ours.combined_test_scores == plain.combined_test_scores
    if failed:
        assert 2 not in ours.picks[1]
