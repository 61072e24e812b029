"""Simulated training for benchmarks only (``RAMP_ENGINE_SIMULATION``).

``bench/event_day.py`` measures the whole platform at event scale on a machine without GPUs: the
dispatcher, the Dask task, result recording, scoring, live blending and the pages run as in
production; only the sandboxed child is replaced. A submission opts in with a marker line in one
of its files::

    # ramp-simulate: skill=1.8 style=3 seed=12345

and, when the operator set ``engine_simulation`` (refused with ``env=production``), the
dispatcher hands the worker a :class:`SimulatedTraining` instead of letting it start the sandbox.
The worker then sleeps for a heavy-tailed fold duration (seeded, divided by the time scale) and
returns predictions of a seeded generator: the true labels' signal scaled by the simulated
participant's ``skill``, plus noise shared by every submission (hard images) and by those of
the same ``style`` (the same kind of model makes the same confusions), so that the greedy blend
picks several submissions and beats the best single one, as on a real event. Submissions
without the marker still run in the real sandbox.

The labels travel in the job only in this mode: a simulated model needs them to be realistic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MARKER_RE = re.compile(
    rb"^# ramp-simulate: skill=(?P<skill>[0-9.]+) style=(?P<style>\d+) seed=(?P<seed>\d+)\s*$",
    re.M,
)
#: a fold on a current GPU takes from about ten seconds to a few minutes (log-normal, clipped)
MEDIAN_FOLD_S = 40.0
FOLD_SIGMA = 0.7
MIN_FOLD_S, MAX_FOLD_S = 10.0, 300.0
#: how strongly the noise shared by all submissions, and by one style, shows in every model
SHARED_WEIGHT, STYLE_WEIGHT = 0.8, 0.9
_SHARED_SEED = 20_150_615  # the same "hard images" for every simulated submission


@dataclass(frozen=True)
class SimulatedTraining:
    """What a worker needs to simulate one fold (built by the dispatcher, see module doc)."""

    skill: float
    style: int
    seed: int
    time_scale: float
    n_train: int
    y_valid: np.ndarray
    y_test: np.ndarray
    n_classes: int


def marker_line(*, skill: float, style: int, seed: int) -> str:
    """The line that makes a submission simulated (``bench/event_day.py`` writes it)."""
    return f"# ramp-simulate: skill={skill:.3f} style={style} seed={seed}\n"


def parse_marker(files: dict[str, bytes]) -> tuple[float, int, int] | None:
    """``(skill, style, seed)`` of the first marker line in ``files``; None without one."""
    for name in sorted(files):
        m = MARKER_RE.search(files[name])
        if m:
            return float(m["skill"]), int(m["style"]), int(m["seed"])
    return None


def fold_duration_s(seed: int, fold: int) -> float:
    """The uncompressed duration of one simulated fold: log-normal (a heavy right tail),
    median :data:`MEDIAN_FOLD_S`, clipped to [:data:`MIN_FOLD_S`, :data:`MAX_FOLD_S`]."""
    rng = np.random.default_rng((seed, fold, 1))
    d = MEDIAN_FOLD_S * float(np.exp(rng.normal(0.0, FOLD_SIGMA)))
    return min(MAX_FOLD_S, max(MIN_FOLD_S, d))


def _shared_noise(seed: tuple[int, ...], n: int, n_classes: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, n_classes))


def simulated_proba(
    sim: SimulatedTraining, *, fold: int, valid_is: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(valid_proba, test_proba)`` of one simulated fold (float32 rows summing to 1)."""
    from ramp_server.blending.synthetic import synthetic_proba

    c = sim.n_classes
    # noise per image: the same for every submission (all), and for every one of a style
    train_shared = SHARED_WEIGHT * _shared_noise((_SHARED_SEED, 0), sim.n_train, c)
    train_shared += STYLE_WEIGHT * _shared_noise((_SHARED_SEED, 1, sim.style), sim.n_train, c)
    n_test = len(sim.y_test)
    test_shared = SHARED_WEIGHT * _shared_noise((_SHARED_SEED, 2), n_test, c)
    test_shared += STYLE_WEIGHT * _shared_noise((_SHARED_SEED, 3, sim.style), n_test, c)
    rng = np.random.default_rng((sim.seed, fold, 2))
    valid = synthetic_proba(
        rng,
        sim.y_valid,
        c,
        strength=sim.skill,
        shared=train_shared[valid_is],
        dtype=np.float32,
    )
    test = synthetic_proba(rng, sim.y_test, c, strength=sim.skill, shared=test_shared)
    return valid, test.astype(np.float32)


def sleep_fold(
    sim: SimulatedTraining, *, fold: int, should_cancel: Callable[[], bool] | None
) -> tuple[float, bool]:
    """Sleep for the fold's compressed duration; ``(seconds slept, cancelled)``."""
    target = fold_duration_s(sim.seed, fold) / sim.time_scale
    t0 = time.monotonic()
    while True:
        left = target - (time.monotonic() - t0)
        if left <= 0:
            return time.monotonic() - t0, False
        if should_cancel is not None and should_cancel():
            return time.monotonic() - t0, True
        time.sleep(min(left, 0.25))
