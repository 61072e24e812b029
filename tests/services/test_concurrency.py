"""Concurrent submissions: every accepted one recorded exactly once, rules never raced past."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from ramp_server.db.models import Submission, SubmissionFile, SubmissionFold
from ramp_server.services.events import update_event
from ramp_server.services.participants import join_event
from ramp_server.services.submissions import SubmissionRejected, submit

from ramp_test_plugin import create_test_user


def _race(session_factory, settings, event_id, jobs):
    """Run ``submit`` for every (user_id, name, files) at once, each in its own session."""
    from ramp_server.db.models import Event, User

    def one(job):
        user_id, name, files = job
        with session_factory() as s:
            try:
                sub = submit(
                    s,
                    settings=settings,
                    event=s.get(Event, event_id),
                    user=s.get(User, user_id),
                    name=name,
                    files=files,
                )
                return ("ok", sub.id)
            except SubmissionRejected as exc:
                return ("rejected", str(exc))

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(one, jobs))


def test_fifty_concurrent_submissions_are_all_recorded_exactly_once(
    session, session_factory, settings, event, starting_kit_files
):
    users = [create_test_user(session, f"user{i}") for i in range(10)]
    for u in users:
        join_event(session, event=event, user=u)
    session.commit()
    jobs = [(u.id, f"sub{k}", starting_kit_files) for u in users for k in range(5)]
    results = _race(session_factory, settings, event.id, jobs)
    assert [r[0] for r in results] == ["ok"] * 50
    ids = [r[1] for r in results]
    assert len(set(ids)) == 50
    session.expire_all()
    assert session.scalar(select(func.count(Submission.id))) == 50
    assert session.scalar(select(func.count(SubmissionFile.id))) == 100
    assert session.scalar(select(func.count(SubmissionFold.id))) == 50 * event.n_folds
    pairs = session.execute(select(Submission.user_id, Submission.name)).all()
    assert sorted(pairs) == sorted((u, n) for u, n, _ in jobs)


def test_concurrent_submissions_with_one_name_keep_exactly_one(
    session, session_factory, settings, event, starting_kit_files
):
    ann = create_test_user(session, "ann")
    join_event(session, event=event, user=ann)
    session.commit()
    results = _race(
        session_factory, settings, event.id, [(ann.id, "same", starting_kit_files)] * 20
    )
    assert sorted(r[0] for r in results).count("ok") == 1
    assert all("already have a submission named" in r[1] for r in results if r[0] == "rejected")
    assert session.scalar(select(func.count(Submission.id))) == 1


def test_concurrent_submissions_cannot_exceed_the_daily_quota(
    session, session_factory, settings, event, starting_kit_files
):
    update_event(session, event=event, daily_quota=3)
    ann = create_test_user(session, "ann")
    join_event(session, event=event, user=ann)
    session.commit()
    jobs = [(ann.id, f"s{i}", starting_kit_files) for i in range(12)]
    results = _race(session_factory, settings, event.id, jobs)
    assert [r[0] for r in results].count("ok") == 3
    assert all("daily quota reached" in r[1] for r in results if r[0] == "rejected")
    assert session.scalar(select(func.count(Submission.id))) == 3
