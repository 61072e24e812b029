"""The day's plan: who submits what and when (seeded), and each submission's files.

The day is ``DAY_HOURS`` of event time compressed into ``day_s`` seconds of wall time: a slow
morning, a steady afternoon and a rush in the last hour before the deadline (arrival density
:data:`CURVE`); some participants submit in bursts of 10-20 (a script looping over
hyper-parameters). Each participant has a latent skill and a favourite kind of model (style);
their submissions are noisy variations of it that improve slowly over the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ramp_server.engine.simulation import marker_line

DAY_HOURS = 10.0
#: (start hour, end hour, relative arrival density): 9:00-12:00 slow, 12:00-18:00 steady,
#: 18:00-19:00 the rush before the deadline
CURVE = ((0.0, 3.0, 0.4), (3.0, 9.0, 1.0), (9.0, 10.0, 3.0))
STYLES = 6
#: share of the submissions made in bursts, and a burst's size
BURST_SHARE, BURST_SIZE = 0.15, (10, 20)
#: seconds of event time between two submissions of one burst
BURST_GAP_H = 20 / 3600


@dataclass(frozen=True)
class Arrival:
    """One planned submission."""

    at_s: float  # wall seconds after the start of the day
    participant: int
    name: str
    skill: float
    style: int
    seed: int
    real: bool  # trained in the real sandbox (no simulation marker)
    via_web: bool  # uploaded through the web form (else the API)
    burst: int | None = None  # the burst it belongs to
    first_of_burst: bool = False


def _arrival_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` event times (hours from the opening) drawn from :data:`CURVE`."""
    weights = np.array([(b - a) * d for a, b, d in CURVE])
    segment = rng.choice(len(CURVE), size=n, p=weights / weights.sum())
    lo = np.array([CURVE[s][0] for s in segment])
    hi = np.array([CURVE[s][1] for s in segment])
    return lo + rng.uniform(size=n) * (hi - lo)


def day_plan(
    *,
    participants: int,
    submissions: int,
    day_s: float,
    real_share: int,
    web_every: int,
    seed: int,
) -> list[Arrival]:
    """Every submission of the day, in the order they arrive.

    Every participant submits at least once; activity is skewed (a few submit a lot);
    ``real_share`` single submissions (spread over the day) run through the real sandbox;
    participants whose index is a multiple of ``web_every`` use the web form.
    """
    if submissions < participants:
        raise ValueError(f"--submissions ({submissions}) must be at least --participants")
    rng = np.random.default_rng(seed)
    skill = np.clip(rng.normal(1.8, 0.5, participants), 0.6, 3.2)
    style = rng.integers(0, STYLES, participants)
    activity = rng.pareto(1.5, participants) + 1.0
    n_burst_subs = int(BURST_SHARE * submissions) if participants >= 4 else 0
    bursts: list[tuple[int, int, float]] = []  # (participant, size, start hour)
    while sum(b[1] for b in bursts) < n_burst_subs:
        size = int(rng.integers(BURST_SIZE[0], BURST_SIZE[1] + 1))
        size = min(size, n_burst_subs - sum(b[1] for b in bursts))
        start = float(_arrival_hours(rng, 1)[0])
        bursts.append((int(rng.integers(participants)), max(1, size), start))
    singles = submissions - sum(b[1] for b in bursts)
    owners = list(range(participants))  # everyone once, the rest by activity
    owners += list(rng.choice(participants, singles - participants, p=activity / activity.sum()))
    hours = _arrival_hours(rng, singles)
    events: list[tuple[float, int, int | None, bool]] = [
        (float(h), int(p), None, False) for h, p in zip(hours, owners, strict=True)
    ]
    for b, (p, size, start) in enumerate(bursts):
        for j in range(size):
            h = min(DAY_HOURS - 1e-6, start + j * BURST_GAP_H * rng.uniform(0.5, 1.5))
            events.append((h, p, b, j == 0))
    events.sort(key=lambda e: e[0])
    real = set(
        rng.choice(
            [i for i, e in enumerate(events) if e[2] is None],
            size=min(real_share, singles),
            replace=False,
        ).tolist()
    )
    counts = [0] * participants
    plan = []
    for i, (h, p, burst, first) in enumerate(events):
        k = counts[p]
        counts[p] += 1
        progress = h / DAY_HOURS  # participants get a little better over the day
        own_style = int(style[p]) if rng.uniform() < 0.8 else int(rng.integers(STYLES))
        plan.append(
            Arrival(
                at_s=h / DAY_HOURS * day_s,
                participant=p,
                name=f"p{p:03d}-s{k}",
                skill=float(max(0.3, skill[p] + 0.4 * progress + rng.normal(0, 0.3))),
                style=own_style,
                seed=seed * 1_000_003 + i,
                real=i in real,
                via_web=p % web_every == 0,
                burst=burst,
                first_of_burst=first,
            )
        )
    return plan


def submission_files(arrival: Arrival, *, real_kit: dict[str, bytes]) -> dict[str, bytes]:
    """The files uploaded for ``arrival``: the tiny real submission, with the simulation marker
    on top of its preprocessor unless the arrival is a real one (its name keeps blobs apart)."""
    files = dict(real_kit)
    head = f"# {arrival.name}\n".encode()
    if not arrival.real:
        head += marker_line(skill=arrival.skill, style=arrival.style, seed=arrival.seed).encode()
    files["image_preprocessor.py"] = head + files["image_preprocessor.py"]
    return files


def tiny_real_submission(repo: Path) -> dict[str, bytes]:
    """The starting kit trained for one epoch: what the real-sandbox share runs."""
    base = repo / "submissions" / "starting_kit"
    files = {f: (base / f).read_bytes() for f in ("image_preprocessor.py", "batch_classifier.py")}
    files["batch_classifier.py"] = files["batch_classifier.py"].replace(
        b"N_EPOCHS = 2\n", b"N_EPOCHS = 1\n"
    )
    return files
