"""The event-day bench in its ``--quick`` mode (bench/event_day.py): a tiny day on the real
stack (PostgreSQL, ``dask scheduler`` and GPU workers, ``ramp-server serve --workers 2`` and
``ramp-server dispatch``), simulated training plus real-sandbox submissions.

Asserted: correctness only — every planned submission accepted, nothing lost, added,
duplicated, stuck or scored twice, every fold accounted for, no server error or traceback,
every figure printed. The timings are the bench's to print, never asserted here.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from ramp_test_plugin import REPO_ROOT


@pytest.fixture(scope="module")
def event_day():
    """The bench script ``bench/event_day.py`` (bench/ is not a package: put it on the path)."""
    bench = str(REPO_ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        return importlib.import_module("event_day")
    finally:
        sys.path.remove(bench)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("db_backend", ["postgresql"])
def test_quick_event_day_loses_nothing_and_prints_every_figure(event_day, settings, tmp_path):
    from eventday import run_day

    report = run_day(settings, event_day.QUICK, work=tmp_path, log=lambda _msg: None)
    text = event_day.report_text(report)
    print(text)

    rec = report.records
    assert report.problems == [], text  # every request got a status it may get
    assert rec.problems == [], text  # nothing lost, added, duplicated or scored twice
    assert rec.unfinished == [], text  # nothing stuck: the quick day drains
    assert report.server_errors == [], text
    assert report.tracebacks == [], text
    assert report.accepted == report.planned == event_day.QUICK.submissions
    assert len(rec.submissions) == report.planned
    assert len(rec.folds) == report.planned * rec.n_folds
    assert {s["state"] for s in rec.submissions.values()} == {"scored"}
    assert {f["state"] for f in rec.folds.values()} == {"scored"}
    # the real-sandbox share really trained in the sandbox, the others were simulated
    assert rec.real_folds == event_day.QUICK.real_sandbox_share * rec.n_folds
    f = report.figures
    assert len(f.latency_api) == report.planned  # the observer saw every score
    assert f.never_blended == 0 and len(f.staleness_db) == report.planned
    assert report.curve and report.full_reblend and report.observed.db_size
    for figure in (
        "result latency",
        "hybrid staleness",
        "worker utilisation while work was queued",
        "first submission of a burst",
        "anchor /static/style.css",
        "submit (web form)",
        "submit (API)",
        "database size against scored submissions",
        "full re-blend from scratch",
        "the fewest that keep up",
    ):
        assert figure in text
