"""Starting kit preprocessing: 32×32 thumbnails, centred and scaled, channels first (C×H×W)."""

import numpy as np


def transform(x):
    """One 64×64×3 uint8 image → a 3×32×32 float32 array, in [-1, 1]."""
    # average each 2×2 block of pixels: a cheap, smooth downsampling
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w].astype(np.float32)
    x = x.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    # centred inputs: with [0, 1] inputs, two epochs of plain SGD barely leave the prior
    return ((x - 127.5) / 127.5).transpose(2, 0, 1)  # in [-1, 1]
