"""One compressed event day: seed, start the stack, let the day happen, check, measure."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from load import make_kit
from load.participant import Sample
from load.report import machine
from load.seed import EVENT, seed_database
from load.server import server_tracebacks

from .capacity import Replay, hourly_demand, replay, workers_needed
from .checks import DayRecords, read_day
from .crowd import DayParticipant, start_crowd
from .figures import Figures, compute
from .observer import Observed, observe
from .plan import Arrival, day_plan, tiny_real_submission
from .reblend_curve import blend_curve, full_reblend
from .stack import start_stack

if TYPE_CHECKING:
    from ramp_server.config import Settings

REPO = Path(__file__).resolve().parents[2]
CURVE_POINTS = [100, 250, 500, 1000, 1500, 2000, 2500, 3000]


@dataclass
class DayConfig:
    """The knobs of one day (the command line's)."""

    participants: int = 300
    submissions: int = 3000
    workers: int = 8
    time_scale: float = 36.0
    real_sandbox_share: int = 20
    web_every: int = 5
    poll_s: float = 10.0
    drain_max_s: float = 600.0
    images: int = 4000
    web_workers: int = 2
    seed: int = 0

    @property
    def day_s(self) -> float:
        """Wall seconds of the day: 10 event hours divided by the time scale."""
        from .plan import DAY_HOURS

        return DAY_HOURS * 3600 / self.time_scale


@dataclass
class DayReport:
    """Everything one day measured and checked."""

    config: DayConfig
    records: DayRecords
    figures: Figures
    observed: Observed
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    #: uvicorn's lines on web worker processes it killed and restarted (a failed health check:
    #: the worker's in-flight requests are then closed without an answer)
    web_restarts: list[str] = field(default_factory=list)
    accepted: int = 0
    planned: int = 0
    live_blends: list[tuple[int, float]] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)
    full_reblend: tuple[int, float] | None = None
    #: event time: workers busy per event hour, the day replayed on ``workers`` GPUs, the
    #: fewest that keep up (``capacity``)
    hourly: list[float] = field(default_factory=list)
    replay: Replay | None = None
    needed: int = 0
    #: CPU seconds of each kind of process over the run (see ``Stack.cpu_seconds``)
    cpu_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    machine: str = ""
    load_before: float = 0.0

    @property
    def server_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None and s.status >= 500]


def _organiser_token(settings: Settings) -> str:
    """An administrator with an API token: the observer's identity."""
    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.models import User
    from ramp_server.services import accounts

    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            user = User(
                name="organiser",
                email="organiser@example.org",
                full_name="",
                password_hash="!",  # no password: the token only
                is_admin=True,
                is_active=True,
            )
            session.add(user)
            session.flush()
            _, raw = accounts.create_api_token(session, user=user, name="observer")
            session.commit()
            return raw
    finally:
        engine.dispose()


