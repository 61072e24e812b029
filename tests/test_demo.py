"""The platform demo (``scripts/demo`` → ``python -m ramp_server.demo``) as a user runs it.

Real subprocesses in their own process group, so that Ctrl-C reaches the demo, its Dask
workers and their sandboxes together, as it does in a terminal.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ramp_server.kit.subset import read_subset_record

from ramp_test_plugin import REPO_ROOT, free_port

SUBMISSIONS = ("starting_kit", "colour_features")


@pytest.fixture(scope="module")
def demo_data(tiny_kit) -> Path:
    return tiny_kit / "data"  # read only: the demo links a subset of it into its storage


def _env(storage: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMP_")}
    return {**env, "RAMP_STORAGE_DIR": str(storage), "PYTHONUNBUFFERED": "1"}


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftover_demo():
    """Whatever a failing test leaves (the demo, its Dask workers, their sandboxes) is killed."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _demo(
    storage: Path, data: Path, *extra: str, submissions: tuple[str, ...] | None = SUBMISSIONS
) -> subprocess.Popen:
    """The demo on a subset of the tiny kit; ``submissions=None``: the demo's own plan."""
    argv = [sys.executable, "-m", "ramp_server.demo", "--storage", str(storage)]
    argv += ["--data", str(data), "--demo-size", "150", "60", "--workers", "1"]
    argv += ["--submissions", *submissions] if submissions is not None else []
    argv += extra
    proc = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=_env(storage),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    _STARTED.append(proc)
    return proc


def _read_until(proc: subprocess.Popen, marker: str, *, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never appeared; output:\n{''.join(seen)[-4000:]}")


def _ctrl_c(proc: subprocess.Popen, *, timeout: float = 90) -> tuple[int, str]:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the demo did not stop within 90 s of Ctrl-C") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # workers and sandboxes leave with it
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("processes of the demo outlived it after Ctrl-C")
    return proc.returncode, out


def _submissions(storage: Path) -> list[tuple[str, str, str, float | None, str]]:
    from ramp_server.config import Settings
    from ramp_server.db.engine import open_database
    from ramp_server.db.models import Event, Submission, User

    settings = Settings(storage_dir=storage, database_url=None)
    with open_database(settings) as factory, factory() as session:
        rows = session.execute(
            select(User.name, Submission.name, Submission.state, Submission.contributivity)
            .join(User, User.id == Submission.user_id)
            .join(Event, Event.id == Submission.event_id)
        ).all()
        description = session.scalar(select(Event.description)) or ""
    return [(u, n, s.value, c, description) for u, n, s, c in rows]


def _folds_left_training(storage: Path) -> int:
    from sqlalchemy import func

    from ramp_server.config import Settings
    from ramp_server.db.engine import open_database
    from ramp_server.db.models import FoldState, SubmissionFold

    with open_database(Settings(storage_dir=storage, database_url=None)) as factory:
        with factory() as session:
            return session.scalar(
                select(func.count()).where(SubmissionFold.state == FoldState.TRAINING)
            )


def test_demo_resumes_after_ctrl_c_without_losing_or_duplicating_submissions(demo_data, tmp_path):
    storage = tmp_path / "storage"
    proc = _demo(storage, demo_data, "--until-idle")
    before = _read_until(proc, "started fold", timeout=240)
    code, after = _ctrl_c(proc)
    output = before + after
    assert code == 130, output[-3000:]
    assert "run scripts/demo again to resume" in output
    assert "Traceback" not in output, output[-3000:]
    rows = _submissions(storage)
    assert sorted((u, n) for u, n, *_ in rows) == [
        ("alice", SUBMISSIONS[0]),
        ("bob", SUBMISSIONS[1]),
    ]
    assert all(state != "scored" or n == SUBMISSIONS[0] for _, n, state, *_ in rows)
    assert _folds_left_training(storage) > 0  # Ctrl-C came mid-training: those are requeued

    proc = _demo(storage, demo_data, "--until-idle")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-4000:]
    assert "alice/starting_kit already submitted" in out
    assert "bob/colour_features already submitted" in out
    # the terminal shows training progress, fold by fold
    assert re.search(r"\(spipoll/\w+\): fold \d epoch \d+/\d+", out), out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    rows = _submissions(storage)
    assert Counter((u, n) for u, n, *_ in rows) == {
        ("alice", SUBMISSIONS[0]): 1,
        ("bob", SUBMISSIONS[1]): 1,
    }
    assert {state for _, _, state, *_ in rows} == {"scored"}
    assert all(c is not None for *_, c, _ in rows), "the hybrid model credits every submission"
    subset = read_subset_record(storage / "kit" / "data")
    assert subset is not None and abs(subset.n_train - 150) < 30
    assert "Demo profile" in rows[0][-1] and subset.describe() in rows[0][-1]
    # the leaderboard printed at the end lists both, with their contributivity
    board = out[out.rindex("ramp-server leaderboard") :]
    assert "starting_kit" in board and "colour_features" in board and "contributivity" in board


