"""Fifty participants at once against a real ``ramp-server serve`` (bench/load_participants.py).

A bounded run per database backend: every participant logs in through the form, browses the
event, both leaderboards, its submissions, a submission page and its code, and uploads through
the web form and the API (some under a name already used). Asserted: no 5xx, no connection
error, no unexpected status, no server traceback, every accepted upload in the database exactly
once and nothing else added, every page kind requested by every participant. Timings are for
the bench only (never asserted here).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from ramp_test_plugin import REPO_ROOT

PARTICIPANTS = 50
DURATION_S = 8.0
SCORED = 6


@pytest.fixture(scope="module")
def load_driver():
    """The bench's driver package ``bench/load`` (bench/ is not a package: put it on the path)."""
    bench = str(REPO_ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        return importlib.import_module("load")
    finally:
        sys.path.remove(bench)


def test_fifty_participants_browse_and_submit_without_server_errors_or_lost_uploads(
    load_driver, settings, session, event_kit
):
    from ramp_server.db.models import Event, Submission, User

    report = load_driver.run_load(
        settings,
        kit_dir=event_kit,
        participants=PARTICIPANTS,
        duration_s=DURATION_S,
        think_s=0.1,
        scored=SCORED,
        cheap_password_hashing=True,
        log=lambda _msg: None,
    )
    summary = report.table()
    print(summary)

    assert report.server_errors == [], summary
    assert report.connection_errors == [], summary
    assert report.problems == [], summary  # every status was one the request may get
    assert report.tracebacks == [], summary
    assert report.db_problems == [], summary
    pages = set(load_driver.PAGES)
    assert len(report.pages_by_participant) == PARTICIPANTS
    missing = {who: pages - seen for who, seen in report.pages_by_participant.items()}
    assert not any(missing.values()), missing
    # each participant uploaded through the form and through the API; one in five first reused
    # a name, and was told so with a 400
    assert len(report.accepted) >= 2 * PARTICIPANTS
    assert len(report.rejected) >= PARTICIPANTS // 5
    assert {u.status for u in report.rejected} == {400}
    assert all("already have a submission named" in u.message for u in report.rejected)

    # the database, read independently of the driver's own check: the seeded scored
    # submissions (m0, m1, ...) and exactly the accepted uploads, each (user, name) once
    event = session.scalar(select(Event).where(Event.name == "load"))
    rows = set(
        session.execute(
            select(Submission.id, User.name, Submission.name)
            .join(User, User.id == Submission.user_id)
            .where(Submission.event_id == event.id)
        ).all()
    )
    seeded = {row for row in rows if re.fullmatch(r"m\d+", row[2])}
    assert len(seeded) == SCORED
    assert rows - seeded == {(u.submission_id, u.participant, u.name) for u in report.accepted}
    assert len({(user, name) for _, user, name in rows}) == len(rows)


# -- the connection pool under more concurrent requests than it holds ---------------------------

POOL_SIZE = 2
POOL_TIMEOUT_S = 10


@pytest.fixture
def app(settings):  # noqa: ANN001, ANN201 - overrides tests/web/conftest.py's app
    """The app on an engine with only two pooled connections (the default has 5 + 10)."""
    from ramp_server.db.engine import make_engine
    from ramp_server.web.app import create_app

    engine = make_engine(settings, pool_size=POOL_SIZE, max_overflow=0, pool_timeout=POOL_TIMEOUT_S)
    yield create_app(settings, engine=engine)
    engine.dispose()


def test_requests_far_beyond_the_connection_pool_wait_their_turn_instead_of_failing(
    live_server, event, session
):
    """80 logged-in requests at once on 2 pooled connections and 40 threads: all answered.

    A request used to keep its session's connection while it waited for a thread between the
    login dependency and the handler (and between the steps of an upload): with every thread
    blocked on the pool and every connection held by a request waiting for a thread, they all
    waited for the pool's timeout and answered 500.
    """
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from ramp_server.services import accounts, participants

    from ramp_test_plugin import create_test_user, read_starting_kit

    headers = []
    for i in range(4):
        user = create_test_user(session, f"pool{i}")
        participants.join_event(session, event=event, user=user)
        headers.append(
            {
                "Authorization": f"Bearer {accounts.create_api_token(session, user=user, name='t')[1]}"
            }
        )
    session.commit()
    files = [("files", (k, v)) for k, v in read_starting_kit().items()]

    def one(k: int) -> int:
        auth = headers[k % len(headers)]
        with httpx.Client(base_url=live_server, timeout=60) as http:
            if k % 8 == 7:  # an upload: several database steps with awaits between them
                r = http.post(
                    "/api/events/spipoll/submissions",
                    data={"name": f"s{k}"},
                    files=files,
                    headers=auth,
                )
                return r.status_code
            return http.get("/api/events/spipoll/submissions", headers=auth).status_code

    with ThreadPoolExecutor(max_workers=80) as pool:
        codes = list(pool.map(one, range(80)))
    # a request stuck behind the pool answers 500 after POOL_TIMEOUT_S: none may
    assert Counter(codes) == {200: 70, 201: 10}, Counter(codes)


def test_slow_uploads_do_not_hold_the_admission_slots(live_server, event):
    """Clients trickling their upload bodies (more of them than pooled connections) do not
    stop anyone else: a body is read before its request waits for a slot."""
    import socket
    from urllib.parse import urlsplit

    import httpx

    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    slow = []
    try:
        for _ in range(POOL_SIZE + 1):
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(
                b"POST /api/events/spipoll/submissions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\n"
            )  # ... and the rest of the body never comes
            slow.append(sock)
        with httpx.Client(base_url=live_server, timeout=POOL_TIMEOUT_S / 2) as http:
            assert http.get("/api/events").status_code == 200
            assert http.get("/events/spipoll").status_code == 200
    finally:
        for sock in slow:
            sock.close()
