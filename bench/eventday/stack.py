"""The deployed shape on 127.0.0.1: a Dask scheduler, N ``dask worker --resources GPU=1``
processes, ``ramp-server serve --workers 2 --no-dispatcher`` and ``ramp-server dispatch
--scheduler``; started in order, stopped in reverse, their logs kept for the tracebacks check."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from load.server import free_port, server_env, start_server, stop_server, tail

if TYPE_CHECKING:
    from ramp_server.config import Settings

BIN = Path(sys.executable).parent


@dataclass
class Stack:
    """The running processes and where their logs are."""

    base_url: str
    scheduler: str
    logs: dict[str, Path] = field(default_factory=dict)
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def exited(self) -> list[str]:
        """Names of the processes that exited while they should run (empty: all fine)."""
        return [name for name, p in self.procs if p.poll() is not None]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system, with their reaped children: the sandboxes) used so far
        by each kind of process and its live descendants: dispatch, serve, scheduler, workers."""
        stats = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    rest = (d / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                ticks = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
                stats[int(d.name)] = (int(rest[1]), ticks)
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)

        def tree(pid: int) -> int:
            return stats.get(pid, (0, 0))[1] + sum(tree(c) for c in children.get(pid, []))

        hz = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, p in self.procs:
            kind = "workers" if name.startswith("gpu-") else name
            out[kind] = out.get(kind, 0.0) + tree(p.pid) / hz
        return out

    def stop(self) -> None:
        """SIGTERM: the dispatcher and the web server first (waited for), then the workers and
        the scheduler all at once (killed after 20 s)."""
        for name, p in reversed(self.procs):
            if name in ("dispatch", "serve") and p.poll() is None:
                stop_server(p)
        rest = [p for _, p in self.procs if p.poll() is None]
        for p in rest:
            p.terminate()
        for p in rest:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _profiled(name: str, logs: Path) -> list[str]:
    """``python -m cProfile -o <logs>/<name>.prof`` when ``EVENT_DAY_PROFILE`` is set (the
    process's main thread: where a slow piece of the platform spends its time), else nothing."""
    if not os.environ.get("EVENT_DAY_PROFILE"):
        return []
    return [sys.executable, "-m", "cProfile", "-o", str(logs / f"{name}.prof")]


def _spawn(stack: Stack, name: str, cmd: list[str], env: dict[str, str], logs: Path) -> None:
    path = logs / f"{name}.log"
    with path.open("wb") as log:
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.logs[name] = path
    stack.procs.append((name, p))


def start_stack(
    settings: Settings, *, workers: int, time_scale: float, web_workers: int, logs: Path
) -> Stack:
    """Start everything; raises (after stopping what started) when a piece does not come up."""
    from distributed import Client

    port = free_port()
    stack = Stack(base_url="", scheduler=f"tcp://127.0.0.1:{port}")
    env = server_env(settings) | {
        "RAMP_ENGINE_SIMULATION": "true",
        "RAMP_ENGINE_SIMULATION_TIME_SCALE": str(time_scale),
    }
    dask = str(BIN / "dask")
    try:
        _spawn(
            stack,
            "scheduler",
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env,
            logs,
        )
        for i in range(workers):
            _spawn(
                stack,
                f"gpu-{i}",
                [dask, "worker", stack.scheduler, "--name", f"gpu-{i}", "--resources", "GPU=1"]
                + ["--nthreads", "1", "--nworkers", "1", "--no-dashboard"]
                + ["--host", "127.0.0.1", "--local-directory", str(logs / "dask")],
                env,
                logs,
            )
        with Client(stack.scheduler, timeout=120) as client:
            client.wait_for_workers(workers, timeout=300)
            # a worker's first fold imports the task's modules (tens of seconds on a loaded
            # machine): done before the day, as on workers started in the morning
            client.run(importlib.import_module, "ramp_server.engine.tasks")
        web_port = free_port()
        web = start_server(
            settings,
            port=web_port,
            log_path=logs / "serve.log",
            cheap_password_hashing=False,
            web_workers=web_workers,
            env=env,
            # its imports alone took over a minute at load 30 (tests/web: 180 s)
            start_timeout_s=300.0,
        )
        stack.logs["serve"] = logs / "serve.log"
        stack.procs.append(("serve", web))
        stack.base_url = f"http://127.0.0.1:{web_port}"
        _spawn(
            stack,
            "dispatch",
            _profiled("dispatch", logs)
            + [str(BIN / "ramp-server"), "dispatch", "--scheduler", stack.scheduler],
            env,
            logs,
        )
        time.sleep(1.0)
        if stack.exited():
            raise RuntimeError(
                f"{', '.join(stack.exited())} exited at start:\n{tail(logs / 'dispatch.log')}"
            )
        return stack
    except BaseException:
        stack.stop()
        raise
