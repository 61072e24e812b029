"""One participant's whole journey through the browser, trained by the real engine.

A new user signs up, logs out and in again, asks to join an event that needs approval, an
administrator approves them from the admin page (in a second browser context), they upload the
starting kit through the submit form, watch it go queued → training → scored on its page while
the embedded dispatcher trains it on a local Dask cluster in the bubblewrap sandbox, find it on
the leaderboard with its contributivity, read its code, upload a second version crediting the
first, diff the two, and once the administrator closes the event the private leaderboard
appears. Every page visited is saved as a screenshot (``screenshot_dir``).

Only the set-up (an administrator account, the event) goes through the services; every user
action goes through the pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ramp_server.config import Settings, load_settings

from ramp_test_plugin import REPO_ROOT, create_test_user
from web_helpers import SQLITE_ONLY, screenshot_dir

STARTING_KIT = REPO_ROOT / "submissions" / "starting_kit"
#: how long one submission of the starting kit may take to train on the tiny data (2 busy cores)
TRAIN_TIMEOUT_MS = 90_000
PASSWORD = "pollinator-42"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The test settings with a quick re-blend (contributivity shows up within a second)."""
    storage = tmp_path / "storage"
    storage.mkdir()
    return load_settings(
        storage_dir=storage,
        database_url=db_url,
        local_workers=2,
        reblend_debounce_s=0.1,
        reblend_poll_s=0.5,
        bootstrap_n=100,
    )


@pytest.fixture
def start_dispatcher(settings: Settings) -> Iterator[Callable[[], object]]:
    """Starts the dispatcher exactly as ``ramp-server serve`` embeds it (a local Dask cluster,
    the bubblewrap sandbox, the re-blend hook) when called; stopped at the end of the test."""
    from ramp_server.engine.background import start_background_dispatcher

    handles = []

    def start() -> object:
        handles.append(start_background_dispatcher(settings))
        return handles[-1]

    yield start
    for handle in handles:
        handle.stop(timeout=60)


def second_version(tmp_path: Path) -> tuple[Path, Path]:
    """The starting kit with one epoch instead of two: the participant's next (quicker)
    iteration, as files."""
    folder = tmp_path / "upload" / "one_epoch"
    folder.mkdir(parents=True)
    (folder / "image_preprocessor.py").write_bytes(
        (STARTING_KIT / "image_preprocessor.py").read_bytes()
    )
    source = (STARTING_KIT / "batch_classifier.py").read_text(encoding="utf-8")
    assert "N_EPOCHS = 2\n" in source, "the starting kit changed: update second_version()"
    (folder / "batch_classifier.py").write_text(
        source.replace("N_EPOCHS = 2\n", "N_EPOCHS = 1\n"), encoding="utf-8"
    )
    return folder / "image_preprocessor.py", folder / "batch_classifier.py"


def column_cells(page, table: str, header: str) -> list[str]:  # noqa: ANN001
    """The texts of the column of ``table`` whose header reads ``header``."""
    headers = [h.strip() for h in page.locator(f"{table} thead th").all_inner_texts()]
    assert header in headers, f"no column {header!r} in {table}: {headers}"
    nth = headers.index(header) + 1
    return [c.strip() for c in page.locator(f"{table} tbody td:nth-child({nth})").all_inner_texts()]


