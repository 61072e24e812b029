"""The organiser's toolkit in Chromium, on a desktop and a phone screen: the submissions left
on the submit page, a baseline's badge, the frozen board's banner and the team's later scores,
the admin's toolkit forms. Screenshots go to ``screenshot_dir`` (``toolkit/<screen>``)."""

from __future__ import annotations

import pytest
from test_browser_phone import PHONE, layout_problems

from ramp_test_plugin import read_starting_kit
from web_helpers import SQLITE_ONLY, score_submission, screenshot_dir

PASSWORD = "pollinator-42"
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": PHONE}


@pytest.mark.browser
@SQLITE_ONLY
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_toolkit_pages_on_desktop_and_phone(
    live_server, make_event, browser, session, settings, tmp_path, screen
):
    from ramp_server.db.models import utcnow
    from ramp_server.services import accounts, events, participants, submissions

    event = make_event(daily_quota=5)
    ana = accounts.sign_up(session, name="ana", email="ana@example.org", password=PASSWORD)
    boss = accounts.sign_up(session, name="boss", email="boss@example.org", password=PASSWORD)
    boss.is_admin = True
    for user in (ana, boss):
        participants.join_event(session, event=event, user=user)
    session.commit()
    kit = read_starting_kit()

    def scored(user, name: str, seed: int) -> int:  # noqa: ANN001
        sub = submissions.submit(
            session, settings=settings, event=event, user=user, name=name, files=kit
        )
        score_submission(session, settings, sub.id, seed=seed)
        return sub.id

    reference = scored(boss, "reference", 1)
    submissions.set_baseline(
        session,
        submission=submissions.get_submission(session, submission_id=reference),
        baseline=True,
    )
    scored(ana, "before_freeze", 2)
    events.update_event(session, event=event, freeze_at=utcnow())
    session.commit()
    scored(ana, "after_freeze", 3)

    shots = screenshot_dir(tmp_path, "toolkit", screen)
    phone = screen == "phone"
    problems: list[str] = []
    page = None

    def visit(name: str, path: str, primary: str) -> None:
        page.goto(f"{live_server}{path}")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        assert page.locator(primary).first.is_visible(), f"{name}: {primary} not shown"
        if phone:
            problems.extend(layout_problems(page, name, primary))

    def log_in(name: str):  # noqa: ANN202 - a fresh browser context per user
        nonlocal page
        context = browser.new_context(
            viewport=SCREENS[screen], is_mobile=phone, has_touch=phone, device_scale_factor=2
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server}/login")
        page.fill("#login", name)
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{live_server}/")
        return context

    context = log_in("ana")
    visit("submit-form", f"/events/{event.name}/submit", "#submissions-left")
    assert "3 of 5 submissions left" in page.inner_text("#submissions-left")
    visit("frozen-board", f"/events/{event.name}/leaderboard", "#frozen-banner")
    own = page.locator("#own-after-freeze tr")
    assert own.count() == 1 and "after freeze" in own.inner_text()
    board = page.inner_text("#leaderboard")
    assert "before_freeze" in board and "reference" in board
    assert page.locator("#leaderboard tr.baseline .badge.baseline").count() == 1
    visit("frozen-competition", f"/events/{event.name}/competition", "#frozen-banner")
    visit("account", "/account/tokens", "#save-notifications")
    page.uncheck("#notify-by-email")
    page.click("#save-notifications")
    page.wait_for_selector("text=No more e-mails about your submissions.")
    assert not page.is_checked("#notify-by-email")
    context.close()

    context = log_in("boss")
    visit("live-board", f"/events/{event.name}/leaderboard", "#frozen-banner-admin")
    visit("admin-toolkit", f"/admin/events/{event.name}", "#set-freeze")
    for card in ("#rescore-event", "#jobs-table", "#send-email"):
        assert page.locator(card).is_visible(), card
    page.fill("#email-subject", "Deadline")
    page.fill("#email-body", "Friday at noon.")
    page.click("#send-email")
    page.wait_for_selector("text=e-mail(s) queued to the all participants")
    visit("baseline-submission", f"/submissions/{reference}", "#baseline-badge")
    page.click("#baseline-button")
    page.wait_for_selector("#baseline-button:has-text('Mark as baseline')")
    context.close()
    assert not problems, "\n".join(problems)
