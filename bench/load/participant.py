"""One simulated participant: logs in, browses the event's pages, uploads; every request timed."""

from __future__ import annotations

import html
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .seed import PASSWORD

if TYPE_CHECKING:
    import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DUPLICATE_MESSAGE = "already have a submission named"
#: every page kind a participant visits, in the order of the printed table
PAGES = (
    "anchor /static/style.css",
    "login form",
    "login",
    "event page",
    "leaderboard",
    "leaderboard JSON (API)",
    "my submissions",
    "submission page",
    "submission code (API)",
    "submit form",
    "submit (web form)",
    "submit (API)",
)
LOGIN_PAGES = ("login form", "login")


@dataclass
class Sample:
    """One timed request: its page kind, status and whether that status was expected."""

    page: str
    status: int | None  # None: no response (connection error, timeout)
    latency_s: float
    expected: bool


@dataclass
class Upload:
    """One upload attempt and what the server answered (an id when accepted)."""

    participant: str
    name: str
    via: str  # "web" or "api"
    status: int | None
    submission_id: int | None = None
    message: str = ""


def response_message(r: httpx.Response) -> str:
    """The error message a response shows (JSON ``detail``, a form's error box or error page)."""
    if r.headers.get("content-type", "").startswith("application/json"):
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = None
        return str(detail) if detail is not None else r.text[:300]
    text = r.text
    for pattern in (r'role="alert"[^>]*>(.*?)</div>', r"<h1>.*?</h1>\s*<p>(.*?)</p>"):
        m = re.search(pattern, text, re.S)
        if m:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())
    return " ".join(text[:300].split())


