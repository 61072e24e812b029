"""The bubblewrap sandbox alone (no Dask, no database): what a child sees and what it leaves."""

from __future__ import annotations

import json
import sys
import time

import pytest

from ramp_server.engine.sandbox import run_sandboxed
from ramp_server.engine.sandbox_policy import (
    SandboxLimits,
    SandboxUnavailable,
    resolve_mode,
)

from engine_support import sandbox_processes

LIMITS = SandboxLimits(wall_time_s=20, memory_mb=600, max_processes=32, tmp_mb=16, file_size_mb=4)


def _run(code: str, tmp_path, **kwargs):
    out = tmp_path / "out.json"
    out.touch()
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "train_images.npy").write_bytes(b"public")
    result = run_sandboxed(
        [sys.executable, "-c", code],
        limits=kwargs.pop("limits", LIMITS),
        ro_binds={data: "/sandbox/data"},
        rw_files={out: "/sandbox/out/out.json"},
        **kwargs,
    )
    text = out.read_text()
    return result, (json.loads(text) if text else None)


def test_child_sees_only_granted_paths_and_a_clean_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMP_SECRET_KEY", "do-not-leak")
    private = tmp_path / "private"
    private.mkdir()
    (private / "test_labels.npy").write_bytes(b"labels")
    code = f"""
import json, os
seen = {{
    "root": sorted(os.listdir("/")),
    "sandbox": sorted(os.listdir("/sandbox")),
    "data": sorted(os.listdir("/sandbox/data")),
    "private_visible": os.path.exists({str(private)!r}),
    "tmp_path_visible": os.path.exists({str(tmp_path)!r}),
    "env": dict(os.environ),
    "uid": os.getuid(),
}}
try:
    open("/sandbox/data/x", "w")
    seen["data_writable"] = True
except OSError:
    seen["data_writable"] = False
json.dump(seen, open("/sandbox/out/out.json", "w"))
"""
    result, seen = _run(code, tmp_path, forbidden=[private])
    assert result.returncode == 0, result.log
    assert seen["sandbox"] == ["data", "out"]
    assert seen["data"] == ["train_images.npy"]
    assert not seen["private_visible"] and not seen["tmp_path_visible"]
    assert not seen["data_writable"]
    assert "RAMP_SECRET_KEY" not in seen["env"] and "do-not-leak" not in json.dumps(seen["env"])
    assert seen["env"]["HOME"] == "/tmp"
    assert seen["uid"] != 0


def test_daemonized_grandchildren_die_with_the_sandbox_on_timeout(tmp_path):
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(1)
    os._exit(0)
while True:
    time.sleep(1)
"""
    limits = SandboxLimits(wall_time_s=1.5, memory_mb=600, max_processes=32)
    t0 = time.monotonic()
    result, _ = _run(code, tmp_path, limits=limits)
    assert result.timed_out
    assert time.monotonic() - t0 < 10
    assert sandbox_processes() == []


def test_should_cancel_kills_the_child(tmp_path):
    start = time.monotonic()
    result, _ = _run(
        "import time\nwhile True: time.sleep(1)",
        tmp_path,
        should_cancel=lambda: time.monotonic() - start > 1,
    )
    assert result.cancelled and not result.timed_out
    assert sandbox_processes() == []


def test_progress_lines_are_forwarded_and_garbage_ignored(tmp_path):
    got = []
    code = """
with open("/sandbox/out/out.json", "a") as f:
    f.write('{"epoch": 1, "n_epochs": 2}\\nnot json\\n{"epoch": 2, "n_epochs": 2}\\n')
"""
    result, _ = run_sandboxed_progress(code, tmp_path, got)
    assert result.returncode == 0
    assert got == [{"epoch": 1, "n_epochs": 2}, {"epoch": 2, "n_epochs": 2}]


def run_sandboxed_progress(code, tmp_path, got):
    out = tmp_path / "out.json"
    out.touch()
    result = run_sandboxed(
        [sys.executable, "-c", code],
        limits=LIMITS,
        rw_files={out: "/sandbox/out/out.json"},
        progress_file=out,
        on_progress=got.append,
    )
    return result, None


def test_unsafe_mode_needs_the_explicit_opt_in(tmp_path):
    with pytest.raises(SandboxUnavailable, match="ALLOW_UNSAFE_SANDBOX"):
        resolve_mode(sandbox="unsafe-none", allow_unsafe=False)
    assert resolve_mode(sandbox="unsafe-none", allow_unsafe=True) == "unsafe-none"
    assert resolve_mode(sandbox="bwrap", allow_unsafe=False) == "bwrap"


def test_refuses_to_expose_a_directory_holding_private_data(tmp_path):
    private = tmp_path / "events" / "spipoll" / "private"
    private.mkdir(parents=True)
    with pytest.raises(SandboxUnavailable, match="refusing to expose"):
        run_sandboxed(
            [sys.executable, "-c", "pass"],
            limits=LIMITS,
            ro_binds={tmp_path / "events": "/sandbox/data"},
            forbidden=[private],
        )
