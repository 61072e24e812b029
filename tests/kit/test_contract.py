"""The submission contract checker: each violation names the file, the line and the field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from ramp_server.kit.checker import check_submission
from ramp_server.kit.contract import ContractError, check_predictions

GOOD_PRE = """\
import numpy as np


def transform(x):
    return x[::4, ::4].astype(np.float32) / 255
"""

GOOD_CLF = """\
import numpy as np


class BatchClassifier:
    def __init__(self):
        self.prior = None

    def fit(self, gen_builder):
        gen, _, n, _ = gen_builder.get_train_valid_generators(batch_size=16)
        counts = np.zeros(18)
        for _ in range(gen_builder.get_nb_minibatches(n, 16)):
            counts += next(gen)[1].sum(0)
        self.prior = (counts + 1) / (counts + 1).sum()

    def predict_proba(self, X):
        return np.tile(self.prior, (len(X), 1))
"""


def _write(tmp_path, pre=GOOD_PRE, clf=GOOD_CLF):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    for name, text in (("image_preprocessor.py", pre), ("batch_classifier.py", clf)):
        if text is not None:
            (sub / name).write_text(textwrap.dedent(text))
    return sub


def test_valid_submission_passes_static_and_run_checks(tmp_path):
    sub = _write(tmp_path)
    check_submission(sub)
    check_submission(sub, run=True)


@pytest.mark.parametrize("missing", ["image_preprocessor.py", "batch_classifier.py"])
def test_missing_file_is_named(tmp_path, missing):
    sub = _write(tmp_path)
    (sub / missing).unlink()
    with pytest.raises(ContractError, match="file missing") as exc:
        check_submission(sub)
    assert exc.value.file.endswith(missing) and exc.value.field == "file"


def test_syntax_error_names_file_and_line(tmp_path):
    clf = GOOD_CLF.replace("def fit(self, gen_builder):", "def fit(self, gen_builder)")
    sub = _write(tmp_path, clf=clf)
    with pytest.raises(ContractError, match="syntax error") as exc:
        check_submission(sub)
    assert exc.value.file.endswith("batch_classifier.py") and exc.value.line == 8
    assert "batch_classifier.py:8: syntax error" in str(exc.value)


def test_non_utf8_file_names_the_line(tmp_path):
    sub = _write(tmp_path)
    (sub / "image_preprocessor.py").write_bytes(
        b"# ok\n# caf\xe9\ndef transform(x):\n    return x\n"
    )
    with pytest.raises(ContractError, match="UTF-8") as exc:
        check_submission(sub)
    assert exc.value.line == 2 and exc.value.field == "encoding"


def test_missing_transform_is_named(tmp_path):
    sub = _write(tmp_path, pre="def preprocess(x):\n    return x\n")
    with pytest.raises(ContractError, match=r"missing function `transform\(x\)`") as exc:
        check_submission(sub)
    assert exc.value.field == "transform"


@pytest.mark.parametrize(
    ("pre", "line"),
    [
        ("def transform():\n    return 0\n", 1),
        ("import numpy\n\n\ndef transform(x, size):\n    return x\n", 4),
        ("def transform(x):\n    return x\n\n\ndef transform_test(x, *, flip):\n    return x\n", 5),
    ],
)
def test_wrong_transform_signature_is_named(tmp_path, pre, line):
    sub = _write(tmp_path, pre=pre)
    with pytest.raises(ContractError, match="must accept exactly one argument") as exc:
        check_submission(sub)
    assert exc.value.line == line and exc.value.file.endswith("image_preprocessor.py")


def test_transform_with_optional_parameters_is_accepted(tmp_path):
    sub = _write(tmp_path, pre="def transform(x, size=32, *args):\n    return x\n")
    check_submission(sub)


def test_missing_class_is_named(tmp_path):
    sub = _write(tmp_path, clf=GOOD_CLF.replace("class BatchClassifier:", "class Classifier:"))
    with pytest.raises(ContractError, match="missing class `BatchClassifier`") as exc:
        check_submission(sub)
    assert exc.value.field == "BatchClassifier"


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ("def fit(self, gen_builder):", "def fit(self):", "fit", 8),
        ("def fit(self, gen_builder):", "def fit(self, X, y):", "fit", 8),
        ("def predict_proba(self, X):", "def predict_proba(self, X, y):", "predict_proba", 15),
        ("def __init__(self):", "def __init__(self, lr):", "__init__", 5),
    ],
)
def test_wrong_method_signature_is_named(tmp_path, old, new, field, line):
    sub = _write(tmp_path, clf=GOOD_CLF.replace(old, new))
    with pytest.raises(ContractError, match=f"`{field}` must accept") as exc:
        check_submission(sub)
    assert exc.value.line == line and exc.value.field == field


def test_missing_method_is_named(tmp_path):
    clf = GOOD_CLF.replace("def predict_proba(self, X):", "def predict(self, X):")
    sub = _write(tmp_path, clf=clf)
    with pytest.raises(ContractError, match="no method `predict_proba") as exc:
        check_submission(sub)
    assert exc.value.field == "BatchClassifier.predict_proba" and exc.value.line == 4


@pytest.mark.parametrize(
    ("ret", "expected"),
    [
        ("np.ones((len(X), 3)) / 3", r"shape \(\d+, 3\), expected \(\d+, 18\)"),
        ("np.full((len(X), 18), np.nan)", "must be finite"),
        ("np.eye(18)[np.zeros(len(X), int)] * 2 - np.eye(18)[np.ones(len(X), int)]", "negative"),
        ("np.full((len(X), 18), 0.5)", "sums to 9"),
    ],
)
def test_run_check_rejects_bad_predictions(tmp_path, ret, expected):
    clf = GOOD_CLF.replace("return np.tile(self.prior, (len(X), 1))", f"return {ret}")
    sub = _write(tmp_path, clf=clf)
    check_submission(sub)  # statically fine
    with pytest.raises(ContractError, match=expected) as exc:
        check_submission(sub, run=True)
    assert exc.value.file.endswith("batch_classifier.py") and exc.value.line == 15


def test_run_check_names_the_participant_line_of_a_crash(tmp_path):
    pre = GOOD_PRE.replace("return x[::4, ::4]", "return x.reshape(7)")
    sub = _write(tmp_path, pre=pre)
    with pytest.raises(ContractError, match="ValueError") as exc:
        check_submission(sub, run=True)
    assert exc.value.file.endswith("image_preprocessor.py") and exc.value.line == 5


def test_check_predictions_accepts_tensors_and_renormalises():
    p = torch.softmax(torch.randn(5, 18), dim=1) * 1.0005
    out = check_predictions(p, 5)
    assert out.dtype == np.float64 and np.allclose(out.sum(1), 1, atol=1e-12)


def test_cli_check_reports_ok_and_errors(tmp_path):
    sub = _write(tmp_path)
    cmd = [str(Path(sys.executable).parent / "ramp-server"), "check"]
    ok = subprocess.run([*cmd, str(sub)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    (sub / "batch_classifier.py").write_text(
        "class BatchClassifier:\n    def fit(self):\n        pass\n"
    )
    bad = subprocess.run([*cmd, str(sub)], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "batch_classifier.py:2: `fit` must accept" in bad.stderr


def test_definitions_under_top_level_try_or_if_are_found(tmp_path):
    pre = "try:\n    import numpy\nexcept ImportError:\n    pass\nelse:\n    def transform(x):\n        return x\n"
    sub = _write(tmp_path, pre=pre)
    check_submission(sub)


CHECKPOINT_CLF = """\
import numpy as np
import torch


