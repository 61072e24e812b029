"""Watching a sandboxed process from outside: its output, progress file and process tree."""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any


def count_tasks_of(uid: int) -> int:
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    n += len(os.listdir(d / "task"))
            except OSError:
                continue
    return n


def tree_pids(root_pid: int) -> list[int]:
    """A process and all its descendants (scan of /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def tree_memory_kb(root_pid: int, limit_kb: int) -> int:
    """Memory of a process tree: the sum of resident sets, or of proportional sets (PSS, which
    splits pages shared after ``fork``) when the cheap sum exceeds ``limit_kb``."""
    pids = tree_pids(root_pid)
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
    if total <= limit_kb:
        return total
    pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                    break
        except (OSError, IndexError, ValueError):
            continue
    return pss


class LogCollector(threading.Thread):
    """Reads the child's merged stdout/stderr, keeping the first and last ``limit/2`` bytes."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.half = stream, max(limit // 2, 1)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            self.total += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail_len - len(self.tail[0]) >= self.half:
                    self.tail_len -= len(self.tail.popleft())

    def text(self) -> tuple[bytes, bool]:
        tail = b"".join(self.tail)
        if self.total <= len(self.head) + len(tail):
            return bytes(self.head) + tail, False
        tail = tail[-self.half :]
        skipped = self.total - len(self.head) - len(tail)
        marker = f"\n[... {skipped} bytes of output truncated by the platform ...]\n".encode()
        return bytes(self.head) + marker + tail, True


class ProgressTail:
    """Follows a JSON-lines file written by the child; ignores garbage lines."""

    def __init__(self, path: Path | None, max_bytes: int = 1 << 20) -> None:
        self.path, self.offset, self.buf, self.max_bytes = path, 0, b"", max_bytes

    def poll(self) -> list[dict[str, Any]]:
        if self.path is None or self.offset >= self.max_bytes:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(self.max_bytes - self.offset)
        except OSError:
            return []
        self.offset += len(data)
        lines = (self.buf + data).split(b"\n")
        self.buf = lines.pop()[-65536:]
        out = []
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out