STORY_LINE = {
    "hybrid": re.compile(r"^    hybrid model of (\d+) submissions: ([\d.]+) \(([\d.]+)\)$", re.M),
    "best": re.compile(
        r"^    best single submission, (\w+)/([\w.-]+): ([\d.]+) \(([\d.]+)\)$", re.M
    ),
    "verdict": re.compile(
        r"^    the hybrid model is (above|not above) the best single one: ([+-][\d.]+)$", re.M
    ),
    "share": re.compile(r"^      (\w+)/([\w.-]+) +(\d+) %  acc ([\d.]+) \(([\d.]+)\)$", re.M),
    "improvement": re.compile(
        r"^    (\w+)/([\w.-]+): (\d+) % of the hybrid before its improvement "
        r"(\w+)/([\w.-]+) was scored, (\d+) % after$",
        re.M,
    ),
}


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _one(line: str, story: str) -> tuple[str, ...]:
    found = STORY_LINE[line].findall(story)
    assert len(found) == 1, f"{line} line: {found}; story:\n{story}"
    return found[0]


def _from_database(storage: Path) -> dict:
    """What the story must say, read with plain SQL (not through the services it tests)."""
    from ramp_server.config import Settings
    from ramp_server.db.engine import open_database
    from ramp_server.db.models import Blend, BlendContribution, Score, Submission, User

    with open_database(Settings(storage_dir=storage, database_url=None)) as factory:
        with factory() as session:
            blend = session.scalars(select(Blend).order_by(Blend.id.desc())).first()
            subs = {
                (user, name): (sid, share, submitted, _utc(scored))
                for sid, user, name, share, submitted, scored in session.execute(
                    select(
                        Submission.id,
                        User.name,
                        Submission.name,
                        Submission.contributivity,
                        Submission.submitted_at,
                        Submission.finished_at,
                    ).join(User, User.id == Submission.user_id)
                )
            }
            blends = [
                (bid, _utc(datetime.fromisoformat(details["started_at"])))
                for bid, details in session.execute(select(Blend.id, Blend.details))
            ]
            bagged = {
                (sid, split.value): value
                for sid, split, value in session.execute(
                    select(Score.submission_id, Score.split, Score.value).where(
                        Score.fold.is_(None), Score.score_name == "acc"
                    )
                )
            }
            shares = {
                (bid, sid): c
                for bid, sid, c in session.execute(
                    select(
                        BlendContribution.blend_id,
                        BlendContribution.submission_id,
                        BlendContribution.contributivity,
                    )
                )
            }
    return {
        "blend": blend,
        "subs": subs,
        "bagged": bagged,
        "shares": shares,
        "blends": blends,
    }


