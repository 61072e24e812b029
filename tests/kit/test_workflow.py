"""The preprocessor + batch-classifier workflow: batches, epochs, splits, torch path, progress."""

from __future__ import annotations

import json
import textwrap
import threading

import numpy as np
import pytest
import torch

from ramp_server.kit.contract import ContractError
from ramp_server.kit.taxa import N_CLASSES
from ramp_server.kit.workflow import BatchGeneratorBuilder, ImageClassifierWorkflow


def _data(n_per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = rng.integers(0, 256, size=(len(y), 64, 64, 3), dtype=np.uint8)
    X[:, 0, 0, 0] = np.arange(len(y)) % 256  # row id, readable after the transform
    X[:, 0, 0, 1] = np.arange(len(y)) // 256
    return X, y


def _row_id(batch):
    return (batch[:, 0, 0, 0] + 256 * batch[:, 0, 0, 1]).astype(int)


def _identity(x):
    return x


def _marked(x):  # transform_test: channel 2 of the corner pixel says "test transform"
    x = x.copy()
    x[0, 0, 2] = 255
    return x


def _builder(X, y, **kwargs):
    kwargs.setdefault("n_jobs", 2)
    return BatchGeneratorBuilder(X, y, _identity, _marked, **kwargs)


def test_generators_yield_float_batches_and_one_hot_labels():
    X, y = _data()
    gen_train, gen_valid, n_train, n_valid = _builder(X, y).get_train_valid_generators(
        batch_size=16, valid_ratio=0.25
    )
    assert n_train + n_valid == len(y)
    Xb, Yb = next(gen_train)
    assert Xb.dtype == np.float32 and Xb.shape == (16, 64, 64, 3)
    assert Yb.dtype == np.float32 and Yb.shape == (16, N_CLASSES)
    assert np.array_equal(Yb.argmax(1), y[_row_id(Xb)]) and np.all(Yb.sum(1) == 1)


def test_training_order_is_reshuffled_every_epoch_and_covers_each_row_once():
    X, y = _data()
    builder = _builder(X, y)
    gen_train, _, n_train, _ = builder.get_train_valid_generators(batch_size=10, valid_ratio=0.2)
    n_batches = builder.get_nb_minibatches(n_train, 10)
    epochs = [np.concatenate([_row_id(next(gen_train)[0]) for _ in range(n_batches)]) for _ in "ab"]
    assert len(epochs[0]) == n_train and len(set(epochs[0])) == n_train
    assert sorted(epochs[0]) == sorted(epochs[1])
    assert not np.array_equal(epochs[0], epochs[1])


def test_same_seed_gives_the_same_batches():
    X, y = _data()
    firsts = [
        _row_id(next(_builder(X, y, seed=3).get_train_valid_generators(batch_size=8)[0])[0])
        for _ in range(2)
    ]
    assert np.array_equal(*firsts)


def test_validation_split_is_stratified_and_uses_transform_test():
    X, y = _data(n_per_class=10)
    builder = _builder(X, y)
    gen_train, gen_valid, n_train, n_valid = builder.get_train_valid_generators(
        batch_size=32, valid_ratio=0.2
    )
    assert n_valid == 2 * N_CLASSES
    valid = [next(gen_valid) for _ in range(builder.get_nb_minibatches(n_valid, 32))]
    Xv = np.concatenate([b[0] for b in valid])
    classes = np.concatenate([b[1] for b in valid]).argmax(1)
    assert np.all(np.bincount(classes, minlength=N_CLASSES) == 2)
    assert np.all(Xv[:, 0, 0, 2] == 255)  # transform_test applied
    Xt = next(gen_train)[0]
    assert set(_row_id(Xt)).isdisjoint(_row_id(Xv))


def test_transforms_run_on_n_jobs_worker_threads():
    X, y = _data()
    seen = set()

    def spy(x):
        seen.add(threading.current_thread().name)
        return x

    builder = BatchGeneratorBuilder(X, y, spy, spy, n_jobs=3)
    gen, _, n_train, _ = builder.get_train_valid_generators(batch_size=4)
    for _ in range(builder.get_nb_minibatches(n_train, 4)):
        next(gen)
    builder.close()
    assert threading.current_thread().name not in seen
    assert 1 <= len(seen) <= 3 and all(name.startswith("ramp-transform") for name in seen)


def test_single_channel_transform_gets_a_channel_axis():
    X, y = _data()
    builder = BatchGeneratorBuilder(X, y, lambda x: x[:, :, 0], lambda x: x[:, :, 0], n_jobs=1)
    Xb, _ = next(builder.get_train_valid_generators(batch_size=5)[0])
    assert Xb.shape == (5, 1, 64, 64)


def test_torch_loaders_yield_float_images_and_int64_class_indices():
    X, y = _data()
    builder = _builder(X, y)
    train_loader, valid_loader = builder.get_torch_loaders(batch_size=16, valid_ratio=0.2)
    xb, yb = next(iter(train_loader))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64 and xb.shape[0] == 16
    assert np.array_equal(yb.numpy(), y[_row_id(xb.numpy())])
    epochs = [torch.cat([b[1] for b in train_loader]) for _ in range(2)]
    assert len(epochs[0]) == sum(len(b[0]) for b in train_loader) == len(train_loader.dataset)
    assert sorted(epochs[0].tolist()) == sorted(epochs[1].tolist())
    xv = torch.cat([b[0] for b in valid_loader])
    assert torch.all(xv[:, 0, 0, 2] == 255)
    train_ds, valid_ds = builder.get_torch_datasets(valid_ratio=0.2)
    x0, y0 = valid_ds[0]
    assert x0.dtype == torch.float32 and y0.dtype == torch.int64 and x0[0, 0, 2] == 255
    assert builder.device.type in ("cpu", "cuda") and builder.use_amp == (
        builder.device.type == "cuda"
    )


def test_report_prints_and_appends_json_lines(monkeypatch, tmp_path, capsys):
    progress = tmp_path / "progress.jsonl"
    monkeypatch.setenv("RAMP_PROGRESS_FILE", str(progress))
    builder = _builder(*_data())
    builder.report(epoch=1, n_epochs=3, loss=np.float32(1.5), valid_acc=0.25)
    builder.report(epoch=2, n_epochs=3, loss=torch.tensor(1.25), note="warm-up")
    assert "epoch 1/3" in capsys.readouterr().out
    lines = [json.loads(line) for line in progress.read_text().splitlines()]
    assert lines == [
        {"epoch": 1, "n_epochs": 3, "loss": 1.5, "valid_acc": 0.25},
        {"epoch": 2, "n_epochs": 3, "loss": 1.25, "note": "warm-up"},
    ]


def _submission(tmp_path, predict_body, transform_test=""):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "image_preprocessor.py").write_text(
        "def transform(x):\n    return x[::8, ::8].astype('float32')\n" + transform_test
    )
    (sub / "batch_classifier.py").write_text(
        textwrap.dedent(
            """\
            import numpy as np

            class BatchClassifier:
                def fit(self, gen_builder):
                    gen, _, n, _ = gen_builder.get_train_valid_generators(batch_size=32)
                    self.sizes, counts = [], 0
                    for _ in range(gen_builder.get_nb_minibatches(n, 32)):
                        X, Y = next(gen)
                        counts = counts + Y.sum(0)
                    self.prior = counts / counts.sum()

                def predict_proba(self, X):
                    self.sizes.append(len(X))
            """
        )
        + textwrap.indent(textwrap.dedent(predict_body), " " * 8)
    )
    return sub


