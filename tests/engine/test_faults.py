"""Faults of the deployed shape, with every piece a real process: ``ramp-server serve``,
``ramp-server dispatch --scheduler``, ``dask scheduler`` and a ``dask worker``.

The web server, the dispatcher and the worker are killed (SIGKILL: no clean-up) while
submissions train, then started again; every submission must end scored exactly once, with
exactly one score row per fold and score type, and the hybrid model must cover them all.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ramp_server.db.models import Blend, FoldState, Score, Submission, SubmissionFold
from ramp_server.services.accounts import create_api_token
from ramp_server.services.blend_requests import blend_request_of
from ramp_server.services.participants import join_event

from engine_support import SUBMISSIONS, Processes, sandbox_processes, wait_until, web_up
from ramp_test_plugin import create_test_user

#: (name, folder): one slow enough (about 20 s per fold) to be caught training three times
SUBMITTED = (("slow_one", "slower"), ("quick_one", "quick"), ("quick_two", "quick"))


def _folder(name: str, tmp: Path) -> Path:
    if name != "slower":
        return SUBMISSIONS / name
    slower = tmp / "slower"
    slower.mkdir(exist_ok=True)
    for p in (SUBMISSIONS / "slow").glob("*.py"):
        (slower / p.name).write_text(p.read_text().replace("N_STEPS = 12", "N_STEPS = 40"))
    return slower


def _training_with_progress(
    session_factory, submission_id: int, *, not_keys: frozenset[str] = frozenset()
) -> list[tuple[int, str, str]]:
    """``(fold id, Dask key, worker)`` of the submission's folds training and reporting
    progress, except those run as ``not_keys``."""
    with session_factory() as s:
        rows = s.execute(
            select(SubmissionFold.id, SubmissionFold.dask_key, SubmissionFold.worker).where(
                SubmissionFold.submission_id == submission_id,
                SubmissionFold.state == FoldState.TRAINING,
                SubmissionFold.progress.is_not(None),
                SubmissionFold.worker.is_not(None),
            )
        ).all()
    return [tuple(r) for r in rows if r[1] not in not_keys]


def _all_scored_and_blended(session_factory, event_id: int, n: int) -> bool:
    with session_factory() as s:
        states = set(s.scalars(select(Submission.state).where(Submission.event_id == event_id)))
        blend = s.scalars(
            select(Blend).where(Blend.event_id == event_id).order_by(Blend.id.desc())
        ).first()
        return (
            {st.value for st in states} == {"scored"}
            and blend is not None
            and blend.n_submissions == n
            and blend_request_of(s, event_id=event_id) is None
        )


@pytest.mark.parametrize("db_backend", ["sqlite", "postgresql"])
def test_killing_web_dispatcher_and_worker_mid_training_loses_and_duplicates_nothing(
    session, settings, session_factory, engine_event, tmp_path
):
    event = engine_event
    event.fold_time_limit_s = 120
    user = create_test_user(session, "kim")
    join_event(session, event=event, user=user)
    _, token = create_api_token(session, user=user, name="faults")
    session.commit()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAMP_")},
        "RAMP_STORAGE_DIR": str(settings.storage_dir),
        "RAMP_DATABASE_URL": settings.db_url,
        "RAMP_SECRET_KEY": settings.secret_key,
        "RAMP_REBLEND_DEBOUNCE_S": "0",
        "RAMP_REBLEND_POLL_S": "0.3",
        "DASK_LOGGING__DISTRIBUTED": "warning",
    }
    procs = Processes(tmp_path, env)
    try:
        for name in ("scheduler", "worker", "web", "dispatcher"):
            procs.start(name)
        wait_until(lambda: web_up(procs.url), 180, "the web server answers", procs)
        auth = {"Authorization": f"Bearer {token}"}
        ids = []
        for name, folder in SUBMITTED:
            files = [
                ("files", (p.name, p.read_bytes(), "text/x-python"))
                for p in sorted(_folder(folder, tmp_path).glob("*.py"))
            ]
            r = httpx.post(
                f"{procs.url}/api/events/{event.name}/submissions",
                data={"name": name},
                files=files,
                headers=auth,
                timeout=30,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        slow = ids[0]

        # 1. the web server dies mid-training and comes back on the same port
        wait_until(
            lambda: _training_with_progress(session_factory, slow), 120, "slow trains", procs
        )
        procs.kill("web")
        procs.start("web")
        wait_until(lambda: web_up(procs.url), 180, "the restarted web server answers", procs)

        # 2. the dispatcher dies mid-training (its folds stay `training`) and comes back
        running = wait_until(
            lambda: _training_with_progress(session_factory, slow), 120, "slow trains", procs
        )
        procs.kill("dispatcher")
        procs.start("dispatcher")

        # 3. the Dask worker dies while training a fold the new dispatcher started; a new
        # worker joins the scheduler and trains it again
        old_keys = frozenset(key for _, key, _ in running)
        fold_id, _, killed_worker = wait_until(
            lambda: _training_with_progress(session_factory, slow, not_keys=old_keys),
            120,
            "slow trains again, started by the new dispatcher",
            procs,
        )[0]
        procs.kill("worker")
        procs.start("worker")

        wait_until(
            lambda: _all_scored_and_blended(session_factory, event.id, len(ids)),
            300,
            "every submission scored and blended",
            procs,
        )
        with session_factory() as s:
            retrained = s.get(SubmissionFold, fold_id)
            assert retrained.state == FoldState.SCORED
            assert retrained.worker and retrained.worker != killed_worker  # the new worker

        n_types = len(event.score_types)
        n_folds = len(event.folds)
        with session_factory() as s:
            subs = list(s.scalars(select(Submission).where(Submission.event_id == event.id)))
            assert sorted(x.name for x in subs) == sorted(n for n, _ in SUBMITTED)  # once each
            for sub in subs:
                folds = list(
                    s.scalars(select(SubmissionFold).where(SubmissionFold.submission_id == sub.id))
                )
                assert len(folds) == n_folds
                assert {f.state for f in folds} == {FoldState.SCORED}
                per_fold = s.execute(
                    select(Score.fold, Score.split, func.count())
                    .where(Score.submission_id == sub.id, Score.fold.is_not(None))
                    .group_by(Score.fold, Score.split)
                ).all()
                assert per_fold and {count for *_, count in per_fold} == {n_types}, per_fold
                assert sub.contributivity is not None
            assert sum(x.contributivity for x in subs) == pytest.approx(1.0)
        # the public leaderboard of the restarted server lists each submission once
        board = httpx.get(f"{procs.url}/api/events/{event.name}/leaderboard", timeout=10).json()
        rows = board["rows"] if isinstance(board, dict) else board
        assert sorted(r["submission"] for r in rows) == sorted(n for n, _ in SUBMITTED)
    finally:
        procs.stop_all()
    deadline = time.monotonic() + 30
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sandbox_processes() == []
