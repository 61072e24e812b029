"""The organisers' operations view (page and JSON) and ``/metrics`` (Prometheus), on real data."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from ramp_server.db.models import SubmissionFold, utcnow
from ramp_server.services import jobs, operations

from web_helpers import make_admin, queue_one, score_submission, signup


def _cluster(session) -> None:  # noqa: ANN001
    """What a dispatcher would have written: one worker busy, one retired after a freeze."""
    operations.record_workers(
        session,
        workers=[
            {
                "address": "tcp://10.0.0.7:4001",
                "name": "gpu-7",
                "host": "10.0.0.7",
                "resources": {"GPU": 1},
                "nthreads": 1,
                "status": "running",
                "last_seen": utcnow(),
                "running": [
                    {"submission_id": 1, "fold": 0, "since": utcnow().isoformat(), "label": "x"}
                ],
            }
        ],
        retired={"tcp://10.0.0.8:4001": "worker stopped responding (no heartbeat for 61 s)"},
    )


def test_operations_view_shows_queue_workers_retries_and_throughput(
    client, other_client, session, settings, event
):
    waiting = queue_one(session, settings, event, "waiting")
    done = queue_one(session, settings, event, "done")
    fold = session.query(SubmissionFold).filter_by(submission_id=done.id, fold=0).one()
    assert jobs.claim_fold(session, fold_id=fold.id, dask_key="k-done-0")
    jobs.fail_fold(
        session,
        submission_id=done.id,
        fold=0,
        kind="platform",
        message="worker tcp://10.0.0.8:4001 stopped responding (no heartbeat for 61 s)",
        max_retries=2,
        worker="tcp://10.0.0.8:4001",
    )
    score_submission(session, settings, done.id)
    _cluster(session)

    make_admin(session, client)
    page = client.get(f"/admin/events/{event.name}/operations")
    assert page.status_code == 200
    html = page.text
    assert "gpu-7" in html and "GPU=1" in html and "retired" in html
    assert "no heartbeat for 61 s" in html  # why the other worker was retired
    assert f"/submissions/{waiting.id}" in html  # the queue, in run order
    assert 'id="retried"' in html and "stopped responding" in html
    data = client.get(f"/api/events/{event.name}/operations").json()
    assert data["queue_length"] == event.n_folds  # the waiting submission's folds
    assert [q["submission_id"] for q in data["queue"]][:1] == [waiting.id]
    assert {w["status"] for w in data["workers"]} == {"running", "retired"}
    assert data["retried"][0]["submission_id"] == done.id
    assert sum(b["scored"] for b in data["throughput"]) == event.n_folds
    # participants see none of it
    signup(other_client, "pat")
    assert other_client.get(f"/admin/events/{event.name}/operations").status_code == 403
    assert other_client.get(f"/api/events/{event.name}/operations").status_code == 403


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_expose_queue_folds_latency_and_workers_in_prometheus_format(
    client, session, settings, event
):
    queue_one(session, settings, event, "waiting")
    done = queue_one(session, settings, event, "done")
    score_submission(session, settings, done.id)
    for f in session.query(SubmissionFold).filter_by(submission_id=done.id):
        f.worker_finished_at = f.finished_at - timedelta(seconds=0.4)  # as a dispatcher records
    session.commit()
    _cluster(session)

    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fams = _families(r.text)
    value = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples
    }
    ev = ("event", event.name)
    assert value[("ramp_folds_queued", (ev,))] == event.n_folds
    assert value[("ramp_folds_running", (ev,))] == 0
    assert value[("ramp_folds_finished_total", (ev, ("state", "scored")))] == event.n_folds
    assert value[("ramp_fold_duration_seconds_count", (ev,))] == event.n_folds
    assert value[("ramp_result_latency_seconds_bucket", (ev, ("le", "0.5")))] == event.n_folds
    assert value[("ramp_workers", (("status", "retired"),))] == 1
    assert value[("ramp_workers", (("status", "running"),))] == 1


def test_metrics_require_the_token_when_one_is_set(app, client):
    app.state.settings = app.state.settings.model_copy(update={"metrics_token": "s3cret"})
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200 and "ramp_folds_queued" in r.text
