"""Concurrent participants against a real ``ramp-server serve``: latency per page, no lost uploads.

Seeds a database (SQLite file by default, PostgreSQL with ``--database-url`` or ``--postgres``)
with N participants (default 50), an event made from a tiny synthetic kit (no submission delay,
no daily quota, collaborative phase open) and a few scored submissions, starts
``ramp-server serve --no-dispatcher`` on a free loopback port and lets N simulated participants
(one thread and one keep-alive HTTP client each) work for a bounded time. Each logs in through
the form, then goes round: event page, public leaderboard, the JSON leaderboard (API token), its
"my submissions" page, a submission page, that submission's code (API), and now and then an
upload through the web form (multipart, CSRF token) or the API, some of them under a name it
already used (refused by design: must be a 400 that says so).

At the end every response is checked (no 5xx, no connection error, no unexpected status) and
the database is compared with what the server accepted: every accepted submission present
exactly once with its files and folds, nothing else added. Printed: one row per page (requests,
p50, p95, max, errors, p95 against the anchor), the submissions accepted and refused, the
machine. The anchor is ``/static/style.css`` (no database), fetched by the same participants in
the same run, so the ratios tell each page's own cost whatever the machine's load. Timings are
printed, never asserted; ``tests/web/test_load.py`` runs the same driver briefly and asserts
the correctness checks.

    .venv/bin/python bench/load_participants.py                      # 50 participants, 60 s, SQLite
    .venv/bin/python bench/load_participants.py --postgres           # throwaway PostgreSQL database
    .venv/bin/python bench/load_participants.py --database-url postgresql+psycopg://u@host/empty_db
"""

from __future__ import annotations

import argparse
import html
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from ramp_server.config import Settings

REPO = Path(__file__).resolve().parents[1]
EVENT = "load"
PASSWORD = "load-password-1"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DUPLICATE_MESSAGE = "already have a submission named"
#: argon2 parameters of the web tests (tests/web/conftest.py): same code paths, ~1 ms a hash
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
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


# -- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What the load needs from the seeded database."""

    event: str
    event_id: int
    #: (user name, API token) of every participant
    participants: list[tuple[str, str]]
    #: ids of the submissions seeded before the load (scored, on the leaderboard)
    seeded_ids: frozenset[int]
    n_folds: int


def make_kit(root: Path, *, n_images: int = 300, seed: int = 0) -> Path:
    """A kit folder (the repository's problem.py and starting kit, tiny synthetic data)."""
    from ramp_server.kit.synth import generate

    (root / "submissions").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "problem.py", root / "problem.py")
    shutil.copytree(
        REPO / "submissions" / "starting_kit",
        root / "submissions" / "starting_kit",
        ignore=shutil.ignore_patterns("__pycache__", "training_output"),
    )
    generate(root / "data", seed=seed, n=n_images, n_jobs=1, progress=False)
    return root


