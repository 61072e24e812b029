"""The server under load: ``ramp-server serve --no-dispatcher`` in a subprocess, and its log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .seed import CHEAP_ARGON2

if TYPE_CHECKING:
    from ramp_server.config import Settings


def free_port() -> int:
    """A TCP port free on the loopback interface now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    settings: Settings,
    *,
    port: int,
    log_path: Path,
    cheap_password_hashing: bool,
    web_workers: int = 1,
    env: dict[str, str] | None = None,
    start_timeout_s: float = 60.0,
) -> subprocess.Popen:
    """``ramp-server serve --no-dispatcher`` on ``127.0.0.1:port``; its output goes to ``log_path``.

    ``web_workers`` is ``serve --workers``; ``env`` adds variables to the server's environment;
    the server must answer ``/healthz`` within ``start_timeout_s``.

    With ``cheap_password_hashing`` the same command runs with the web tests' cheap argon2
    parameters (logins then cost ~1 ms instead of ~0.3 s of CPU each).
    """
    import httpx

    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-dispatcher"]
    if web_workers != 1:
        args += ["--workers", str(web_workers)]
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
    full_env = server_env(settings) | (env or {})
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + start_timeout_s
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
            raise RuntimeError(
                f"ramp-server serve did not answer within {start_timeout_s:.0f} s:\n"
                f"{tail(log_path)}"
            )
        time.sleep(0.2)


def server_env(settings: Settings) -> dict[str, str]:
    """This environment pointed at ``settings``' storage and database (no config file, no
    embedded dispatcher): what every ``ramp-server`` process of a bench runs with."""
    env = dict(
        os.environ,
        RAMP_STORAGE_DIR=str(settings.storage_dir),
        RAMP_DATABASE_URL=settings.db_url,
        RAMP_EMBEDDED_DISPATCHER="false",
    )
    env.pop("RAMP_CONFIG_FILE", None)
    return env


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the server, killing it if it has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, n: int = 4000) -> str:
    """The last ``n`` characters of a log file (empty if it does not exist)."""
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
