"""Deterministic synthetic SPIPOLL-like data set in the RAMP kit layout.

``generate(out_dir, seed=0, n=20348)`` draws the 18 taxa of the 2015 event at their
frequencies as procedural insects (real colours and patterns, translucent wings, legs) posed on
defocused flowers and leaves, with the lighting, blur and noise of downsized photos.
"""

from .generator import SynthSummary, generate
from .photo import render
from .plan import MIN_N, SynthError, allocate_counts, make_plan, n_test_images

__all__ = [
    "MIN_N",
    "SynthError",
    "SynthSummary",
    "allocate_counts",
    "generate",
    "make_plan",
    "render",
    "n_test_images",
]
