"""The participants of the day: each submits on its plan and polls its submission pages and the
leaderboard while something of it is pending (``load.participant.Participant`` underneath:
the same timed, checked requests as the load bench)."""

from __future__ import annotations

import threading
import time

from load.participant import Participant

from .plan import Arrival, submission_files

#: every page kind of the day, in the order of the printed table
PAGES = (
    "anchor /static/style.css",
    "login form",
    "login",
    "submit form",
    "submit (web form)",
    "submit (API)",
    "submission page",
    "submission status (API)",
    "leaderboard",
    "leaderboard JSON (API)",
)
FINAL_STATES = ("scored", "error", "cancelled")


def _keepalive():  # noqa: ANN202
    import httpx

    # idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them: a
    # request sent on a connection the server is closing gets a reset (a client-side race)
    return httpx.Limits(keepalive_expiry=2.0)


KEEPALIVE = _keepalive()


class DayParticipant(Participant):
    """One participant of the day: its planned submissions, what it submitted and saw."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        token: str,
        event: str,
        arrivals: list[Arrival],
        real_kit: dict[str, bytes],
        poll_s: float,
        index: int,
        seed: int,
    ) -> None:
        super().__init__(
            base_url,
            name=name,
            token=token,
            event=event,
            files=real_kit,
            think_s=0.0,
            index=index,
            seed=seed,
        )
        import httpx

        self.http.close()
        self.http = httpx.Client(
            base_url=base_url, timeout=60, follow_redirects=False, limits=KEEPALIVE
        )
        self.arrivals = arrivals
        self.poll_s = poll_s
        #: submission id -> (its plan, POSIX time the server answered the upload)
        self.submitted: dict[int, tuple[Arrival, float]] = {}
        self.pending: list[int] = []
        self._current: Arrival | None = None
        self._round = 0
        self.logged_in = False

    def _next_upload(self, duplicate: bool) -> tuple[str, dict[str, bytes], bool]:
        a = self._current
        assert a is not None
        return a.name, submission_files(a, real_kit=self.files), False

    def run_day(self, *, t0: float, stop: threading.Event) -> None:
        """Submit on the plan (``t0``: the day's start, ``time.monotonic()``), poll meanwhile,
        then keep polling until every own submission is finished or ``stop`` is set."""
        try:
            if any(a.via_web for a in self.arrivals):
                self.logged_in = self.login()
                if not self.logged_in:
                    return
            for a in self.arrivals:
                self._wait(until=t0 + a.at_s, stop=stop)
                if stop.is_set():
                    return
                self._current = a
                (self.upload_web if a.via_web else self.upload_api)(duplicate=False)
                sid = self.uploads[-1].submission_id
                if sid is not None:
                    self.submitted[sid] = (a, time.time())
                    self.pending.append(sid)
            while self.pending and not stop.is_set():
                self._wait(until=time.monotonic() + self.poll_s, stop=stop)
        except Exception as exc:  # noqa: BLE001 - a driver bug must show, not hang the run
            self.problems.append(f"{self.name}: driver error {type(exc).__name__}: {exc}")
        finally:
            self.http.close()

    def _wait(self, *, until: float, stop: threading.Event) -> None:
        """Until ``until``: a polling round every ``poll_s`` (jittered) while work is pending,
        a look at the leaderboard now and then otherwise."""
        while not stop.is_set():
            pause = self.rng.uniform(0.5, 1.5) * self.poll_s * (1 if self.pending else 4)
            left = until - time.monotonic()
            if left <= pause:
                stop.wait(max(0.0, left))
                return
            stop.wait(pause)
            if not stop.is_set():
                self._poll_round()

    def _poll_round(self) -> None:
        self._round += 1
        if self._round % 7 == 0:
            self.call("anchor /static/style.css", "GET", "/static/style.css")
        if self.pending:
            sid = self.pending[self._round % len(self.pending)]
            if self.logged_in and self._round % 2:  # logged in through the form: the page
                self.call("submission page", "GET", f"/submissions/{sid}")
            r = self.call(
                "submission status (API)", "GET", f"/api/submissions/{sid}", headers=self.bearer
            )
            if r is not None and r.status_code == 200 and r.json()["state"] in FINAL_STATES:
                self.pending.remove(sid)
        if not self.pending or self._round % 3 == 0:
            if self._round % 2:
                self.call("leaderboard", "GET", f"/events/{self.event}/leaderboard")
            else:
                self.leaderboard_json()


def start_crowd(crowd: list[DayParticipant], *, t0: float, stop: threading.Event) -> list:
    """One thread per participant (they mostly wait on the network or their plan)."""
    threads = [
        threading.Thread(target=p.run_day, kwargs={"t0": t0, "stop": stop}, daemon=True)
        for p in crowd
    ]
    for t in threads:
        t.start()
    return threads
