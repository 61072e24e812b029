"""Submission copies with fewer epochs (:mod:`ramp_server.kit.epochs`), on the real submissions."""

from __future__ import annotations

import pytest

from ramp_server.kit.contract import check_static
from ramp_server.kit.epochs import scaled_copy, variant_copy

from ramp_test_plugin import REPO_ROOT

SUBMISSIONS = REPO_ROOT / "submissions"


def test_scaled_copy_changes_only_the_epochs_line_and_says_so(tmp_path):
    src = SUBMISSIONS / "heuritech_cnn"
    changes = scaled_copy(src, tmp_path / "h", scale=0.2, reason="demo profile")
    assert changes == {"N_EPOCHS": (20, 4)}
    old = (src / "batch_classifier.py").read_text().splitlines()
    new = (tmp_path / "h" / "batch_classifier.py").read_text().splitlines()
    diff = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert diff == [(diff[0][0], "N_EPOCHS = 4  # demo profile: 20 in the original submission")]
    assert (tmp_path / "h" / "image_preprocessor.py").read_bytes() == (
        src / "image_preprocessor.py"
    ).read_bytes()


def test_scaled_copy_keeps_short_trainings(tmp_path):
    assert scaled_copy(SUBMISSIONS / "starting_kit", tmp_path / "s", scale=0.2, min_epochs=2) == {}
    assert (tmp_path / "s" / "batch_classifier.py").read_bytes() == (
        SUBMISSIONS / "starting_kit" / "batch_classifier.py"
    ).read_bytes()


def test_scaled_copy_passes_the_contract_checker(tmp_path):
    scaled_copy(SUBMISSIONS / "small_resnet", tmp_path / "r", scale=0.1)
    check_static(tmp_path / "r")


def test_scaled_copy_rejects_a_non_positive_scale(tmp_path):
    with pytest.raises(ValueError, match="scale must be positive"):
        scaled_copy(SUBMISSIONS / "starting_kit", tmp_path / "s", scale=0)


def test_scaled_copy_sets_a_number_of_epochs_never_above_the_original(tmp_path):
    assert scaled_copy(SUBMISSIONS / "small_resnet", tmp_path / "r", epochs=8) == {
        "N_EPOCHS": (30, 8)
    }
    assert scaled_copy(SUBMISSIONS / "starting_kit", tmp_path / "s", epochs=8) == {}
    with pytest.raises(ValueError, match="either scale or epochs"):
        scaled_copy(SUBMISSIONS / "starting_kit", tmp_path / "s", scale=0.5, epochs=3)


def test_variant_copy_takes_another_submissions_inputs_and_changes_constants(tmp_path):
    dst = tmp_path / "crop_resnet"
    changes = variant_copy(
        SUBMISSIONS / "small_resnet",
        dst,
        constants={"N_EPOCHS": 6, "CROP_FRACTION": 0.8125},
        reason="erin's variant",
        reasons={"N_EPOCHS": "demo profile"},
        files={"image_preprocessor.py": SUBMISSIONS / "centre_crop" / "image_preprocessor.py"},
    )
    assert changes == {"N_EPOCHS": ("30", "6"), "CROP_FRACTION": ("0.625", "0.8125")}
    classifier = (dst / "batch_classifier.py").read_text()
    assert "N_EPOCHS = 6  # demo profile: 30 in the original submission\n" in classifier
    preprocessor = (dst / "image_preprocessor.py").read_text()
    original = (SUBMISSIONS / "centre_crop" / "image_preprocessor.py").read_text()
    assert preprocessor == original.replace(
        "CROP_FRACTION = 0.625",
        "CROP_FRACTION = 0.8125  # erin's variant: 0.625 in the original submission",
    )
    check_static(dst)  # still a valid submission


def test_variant_copy_names_a_constant_it_cannot_find(tmp_path):
    with pytest.raises(ValueError, match=r"no module-level numeric constant DROPOUT_RATE"):
        variant_copy(
            SUBMISSIONS / "centre_crop", tmp_path / "c", constants={"DROPOUT_RATE": 0.3}, reason="x"
        )
    assert not (tmp_path / "c").exists()
