"""Re-blend requests through the database: the real poller and Reblender (SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from ramp_server.db.models import Blend, Submission
from ramp_server.engine.blend_requests import BlendRequestPoller
from ramp_server.engine.reblender import Reblender
from ramp_server.services.blend_requests import blend_request_of
from ramp_server.services.submissions import set_withdrawn_from_blend
from ramp_server.storage import Storage

from ramp_test_plugin import create_scored_submissions, create_test_user


def _wait_for(condition, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_request_made_while_a_blend_runs_is_not_lost(
    session, session_factory, db_engine, settings, event
):
    ids = create_scored_submissions(
        session, settings=settings, event=event, user_id=create_test_user(session, "alice").id, n=3
    )
    reblender = Reblender(settings, session_factory=session_factory, debounce_s=0.0)
    poller = BlendRequestPoller(reblender, session_factory=session_factory, poll_s=0.05)
    at_write = threading.Event()

    def spot(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        # the blend's first write (lock_row on the event): its inputs are read by now
        if threading.current_thread().name == "reblender" and statement.startswith(
            "UPDATE events SET id="
        ):
            at_write.set()

    sa_event.listen(db_engine, "before_cursor_execute", spot)
    # a withdrawal made elsewhere (a web process), not committed yet: it holds the event's row,
    # so the blend below reads the old state and then waits for the row to write its result
    web = session_factory()
    set_withdrawn_from_blend(web, submission=web.get(Submission, ids[0]), withdrawn=True)
    poller.start()
    try:
        assert at_write.wait(180), "the blend did not reach its write"
        web.commit()  # the request arrives while that blend runs

        def settled() -> bool:
            with session_factory() as s:
                pending = blend_request_of(s, event_id=event.id)
            return pending is None and reblender.state(event.id) == "idle"

        assert _wait_for(settled), "the request made during the blend was never blended"
    finally:
        poller.stop()
        reblender.stop()
        web.close()
        sa_event.remove(db_engine, "before_cursor_execute", spot)

    assert not reblender.errors
    session.expire_all()
    blends = session.scalars(
        select(Blend).where(Blend.event_id == event.id).order_by(Blend.id)
    ).all()
    # the first blend missed the withdrawal (it had read its inputs); the kept mark made a second
    assert [b.n_submissions for b in blends] == [3, 2]
    assert all(ids[0] not in picks for picks in blends[-1].details["picks"])
    assert ids[0] not in blends[-1].details["players"]
    withdrawn = session.get(Submission, ids[0])
    assert withdrawn.contributivity == 0.0 and withdrawn.shapley is None
    assert sum(session.get(Submission, i).contributivity for i in ids[1:]) == pytest.approx(1.0)


def test_the_poller_blends_a_mark_left_by_another_process_and_retries_a_failed_blend(
    session, session_factory, settings, event
):
    ids = create_scored_submissions(  # the marks a previous dispatcher never blended
        session, settings=settings, event=event, user_id=create_test_user(session, "alice").id, n=2
    )
    storage = Storage.from_settings(settings)
    labels = storage.public_dir(event.name) / "train_labels.npy"
    hidden = labels.with_suffix(".hidden")
    labels.rename(hidden)  # the blend fails until the file is back
    reblender = Reblender(settings, session_factory=session_factory, debounce_s=0.0)
    poller = BlendRequestPoller(
        reblender, session_factory=session_factory, poll_s=0.05, retry_s=0.2
    )
    try:
        assert poller.poll() == [event.id]
        assert _wait_for(lambda: event.id in reblender.errors)
        assert reblender.state(event.id) == "idle"
        with session_factory() as s:
            assert blend_request_of(s, event_id=event.id) is not None  # a failure keeps it
        hidden.rename(labels)
        poller.start()

        def blended() -> bool:
            with session_factory() as s:
                return blend_request_of(s, event_id=event.id) is None

        assert _wait_for(blended), "the failed blend was not retried"
    finally:
        poller.stop()
        reblender.stop()
    with session_factory() as s:
        assert blend_request_of(s, event_id=event.id) is None
        last = s.scalars(select(Blend).where(Blend.event_id == event.id)).one()
    assert last.n_submissions == len(ids)
