"""Hand-crafted features: colour histograms and HOG-like gradient histograms, in numpy.

Each image becomes one feature vector (460 numbers) that a scikit-learn model can use:
- hue histograms weighted by saturation, of the central region and of the whole image
  (the yellow-black bands, the red of ladybirds, metallic greens...),
- saturation and brightness histograms and a coarse RGB histogram of the central region,
- mean colour on a 4×4 grid (where the colours are),
- orientations of the brightness gradients, per cell of a 4×4 grid (shapes, stripes, legs).
"""

import numpy as np

N_HUE = 16
N_LEVELS = 8
N_RGB = 4  # bins per channel of the coarse RGB histogram (4³ = 64)
N_ORIENT = 9
GRID = 4
CENTRE_FRACTION = 0.5


def rgb_to_hsv(img):
    """H×W×3 floats in [0, 1] → hue in [0, 1), saturation, value (each H×W)."""
    value = img.max(axis=2)
    chroma = value - img.min(axis=2)
    saturation = np.where(value > 0, chroma / np.maximum(value, 1e-6), 0.0)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(
        value == r,
        ((g - b) / safe) % 6,
        np.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    return np.where(chroma > 0, hue / 6.0, 0.0), saturation, value


def histogram(values, bins, weights=None):
    """Normalised histogram of values in [0, 1]."""
    counts = np.bincount(
        np.minimum((values * bins).astype(int), bins - 1).ravel(),
        weights=None if weights is None else weights.ravel(),
        minlength=bins,
    )
    return counts / max(counts.sum(), 1e-6)


def grid_cells(a):
    """Split the first two axes of an array into GRID×GRID cells: (GRID*GRID, cell pixels, ...)."""
    height, width = (a.shape[0] // GRID) * GRID, (a.shape[1] // GRID) * GRID
    a = a[:height, :width].reshape(GRID, height // GRID, GRID, width // GRID, *a.shape[2:])
    return a.swapaxes(1, 2).reshape(GRID * GRID, -1, *a.shape[4:])


def gradient_histograms(gray):
    """Unsigned gradient orientations, weighted by magnitude, per cell of a GRID×GRID grid."""
    gy, gx = np.gradient(gray)
    magnitude = grid_cells(np.hypot(gx, gy))
    orientation = grid_cells((np.arctan2(gy, gx) % np.pi) / np.pi)  # in [0, 1)
    bins = np.minimum((orientation * N_ORIENT).astype(int), N_ORIENT - 1)
    cells = np.zeros((GRID * GRID, N_ORIENT))
    np.add.at(cells, (np.arange(GRID * GRID)[:, None], bins), magnitude)
    cells = np.sqrt(cells.ravel())  # square root, as HOG does, to tame strong edges
    return cells / max(np.linalg.norm(cells), 1e-6)


def transform(x):
    """One H×W×3 uint8 image → a 1-d float32 feature vector."""
    img = x.astype(np.float32) / 255.0
    height, width = img.shape[:2]
    dh, dw = round(height * (1 - CENTRE_FRACTION) / 2), round(width * (1 - CENTRE_FRACTION) / 2)
    centre = img[dh : height - dh, dw : width - dw]
    hue, sat, val = rgb_to_hsv(img)
    c_hue, c_sat, c_val = rgb_to_hsv(centre)
    rgb_bins = np.minimum((centre * N_RGB).astype(int), N_RGB - 1)
    rgb_codes = (rgb_bins[..., 0] * N_RGB + rgb_bins[..., 1]) * N_RGB + rgb_bins[..., 2]
    features = [
        histogram(c_hue, N_HUE, c_sat * c_val),
        histogram(hue, N_HUE, sat * val),
        histogram(c_sat, N_LEVELS),
        histogram(c_val, N_LEVELS),
        np.bincount(rgb_codes.ravel(), minlength=N_RGB**3) / rgb_codes.size,
        centre.mean(axis=(0, 1)),
        centre.std(axis=(0, 1)),
        img.mean(axis=(0, 1)),
        img.std(axis=(0, 1)),
        grid_cells(img).mean(axis=1).ravel(),  # mean colour of each cell
        gradient_histograms(img.mean(axis=2)),
        gradient_histograms(centre.mean(axis=2)),
    ]
    return np.concatenate(features).astype(np.float32)
