"""Quick test submission: mean colour of the image (numpy only, trains in milliseconds)."""

import numpy as np


def transform(x):
    return np.asarray(x, dtype=np.float32).mean(axis=(0, 1)) / 255.0
