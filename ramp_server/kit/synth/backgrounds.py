"""Natural-looking, defocused backgrounds: flowers, umbels, leaves and ground textures.

Backgrounds are independent of the class on purpose (no shortcut through the scenery), and
their palette overlaps the insects' (yellow and white flowers, red petals, green leaves).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from .anatomy import mix, smoothstep
from .painter import SIZE, noise_field

#: backgrounds are defocused anyway: they are drawn at half resolution, then upsampled
BG = SIZE // 2

PETALS = [
    (0.96, 0.85, 0.2),  # yellow
    (0.95, 0.95, 0.92),  # white
    (0.92, 0.55, 0.75),  # pink
    (0.6, 0.4, 0.8),  # purple
    (0.45, 0.55, 0.9),  # blue
    (0.95, 0.55, 0.15),  # orange
    (0.85, 0.15, 0.15),  # red
]
GREENS = [(0.25, 0.45, 0.15), (0.35, 0.55, 0.2), (0.15, 0.3, 0.12), (0.45, 0.55, 0.3)]
GROUNDS = [(0.45, 0.38, 0.28), (0.55, 0.5, 0.45), (0.3, 0.25, 0.2), (0.6, 0.58, 0.5)]


def _pick(rng: np.random.Generator, palette: list) -> np.ndarray:
    c = np.asarray(palette[rng.integers(len(palette))], dtype=np.float32)
    return np.clip(c * (1.0 + rng.normal(0.0, 0.1, 3)), 0.0, 1.0).astype(np.float32)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(BG, dtype=np.float32) + 0.5
    return ax[:, None], ax[None, :]


def _foliage(rng: np.random.Generator) -> np.ndarray:
    """Two-tone low-frequency mottling of greens or browns."""
    pal = GREENS if rng.random() < 0.7 else GROUNDS
    a, b = _pick(rng, pal), _pick(rng, pal)
    w = noise_field(rng, (BG, BG), int(rng.integers(2, 6))) * 0.5 + 0.5
    fine = noise_field(rng, (BG, BG), int(rng.integers(10, 24))) * 0.12
    return mix(a, b, w) * (1.0 + fine[..., None])


def _flower(img: np.ndarray, rng: np.random.Generator, *, centred: bool) -> None:
    """A rosette of petals with a textured disc; often right under the insect."""
    y, x = _grid()
    c = BG / 2
    fx, fy = (c + rng.normal(0, 5), c + rng.normal(0, 5)) if centred else rng.uniform(0, BG, 2)
    radius = rng.uniform(0.35, 0.9) * BG
    n = int(rng.integers(5, 15))
    dx, dy = x - fx, y - fy
    r = np.sqrt(dx * dx + dy * dy)
    th = np.arctan2(dy, dx) + rng.uniform(0, 6.3)
    shape = radius * (0.55 + 0.45 * np.abs(np.cos(th * n / 2)) ** rng.uniform(0.3, 1.5))
    petal = np.clip(shape - r, 0.0, 1.0)
    col = _pick(rng, PETALS)
    # radial shading and veins along the petals
    shade = 0.8 + 0.2 * (r / radius) + 0.05 * np.cos(th * n * 6)
    petal_col = col * np.clip(shade, 0.6, 1.1)[..., None]
    img[:] = mix(img, petal_col, petal)
    disc_r = radius * rng.uniform(0.12, 0.3)
    disc = np.clip((disc_r - r) / 0.75, 0.0, 1.0)
    disc_col = _pick(rng, [(0.9, 0.7, 0.1), (0.45, 0.3, 0.1), (0.3, 0.4, 0.15)])
    tex = 1.0 + 0.25 * np.sin(dx * 2.6) * np.sin(dy * 2.6)
    img[:] = mix(img, disc_col * tex[..., None], disc)


def _umbel(img: np.ndarray, rng: np.random.Generator) -> None:
    """Clusters of tiny white or yellow florets (Apiaceae, a favourite of pollinators)."""
    col = _pick(rng, [(0.95, 0.95, 0.9), (0.95, 0.9, 0.75), (0.95, 0.85, 0.3)])
    blobs = noise_field(rng, (BG, BG), int(rng.integers(14, 28)))
    cluster = noise_field(rng, (BG, BG), 3) * 0.5 + 0.5
    m = smoothstep(blobs, 0.15, 0.45) * smoothstep(cluster, 0.3, 0.6)
    img[:] = mix(img, col, m)


def _leaves(img: np.ndarray, rng: np.random.Generator) -> None:
    """A few large pointed leaves with a midrib."""
    y, x = _grid()
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(0, BG, 2)
        ang = rng.uniform(0, np.pi)
        a, b = rng.uniform(20, 45), rng.uniform(6, 15)
        du = (x - cx) * np.cos(ang) + (y - cy) * np.sin(ang)
        dv = -(x - cx) * np.sin(ang) + (y - cy) * np.cos(ang)
        d = (np.abs(du / a) ** 1.3 + np.abs(dv / b) ** 2) ** 0.5
        m = np.clip((1.0 - d) * 4.0, 0.0, 1.0)
        col = _pick(rng, GREENS) * (1.0 + 0.15 * (dv / b))[..., None]
        col = mix(col, col * 1.3, np.clip(1.0 - np.abs(dv) / 0.6, 0, 1) * 0.7)
        img[:] = mix(img, col, m)


def background(rng: np.random.Generator) -> np.ndarray:
    """A defocused scene behind the insect (SIZE×SIZE×3 float32 in [0, 1])."""
    img = _foliage(rng).astype(np.float32)
    kind = rng.random()
    if kind < 0.2:
        _leaves(img, rng)
    if kind < 0.55:
        _flower(img, rng, centred=rng.random() < 0.75)
    elif kind < 0.75:
        _umbel(img, rng)
    if rng.random() < 0.3:
        _flower(img, rng, centred=False)
    sigma = rng.uniform(0.4, 2.0)
    img = gaussian_filter(np.clip(img, 0.0, 1.0), (sigma, sigma, 0), mode="nearest")
    return np.ascontiguousarray(img.astype(np.float32).repeat(2, axis=0).repeat(2, axis=1))


def occluder(img: np.ndarray, rng: np.random.Generator) -> None:
    """A petal, leaf or stem passing in front of part of the insect."""
    ax = np.arange(SIZE, dtype=np.float32) + 0.5
    y, x = ax[:, None], ax[None, :]
    ang = rng.uniform(0, np.pi)
    off = rng.uniform(12, 40) * rng.choice([-1.0, 1.0])
    c = SIZE / 2
    cx, cy = c - off * np.sin(ang), c + off * np.cos(ang)
    du = (x - cx) * np.cos(ang) + (y - cy) * np.sin(ang)
    dv = -(x - cx) * np.sin(ang) + (y - cy) * np.cos(ang)
    a, b = rng.uniform(30, 80), rng.uniform(4, 20)
    d = np.sqrt((du / a) ** 2 + (dv / b) ** 2)
    m = gaussian_filter(np.clip((1.0 - d) * 6.0, 0.0, 1.0), 1.0)
    col = _pick(rng, PETALS + GREENS)
    img[:] = mix(img, col * (0.85 + 0.15 * np.cos(dv / b * 1.5))[..., None], m)
