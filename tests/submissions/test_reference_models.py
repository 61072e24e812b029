"""Behaviour of the reference submissions' own pieces (the generic ramp-test run is elsewhere).

The 2015 event's tricks are checked for what they are meant to do: the Gaussian window flattens
the border, the rotations quadruple the training set, the augmentations keep shapes and mask
about half of the pixels, the crop keeps the centre, the hand-crafted features tell colours apart,
and the no-dropout variant differs from Heuritech's model by its dropout layer only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ramp_server.kit.checker import check_run
from ramp_server.kit.contract import load_module

SUBMISSIONS = Path(__file__).resolve().parents[2] / "submissions"


def module(submission: str, element: str):
    return load_module(SUBMISSIONS / submission / f"{element}.py")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("submission", ["heuritech_cnn", "cnn_no_dropout"])
def test_gaussian_window_flattens_the_border_but_keeps_the_centre(submission, photo):
    pre = module(submission, "image_preprocessor")
    out = pre.transform(photo)
    assert out.shape == (3, 64, 64) and out.dtype == np.float32
    # every pixel's deviation from the mean colour is scaled by the window (1 at the centre)
    deviation = (photo / 255.0 - (photo / 255.0).mean(axis=(0, 1))).transpose(2, 0, 1)
    ratio = np.abs(out) * pre.SCALE / np.maximum(np.abs(deviation), 1e-3)
    centre = ratio[:, 30:34, 30:34][np.abs(deviation[:, 30:34, 30:34]) > 0.05]
    corner = ratio[:, :4, :4][np.abs(deviation[:, :4, :4]) > 0.05]
    assert centre.min() > 0.95
    assert 0.05 < corner.max() < 0.3  # flattened, but still usable
    window = pre.gaussian_window(64, 64)[:, :, 0]
    assert np.all(np.diff(window[32, 32:]) < 0)  # decreasing from the centre out


def test_rotations_quadruple_the_training_set_with_the_four_angles():
    clf = module("heuritech_cnn", "batch_classifier")
    x = torch.rand(5, 3, 64, 64)
    y = torch.arange(5)
    x4, y4 = clf.quadruple_by_rotations(x, y, torch.device("cpu"), torch.float32)
    assert clf.ANGLES == (0, 30, 90, 135)
    assert x4.shape == (20, 3, 64, 64)
    assert torch.equal(y4, y.repeat(4))
    torch.testing.assert_close(x4[:5], x, atol=1e-5, rtol=0)  # 0°: the image itself
    quarter = torch.rot90(x, k=1, dims=(2, 3))  # 90°: a quarter turn, either way
    quarter_other = torch.rot90(x, k=-1, dims=(2, 3))
    error = min((x4[10:15] - q).abs().max().item() for q in (quarter, quarter_other))
    assert error < 1e-4
    corners = x4[5:10, :, 0, 0]  # 30°: the corners come from outside the image
    assert torch.all(corners.abs() < 0.5)


def test_heuritech_augmentation_flips_and_masks_half_of_the_pixels():
    clf = module("heuritech_cnn", "batch_classifier")
    torch.manual_seed(0)
    x = torch.rand(2000, 3, 8, 8) + 1.0  # strictly positive, so masked pixels are exactly 0
    out = clf.augment(x)
    assert out.shape == x.shape
    masked_share = (out == 0).all(dim=1).float().mean().item()
    # half of the images get half of their pixels masked: a quarter of all pixels
    assert 0.2 < masked_share < 0.3
    masked_images = (out == 0).flatten(1).any(dim=1).float().mean().item()
    assert 0.45 < masked_images < 0.55
    unmasked = out[~(out == 0).flatten(1).any(dim=1)]
    source = x[~(out == 0).flatten(1).any(dim=1)]
    flipped = (unmasked != source).flatten(1).any(dim=1).float().mean().item()
    assert 0.35 < flipped < 0.5  # 1 - 0.75² of the images get at least one flip


def test_no_dropout_variant_differs_only_by_its_dropout_layer():
    with_dropout = module("heuritech_cnn", "batch_classifier").build_network(18)
    without = module("cnn_no_dropout", "batch_classifier").build_network(18)
    assert sum(isinstance(m, nn.Dropout) for m in with_dropout) == 1
    assert not any(isinstance(m, nn.Dropout) for m in without)
    kept = [type(m) for m in with_dropout if not isinstance(m, nn.Dropout)]
    assert kept == [type(m) for m in without]
    x = torch.zeros(2, 3, 64, 64)
    assert with_dropout(x).shape == without(x).shape == (2, 18)


def test_no_dropout_variant_trains_with_the_same_settings():
    with_dropout = module("heuritech_cnn", "batch_classifier")
    without = module("cnn_no_dropout", "batch_classifier")
    for name in ("N_EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "ANGLES", "FLIP_PROBA", "MASK_PROBA"):
        assert getattr(with_dropout, name) == getattr(without, name), name


def test_centre_crop_keeps_the_central_region(photo):
    pre = module("centre_crop", "image_preprocessor")
    out = pre.transform(photo)
    assert out.shape == (3, 40, 40)
    expected = photo[12:52, 12:52].astype(np.float32) / 255.0 - 0.5
    np.testing.assert_allclose(out, expected.transpose(2, 0, 1), atol=1e-6)


def test_colour_features_are_finite_and_tell_colours_apart(photo):
    pre = module("colour_features", "image_preprocessor")
    red = np.zeros((64, 64, 3), np.uint8)
    red[16:48, 16:48] = (200, 30, 30)
    yellow = red.copy()
    yellow[16:48, 16:48] = (230, 210, 20)
    f_red, f_yellow, f_photo = (pre.transform(img) for img in (red, yellow, photo))
    assert f_red.shape == f_yellow.shape == f_photo.shape and f_red.ndim == 1
    assert all(np.isfinite(f).all() for f in (f_red, f_yellow, f_photo))
    hue_red, hue_yellow = f_red[: pre.N_HUE], f_yellow[: pre.N_HUE]
    assert hue_red.argmax() != hue_yellow.argmax()
    # a vertical edge and a horizontal one put their gradient energy in different orientations
    vertical = np.zeros((64, 64, 3), np.uint8)
    vertical[:, 32:] = 255
    horizontal = vertical.transpose(1, 0, 2).copy()
    n_hog = pre.N_ORIENT * pre.GRID * pre.GRID
    hog_v = pre.transform(vertical)[-2 * n_hog : -n_hog].reshape(-1, pre.N_ORIENT).sum(0)
    hog_h = pre.transform(horizontal)[-2 * n_hog : -n_hog].reshape(-1, pre.N_ORIENT).sum(0)
    assert hog_v.argmax() != hog_h.argmax()


def test_small_resnet_window_starts_flat_and_augmentation_keeps_shapes():
    clf = module("small_resnet", "batch_classifier")
    net = clf.build_network(18)
    window = net[0]
    assert isinstance(window, clf.LearnedWindow)
    assert window.weight.requires_grad and torch.all(window.weight == 1)
    x = torch.randn(4, 3, 64, 64)
    torch.testing.assert_close(window(x), x)
    torch.manual_seed(0)
    out = clf.augment(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, x)
    assert net.eval()(x).shape == (4, 18)


@pytest.mark.parametrize("submission", ["colour_features", "centre_crop"])
def test_fast_reference_models_fit_and_predict_on_tiny_data(submission, monkeypatch):
    monkeypatch.setenv("RAMP_TEST_MODE", "1")  # a few iterations only
    proba = check_run(SUBMISSIONS / submission, n_per_class=2)
    assert proba.shape == (36, 18)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
