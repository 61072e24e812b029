"""The main pages on a phone-sized viewport (390×844, touch, mobile user agent) in Chromium.

On every page nothing may overflow horizontally (wide tables and code scroll inside their own
box, not the page), and the main navigation and the page's primary element stay on screen.
Each page is saved as a screenshot (``screenshot_dir``, subfolder ``phone``).
"""

from __future__ import annotations

import pytest

from ramp_test_plugin import read_starting_kit
from web_helpers import SQLITE_ONLY, score_submission, screenshot_dir

PHONE = {"width": 390, "height": 844}
PASSWORD = "pollinator-42"
#: a submission name of the longest length allowed, without a space to break at
LONG_NAME = "a_long_submission_name_that_fills_all_40"
WIDE_LINE = b"\nSCHEDULE = " + repr([0.1 * k for k in range(40)]).encode() + b"\n"

#: what sticks out past the phone's right edge, leaving out what scrolls inside its own box
OVERFLOWING = """(width) => Array.from(document.querySelectorAll('body *'))
    .filter(e => {
        if (e.getBoundingClientRect().right <= width + 0.5) return false;
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
            if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return false;
        }
        return true;
    })
    .slice(0, 6)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
              + (typeof e.className === 'string' && e.className
                 ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))"""


def layout_problems(page, name: str, primary: str) -> list[str]:  # noqa: ANN001
    """What is wrong with the page's layout on the phone (empty when nothing)."""
    problems = []
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    # a mobile browser widens its layout viewport (innerWidth) to fit content that overflows,
    # then zooms out: both are compared with the phone's width
    if max(scroll_width, inner_width) > PHONE["width"]:
        wide = page.evaluate(OVERFLOWING, PHONE["width"])
        problems.append(
            f"{name}: the page is {scroll_width}px wide on a {PHONE['width']}px phone: {wide}"
        )
    for label, selector in (("navigation", ".topbar nav a[href='/']"), ("primary", primary)):
        element = page.locator(selector).first
        if not element.is_visible():
            problems.append(f"{name}: the {label} element {selector!r} is not visible")
            continue
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"] + 0.5:
            problems.append(f"{name}: the {label} element {selector!r} is off screen: {box}")
    return problems


@pytest.mark.browser
@SQLITE_ONLY
def test_main_pages_fit_a_phone_screen(live_server, event, browser, session, settings, tmp_path):
    from ramp_server.services import accounts, events, participants, submissions

    user = accounts.sign_up(session, name="ana", email="ana@example.org", password=PASSWORD)
    participants.join_event(session, event=event, user=user)
    session.commit()
    first = read_starting_kit()
    # the second version adds a line far wider than a phone: the diff must scroll in its box
    second = dict(first, **{"batch_classifier.py": first["batch_classifier.py"] + WIDE_LINE})
    ids = []
    for name, files in ((LONG_NAME, first), ("baseline_v2", second)):
        sub = submissions.submit(
            session, settings=settings, event=event, user=user, name=name, files=files
        )
        score_submission(session, settings, sub.id, seed=len(ids))
        ids.append(sub.id)
    shots = screenshot_dir(tmp_path, "phone")
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []

    def visit(name: str, path: str, primary: str) -> None:
        page.goto(f"{live_server}{path}")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        problems.extend(layout_problems(page, name, primary))

    visit("signup", "/signup", "form.stack button[type=submit]")
    visit("login", "/login", "form.stack button[type=submit]")
    page.fill("#login", "ana")
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    visit("home-events", "/", f"a.card[href='/events/{event.name}']")
    visit("event", f"/events/{event.name}", ".hero .actions a.btn:has-text('Submit')")
    visit("leaderboard", f"/events/{event.name}/leaderboard", "#leaderboard a")
    visit("submit-form", f"/events/{event.name}/submit", "#submit-btn")
    visit("submission", f"/submissions/{ids[0]}", "#state-badge")
    visit("submission-code", f"/submissions/{ids[0]}#code", "#code .code-box")
    visit("diff", f"/submissions/{ids[1]}/diff?against={ids[0]}", "#diff")
    events.close_event(session, event=event)
    session.commit()
    visit("private-leaderboard", f"/events/{event.name}/private", "#private a")
    context.close()
    assert not problems, "\n".join(problems)