class BatchClassifier:
    def fit(self, gen_builder):
        checkpoint = gen_builder.load_checkpoint()
        self.prior = torch.full((18,), 1 / 18) if checkpoint is None else checkpoint["prior"]
        gen_builder.save_checkpoint({"prior": self.prior}, epoch=1)

    def predict_proba(self, X):
        return np.tile(self.prior.numpy(), (len(X), 1))
"""


def test_run_check_resumes_a_fit_from_the_checkpoint_it_saved(tmp_path):
    check_submission(_write(tmp_path, clf=CHECKPOINT_CLF), run=True)


@pytest.mark.parametrize(
    ("old", "new", "expected", "line"),
    [
        # saved, but torch.load(weights_only=True) could not read it back
        ('{"prior": self.prior}', '{"prior": self.prior.numpy()}', r"state\['prior'\]", 9),
        # saved fine, but the resumed fit reads a key that was never saved
        ('checkpoint["prior"]', 'checkpoint["priors"]', "KeyError", 8),
    ],
)
def test_run_check_names_the_line_of_a_checkpoint_that_does_not_resume(
    tmp_path, old, new, expected, line
):
    sub = _write(tmp_path, clf=CHECKPOINT_CLF.replace(old, new))
    with pytest.raises(ContractError, match=expected) as exc:
        check_submission(sub, run=True)
    assert exc.value.file.endswith("batch_classifier.py") and exc.value.line == line
