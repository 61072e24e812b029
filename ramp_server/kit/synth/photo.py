"""One synthetic photo: scene, posed insect, occlusion, camera effects, downsizing to 64×64.

The knobs in :data:`DIFFICULTY` set how hard the data set is. They were calibrated with
``bench/calibrate_synth.py`` (6,000 images, 4,800 train / 1,200 test, shared CPU) so that the
model ladder resembles the 2015 event's (majority 0.29, starting kit 0.31, best CNN 0.71):

- majority class 0.287;
- the starting kit's tiny CNN 0.29 with the SGD steps of one ramp-test fold on the full set,
  0.37 with the steps of 2 full epochs;
- colour histograms + gradient orientations, logistic regression 0.32;
- a small CNN (4 conv+BN+pool blocks, dense 256, dropout, flips/rotations, Adam) 0.41 with
  2,400 train rows (plateau), 0.55 with 4,800 rows after 10 epochs and still rising: about
  +0.14 per doubling of the data, i.e. roughly 0.7 expected on the 16k-row full set;
- measured on the full set (20,348 images, seed 0: 16,279 train / 4,069 test;
  ``calibrate_synth.py --data data --skip-tiny --epochs 12``): majority 0.287, the features
  with logistic regression 0.388, the same small CNN 0.505 / 0.581 / 0.617 / 0.674 / 0.693 /
  0.696 after 2 / 4 / 6 / 8 / 10 / 12 epochs — the 2015 event's 0.71 for a well-built CNN;
- 12 % of the photos are poor (far away, out of focus, badly exposed) and sibling taxa overlap,
  which keeps any model well below 0.95.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from .backgrounds import background, occluder
from .insects import DRAWERS
from .painter import SIZE, make_frame

#: final image side (the event's resolution)
OUT = 64

DIFFICULTY = {
    # pixels per body unit at 128 px (an insect is ~2.2 units long): median and log-spread
    "scale": 28.0,
    "scale_spread": 0.32,
    # position jitter of the insect's centre (px at 128)
    "shift": 11.0,
    "p_occlusion": 0.4,
    # colour cast (per-channel white balance) and exposure spreads
    "white_balance": 0.14,
    "exposure": 0.3,
    # sensor noise range (fraction of full scale) and extra blur at 64 px
    "noise": (0.005, 0.035),
    "blur": (0.25, 1.0),
    # share of poor photos (far away, out of focus, badly exposed): the data set's ceiling
    "p_hard": 0.12,
}


def _shadow(img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, r: float) -> None:
    """A soft cast shadow under the insect."""
    ax = np.arange(SIZE, dtype=np.float32) + 0.5
    ox, oy = rng.normal(0, r * 0.25, 2)
    d2 = ((ax[None, :] - cx - ox) ** 2 + (ax[:, None] - cy - oy) ** 2) / (r * r)
    img *= 1.0 - rng.uniform(0.15, 0.4) * np.exp(-d2 * 2.0)[..., None]


def render(class_id: int, rng: np.random.Generator, *, knobs: dict | None = None) -> np.ndarray:
    """Render one 64×64×3 uint8 photo of taxon ``class_id`` with the random stream ``rng``."""
    k = {**DIFFICULTY, **(knobs or {})}
    img = background(rng)
    draw, size = DRAWERS[class_id]
    scale = k["scale"] * size * float(np.exp(rng.normal(0.0, k["scale_spread"])))
    hard = int(rng.integers(1, 4)) if rng.random() < k["p_hard"] else 0
    if hard == 1:  # far away
        scale *= 0.5
    cx, cy = SIZE / 2 + rng.normal(0, k["shift"], 2)
    if rng.random() < 0.5:
        _shadow(img, rng, cx, cy, scale * 1.1)
    angle = rng.uniform(0, 2 * np.pi)
    # the frame's origin is the thorax: put the middle of the body (u ≈ -0.45) at (cx, cy)
    cx, cy = cx + 0.45 * scale * np.cos(angle), cy + 0.45 * scale * np.sin(angle)
    fr = make_frame(
        img,
        cx=cx,
        cy=cy,
        angle=angle,
        scale=scale,
        squash=rng.uniform(0.7, 1.0),
        radius=2.6,
        light=rng.uniform(-3.0, -1.6),
    )
    draw(fr, rng)
    if rng.random() < k["p_occlusion"]:
        occluder(img, rng)
    # camera: exposure, white balance, gamma, vignette
    gain = float(np.exp(rng.normal(0.0, k["exposure"])))
    if hard == 2:  # under- or over-exposed
        gain *= float(rng.choice([0.3, 2.6]))
    wb = 1.0 + rng.normal(0.0, k["white_balance"], 3).astype(np.float32)
    img = np.clip(img * gain * wb, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    ax = (np.arange(SIZE, dtype=np.float32) + 0.5) / SIZE - 0.5
    vig = 1.0 - rng.uniform(0.0, 0.5) * (ax[None, :] ** 2 + ax[:, None] ** 2)
    img = img * vig[..., None]
    # downsize (2×2 box) then the photo's softness and sensor noise
    img = img.reshape(OUT, 2, OUT, 2, 3).mean(axis=(1, 3))
    s = rng.uniform(*k["blur"]) + (rng.uniform(1.0, 1.8) if hard == 3 else 0.0)  # out of focus
    img = gaussian_filter(img, (s, s, 0), mode="nearest")
    img = img + rng.normal(0.0, rng.uniform(*k["noise"]), img.shape)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
