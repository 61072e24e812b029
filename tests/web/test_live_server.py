"""Against a real running server (uvicorn on an ephemeral loopback port): HTTP and a browser.

The browser tests drive Debian's /usr/bin/chromium through Playwright's sync API.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from ramp_test_plugin import free_port
from web_helpers import SQLITE_ONLY, score_submission, screenshot_dir


def test_running_server_serves_pages_api_and_static_files(live_server, event):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        page = http.get("/events/spipoll")
        assert page.status_code == 200 and "The 18 taxa" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/static/style.css").status_code == 200
        assert http.get("/api/events").json()[0]["name"] == "spipoll"
        assert http.get("/api/openapi.json").json()["info"]["title"]
        # no external resources: every src/href is local
        assert not re.search(r'(src|href)="https?://', page.text)


@pytest.mark.browser
@SQLITE_ONLY
def test_browser_signup_join_submit_and_watch_the_submission(
    live_server, event, browser, session, settings, tmp_path
):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/signup")
    page.fill("#name", "ada")
    page.fill("#email", "ada@example.org")
    page.fill("#password", "analytical-1")
    page.fill("#password2", "analytical-1")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.click("text=" + event.title)
    page.click("#join-btn")
    page.wait_for_selector("text=You joined")
    page.screenshot(path=str(screenshot_dir(tmp_path, "live_server") / "event.png"), full_page=True)
    page.click("a.btn:has-text('Submit')")
    assert "class BatchClassifier" in page.input_value("#code-batch_classifier")
    page.fill("#sub-name", "first_try")
    page.click("#submit-btn")
    page.wait_for_url(re.compile(r".*/submissions/\d+$"))
    assert page.inner_text("#state-badge") == "queued"
    assert "queued: position 1" in page.inner_text("#state-detail")
    sid = int(page.url.rsplit("/", 1)[1])
    # the engine reports progress, then the folds' results: the open page follows by itself
    # (locator assertions: the page's CSP forbids the eval that wait_for_function needs)
    from playwright.sync_api import expect

    from ramp_server.db.models import Submission
    from ramp_server.services import jobs

    fold = session.get(Submission, sid).folds[0]
    jobs.claim_fold(session, fold_id=fold.id, dask_key="k")
    jobs.note_fold_run(session, submission_id=sid, fold=0, progress={"epoch": 1, "n_epochs": 4})
    expect(page.locator("#state-badge")).to_have_text("training", timeout=15_000)
    expect(page.locator("#state-detail")).to_contain_text("epoch 1/4")
    # the folds table follows too: the claimed fold's state and epoch, the others still queued
    first_fold = page.locator("#folds tr[data-fold='0']")
    expect(first_fold.locator("[data-field=fold-state]")).to_have_text("training")
    expect(first_fold.locator("[data-field=fold-epoch]")).to_have_text("1/4")
    expect(page.locator("#folds [data-field=fold-state].queued")).to_have_count(event.n_folds - 1)
    score_submission(session, settings, sid)
    expect(page.locator("#state-badge")).to_have_text("scored", timeout=15_000)
    page.wait_for_selector("#scores")
    assert "bagged" in page.inner_text("#scores")


@pytest.mark.browser
@SQLITE_ONLY
def test_browser_leaderboard_sorting(live_server, event, browser, session, settings, tmp_path):
    from ramp_server.services import accounts, participants, submissions

    from ramp_test_plugin import read_starting_kit

    ids = []
    for i, name in enumerate(["ana", "ben", "cid"]):
        user = accounts.sign_up(
            session, name=name, email=f"{name}@example.org", password="pass-word-1"
        )
        participants.join_event(session, event=event, user=user)
        session.commit()
        sub = submissions.submit(
            session,
            settings=settings,
            event=event,
            user=user,
            name=f"m{i}",
            files=read_starting_kit(),
        )
        score_submission(session, settings, sub.id, seed=10 + i)
        ids.append(sub.id)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/events/spipoll/leaderboard")
    spec = event.score_types[1]  # a second score type, sorted by clicking its header

    def shown() -> list[str]:
        return [
            c.strip()
            for c in page.locator(f"#leaderboard tbody td:nth-child({4 + 1})").all_inner_texts()
        ]

    page.click(f"#leaderboard th[data-sort='{spec['name']}'] a")
    page.wait_for_url(re.compile(rf".*sort={spec['name']}&order=best"))
    best = [float(v) for v in shown()]
    assert best == sorted(best, reverse=not spec["is_lower_better"])
    page.click(f"#leaderboard th[data-sort='{spec['name']}'] a")
    page.wait_for_url(re.compile(rf".*sort={spec['name']}&order=worst"))
    worst = [float(v) for v in shown()]
    assert worst == sorted(worst, reverse=spec["is_lower_better"])
    page.screenshot(
        path=str(screenshot_dir(tmp_path, "live_server") / "leaderboard.png"), full_page=True
    )


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent's pid
            out.append(int(stat.parent.name))
    return out


@SQLITE_ONLY
@pytest.mark.parametrize("workers", [1, 2])
def test_ramp_server_serve_command_serves_the_app(settings, event, tmp_path, workers):
    """`ramp-server serve` in a subprocess, configured by RAMP_* variables; with
    `--workers 2`, two web processes (each building its app from the environment)."""
    import subprocess
    import sys

    port = free_port()
    env = dict(
        os.environ,
        RAMP_DATABASE_URL=settings.db_url,
        RAMP_STORAGE_DIR=str(settings.storage_dir),
        RAMP_EMBEDDED_DISPATCHER="false",
    )
    code = "import sys; from ramp_server.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/events", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()[0]["name"] == "spipoll"
        for _ in range(10):  # every process answers from the same database
            assert (
                httpx.get(f"http://127.0.0.1:{port}/events/spipoll", timeout=10).status_code == 200
            )
        web_processes = [
            c
            for c in _children(proc.pid)
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
        ]
        assert len(web_processes) == (workers if workers > 1 else 0)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@SQLITE_ONLY
def test_concurrent_api_submissions_are_all_recorded_exactly_once(
    live_server, event, session, settings
):
    """12 uploads at once over real HTTP (3 users, one name sent twice): none lost, none doubled."""
    from concurrent.futures import ThreadPoolExecutor

    from ramp_server.db.models import Submission
    from ramp_server.services import accounts, participants

    from ramp_test_plugin import read_starting_kit

    headers = {}
    for name in ("u1", "u2", "u3"):
        user = accounts.sign_up(
            session, name=name, email=f"{name}@example.org", password="pass-word-1"
        )
        participants.join_event(session, event=event, user=user)
        _, raw = accounts.create_api_token(session, user=user, name="bench")
        headers[name] = {"Authorization": f"Bearer {raw}"}
    session.commit()
    files = read_starting_kit()
    jobs = (
        [(u, f"s{i}") for u in headers for i in range(3)]
        + [("u1", "dup")] * 2
        + [
            ("u2", "x1"),
            ("u3", "x2"),
        ]
    )

    def post(job: tuple[str, str]) -> int:
        user, sub_name = job
        r = httpx.post(
            f"{live_server}/api/events/spipoll/submissions",
            data={"name": sub_name},
            files=[("files", (k, v)) for k, v in files.items()],
            headers=headers[user],
            timeout=60,
        )
        return r.status_code

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        codes = list(pool.map(post, jobs))
    assert codes.count(201) == len(jobs) - 1 and codes.count(400) == 1, codes
    session.expire_all()
    rows = session.query(Submission.user_id, Submission.name).filter_by(event_id=event.id).all()
    assert len(rows) == len(set(rows)) == len(jobs) - 1


@pytest.mark.browser
@SQLITE_ONLY
def test_browser_leaderboard_shows_score_intervals_and_a_pending_reblend(
    live_server, event, browser, session, settings, tmp_path
):
    from ramp_server.services import accounts, participants, submissions

    from ramp_test_plugin import read_starting_kit

    user = accounts.sign_up(session, name="ana", email="ana@example.org", password="pass-word-1")
    participants.join_event(session, event=event, user=user)
    session.commit()
    sub = submissions.submit(
        session, settings=settings, event=event, user=user, name="m", files=read_starting_kit()
    )
    score_submission(session, settings, sub.id, seed=3)  # scoring requests a re-blend
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/events/spipoll/leaderboard")
    official = page.locator("#leaderboard tbody tr").first.locator("td").nth(3)
    value, interval = official.inner_text().split(" ", 1)
    low, high = (float(x) for x in interval.strip("[]").split(","))
    assert low <= float(value) <= high
    assert "95% percentile bootstrap interval" in page.inner_text("#ci-note")
    assert page.inner_text("#reblend-pending") == "re-blend pending"
    page.screenshot(
        path=str(screenshot_dir(tmp_path, "live_server") / "leaderboard_intervals.png"),
        full_page=True,
    )
