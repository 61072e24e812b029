"""Fixtures of the blending tests (helpers live in blend_helpers.py)."""

from __future__ import annotations

import pytest

from blend_helpers import RAMPWF_SCORE_TYPES


@pytest.fixture(params=sorted(RAMPWF_SCORE_TYPES))
def rampwf_score_type(request):
    """Each of rampwf's classification score types in turn."""
    return RAMPWF_SCORE_TYPES[request.param]()
