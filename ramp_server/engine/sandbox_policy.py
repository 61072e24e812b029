"""What a sandboxed run is allowed and which sandbox runs it, decided before anything runs.

:class:`SandboxLimits` are the resource bounds of one run (the event sets wall time and memory,
the settings the rest: :func:`limits_from_settings`); :func:`resolve_mode` picks the sandbox
mode from the settings and refuses to run participant code without bubblewrap unless the
operator opted in. :mod:`ramp_server.engine.sandbox` enforces both when it runs the process.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ramp_server.config import Settings

log = logging.getLogger(__name__)

BWRAP = "/usr/bin/bwrap"

UNSAFE_WARNING = (
    "UNSAFE: participant code runs WITHOUT a sandbox (sandbox='unsafe-none', "
    "allow_unsafe_sandbox=true): it can read the server's files, test labels and secrets. "
    "Install bubblewrap (/usr/bin/bwrap) and set RAMP_SANDBOX=bwrap."
)


class SandboxUnavailable(RuntimeError):
    """No acceptable sandbox: bubblewrap is missing and the operator did not opt out."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource bounds of one sandboxed run."""

    wall_time_s: float = 3600.0
    memory_mb: int = 8000
    #: tasks of the sandbox user: processes AND threads (torch starts a few per core)
    max_processes: int = 512
    tmp_mb: int = 1024
    file_size_mb: int = 1024
    log_max_bytes: int = 1_000_000
    cpu_threads: int = 1


def limits_from_settings(settings: Settings) -> SandboxLimits:
    """The per-fold process, disk and log bounds of the settings (time and memory are event rules)."""
    return SandboxLimits(
        max_processes=settings.sandbox_max_processes,
        tmp_mb=settings.sandbox_tmp_mb,
        file_size_mb=settings.sandbox_file_size_mb,
        log_max_bytes=settings.fold_log_max_bytes,
        cpu_threads=0,
    )


def bwrap_available() -> bool:
    """True when bubblewrap is installed and can create its namespaces here."""
    if not Path(BWRAP).is_file():
        return False
    try:
        proc = subprocess.run(
            [BWRAP, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def resolve_mode(*, sandbox: str, allow_unsafe: bool, local: bool = True) -> str:
    """The sandbox mode to use, or :class:`SandboxUnavailable` with what to do.

    ``local=False``: the sandboxes run on other machines (the workers of an external
    scheduler), so bubblewrap is not looked for here; a worker without it fails its folds
    as platform faults, with the same message.
    """
    if sandbox == "bwrap":
        if not local or bwrap_available():
            return "bwrap"
        raise SandboxUnavailable(
            f"bubblewrap ({BWRAP}) is missing or cannot create namespaces on this machine: "
            "install the 'bubblewrap' package (apt-get install bubblewrap). Participant code is "
            "not run without a sandbox unless RAMP_SANDBOX=unsafe-none and "
            "RAMP_ALLOW_UNSAFE_SANDBOX=true."
        )
    if sandbox == "unsafe-none":
        if not allow_unsafe:
            raise SandboxUnavailable(
                "RAMP_SANDBOX=unsafe-none needs the explicit opt-in RAMP_ALLOW_UNSAFE_SANDBOX=true"
            )
        log.warning(UNSAFE_WARNING)
        return "unsafe-none"
    raise SandboxUnavailable(f"unknown sandbox mode {sandbox!r}: use 'bwrap' or 'unsafe-none'")
