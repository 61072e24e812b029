"""Running untrusted participant code in a bubblewrap sandbox with resource limits.

What a sandboxed child gets (``mode='bwrap'``):

- its own PID, network, IPC and UTS namespaces: no network at all (only a down loopback), it
  sees only its own processes, and when the sandbox's init dies the kernel kills every process
  left in the namespace (``--die-with-parent`` chains this to the Dask worker's lifetime);
- a minimal root filesystem: ``/usr`` and the Python installation read-only, the explicit
  read-only binds asked for (the submission's code, the public bundle), a private ``/tmp``
  tmpfs with a size bound, and a few host *files* (not directories) bound writable for its
  results, each bounded by ``RLIMIT_FSIZE``; nothing else of the host (no storage root, no
  database file, no ``/work``, no ``/root``);
- a cleared environment: ``PATH``, ``HOME=/tmp``, thread counts, the variables asked for and
  ``CUDA_VISIBLE_DEVICES`` when set — never the server's secrets;
- when the worker runs as root: an unprivileged uid of its own (no capabilities, no new
  privileges), so that ``RLIMIT_NPROC`` really bounds its processes *and threads*;
- limits: wall-clock (the runner kills the sandbox), memory (``RLIMIT_DATA``: writable private
  memory, so the allocation fails with ``MemoryError``; plus a watchdog over the resident memory
  of the whole process tree, the only bound on GPU runs where the CUDA driver maps memory of
  its own), processes, file size; stdout/stderr captured through a pipe and
  truncated to a bound (head and tail kept).

``mode='unsafe-none'`` runs the same command without bubblewrap (rlimits and process-group kill
only); the engine refuses it unless the operator opted in
(:func:`~ramp_server.engine.sandbox_policy.resolve_mode`).

The limits and the choice of mode live in :mod:`ramp_server.engine.sandbox_policy`; this module
builds the command line and runs the process.
"""

from __future__ import annotations

import itertools
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ramp_server.engine.sandbox_policy import (
    BWRAP,
    UNSAFE_WARNING,
    SandboxLimits,
    SandboxUnavailable,
)
from ramp_server.engine.watch import LogCollector, ProgressTail, count_tasks_of, tree_memory_kb

log = logging.getLogger(__name__)

SETPRIV = "/usr/bin/setpriv"
#: sandboxes of a root worker run as uid SANDBOX_UID_BASE + (worker pid * 8 + slot) % span
SANDBOX_UID_BASE = 2_000_000
_SANDBOX_UID_SPAN = 1_000_000
_slot_counter = itertools.count()


@dataclass
class SandboxResult:
    """How a sandboxed run ended; exactly one of the flags explains an abnormal end."""

    returncode: int | None
    signal: int | None
    timed_out: bool = False
    memory_exceeded: bool = False
    cancelled: bool = False
    wall_time_s: float = 0.0
    peak_rss_mb: float = 0.0
    log: bytes = b""
    log_truncated: bool = False
    log_total_bytes: int = 0
    mode: str = "bwrap"
    progress: list[dict[str, Any]] = field(default_factory=list)


def python_binds() -> list[Path]:
    """Host directories the sandbox needs read-only to run this Python with ramp_server."""
    import ramp_server

    dirs = {
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(ramp_server.__file__).resolve().parent,
        Path(os.path.realpath(sys.executable)).parent,
    }
    # keep only the outermost directories, skipping what /usr already provides
    out: list[Path] = []
    for d in sorted(dirs, key=lambda p: len(p.parts)):
        if d == Path("/usr") or Path("/usr") in d.parents:
            continue
        if not any(p == d or p in d.parents for p in out):
            out.append(d)
    return out


def _check_not_exposed(binds: Sequence[Path], forbidden: Sequence[Path]) -> None:
    for src in binds:
        for f in forbidden:
            f = Path(f).resolve()
            if src == f or src in f.parents:
                raise SandboxUnavailable(
                    f"refusing to expose {src} in the sandbox: it contains {f} (secret or private "
                    "data); install the platform's Python outside the storage directory"
                )


