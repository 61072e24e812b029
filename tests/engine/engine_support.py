"""Constants and helpers shared by the engine tests (imported as ``engine_support``)."""

from __future__ import annotations

import os
from pathlib import Path

from ramp_server.engine.sandbox_policy import SandboxLimits

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
