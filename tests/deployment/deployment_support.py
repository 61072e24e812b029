"""Loaders and parsers shared by the deployment tests (imported as ``deployment_support``).

The compose file's variable interpolation, its services' environments and volumes, the
Dockerfile's instructions, and the command lines they hold parsed by the real parsers: the
``ramp-server`` CLI, Dask's ``dask scheduler|worker`` and the public mirror's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ramp_server.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"
README = REPO / "README.md"

#: what the issue asks the compose file to run
REQUIRED_SERVICES = {"db", "migrate", "web", "dispatcher", "scheduler", "cpu-worker", "gpu-worker"}
WORKERS = ("cpu-worker", "gpu-worker")
#: the secrets compose must refuse to start without
SECRETS = {"POSTGRES_PASSWORD", "RAMP_SECRET_KEY"}
#: values given to the secrets when the tests interpolate the compose file
SAMPLE_ENV = {"POSTGRES_PASSWORD": "sample-db_Passw0rd", "RAMP_SECRET_KEY": "sample-" + "k" * 48}
#: RAMP_* names that are not Settings fields but may appear in the docs
NON_SETTING_VARS = {"RAMP_CONFIG_FILE"}
#: service attributes of the Compose specification this project may use (catches typos such as
#: "healtcheck", which compose would refuse)
COMPOSE_SERVICE_KEYS = {
    "build", "cap_add", "cap_drop", "command", "configs", "container_name", "cpus", "cpuset",
    "depends_on", "deploy", "devices", "entrypoint", "env_file", "environment", "expose",
    "extra_hosts", "gpus", "healthcheck", "hostname", "image", "init", "labels", "logging",
    "mem_limit", "network_mode", "networks", "pids_limit", "platform", "ports", "privileged",
    "profiles", "pull_policy", "read_only", "restart", "runtime", "secrets", "security_opt",
    "shm_size", "stop_grace_period", "stop_signal", "sysctls", "tmpfs", "ulimits", "user",
    "volumes", "working_dir",
}  # fmt: skip
COMPOSE_TOP_KEYS = {"name", "services", "volumes", "networks", "secrets", "configs", "include"}

# -- compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err} ----

VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is not set: compose refuses to run."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with compose's variable references replaced from ``env``."""

    def replace(m: re.Match[str]) -> str:
        name, op, arg = m.group("name"), m.group("op") or "", m.group("arg") or ""
        value = env.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("?"):
            if unset:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op.endswith("-"):
            return arg if unset else value
        return value or ""

    return VARIABLE.sub(replace, text)


def compose_variables(text: str) -> dict[str, str]:
    """Every variable the compose file reads, with its operator (``:?``, ``:-`` or none)."""
    return {m.group("name"): m.group("op") or "" for m in VARIABLE.finditer(text)}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def server_side(services: dict[str, dict]) -> dict[str, dict]:
    """The services that use the database (their environment names it)."""
    return {n: s for n, s in services.items() if "RAMP_DATABASE_URL" in environment(s)}


def mounts(service: dict) -> list[tuple[str, str, bool]]:
    """``(source, target, read_only)`` of each short-syntax volume of ``service``."""
    out = []
    for spec in service.get("volumes") or []:
        assert isinstance(spec, str), f"use the short volume syntax (SOURCE:TARGET[:ro]): {spec}"
        source, target, *mode = spec.split(":")
        out.append((source, target, mode == ["ro"]))
    return out


def named_volumes(service: dict) -> set[str]:
    return {s for s, _, _ in mounts(service) if not s.startswith(("/", ".", "~"))}


def port_of(address: str) -> int:
    """The port of ``tcp://host:port``, ``host:port`` or ``:port``."""
    return int(address.rsplit(":", 1)[1])


# -- the real command lines ---------------------------------------------------------------------


def parse_ramp_server(argv: Sequence[str], *, where: str) -> argparse.Namespace:
    """``argv`` (after ``ramp-server``) parsed by the real CLI parser, without running it."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(list(argv))
    except SystemExit:
        pytest.fail(f"{where}: `ramp-server {shlex.join(argv)}` does not parse: {err.getvalue()}")
    assert getattr(args, "func", None) is not None, (
        f"{where}: `ramp-server {shlex.join(argv)}` names no command"
    )
    return args


def parse_dask(argv: Sequence[str], *, where: str) -> dict:
    """``dask scheduler|worker ...`` parsed by Dask's own command line (click), not run."""
    import click
    from distributed.cli import dask_scheduler, dask_worker

    commands = {"scheduler": dask_scheduler.main, "worker": dask_worker.main}
    assert argv and argv[0] in commands, f"{where}: `dask {shlex.join(argv)}`: unknown command"
    try:
        ctx = commands[argv[0]].make_context(f"dask {argv[0]}", list(argv[1:]))
    except click.ClickException as exc:
        pytest.fail(f"{where}: `dask {shlex.join(argv)}` does not parse: {exc.format_message()}")
    return {"command": argv[0], **ctx.params}


def worker_resources(params: dict) -> dict[str, float]:
    """The ``--resources`` of a parsed ``dask worker``, as the worker reads them."""
    text = params.get("resources") or ""
    return {k: float(v) for k, v in (p.split("=") for p in text.replace(",", " ").split())}


def parse_public_mirror(argv: Sequence[str], *, where: str) -> argparse.Namespace:
    from ramp_server.engine.public_mirror import build_parser as mirror_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return mirror_parser().parse_args(list(argv))
    except SystemExit:
        pytest.fail(f"{where}: public mirror arguments {argv} do not parse: {err.getvalue()}")


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    assert isinstance(command, list), f"write commands as lists (no shell): {command!r}"
    return [str(c) for c in command]


def dockerfile_instructions() -> dict[str, list[str]]:
    """Instruction → its arguments, in order (continuation lines joined, comments dropped)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found: dict[str, list[str]] = {}
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            found.setdefault(instruction.upper(), []).append(rest.strip())
    return found
