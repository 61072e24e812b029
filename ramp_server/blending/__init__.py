"""Blending: greedy ensemble selection, contributivity, hybrid scores, Shapley, bootstrap.

Pure computation over arrays and files: nothing here reads the database or the settings (the
live re-blend of an event, which does, is :mod:`ramp_server.engine.reblend`). Modules:

- :mod:`.store` — the prediction file format the engine writes and the blender reads, and a cache;
- :mod:`.scores` — score types over arrays (official values bit-identical to rampwf's);
- :mod:`.combine` — rampwf's clip/renormalise/mean combination and CV bagging, exactly;
- :mod:`.greedy` — Caruana's greedy forward selection on one fold (ramp-blend's picks, fast);
- :mod:`.hybrid` — the whole blend: picks per fold, contributivity, combined and nested scores;
- :mod:`.foldstate` — one fold's greedy selection kept in memory, judging new candidates along it;
- :mod:`.incremental` — the blend kept up to date between re-blends (``IncrementalBlender``:
  the same result as :func:`.hybrid.blend`, bit for bit, at the cost of the new candidates);
- :mod:`.extras` — Shapley values, bootstrap intervals and the nested score, apart and budgeted;
- :mod:`.contributivity` — shares of picks and RAMP's historical credit propagation;
- :mod:`.shapley` — Shapley contributions to the hybrid score (exact or sampled with a bound);
- :mod:`.bootstrap` — bootstrap confidence intervals;
- :mod:`.offline` — ``ramp-server blend`` on a kit's saved outputs (ramp-blend's files);
- :mod:`.synthetic` — synthetic saved outputs for tests and benchmarks.
"""

from .hybrid import BlendResult, FoldInput, blend
from .incremental import IncrementalBlender
from .store import FoldPredictions, read_fold_predictions, write_fold_predictions

__all__ = [
    "BlendResult",
    "FoldInput",
    "FoldPredictions",
    "IncrementalBlender",
    "blend",
    "read_fold_predictions",
    "write_fold_predictions",
]
