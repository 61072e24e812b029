"""Constants and helpers shared by the engine tests (imported as ``engine_support``)."""

from __future__ import annotations

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


def sandbox_processes() -> list[int]:
    """PIDs of processes running as a sandbox uid (there must be none between folds)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid >= SANDBOX_UID_FLOOR:
                    out.append(int(d.name))
            except OSError:
                continue
    return out