@pytest.mark.browser
@SQLITE_ONLY
def test_participant_journey_from_sign_up_to_the_private_leaderboard(
    live_server, make_event, browser, session, start_dispatcher, tmp_path
):
    from playwright.sync_api import expect

    event = make_event(approval_required=True)
    create_test_user(session, "organiser", admin=True)  # password "password-organiser"
    shots = screenshot_dir(tmp_path, "journey")
    n_shots = 0

    def shot(page, name: str) -> None:  # noqa: ANN001
        nonlocal n_shots
        n_shots += 1
        page.screenshot(path=str(shots / f"{n_shots:02d}-{name}.png"), full_page=True)

    def log_in(page, name: str, password: str) -> None:  # noqa: ANN001
        page.goto(f"{live_server}/login")
        page.fill("#login", name)
        page.fill("#password", password)
        shot(page, f"login-{name}")
        page.click("form.stack button[type=submit]")
        expect(page.locator(".topbar .who")).to_contain_text(name)

    ada = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    for page in (ada, admin):
        page.set_default_timeout(15_000)

    # sign up (which logs in), log out, log in again
    ada.goto(f"{live_server}/signup")
    ada.fill("#name", "ada")
    ada.fill("#email", "ada@example.org")
    ada.fill("#password", PASSWORD)
    ada.fill("#password2", PASSWORD)
    shot(ada, "signup")
    ada.click("form.stack button[type=submit]")
    ada.wait_for_url(f"{live_server}/")
    expect(ada.locator(".topbar .who")).to_contain_text("ada")
    shot(ada, "home-signed-up")
    ada.click(".topbar .who button:has-text('Log out')")
    expect(ada.locator(".topbar .who")).to_contain_text("Log in")
    log_in(ada, "ada", PASSWORD)

    # ask to join: the event needs an administrator's approval
    ada.click(f"text={event.title}")
    ada.click("#join-btn")
    expect(ada.locator(".flash")).to_contain_text("waiting for an administrator's approval")
    expect(ada.locator(".hero .actions")).to_contain_text("waiting for approval")
    shot(ada, "event-waiting-for-approval")

    # the administrator approves her from the admin dashboard, in another browser context
    log_in(admin, "organiser", "password-organiser")
    admin.click(".topbar nav a:has-text('Admin')")
    request = admin.locator("#pending li", has_text="ada")
    expect(request).to_contain_text(event.name)
    shot(admin, "admin-pending-sign-up")
    request.locator("button:has-text('Approve')").click()
    expect(admin.locator(".flash")).to_contain_text(f"ada may now submit to {event.name}")
    expect(admin.locator("#pending")).to_contain_text("Nobody is waiting")
    shot(admin, "admin-approved")

    # a team of two before the first submission: ada names her team and invites ben, who
    # accepts in his own browser
    from ramp_server.services.participants import approve_participant

    ben_user = create_test_user(session, "ben")  # password "password-ben"
    approve_participant(session, event=event, user=ben_user)
    session.commit()
    ada.reload()
    ada.click("nav.tabs a:has-text('Team')")
    expect(ada.locator("#team-name")).to_have_text("ada")
    ada.fill("#team_name", "Heuritech")
    ada.click("form[action$='/team/rename'] button")
    expect(ada.locator(".flash")).to_contain_text("Your team is now Heuritech.")
    ada.fill("#invitee", "ben")
    ada.click("#invite-btn")
    expect(ada.locator(".flash")).to_contain_text("ben is invited into team Heuritech.")
    shot(ada, "team-invited")
    ben = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    ben.set_default_timeout(15_000)
    log_in(ben, "ben", "password-ben")
    ben.goto(f"{live_server}/events/{event.name}/team")
    ben.click("[data-accept='Heuritech']")
    expect(ben.locator(".flash")).to_contain_text("You joined team Heuritech.")
    expect(ben.locator("#members")).to_contain_text("ada")
    expect(ben.locator("#members")).to_contain_text("ben")
    shot(ben, "team-joined")

    # upload the starting kit's two files through the form
    ada.reload()
    ada.click(".hero .actions a.btn:has-text('Submit')")
    ada.fill("#sub-name", "kit_v1")
    ada.set_input_files("#file-image_preprocessor", STARTING_KIT / "image_preprocessor.py")
    ada.set_input_files("#file-batch_classifier", STARTING_KIT / "batch_classifier.py")
    shot(ada, "submit-form")
    ada.click("#submit-btn")
    ada.wait_for_url(re.compile(r".*/submissions/\d+$"))
    first_url = ada.url
    first_id = int(first_url.rsplit("/", 1)[1])
    expect(ada.locator(".flash")).to_contain_text("'kit_v1' is queued")
    expect(ada.locator("#state-badge")).to_have_text("queued")
    expect(ada.locator("#state-detail")).to_have_text("queued: position 1")
    shot(ada, "submission-queued")

    # the platform's workers start: the open page follows the training by itself
    dispatcher = start_dispatcher()
    badge = ada.locator("#state-badge")
    expect(badge).to_have_text("training", timeout=TRAIN_TIMEOUT_MS)
    expect(ada.locator("#state-detail")).to_contain_text("training fold")
    # the folds table is updated in the same poll: some fold left the queue
    expect(ada.locator("#folds [data-field=fold-state].queued")).not_to_have_count(event.n_folds)
    shot(ada, "submission-training")
    expect(badge).to_have_text(re.compile("scored|error"), timeout=TRAIN_TIMEOUT_MS)
    assert badge.inner_text() == "scored", (
        ada.locator("#status-box").inner_text(),
        getattr(dispatcher, "error", None),
    )
    expect(ada.locator("#scores")).to_contain_text("bagged")
    assert all(s == "scored" for s in column_cells(ada, "#folds", "State"))
    shot(ada, "submission-scored")

    # the leaderboard lists it with its contributivity once the re-blend has run
    ada.click("nav.tabs a:has-text('Leaderboard')")
    for _ in range(60):
        contributivity = column_cells(ada, "#leaderboard", "contrib.")
        if contributivity and contributivity[0] != "—":
            break
        ada.wait_for_timeout(500)
        ada.reload()
    assert column_cells(ada, "#leaderboard", "Submission") == ["kit_v1"]
    team_cell = column_cells(ada, "#leaderboard", "Team")[0]
    assert team_cell.startswith("Heuritech") and "ada, ben" in team_cell  # the team, its members
    # ben sees the team's submission among his team's
    ben.goto(f"{live_server}/events/{event.name}/my-submissions")
    assert column_cells(ben, "#mine", "Submission")[0].startswith("kit_v1")
    assert column_cells(ben, "#mine", "By") == ["ada"]
    shot(ben, "team-submissions")
    assert column_cells(ada, "#leaderboard", "contrib.") == ["100.0 %"]  # alone in the blend
    shot(ada, "leaderboard")

    # its code, from the leaderboard's link
    ada.click("#leaderboard a:has-text('kit_v1')")
    ada.wait_for_url(first_url)
    code = ada.locator("#code")
    expect(code).to_contain_text("class BatchClassifier")
    expect(code).to_contain_text("N_EPOCHS = 2")
    expect(ada.locator("dl.facts")).to_contain_text("100.0 %")
    code.scroll_into_view_if_needed()
    shot(ada, "submission-code")

    # a second version, uploaded with a credit of 40 % to the first
    ada.click(".hero .actions a.btn:has-text('Submit')")
    ada.fill("#sub-name", "kit_v2")
    preprocessor, classifier = second_version(tmp_path)
    ada.set_input_files("#file-image_preprocessor", preprocessor)
    ada.set_input_files("#file-batch_classifier", classifier)
    credit = ada.locator("select[name=credit_sub]").first
    credit.select_option(label=f"ada / kit_v1 (#{first_id})")
    ada.locator("input[name=credit_pct]").first.fill("40")
    shot(ada, "submit-form-with-credit")
    ada.click("#submit-btn")
    ada.wait_for_url(re.compile(r".*/submissions/\d+$"))
    second_url = ada.url
    expect(ada.locator("#credits-given")).to_have_text("ada / kit_v1 (40 %)")
    expect(ada.locator("#state-badge")).to_have_text("scored", timeout=TRAIN_TIMEOUT_MS)
    shot(ada, "second-submission-scored")

    # the diff between the two versions
    ada.select_option("#against", label=f"ada / kit_v1 (#{first_id})")
    ada.click("#code form button:has-text('Diff')")
    ada.wait_for_url(re.compile(rf".*/diff\?against={first_id}$"))
    diff = ada.locator("#diff")
    expect(diff).to_contain_text("-N_EPOCHS = 2")
    expect(diff).to_contain_text("+N_EPOCHS = 1")
    shot(ada, "diff")
    ada.goto(first_url)
    expect(ada.locator("#credits-received")).to_contain_text("ada / kit_v2 (40 %)")

    # no private leaderboard for participants while the event runs
    ada.goto(f"{live_server}/events/{event.name}")
    expect(ada.locator("nav.tabs a:has-text('Private')")).to_have_count(0)

    # the administrator closes the event from its admin page
    admin.goto(f"{live_server}/events/{event.name}")
    admin.click("nav.tabs a:has-text('Admin')")
    admin.click("#close-event")
    expect(admin.locator(".flash")).to_contain_text("is closed")
    expect(admin.locator(".stats + .grid")).to_contain_text("closed")
    shot(admin, "admin-event-closed")

    # the private (test) leaderboard is now open to the participant
    ada.reload()
    expect(ada.locator("h1 .badge")).to_have_text("closed")
    expect(ada.locator("#no-submissions")).to_have_text("submissions closed")
    ada.click("nav.tabs a:has-text('Private')")
    expect(ada.locator("#private tbody tr")).to_have_count(2)
    assert sorted(column_cells(ada, "#private", "Submission")) == ["kit_v1", "kit_v2"]
    test_scores = column_cells(ada, "#private", f"test {event.official_score_name}")
    assert all(re.match(r"^\d\.\d+", s) for s in test_scores), test_scores
    shot(ada, "private-leaderboard")
    assert second_url != first_url
    assert len(list(shots.glob("*.png"))) >= n_shots