def seed_database(
    settings: Settings,
    *,
    kit_dir: Path,
    participants: int,
    scored: int,
    cheap_password_hashing: bool,
) -> Seeded:
    """Migrate, then add the event, ``participants`` users (joined, each with an API token) and
    ``scored`` scored submissions spread over the first participants."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert, select

    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.migrate import upgrade
    from ramp_server.db.models import User
    from ramp_server.db.testing import create_scored_submissions
    from ramp_server.services import accounts, events, passwords
    from ramp_server.services import participants as participants_service

    engine = make_engine(settings)
    upgrade(engine)
    session = make_session_factory(engine)()
    try:
        event = events.create_event_from_kit(
            session,
            settings=settings,
            slug=EVENT,
            kit_dir=kit_dir,
            title="Load test",
            min_delay_s=0,
            daily_quota=None,
            public_opening_at=datetime.now(UTC)
            - timedelta(days=1),  # others' code and pages are viewable
        )
        session.commit()
        # argon2 is slow on purpose: one hash shared by every participant
        if cheap_password_hashing:
            shared_hash = PasswordHasher(**CHEAP_ARGON2).hash(PASSWORD)
        else:
            shared_hash = passwords.hash_password(PASSWORD)
        names = [f"p{i:03d}" for i in range(participants)]
        session.execute(
            insert(User),
            [
                {
                    "name": n,
                    "email": f"{n}@example.org",
                    "full_name": "",
                    "password_hash": shared_hash,
                    "is_admin": False,
                    "is_active": True,
                }
                for n in names
            ],
        )
        users = list(session.scalars(select(User).where(User.name.in_(names)).order_by(User.name)))
        tokens = []
        for user in users:
            participants_service.join_event(session, event=event, user=user)
            _, raw = accounts.create_api_token(session, user=user, name="load")
            tokens.append((user.name, raw))
        session.commit()
        seeded: list[int] = []
        owners = users[: max(1, min(len(users), scored // 2))]
        for k, user in enumerate(owners):
            n = scored // len(owners) + (1 if k < scored % len(owners) else 0)
            if n:
                seeded += create_scored_submissions(
                    session, settings=settings, event=event, user_id=user.id, n=n
                )
        session.commit()
        return Seeded(
            event=event.name,
            event_id=event.id,
            participants=tokens,
            seeded_ids=frozenset(seeded),
            n_folds=event.n_folds,
        )
    finally:
        session.close()
        engine.dispose()


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    settings: Settings, *, port: int, log_path: Path, cheap_password_hashing: bool
) -> subprocess.Popen:
    """``ramp-server serve --no-dispatcher`` on ``127.0.0.1:port``; its output goes to ``log_path``.

    With ``cheap_password_hashing`` the same command runs with the web tests' cheap argon2
    parameters (logins then cost ~1 ms instead of ~0.3 s of CPU each).
    """
    import httpx

    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-dispatcher"]
    script = Path(sys.executable).with_name("ramp-server")
    if cheap_password_hashing:
        code = (
            "import sys\nfrom argon2 import PasswordHasher\n"
            "from ramp_server.services import passwords\n"
            f"passwords._hasher = lambda: PasswordHasher(**{CHEAP_ARGON2!r})\n"
            "from ramp_server.cli import main\nsys.exit(main())"
        )
        cmd = [sys.executable, "-c", code, *args]
    elif script.is_file():
        cmd = [str(script), *args]  # exactly what operators run
    else:
        cmd = [
            sys.executable,
            "-c",
            "import sys; from ramp_server.cli import main; sys.exit(main())",
        ]
        cmd += args
    env = dict(
        os.environ,
        RAMP_STORAGE_DIR=str(settings.storage_dir),
        RAMP_DATABASE_URL=settings.db_url,
        RAMP_EMBEDDED_DISPATCHER="false",
    )
    env.pop("RAMP_CONFIG_FILE", None)
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ramp-server serve exited at start:\n{tail(log_path)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"ramp-server serve did not answer within 60 s:\n{tail(log_path)}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-n:] if path.exists() else ""


def server_tracebacks(log_path: Path) -> list[str]:
    """The tracebacks the server logged (each up to its last line)."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    out, current = [], None
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line and not line[0].isspace():  # the exception line ends it
                out.append("\n".join(current))
                current = None
    return out


# -- the participants ---------------------------------------------------------------------------


@dataclass
class Sample:
    page: str
    status: int | None  # None: no response (connection error, timeout)
    latency_s: float
    expected: bool


@dataclass
class Upload:
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


