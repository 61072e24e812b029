"""Centre crop: keep only the central region of the picture, where the insect is.

One of the first models of the 2015 SPIPOLL RAMP to reach an interesting score was the organizers'
reference network applied to cropped pictures: the insects are always centred, so cropping lets
the network focus on the insect rather than on the flowers and leaves around it.
"""

import numpy as np

#: side of the kept square, as a fraction of the image side (40 px of 64)
CROP_FRACTION = 0.625


def transform(x):
    """One H×W×3 uint8 image → its central crop as 3×h×w float32 in [-0.5, 0.5]."""
    height, width = x.shape[:2]
    side = round(CROP_FRACTION * min(height, width))
    top, left = (height - side) // 2, (width - side) // 2
    crop = x[top : top + side, left : left + side].astype(np.float32) / 255.0 - 0.5
    return np.ascontiguousarray(crop.transpose(2, 0, 1))