def test_demo_tells_the_ramp_story_with_the_numbers_of_the_database(demo_data, tmp_path):
    from ramp_server.demo_plan import DEMO_PLAN

    storage = tmp_path / "storage"
    proc = _demo(storage, demo_data, "--until-idle", "--workers", "2", submissions=None)
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-3000:]
    later = [s for s in DEMO_PLAN if s.improves]
    assert len(later) == 1 and len(DEMO_PLAN) >= 5
    successor = later[0]
    # the improvement is submitted once the first round is trained and blended
    first_dispatch = out.index("$ ramp-server dispatch --until-idle")
    submit_later = out.index(f"--name {successor.name} ")
    assert first_dispatch < submit_later < out.rindex("$ ramp-server dispatch --until-idle")

    story = out[out.rindex("==> the RAMP story") :]
    db = _from_database(storage)
    blend, subs, bagged = db["blend"], db["subs"], db["bagged"]
    assert f"blend {blend.id};" in story.splitlines()[0]

    (n, hybrid_test, hybrid_valid) = _one("hybrid", story)
    assert int(n) == len(DEMO_PLAN) == len(subs)
    assert float(hybrid_test) == round(blend.combined_test, 3)
    assert float(hybrid_valid) == round(blend.combined_valid, 3)

    (user, name, best_test, best_valid) = _one("best", story)
    best_id = subs[(user, name)][0]
    assert best_id == blend.details["best_single"]["submission_id"]
    assert bagged[(best_id, "valid")] == max(
        v for (_, split), v in bagged.items() if split == "valid"
    )
    assert float(best_test) == round(bagged[(best_id, "test")], 3)
    assert float(best_valid) == round(bagged[(best_id, "valid")], 3)
    (verdict, gap) = _one("verdict", story)
    assert float(gap) == round(blend.combined_test - bagged[(best_id, "test")], 3)
    assert (verdict == "above") == (float(gap) > 0)

    printed = {
        (u, s): (int(p), float(t), float(v)) for u, s, p, t, v in STORY_LINE["share"].findall(story)
    }
    assert set(printed) == set(subs) == {(s.user, s.name) for s in DEMO_PLAN}
    for key, (pct, test, valid) in printed.items():
        sid, share, *_ = subs[key]
        assert pct == round(100 * share)
        assert (test, valid) == (round(bagged[(sid, "test")], 3), round(bagged[(sid, "valid")], 3))
    assert sum(share for _, share, *_ in subs.values()) == pytest.approx(1.0)
    order = [pct for pct, *_ in printed.values()]
    assert order == sorted(order, reverse=True), "the largest share first"

    (user, old, before, user2, new, after) = _one("improvement", story)
    assert (user, old, user2, new) == (
        successor.user,
        successor.improves,
        successor.user,
        successor.name,
    )
    old_id = subs[(user, old)][0]
    new_scored = subs[(user, new)][3]
    before_new = max(b for b, started in db["blends"] if started < new_scored)
    assert int(before) == round(100 * db["shares"].get((before_new, old_id), 0.0))
    assert int(after) == round(100 * subs[(user, old)][1])


def test_demo_serves_the_site_and_stops_cleanly_on_ctrl_c(demo_data, tmp_path):
    storage = tmp_path / "storage"
    port = free_port()
    proc = _demo(storage, demo_data, "--port", str(port))
    before = _read_until(proc, "open http://", timeout=240)
    url = f"http://127.0.0.1:{port}/events/spipoll"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                page = response.read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.5)
    subset = read_subset_record(storage / "kit" / "data")
    assert "Demo profile" in page and f"{subset.n_train:,} training and" in page
    before += _read_until(proc, "started fold", timeout=240)  # the site trains in the background
    code, after = _ctrl_c(proc)
    assert code in (0, 130), (before + after)[-3000:]
    assert "Traceback" not in after, after[-3000:]
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_demo_rejects_a_subset_too_small_for_a_stratified_cv(capsys):
    from ramp_server.demo import main

    with pytest.raises(SystemExit) as exc:
        main(["--demo-size", "10", "600"])
    assert exc.value.code == 2
    assert "--demo-size: must be 54 or more, got 10" in capsys.readouterr().err