def run_day(settings: Settings, cfg: DayConfig, *, work: Path, log: Any = print) -> DayReport:
    """Seed ``settings``' (empty) database, run the day on the real stack, check, measure."""
    load_before = os.getloadavg()[0]
    t_all = time.perf_counter()
    log(f"load average {load_before:.1f}; making the kit ({cfg.images} images) ...")
    kit = make_kit(work / "kit", n_images=cfg.images, seed=cfg.seed)
    seeded = seed_database(
        settings,
        kit_dir=kit,
        participants=cfg.participants,
        scored=0,
        cheap_password_hashing=True,
        rules={"uses_gpu": True, "fold_time_limit_s": 900},
    )
    token = _organiser_token(settings)
    plan = day_plan(
        participants=cfg.participants,
        submissions=cfg.submissions,
        day_s=cfg.day_s,
        real_share=cfg.real_sandbox_share,
        web_every=cfg.web_every,
        seed=cfg.seed,
    )
    log(
        f"seeded {cfg.participants} participants; plan: {len(plan)} submissions over "
        f"{cfg.day_s:.0f} s ({cfg.time_scale:g}x), {sum(a.real for a in plan)} in the real "
        f"sandbox, {sum(a.via_web for a in plan)} through the web form, "
        f"{len({a.burst for a in plan if a.burst is not None})} bursts"
    )
    log(f"starting the stack ({cfg.workers} GPU workers) ...")
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    stack = start_stack(
        settings,
        workers=cfg.workers,
        time_scale=cfg.time_scale,
        web_workers=cfg.web_workers,
        logs=logs,
    )
    by_participant: dict[int, list[Arrival]] = defaultdict(list)
    for a in plan:
        by_participant[a.participant].append(a)
    real_kit = tiny_real_submission(REPO)
    crowd = [
        DayParticipant(
            stack.base_url,
            name=name,
            token=tok,
            event=seeded.event,
            arrivals=by_participant[i],
            real_kit=real_kit,
            poll_s=cfg.poll_s,
            index=i,
            seed=cfg.seed,
        )
        for i, (name, tok) in enumerate(seeded.participants)
    ]
    stop, obs_stop, observed = threading.Event(), threading.Event(), Observed()
    observer = threading.Thread(
        target=observe,
        kwargs={
            "base_url": stack.base_url,
            "token": token,
            "event": seeded.event,
            "db_url": settings.db_url,
            "stop": obs_stop,
            "out": observed,
        },
        daemon=True,
    )
    try:
        log(f"the day starts ({time.perf_counter() - t_all:.0f} s after the start)")
        day_start, t0 = time.time(), time.monotonic()
        cpu_bench0, cpu = time.process_time(), {}
        observer.start()
        threads = start_crowd(crowd, t0=t0, stop=stop)
        _watch(threads, crowd, observed, stack, t0=t0, limit_s=cfg.day_s + cfg.drain_max_s, log=log)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        _await_last_blend(observed, timeout_s=60.0)
        cpu = stack.cpu_seconds()
        cpu["bench (participants, observer)"] = time.process_time() - cpu_bench0
    finally:
        stop.set()
        obs_stop.set()
        observer.join(timeout=120)
        stack.stop()
    accepted = {
        u.submission_id: (p.name, u.name)
        for p in crowd
        for u in p.uploads
        if u.submission_id is not None
    }
    plan_by_id = {sid: a for p in crowd for sid, (a, _) in p.submitted.items()}
    records = read_day(settings, event=EVENT, accepted=accepted)
    report = DayReport(
        config=cfg,
        records=records,
        figures=compute(
            records,
            observed,
            plan_by_id=plan_by_id,
            workers=cfg.workers,
            day_start=day_start,
            day_s=cfg.day_s,
        ),
        observed=observed,
        accepted=len(accepted),
        planned=len(plan),
        load_before=load_before,
        cpu_s=cpu,
    )
    for p in crowd:
        report.samples += p.samples
        report.problems += p.problems
    report.samples += observed.samples
    report.problems += observed.problems
    for name in ("serve", "dispatch"):
        report.tracebacks += server_tracebacks(stack.logs[name])
    report.web_restarts = [
        line
        for line in stack.logs["serve"].read_text(errors="replace").splitlines()
        if "Child process" in line and "died" in line
    ]
    n_folds = records.n_folds
    report.hourly = hourly_demand(plan, day_s=cfg.day_s, n_folds=n_folds)
    report.replay = replay(plan, day_s=cfg.day_s, n_folds=n_folds, workers=cfg.workers)
    report.needed = workers_needed(plan, day_s=cfg.day_s, n_folds=n_folds)
    report.live_blends = sorted((b["n"], b["duration"] or 0.0) for b in records.blends.values())
    log("re-blending from scratch against N (the stack is stopped) ...")
    report.curve = blend_curve(settings, event=EVENT, points=CURVE_POINTS)
    report.full_reblend = full_reblend(settings, event=EVENT)
    report.wall_s = time.perf_counter() - t_all
    report.machine = machine()
    return report


def _watch(threads, crowd, observed: Observed, stack, *, t0: float, limit_s: float, log) -> None:  # noqa: ANN001
    """Until every participant is done or ``limit_s`` passed; a progress line every 30 s."""
    next_line = t0 + 30
    while any(t.is_alive() for t in threads):
        now = time.monotonic()
        if now - t0 > limit_s:
            log(f"stopping at the time limit ({limit_s:.0f} s): work still pending")
            return
        if stack.exited():
            log(f"stopping: {', '.join(stack.exited())} exited")
            return
        if now >= next_line:
            submitted = sum(len(p.submitted) for p in crowd)
            log(
                f"{now - t0:6.0f} s: {submitted} submitted, {len(observed.scored_seen)} scored, "
                f"{len(observed.blend_seen)} blends, load {os.getloadavg()[0]:.1f}"
            )
            next_line += 30
        time.sleep(1.0)


def _await_last_blend(observed: Observed, *, timeout_s: float) -> None:
    """Give the re-blender time to blend the last scores (their staleness needs it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        last_score = max(observed.scored_seen.values(), default=0.0)
        if max(observed.blend_seen.values(), default=0.0) > last_score:
            return
        time.sleep(1.0)