def test_train_and_test_submission_predict_in_batches(tmp_path):
    X, y = _data()
    sub = _submission(tmp_path, "return np.tile(self.prior, (len(X), 1))\n")
    workflow = ImageClassifierWorkflow(test_batch_size=25, n_jobs=2)
    model = workflow.train_submission(str(sub), X, y, train_is=np.arange(50))
    proba = workflow.test_submission(model, X)
    assert proba.shape == (len(y), N_CLASSES)
    assert np.allclose(proba.sum(1), 1)
    clf = model[2]
    assert max(clf.sizes) == 25 and sum(clf.sizes) == len(y)
    # trained on the first 50 rows only (classes 0..8): the prior has no other class
    assert np.all(proba[:, 9:] == 0) and np.all(proba[:, :8] > 0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return np.ones((len(X), 17)) / 17\n", "shape"),
        ("p = np.ones((len(X), 18)) / 18\np[0, 3] = np.nan\nreturn p\n", "finite"),
        ("p = np.ones((len(X), 18)) / 16\np[:, :2] = -1 / 16\nreturn p\n", "negative"),
        ("return np.ones((len(X), 18))\n", "sums to 18"),
    ],
)
def test_invalid_predictions_name_predict_proba(tmp_path, body, expected):
    X, y = _data(n_per_class=2)
    sub = _submission(tmp_path, body)
    workflow = ImageClassifierWorkflow(n_jobs=1)
    model = workflow.train_submission(str(sub), X, y)
    with pytest.raises(ContractError, match=expected) as exc:
        workflow.test_submission(model, X)
    err = exc.value
    assert err.file.endswith("batch_classifier.py") and err.field == "predict_proba"
    assert err.line == 12  # the `def predict_proba` line
    assert "batch_classifier.py:12: predict_proba" in str(err)


def test_train_submission_runs_the_static_contract_checks(tmp_path):
    X, y = _data(n_per_class=2)
    sub = _submission(tmp_path, "return 1\n")
    (sub / "image_preprocessor.py").write_text("def transform(x, y):\n    return x\n")
    with pytest.raises(ContractError, match=r"image_preprocessor\.py:1: .*transform"):
        ImageClassifierWorkflow().train_submission(str(sub), X, y)
