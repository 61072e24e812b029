"""A submission page's pictures (confusion heat map, per-taxon accuracy beside frequency,
learning curves) and their JSON at ``/api/submissions/{id}/pictures``; in Chromium on a desktop
and a phone screen."""

from __future__ import annotations

import pytest
from test_browser_phone import PHONE, layout_problems

from ramp_server.db.models import ErrorKind, Submission
from ramp_server.kit.taxa import CLASS_NAMES
from ramp_server.services import accounts, confusion, jobs, participants, progress, submissions

from ramp_test_plugin import read_starting_kit
from web_helpers import SQLITE_ONLY, join, score_submission, screenshot_dir, signup

PASSWORD = "pollinator-42"
DESKTOP = {"width": 1280, "height": 900}


def _submit(session, settings, event, user, name: str) -> Submission:
    return submissions.submit(
        session, settings=settings, event=event, user=user, name=name, files=read_starting_kit()
    )


def _curves(session, sub: Submission, n_epochs: int = 3) -> None:
    """Progress reports of every fold, as the engine relays them."""
    for fold in range(sub.event.n_folds):
        progress.record_progress(
            session,
            submission_id=sub.id,
            fold=fold,
            reports=[
                {"epoch": e, "n_epochs": n_epochs, "valid_acc": 0.1 * e + 0.05 * fold}
                for e in range(1, n_epochs + 1)
            ],
        )
    session.commit()


def _user(session, name: str):
    from ramp_server.db.models import User

    return session.query(User).filter_by(name=name).one()


def test_scored_submission_shows_its_pictures_and_their_json(client, session, settings, event):
    signup(client, "alice")
    join(client)
    sub = _submit(session, settings, event, _user(session, "alice"), "pictured")
    score_submission(session, settings, sub.id)

    page = client.get(f"/submissions/{sub.id}").text
    assert 'class="chart heatmap"' in page and 'class="chart paired"' in page
    assert "Apis mellifera" in page and "true taxon" in page and "predicted taxon" in page
    assert 'id="learning-curves-missing"' in page and "valid_acc=" in page

    body = client.get(f"/api/submissions/{sub.id}/pictures").json()
    expected = confusion.bagged_confusion(
        settings=settings, submission=session.get(Submission, sub.id)
    )
    assert body["confusion"] == expected.as_json()  # floats survive JSON exactly
    assert [t["name"] for t in body["confusion"]["taxa"]] == CLASS_NAMES
    for row, n in zip(body["confusion"]["matrix"], body["confusion"]["taxa"], strict=True):
        assert sum(row) == pytest.approx(1.0 if n["support"] else 0.0)
    assert body["learning_curves"] == []

    _curves(session, sub)
    page = client.get(f"/submissions/{sub.id}").text
    assert 'id="learning-curves"' in page and "validation accuracy" in page
    assert 'id="learning-curves-missing"' not in page
    curves = client.get(f"/api/submissions/{sub.id}/pictures").json()["learning_curves"]
    assert [c["fold"] for c in curves] == list(range(event.n_folds))
    assert curves[1]["points"][2] == {"epoch": 3, "valid_acc": pytest.approx(0.35)}


def test_unscored_and_failed_submissions_say_why_there_is_no_picture(
    client, session, settings, event
):
    signup(client, "alice")
    join(client)
    alice = _user(session, "alice")
    queued = _submit(session, settings, event, alice, "waiting")
    page = client.get(f"/submissions/{queued.id}").text
    assert "appear once every fold is scored" in page and 'class="chart heatmap"' not in page
    assert client.get(f"/api/submissions/{queued.id}/pictures").json()["confusion"] is None

    failed = _submit(session, settings, event, alice, "broken")
    jobs.fail_fold(
        session, submission_id=failed.id, fold=0, kind=ErrorKind.PARTICIPANT, message="boom"
    )
    page = client.get(f"/submissions/{failed.id}").text
    assert "ended in error before every fold was scored" in page
    assert "no learning curves" in page


