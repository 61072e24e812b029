"""Plain normalisation: the network of batch_classifier.py learns its own input window.

No crop and no fixed Gaussian window here: the first layer of the network is a learned
per-pixel window (one weight per pixel, initialised at 1), as the 2015 account suggested.
"""

import numpy as np

MEAN = 0.45
STD = 0.25


def transform(x):
    """One H×W×3 uint8 image → 3×H×W float32, roughly zero-mean and unit-variance."""
    img = (x.astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(img.transpose(2, 0, 1))
