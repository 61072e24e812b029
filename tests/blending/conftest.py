"""Fixtures of the blending tests (helpers live in blend_helpers.py)."""

from __future__ import annotations

import pytest
from blend_helpers import RAMPWF_SCORE_TYPES


@pytest.fixture(params=sorted(RAMPWF_SCORE_TYPES))
def rampwf_score_type(request):
    """Each of rampwf's classification score types in turn."""
    return RAMPWF_SCORE_TYPES[request.param]()


from ramp_server.db.testing import *  # noqa: E402,F403  (SQLite + PostgreSQL fixtures)