def test_another_participants_pictures_are_private_before_the_collaborative_phase(
    client, other_client, session, settings, event
):
    signup(client, "alice")
    join(client)
    sub = _submit(session, settings, event, _user(session, "alice"), "mine")
    score_submission(session, settings, sub.id)
    signup(other_client, "bob")
    join(other_client)
    r = other_client.get(f"/api/submissions/{sub.id}/pictures")
    assert r.status_code == 403 and "another participant" in r.json()["detail"]


def _login(page, base: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("#login", "ana")
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/")


def _check_pictures(page) -> list[str]:  # noqa: ANN001
    """What is missing from the pictures of the page shown (empty when nothing)."""
    problems = []
    for selector, label in (
        ("#confusion svg.heatmap", "Confusion matrix"),
        ("#taxon-accuracy svg.paired", "Accuracy of each taxon"),
        ("#learning-curves svg.xy", "Learning curves"),
    ):
        svg = page.locator(selector)
        if svg.count() != 1 or not svg.is_visible():
            problems.append(f"{selector} is not shown")
            continue
        if not (svg.get_attribute("aria-label") or "").startswith(label):
            problems.append(f"{selector} is labelled {svg.get_attribute('aria-label')!r}")
        box = svg.bounding_box()
        if box is None or box["height"] < 100:
            problems.append(f"{selector} is drawn {box}")
    rows = page.locator("#confusion svg text.lbl").all_text_contents()
    if [r.rsplit(" ", 1)[0] for r in rows] != CLASS_NAMES:
        problems.append(f"the heat map's rows are {rows}")
    cells = page.locator("#confusion svg rect").count()
    if cells != len(CLASS_NAMES) ** 2:
        problems.append(f"the heat map has {cells} cells")
    legend = page.locator("#learning-curves svg text.legend").all_text_contents()
    if legend[:3] != ["fold 1", "fold 2", "fold 3"]:
        problems.append(f"the learning curves' legend reads {legend}")
    # the taxon names are drawn at a readable size (at least 9 CSS pixels)
    size = page.locator("#confusion svg text.lbl").first.bounding_box()
    if size is None or size["height"] < 9:
        problems.append(f"the heat map's taxon names are {size} high")
    return problems


@pytest.mark.browser
@SQLITE_ONLY
def test_pictures_in_the_browser_on_a_desktop_and_a_phone(
    live_server, event, browser, session, settings, tmp_path
):
    user = accounts.sign_up(session, name="ana", email="ana@example.org", password=PASSWORD)
    participants.join_event(session, event=event, user=user)
    session.commit()
    sub = _submit(session, settings, event, user, "pictured")
    score_submission(session, settings, sub.id)
    _curves(session, sub, n_epochs=5)
    failed = _submit(session, settings, event, user, "broken")
    jobs.fail_fold(
        session, submission_id=failed.id, fold=0, kind=ErrorKind.PARTICIPANT, message="boom"
    )
    shots = screenshot_dir(tmp_path, "pictures")
    problems: list[str] = []
    for name, options in (
        ("desktop", {"viewport": DESKTOP}),
        (
            "phone",
            {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True},
        ),
    ):
        context = browser.new_context(**options)
        page = context.new_page()
        page.set_default_timeout(15_000)
        _login(page, live_server)
        page.goto(f"{live_server}/submissions/{sub.id}#pictures")
        page.locator("#pictures").screenshot(path=str(shots / f"{name}.png"))
        problems += [f"{name}: {p}" for p in _check_pictures(page)]
        if name == "phone":
            problems += layout_problems(page, "pictures", "#confusion")
        page.goto(f"{live_server}/submissions/{failed.id}")
        for missing in ("#confusion-missing", "#learning-curves-missing"):
            if not page.locator(missing).is_visible():
                problems.append(f"{name}: the failed submission's {missing} sentence is not shown")
        if page.locator("#pictures svg").count():
            problems.append(f"{name}: the failed submission's page draws an empty chart")
        if name == "phone":
            problems += layout_problems(page, "failed", "#confusion-missing")
        context.close()
    assert not problems, "\n".join(problems)