def _parents_as_dirs(dest: str, made: set[str]) -> list[str]:
    """bwrap creates missing mount points 0700 as root: create them 0755 ourselves."""
    args: list[str] = []
    parts = Path(dest).parent.parts[1:]
    cur = ""
    for part in parts:
        cur += "/" + part
        if cur not in made:
            made.add(cur)
            args += ["--perms", "0755", "--dir", cur]
    return args


def _sandbox_uid() -> int:
    return SANDBOX_UID_BASE + (os.getpid() * 8 + next(_slot_counter) % 8) % _SANDBOX_UID_SPAN


def build_bwrap_argv(
    command: Sequence[str],
    *,
    ro_binds: Mapping[str | Path, str],
    rw_files: Mapping[str | Path, str],
    env: Mapping[str, str],
    tmp_mb: int,
    uid: int | None,
    workdir: str = "/tmp",
    gpu: bool = False,
    etc_dir: Path | None = None,
) -> list[str]:
    """The bubblewrap command line (see the module docstring for what it grants)."""
    argv = [BWRAP, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if uid is None:  # unprivileged worker: a user namespace, no capabilities
        argv += ["--unshare-user", "--cap-drop", "ALL"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    for f in ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf"):
        argv += ["--ro-bind-try", f"/etc/{f}", f"/etc/{f}"]
    argv += ["--ro-bind-try", "/etc/ld.so.conf.d", "/etc/ld.so.conf.d"]
    if etc_dir is not None:
        for f in ("passwd", "group"):
            argv += ["--ro-bind", str(etc_dir / f), f"/etc/{f}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "01777"]
    argv += ["--size", str(tmp_mb * 1024 * 1024)]
    argv += [
        "--tmpfs",
        "/tmp",
        "--ro-bind-try",
        "/sys/devices/system/cpu",
        "/sys/devices/system/cpu",
    ]
    if gpu:
        for dev in sorted(Path("/dev").glob("nvidia*")):
            argv += ["--dev-bind", str(dev), str(dev)]
        argv += ["--ro-bind-try", "/sys", "/sys"]
    made: set[str] = {"/usr", "/etc", "/tmp", "/proc", "/dev", "/sys"}
    for src, dest in ro_binds.items():
        argv += _parents_as_dirs(dest, made) + ["--ro-bind", str(src), dest]
        made.add(dest)
    for src, dest in rw_files.items():
        argv += _parents_as_dirs(dest, made) + ["--bind", str(src), dest]
    argv += ["--clearenv"]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    argv += ["--chdir", workdir]
    if uid is not None:
        argv += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return argv + list(command)


def _preexec(limits: SandboxLimits, nproc: int, *, gpu: bool) -> Callable[[], None]:
    def apply() -> None:
        mem = limits.memory_mb * 1024 * 1024
        fsize = limits.file_size_mb * 1024 * 1024
        if not gpu:  # the CUDA driver's own mappings are not the participant's: watchdog only
            resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_sandboxed(
    command: Sequence[str],
    *,
    limits: SandboxLimits,
    mode: str = "bwrap",
    ro_binds: Mapping[str | Path, str] | None = None,
    rw_files: Mapping[str | Path, str] | None = None,
    env: Mapping[str, str] | None = None,
    forbidden: Sequence[Path] = (),
    progress_file: Path | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    gpu: bool = False,
    poll_s: float = 0.2,
) -> SandboxResult:
    """Run ``command`` sandboxed, enforcing ``limits``; returns when every process is gone.

    ``ro_binds``/``rw_files`` map host paths to paths inside; ``rw_files`` must be existing
    regular files (they are chowned to the sandbox user). ``progress_file`` (a host path, usually
    one of ``rw_files``) is followed and each JSON line passed to ``on_progress``.
    ``should_cancel`` is polled; True kills the sandbox (``cancelled``).
    """
    ro_binds, rw_files = dict(ro_binds or {}), dict(rw_files or {})
    base_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
    }
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        base_env[var] = str(limits.cpu_threads)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        base_env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    base_env.update(env or {})
    etc_dir = None
    if mode == "bwrap":
        py = python_binds()
        _check_not_exposed(py + [Path(p).resolve() for p in ro_binds], forbidden)
        for d in py:
            ro_binds.setdefault(d, str(d))
        uid = _sandbox_uid() if os.geteuid() == 0 else None
        if uid is not None:
            for f in rw_files:
                os.chown(f, uid, uid)
            etc_dir = Path(os.path.dirname(next(iter(rw_files)))) if rw_files else None
            if etc_dir is not None:
                etc_dir = etc_dir / ".etc"
                etc_dir.mkdir(exist_ok=True)
                (etc_dir / "passwd").write_text(
                    f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{uid}:{uid}:sandbox:/tmp:/bin/sh\n"
                )
                (etc_dir / "group").write_text(f"root:x:0:\nsandbox:x:{uid}:\n")
            nproc = limits.max_processes
        else:
            nproc = count_tasks_of(os.getuid()) + limits.max_processes
        argv = build_bwrap_argv(
            command,
            ro_binds=ro_binds,
            rw_files=rw_files,
            env=base_env,
            tmp_mb=limits.tmp_mb,
            uid=uid,
            gpu=gpu,
            etc_dir=etc_dir,
        )
        popen_env: dict[str, str] | None = {}
    elif mode == "unsafe-none":
        log.warning(UNSAFE_WARNING)
        argv = list(command)
        popen_env = dict(base_env)
        nproc = count_tasks_of(os.getuid()) + limits.max_processes
    else:
        raise SandboxUnavailable(f"unknown sandbox mode {mode!r}")

    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=popen_env,
        start_new_session=True,
        preexec_fn=_preexec(limits, nproc, gpu=gpu),
    )
    collector = LogCollector(proc.stdout, limits.log_max_bytes)
    collector.start()
    tail = ProgressTail(progress_file)
    result = SandboxResult(returncode=None, signal=None, mode=mode)
    peak_kb = 0
    limit_kb = int(limits.memory_mb * 1024 * 1.05)  # RLIMIT_DATA acts first, per process
    status = rusage = None
    try:
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - start
            rss = tree_memory_kb(proc.pid, limit_kb)
            peak_kb = max(peak_kb, rss)
            for item in tail.poll():
                result.progress.append(item)
                if on_progress is not None:
                    on_progress(item)
            reason = None
            if elapsed > limits.wall_time_s:
                reason = "timed_out"
            elif rss > limit_kb:
                reason = "memory_exceeded"
            elif should_cancel is not None and should_cancel():
                reason = "cancelled"
            if reason:
                setattr(result, reason, True)
                _kill_group(proc.pid)
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(poll_s)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # unsafe mode: leftovers of the group
    collector.join(timeout=10)
    proc.stdout.close()
    for item in tail.poll():
        result.progress.append(item)
        if on_progress is not None:
            on_progress(item)
    result.wall_time_s = time.monotonic() - start
    if os.WIFSIGNALED(status):
        result.signal = os.WTERMSIG(status)
    else:
        result.returncode = os.WEXITSTATUS(status)
        if mode == "bwrap" and 128 < result.returncode <= 128 + 64:
            # bwrap reports a child killed by signal N as exit code 128 + N
            result.signal, result.returncode = result.returncode - 128, None
    result.peak_rss_mb = max(peak_kb, rusage.ru_maxrss if rusage else 0) / 1024
    result.log, result.log_truncated = collector.text()
    result.log_total_bytes = collector.total
    if etc_dir is not None:
        shutil.rmtree(etc_dir, ignore_errors=True)
    return result


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