# -- the run and its report ---------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def machine() -> str:
    """CPU model, cores, memory and load of this machine (the server runs on it too)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores{mem}, load average {load:.1f}"


@dataclass
class LoadReport:
    """Everything one run measured and checked."""

    backend: str
    participants: int
    duration_s: float
    think_s: float
    #: seconds for every participant to log in (all at once), then of the browsing
    login_s: float = 0.0
    wall_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    pages_by_participant: dict[str, set[str]] = field(default_factory=dict)
    db_problems: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    machine: str = ""

    @property
    def server_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None and s.status >= 500]

    @property
    def connection_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is None]

    @property
    def accepted(self) -> list[Upload]:
        return [u for u in self.uploads if u.submission_id is not None]

    @property
    def rejected(self) -> list[Upload]:
        return [u for u in self.uploads if u.submission_id is None]

    def table(self) -> str:
        by_page: dict[str, list[Sample]] = {p: [] for p in PAGES}
        for s in self.samples:
            by_page.setdefault(s.page, []).append(s)
        anchor = sorted(s.latency_s for s in by_page[PAGES[0]]) or [float("nan")]
        anchor_p95 = percentile(anchor, 0.95)
        lines = [
            f"{'page':26s} {'requests':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} "
            f"{'errors':>6s} {'p95/anchor':>10s}"
        ]
        for page, samples in by_page.items():
            if not samples:
                lines.append(f"{page:26s} {0:8d}")
                continue
            lat = sorted(s.latency_s for s in samples)
            p95 = percentile(lat, 0.95)
            lines.append(
                f"{page:26s} {len(lat):8d} {1000 * percentile(lat, 0.5):8.1f} "
                f"{1000 * p95:8.1f} {1000 * lat[-1]:8.1f} "
                f"{sum(not s.expected for s in samples):6d} {p95 / anchor_p95:9.1f}x"
            )
        browse = [s for s in self.samples if s.page not in LOGIN_PAGES]
        statuses = Counter(s.status for s in self.samples)
        unexpected = sum(not s.expected for s in self.samples)
        web = sum(u.via == "web" for u in self.accepted)
        dup = sum(DUPLICATE_MESSAGE in u.message for u in self.rejected)
        lines += [
            f"{self.participants} logins at once, all done in {self.login_s:.1f} s; then "
            f"{len(browse):,} requests in {self.wall_s:.1f} s "
            f"({len(browse) / max(self.wall_s, 1e-9):.0f} req/s)",
            f"statuses {dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))}",
            f"submissions: {len(self.accepted)} accepted ({web} web form, "
            f"{len(self.accepted) - web} API), {len(self.rejected)} refused "
            f"({dup} duplicate names, 400 with the reason)",
            f"server errors (5xx): {len(self.server_errors)}; connection errors: "
            f"{len(self.connection_errors)}; other unexpected responses: "
            f"{unexpected - len(self.server_errors) - len(self.connection_errors)}; "
            f"server tracebacks: {len(self.tracebacks)}",
            "database: "
            + (
                "every accepted submission present exactly once (files, folds), nothing else added"
                if not self.db_problems
                else f"{len(self.db_problems)} PROBLEM(S): " + "; ".join(self.db_problems[:5])
            ),
            f"{self.participants} participants, {self.duration_s:g} s, think time 0-"
            f"{2 * self.think_s:g} s between requests, {self.backend}, 1 uvicorn worker",
            f"machine: {self.machine}",
        ]
        for p in self.problems[:10]:
            lines.append(f"  problem: {p}")
        for tb in self.tracebacks[:2]:
            lines.append("  server traceback:\n" + tb[-1500:])
        return "\n".join(lines)


def check_database(settings: Settings, seeded: Seeded, report: LoadReport) -> list[str]:
    """Compare the event's submissions with what the server accepted; the problems found."""
    from sqlalchemy import func, select

    from ramp_server.db.engine import make_engine
    from ramp_server.db.models import Submission, SubmissionFile, SubmissionFold, User

    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Submission.id, User.name, Submission.name)
                .join(User, User.id == Submission.user_id)
                .where(Submission.event_id == seeded.event_id)
            ).all()
            n_files = dict(
                conn.execute(
                    select(SubmissionFile.submission_id, func.count()).group_by(
                        SubmissionFile.submission_id
                    )
                ).all()
            )
            n_folds = dict(
                conn.execute(
                    select(SubmissionFold.submission_id, func.count()).group_by(
                        SubmissionFold.submission_id
                    )
                ).all()
            )
    finally:
        engine.dispose()
    problems = []
    in_db = {sid: (user, name) for sid, user, name in rows if sid not in seeded.seeded_ids}
    accepted = {u.submission_id: (u.participant, u.name) for u in report.accepted}
    if len(accepted) != len(report.accepted):
        problems.append("the server gave one submission id to two accepted uploads")
    pairs = Counter((user, name) for _, user, name in rows)
    problems += [f"{u}/{n} is in the database {k} times" for (u, n), k in pairs.items() if k > 1]
    for sid, who in accepted.items():
        if sid not in in_db:
            problems.append(f"accepted submission #{sid} {who[0]}/{who[1]} is missing")
        elif in_db[sid] != who:
            problems.append(f"submission #{sid} is {in_db[sid]} in the database, accepted as {who}")
        elif n_files.get(sid) != 2 or n_folds.get(sid) != seeded.n_folds:
            problems.append(
                f"submission #{sid} has {n_files.get(sid, 0)} files and "
                f"{n_folds.get(sid, 0)} folds (expected 2 and {seeded.n_folds})"
            )
    problems += [
        f"submission #{sid} {u}/{n} is in the database but no upload was accepted for it"
        for sid, (u, n) in in_db.items()
        if sid not in accepted
    ]
    return problems


