"""Constants and helpers shared by the engine tests (imported as ``engine_support``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ramp_server.engine.dispatcher import Dispatcher
from ramp_server.engine.sandbox_policy import SandboxLimits

from ramp_test_plugin import free_port

BIN = Path(sys.executable).parent

SUBMISSIONS = Path(__file__).with_name("submissions")
#: a value planted in the workers' environment and the storage directory; must never leak
SECRET_MARKER = "RAMP-TEST-SECRET-4242"
#: event rules of the test events: short wall-clock and memory limits
EVENT_RULES = {"fold_time_limit_s": 15, "memory_limit_mb": 1000}
#: non-event limits of the test dispatcher
TEST_LIMITS = SandboxLimits(
    max_processes=64, tmp_mb=64, file_size_mb=32, log_max_bytes=200_000, cpu_threads=1
)
SANDBOX_UID_FLOOR = 2_000_000


def make_dispatcher(settings, session_factory, client) -> Dispatcher:
    """A dispatcher of the tests' sandbox limits that looks at the queue every 0.2 s."""
    return Dispatcher(
        settings, client=client, session_factory=session_factory, limits=TEST_LIMITS, poll_s=0.2
    )


def submission_files(name: str) -> dict[str, bytes]:
    """``{filename: bytes}`` of a test submission folder of tests/engine/submissions."""
    folder = SUBMISSIONS / name
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


#: this test session's temporary folder (set by tests/engine/conftest.py): a bubblewrap process
#: binding a path under it belongs to this session even after its worker died
SESSION_TMP: list[str] = []


def _parent_and_cmdline(pid: int) -> tuple[int, bytes] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1]), cmdline  # field 4: the parent's pid


def _started_here(pid: int) -> bool:
    """Whether ``pid`` descends from this pytest process, or from a sandbox of this session."""
    me, marks = os.getpid(), [m.encode() for m in SESSION_TMP]
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        if pid == me:
            return True
        found = _parent_and_cmdline(pid)
        if found is None:
            return False
        pid, cmdline = found
        if any(m in cmdline for m in marks):
            return True
    return False


def sandbox_processes() -> list[int]:
    """PIDs of the sandbox processes this test session started that still run (there must be
    none between folds); other test runs, demos or benches on the machine are not counted."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid >= SANDBOX_UID_FLOOR and _started_here(int(d.name)):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


class Processes:
    """The deployed shape as named subprocesses (``scheduler``, ``worker``, ``web``,
    ``dispatcher``; more workers as ``worker-<x>``), their logs in ``tmp``; all stopped at the
    end (:meth:`stop_all`)."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env, self.procs = tmp, env, {}
        self.scheduler_port, self.web_port = free_port(), free_port()
        self.scheduler = f"tcp://127.0.0.1:{self.scheduler_port}"
        self.url = f"http://127.0.0.1:{self.web_port}"

    def start(self, name: str, *extra: str, env: dict[str, str] | None = None) -> None:
        """Start ``name`` (a ``worker-<x>`` is one more worker) with ``extra`` arguments."""
        kind = "worker" if name.startswith("worker") else name
        argv = {
            "scheduler": [BIN / "dask", "scheduler", "--host", "127.0.0.1"]
            + ["--port", str(self.scheduler_port), "--no-dashboard"],
            # --no-nanny: killing the worker kills it for good (a nanny would restart it)
            "worker": [BIN / "dask", "worker", self.scheduler, "--nthreads", "2"]
            + ["--no-nanny", "--no-dashboard"],
            "web": [BIN / "ramp-server", "serve", "--no-dispatcher"]
            + ["--host", "127.0.0.1", "--port", str(self.web_port)],
            "dispatcher": [BIN / "ramp-server", "dispatch", "--scheduler", self.scheduler],
        }[kind] + list(extra)
        log = (self.tmp / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen(
            [str(a) for a in argv],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{self.log(name)}")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        order = ["dispatcher", "web", *sorted(n for n in self.procs if n.startswith("worker"))]
        for name in [*order, "scheduler"]:
            if name in self.procs:
                proc = self.procs.pop(name)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGCONT)  # a frozen process must be able to die
                    proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_until(predicate: Callable[[], object], timeout: float, what: str, procs: Processes):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    logs = "\n".join(f"--- {n}\n{procs.log(n)}" for n in sorted(procs.procs))
    raise AssertionError(f"not within {timeout} s: {what}\n{logs}")


def web_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