class Participant:
    """One simulated participant: a keep-alive client, a cookie session, an API token."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        token: str,
        event: str,
        files: dict[str, bytes],
        think_s: float,
        index: int,
        seed: int,
    ) -> None:
        import httpx

        self.name, self.event, self.index = name, event, index
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.files = files
        self.think_s = think_s
        self.rng = random.Random(seed * 100_003 + index)
        self.samples: list[Sample] = []
        self.problems: list[str] = []
        self.uploads: list[Upload] = []
        self.seen_ids: list[int] = []
        self.n_uploads = 0

    # one request, timed and checked against the statuses that this request may get
    def call(
        self, page: str, method: str, url: str, *, expect: tuple[int, ...] = (200,), **kw: Any
    ) -> httpx.Response | None:
        import httpx

        t = time.perf_counter()
        try:
            r = self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.samples.append(Sample(page, None, time.perf_counter() - t, False))
            self.problems.append(f"{self.name} {method} {url}: {type(exc).__name__}: {exc}")
            return None
        dt = time.perf_counter() - t
        ok = r.status_code in expect
        self.samples.append(Sample(page, r.status_code, dt, ok))
        if not ok:
            self.problems.append(
                f"{self.name} {method} {url}: HTTP {r.status_code} (expected "
                f"{'/'.join(map(str, expect))}): {response_message(r)[:300]}"
            )
        return r

    def think(self) -> None:
        if self.think_s > 0:
            time.sleep(self.rng.uniform(0, 2 * self.think_s))

    def run(
        self, *, start: threading.Barrier, logged_in: threading.Barrier, duration_s: float
    ) -> None:
        """Log in (all participants at once), wait for the others, browse for ``duration_s``."""
        try:
            start.wait()
            ok = False
            try:
                ok = self.login()
            finally:
                logged_in.wait()  # the browsing starts when every login is done
            if not ok:
                return
            deadline = time.monotonic() + duration_s
            round_no = 0
            # the first two rounds always run to the end: every page kind at least once
            while round_no < 2 or time.monotonic() < deadline:
                self.browse_round(round_no)
                round_no += 1
        except Exception as exc:  # noqa: BLE001 - a driver bug must show, not hang the run
            self.problems.append(f"{self.name}: driver error {type(exc).__name__}: {exc}")
        finally:
            self.http.close()

    def login(self) -> bool:
        r = self.call("login form", "GET", "/login")
        token = CSRF_RE.search(r.text) if r is not None else None
        if token is None:
            self.problems.append(f"{self.name}: no CSRF token on /login")
            return False
        self.think()
        r = self.call(
            "login",
            "POST",
            "/login",
            data={
                "csrf_token": token.group(1),
                "login": self.name,
                "password": PASSWORD,
                "next": f"/events/{self.event}",
            },
            expect=(303,),
        )
        return r is not None and r.status_code == 303

    def browse_round(self, round_no: int) -> None:
        ev = self.event
        steps = [
            lambda: self.call("anchor /static/style.css", "GET", "/static/style.css"),
            lambda: self.call("event page", "GET", f"/events/{ev}"),
            lambda: self.call("leaderboard", "GET", f"/events/{ev}/leaderboard"),
            self.leaderboard_json,
            lambda: self.call("my submissions", "GET", f"/events/{ev}/my-submissions"),
            self.submission_and_code,
        ]
        # round 0: an upload through the web form; round 1: through the API (and, for one
        # participant in five, first under the name already used: refused by design); later
        # rounds: an upload now and then, through either, sometimes under a used name
        if round_no == 0:
            steps.append(lambda: self.upload_web(duplicate=False))
        elif round_no == 1:
            if self.index % 5 == 0:
                steps.append(lambda: self.upload_api(duplicate=True))
            steps.append(lambda: self.upload_api(duplicate=False))
        elif self.rng.random() < 0.3:
            duplicate = self.rng.random() < 0.15
            upload = self.upload_web if self.rng.random() < 0.5 else self.upload_api
            steps.append(lambda: upload(duplicate=duplicate))
        for step in steps:
            self.think()
            step()

    def leaderboard_json(self) -> None:
        r = self.call(
            "leaderboard JSON (API)",
            "GET",
            f"/api/events/{self.event}/leaderboard",
            headers=self.bearer,
        )
        if r is not None and r.status_code == 200:
            ids = [row["submission_id"] for row in r.json()["rows"]]
            self.seen_ids = ids or self.seen_ids

    def submission_and_code(self) -> None:
        own = [u.submission_id for u in self.uploads if u.submission_id is not None]
        choices = self.seen_ids + own
        if not choices:
            self.problems.append(f"{self.name}: no submission to look at (empty leaderboard)")
            return
        sid = self.rng.choice(choices)
        self.call("submission page", "GET", f"/submissions/{sid}")
        self.think()
        self.call(
            "submission code (API)", "GET", f"/api/submissions/{sid}/code", headers=self.bearer
        )

    def _next_upload(self, duplicate: bool) -> tuple[str, dict[str, bytes], bool]:
        """A name (the last accepted one when ``duplicate``), the files, whether it is used."""
        used = [u.name for u in self.uploads if u.submission_id is not None]
        duplicate = duplicate and bool(used)
        name = used[-1] if duplicate else f"{self.name}-s{self.n_uploads}"
        self.n_uploads += 1
        files = dict(self.files)
        # one file differs per upload (a new blob), the other is the same for all (one blob
        # written by many uploads at once)
        files["image_preprocessor.py"] += f"\n# {name} #{self.n_uploads}\n".encode()
        return name, files, duplicate

    def _record_upload(
        self, via: str, name: str, r: httpx.Response | None, sid: int | None
    ) -> None:
        up = Upload(self.name, name, via, None if r is None else r.status_code, sid)
        if r is not None and r.status_code == 400:
            up.message = response_message(r)
            if DUPLICATE_MESSAGE not in up.message:
                self.problems.append(f"{self.name}: upload {name!r} refused: {up.message}")
        self.uploads.append(up)

    def upload_web(self, *, duplicate: bool) -> None:
        form = self.call("submit form", "GET", f"/events/{self.event}/submit")
        token = CSRF_RE.search(form.text) if form is not None else None
        if token is None:
            self.problems.append(f"{self.name}: no CSRF token on the submit page")
            return
        name, files, duplicate = self._next_upload(duplicate)
        self.think()
        r = self.call(
            "submit (web form)",
            "POST",
            f"/events/{self.event}/submit",
            data={"csrf_token": token.group(1), "name": name},
            files={f.removesuffix(".py"): (f, data, "text/x-python") for f, data in files.items()},
            expect=(400,) if duplicate else (303,),
        )
        sid = None
        if r is not None and r.status_code == 303:
            m = re.fullmatch(r"/submissions/(\d+)", r.headers.get("location", ""))
            sid = int(m.group(1)) if m else None
            if sid is None:
                self.problems.append(
                    f"{self.name}: upload redirected to {r.headers.get('location')}"
                )
        self._record_upload("web", name, r, sid)

    def upload_api(self, *, duplicate: bool) -> None:
        name, files, duplicate = self._next_upload(duplicate)
        r = self.call(
            "submit (API)",
            "POST",
            f"/api/events/{self.event}/submissions",
            data={"name": name},
            files=[("files", (f, data, "text/x-python")) for f, data in files.items()],
            headers=self.bearer,
            expect=(400,) if duplicate else (201,),
        )
        sid = r.json()["id"] if r is not None and r.status_code == 201 else None
        self._record_upload("api", name, r, sid)
