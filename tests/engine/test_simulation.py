"""Simulated training (benchmarks only, ``RAMP_ENGINE_SIMULATION``): the real dispatcher, Dask
worker processes and result recording, with the sandboxed child replaced for marked
submissions only."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from ramp_server.config import Settings
from ramp_server.db.models import FoldState, SubmissionFold, SubmissionState
from ramp_server.engine.simulation import (
    MAX_FOLD_S,
    MIN_FOLD_S,
    SimulatedTraining,
    fold_duration_s,
    marker_line,
    parse_marker,
    simulated_proba,
)
from ramp_server.services import submissions as submission_service

from engine_support import make_dispatcher, submission_files


def test_the_setting_is_refused_in_production():
    with pytest.raises(ValueError, match="RAMP_ENGINE_SIMULATION is for benchmarks only"):
        Settings(env="production", secret_key="x" * 40, engine_simulation=True)
    assert Settings().engine_simulation is False  # off unless explicitly set


def test_marker_round_trip_and_unmarked_files():
    files = {"a.py": b"import numpy\n", "b.py": marker_line(skill=1.25, style=3, seed=77).encode()}
    assert parse_marker(files) == (1.25, 3, 77)
    assert parse_marker({"a.py": b"# ramp-simulate: nonsense\n"}) is None


def test_fold_durations_are_heavy_tailed_within_bounds():
    d = np.array([fold_duration_s(seed, k) for seed in range(400) for k in range(3)])
    assert d.min() >= MIN_FOLD_S and d.max() <= MAX_FOLD_S
    assert np.mean(d) > np.median(d)  # a long right tail
    assert fold_duration_s(5, 1) == fold_duration_s(5, 1)  # seeded


def _sim(skill: float, style: int, seed: int, y: np.ndarray) -> SimulatedTraining:
    return SimulatedTraining(
        skill=skill,
        style=style,
        seed=seed,
        time_scale=1.0,
        n_train=len(y),
        y_valid=y,
        y_test=y[:100],
        n_classes=18,
    )


def test_simulated_models_are_skilled_diverse_and_blend_better_than_alone():
    y = np.random.default_rng(0).integers(0, 18, 2000)
    rows = np.arange(len(y))

    def acc(p: np.ndarray) -> float:
        return float(np.mean(p.argmax(axis=1) == y))

    weak, _ = simulated_proba(_sim(1.0, 0, 1, y), fold=0, valid_is=rows)
    strong, test = simulated_proba(_sim(3.0, 1, 2, y), fold=0, valid_is=rows)
    other, _ = simulated_proba(_sim(3.0, 2, 3, y), fold=0, valid_is=rows)
    assert strong.dtype == np.float32 and np.allclose(strong.sum(axis=1), 1, atol=1e-5)
    assert test.shape == (100, 18)
    assert 1 / 18 < acc(weak) < acc(strong) < 1.0  # skill shows, nobody is perfect
    # two equally skilled models of different styles err differently: their mean is better
    assert acc((strong + other) / 2) > max(acc(strong), acc(other))


def test_marked_submissions_are_simulated_unmarked_ones_trained_in_the_sandbox(
    session, settings, session_factory, engine_event, admin, dask_client
):
    settings = settings.model_copy(
        update={"engine_simulation": True, "engine_simulation_time_scale": 100.0}
    )
    files = submission_files("quick")
    marked = dict(files)
    name = sorted(marked)[0]
    marked[name] = marker_line(skill=2.0, style=1, seed=9).encode() + marked[name]
    subs = {
        kind: submission_service.submit(
            session, settings=settings, event=engine_event, user=admin, name=kind, files=f
        )
        for kind, f in (("simulated", marked), ("real", files))
    }
    dispatcher = make_dispatcher(settings, session_factory, dask_client)
    dispatcher.run(until_idle=True)
    dispatcher.close()

    logs = {}
    with session_factory() as s:
        for kind, sub in subs.items():
            folds = list(
                s.scalars(select(SubmissionFold).where(SubmissionFold.submission_id == sub.id))
            )
            s.refresh(sub := s.merge(sub))
            assert sub.state == SubmissionState.SCORED, (kind, sub.error_message)
            assert {f.state for f in folds} == {FoldState.SCORED}
            assert all(f.worker_finished_at is not None for f in folds)
            logs[kind] = (settings.storage_dir / folds[0].log_path).read_text()
    assert "simulated training" in logs["simulated"]
    assert "simulated training" not in logs["real"]
    assert "epoch 1/1" in logs["real"]  # the quick submission really trained