def run_load(
    settings: Settings,
    *,
    kit_dir: Path,
    participants: int = 50,
    duration_s: float = 60.0,
    think_s: float = 0.5,
    scored: int = 10,
    cheap_password_hashing: bool = False,
    seed: int = 0,
    log: Any = print,
) -> LoadReport:
    """Seed ``settings``' database, serve it, run the participants, check; the report.

    The database must be migrated or empty and hold no event named ``load``.
    """
    t0 = time.perf_counter()
    seeded = seed_database(
        settings,
        kit_dir=kit_dir,
        participants=participants,
        scored=scored,
        cheap_password_hashing=cheap_password_hashing,
    )
    log(
        f"seeded {participants} participants and {len(seeded.seeded_ids)} scored submissions "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    base = REPO / "submissions" / "starting_kit"
    files = {f: (base / f).read_bytes() for f in ("image_preprocessor.py", "batch_classifier.py")}
    log_path = Path(settings.storage_dir) / "load_server.log"
    port = free_port()
    proc = start_server(
        settings, port=port, log_path=log_path, cheap_password_hashing=cheap_password_hashing
    )
    report = LoadReport(
        backend=settings.db_url.split(":")[0].split("+")[0],
        participants=participants,
        duration_s=duration_s,
        think_s=think_s,
    )
    try:
        crowd = [
            Participant(
                f"http://127.0.0.1:{port}",
                name=name,
                token=token,
                event=seeded.event,
                files=files,
                think_s=think_s,
                index=i,
                seed=seed,
            )
            for i, (name, token) in enumerate(seeded.participants)
        ]
        start, logged_in = threading.Barrier(len(crowd) + 1), threading.Barrier(len(crowd) + 1)
        kwargs = {"start": start, "logged_in": logged_in, "duration_s": duration_s}
        threads = [threading.Thread(target=p.run, kwargs=kwargs, daemon=True) for p in crowd]
        for t in threads:
            t.start()
        start.wait()
        t_start = time.monotonic()
        logged_in.wait()
        t_browse = time.monotonic()
        for t in threads:
            t.join()
        report.login_s = t_browse - t_start
        report.wall_s = time.monotonic() - t_browse
    finally:
        stop_server(proc)
    for p in crowd:
        report.samples += p.samples
        report.problems += p.problems
        report.uploads += p.uploads
        report.pages_by_participant[p.name] = {s.page for s in p.samples}
    report.db_problems = check_database(settings, seeded, report)
    report.tracebacks = server_tracebacks(log_path)
    report.machine = machine()
    return report


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.5,
        help="mean pause of a participant between requests, s (uniform in 0..2x; default 0.5)",
    )
    parser.add_argument("--scored", type=int, default=10, help="scored submissions seeded first")
    parser.add_argument("--database-url", default=None, help="an empty database; default: SQLite")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        default=None,
        metavar="ADMIN_URL",
        help="create a throwaway database on this server (default "
        f"{PG_ADMIN_URL}), dropped after the run",
    )
    parser.add_argument(
        "--cheap-passwords",
        action="store_true",
        help="argon2 with the web tests' cheap parameters (logins ~1 ms instead of ~0.3 s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary storage dir")
    args = parser.parse_args(argv)

    from ramp_server.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="ramp_load_"))
    pg_db, admin = None, None
    if args.postgres:
        from sqlalchemy import create_engine, make_url, text

        pg_db = f"ramp_load_{os.getpid()}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_db}"'))
        url = make_url(args.postgres).set(database=pg_db)
        args.database_url = url.render_as_string(hide_password=False)
    try:
        overrides: dict[str, Any] = {"storage_dir": tmp}
        if args.database_url:
            overrides["database_url"] = args.database_url
        settings = load_settings(**overrides)
        kit = make_kit(tmp / "kit", seed=args.seed)
        report = run_load(
            settings,
            kit_dir=kit,
            participants=args.participants,
            duration_s=args.duration,
            think_s=args.think,
            scored=args.scored,
            cheap_password_hashing=args.cheap_passwords,
            seed=args.seed,
        )
        print(report.table())
        failed = (
            report.server_errors
            or report.connection_errors
            or report.problems
            or report.db_problems
            or report.tracebacks
        )
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if pg_db is not None and admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
