"""The deployed shape, checked without Docker: docker-compose.yml, the Dockerfile, .dockerignore
and the organizers' guide (docs/deployment.md) against the real code.

Every ``ramp-server`` command they hold is parsed by the real argparse parser, every ``dask``
command by Dask's own command line, every ``RAMP_*`` variable is built into real ``Settings``,
health checks must probe routes the servers really have, and the migration service's command is
run for real on an empty database.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from ramp_server.cli import build_parser
from ramp_server.config import Settings

REPO = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    """The compose file as compose sees it with the secrets set and nothing else."""
    data = yaml.safe_load(interpolate(compose_text, SAMPLE_ENV))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        f"{COMPOSE_FILE}: no 'services' mapping"
    )
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


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


# -- the compose file ---------------------------------------------------------------------------


def test_compose_defines_the_services_of_the_deployed_shape(services):
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"{COMPOSE_FILE}: services {sorted(missing)} are missing"


def test_compose_uses_only_attributes_of_the_compose_specification(compose):
    unknown_top = {k for k in compose if k not in COMPOSE_TOP_KEYS and not k.startswith("x-")}
    assert not unknown_top, f"{COMPOSE_FILE}: unknown top-level keys {sorted(unknown_top)}"
    for name, service in compose["services"].items():
        unknown = {k for k in service if k not in COMPOSE_SERVICE_KEYS and not k.startswith("x-")}
        assert not unknown, f"{COMPOSE_FILE}: service {name} has unknown keys {sorted(unknown)}"


def test_compose_refuses_to_start_without_the_two_secrets(compose_text):
    variables = compose_variables(compose_text)
    required = {name for name, op in variables.items() if op.endswith("?")}
    assert required == SECRETS, f"{COMPOSE_FILE}: required variables are {sorted(required)}"
    without_defaults = {name for name, op in variables.items() if op == ""}
    assert not without_defaults, f"give {sorted(without_defaults)} a default (${{VAR:-value}})"
    for secret in SECRETS:
        env = {k: v for k, v in SAMPLE_ENV.items() if k != secret}
        with pytest.raises(MissingVariable, match=secret):
            interpolate(compose_text, env)


def test_database_password_comes_from_the_environment_and_matches_the_database_url(services):
    from sqlalchemy.engine import make_url

    db = environment(services["db"])
    assert db["POSTGRES_PASSWORD"] == SAMPLE_ENV["POSTGRES_PASSWORD"]
    for name, service in server_side(services).items():
        url = make_url(environment(service)["RAMP_DATABASE_URL"])
        assert url.password == SAMPLE_ENV["POSTGRES_PASSWORD"], f"{name}: hard-coded password"
        assert url.get_backend_name() == "postgresql" and url.drivername.endswith("psycopg")
        assert (url.username, url.database) == (db["POSTGRES_USER"], db["POSTGRES_DB"]), name
        assert url.host in services and (url.port or 5432) == 5432, name
        assert environment(service)["RAMP_SECRET_KEY"] == SAMPLE_ENV["RAMP_SECRET_KEY"], name


def test_server_side_environment_builds_valid_settings(services):
    fields = set(Settings.model_fields)
    assert {"migrate", "web", "dispatcher"} <= set(server_side(services))
    for name, service in server_side(services).items():
        env = environment(service)
        unknown = {k for k in env if k.startswith("RAMP_") and k[5:].lower() not in fields}
        assert not unknown, f"{COMPOSE_FILE}: {name} sets {sorted(unknown)}: not settings"
        settings = Settings(**{k[5:].lower(): v for k, v in env.items() if k.startswith("RAMP_")})
        assert settings.env == "production", f"{name}: RAMP_ENV must be production"
        targets = {t for s, t, _ in mounts(service) if s == "storage"}
        assert targets == {str(settings.storage_dir)}, (
            f"{name}: the storage volume must be mounted at RAMP_STORAGE_DIR"
        )


def test_every_ramp_server_command_in_compose_and_the_dockerfile_parses_with_the_cli(services):
    found = 0
    for name, service in services.items():
        command = command_of(service) if "command" in service else []
        if command[:1] == ["ramp-server"]:
            parse_ramp_server(command[1:], where=f"{COMPOSE_FILE.name}: {name}")
            found += 1
    cmd = json.loads(dockerfile_instructions()["CMD"][-1])
    assert cmd[0] == "ramp-server", f"{DOCKERFILE}: CMD should run ramp-server: {cmd}"
    parse_ramp_server(cmd[1:], where=f"{DOCKERFILE.name}: CMD")
    assert found >= 4  # migrate, web, dispatcher, cli


def test_every_dask_and_mirror_command_in_compose_parses(services):
    for name, service in services.items():
        command = command_of(service) if "command" in service else []
        if command[:1] == ["dask"]:
            parse_dask(command[1:], where=f"{COMPOSE_FILE.name}: {name}")
        elif command[:3] == ["python", "-m", "ramp_server.engine.public_mirror"]:
            parse_public_mirror(command[3:], where=f"{COMPOSE_FILE.name}: {name}")


def test_the_migration_runs_ramp_server_init_before_every_database_service(services):
    migrate = services["migrate"]
    args = parse_ramp_server(command_of(migrate)[1:], where="migrate")
    assert args.command == "init", "the migration service must run `ramp-server init`"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name, service in server_side(services).items():
        if name == "migrate":
            continue
        deps = service.get("depends_on") or {}
        assert deps.get("migrate", {}).get("condition") == "service_completed_successfully", (
            f"{name} must start after the migration succeeded"
        )
        assert deps.get("db", {}).get("condition") == "service_healthy", name


def test_the_migration_command_brings_an_empty_database_to_the_newest_schema(services, tmp_path):
    """The exact compose command, on an empty SQLite database: Alembic upgrade to head."""
    from ramp_server.db.engine import make_engine
    from ramp_server.db.migrate import current_revision, head_revision

    command = command_of(services["migrate"])
    executable = Path(sys.executable).with_name(command[0])
    assert executable.is_file(), f"{executable} missing: is the package installed in this venv?"
    db_url = f"sqlite:///{tmp_path / 'ramp.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMP_")}
    env.update(environment(services["migrate"]))
    env.update(RAMP_DATABASE_URL=db_url, RAMP_STORAGE_DIR=str(tmp_path / "storage"))

    def run() -> str:
        done = subprocess.run(
            [str(executable), *command[1:]], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    head = head_revision()
    assert f"database created at revision {head}" in run()
    engine = make_engine(url=db_url)
    try:
        assert current_revision(engine) == head
    finally:
        engine.dispose()
    assert f"database up to date at revision {head}" in run()  # every `up` runs it again
    assert (tmp_path / "storage" / "events").is_dir()


def health_url(service: dict, *, where: str) -> str:
    """The URL a ``python -c "...urlopen('URL'...)"`` health check probes."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], f"{where}: health check {test}"
    code = test[3]
    compile(code, f"<{where} health check>", "exec")  # valid Python
    match = re.search(r"urlopen\('([^']+)'", code)
    assert match, f"{where}: the health check opens no URL: {code}"
    return match.group(1)


def test_health_checks_probe_real_endpoints_on_the_ports_the_services_listen_on(services, tmp_path):
    import dask.config
    from fastapi.testclient import TestClient

    from ramp_server.config import load_settings
    from ramp_server.web.app import create_app

    db_test = services["db"]["healthcheck"]["test"]
    env = environment(services["db"])
    assert "pg_isready" in db_test[-1] and f"-U {env['POSTGRES_USER']}" in db_test[-1]

    web = services["web"]
    url = urlsplit(health_url(web, where="web"))
    args = parse_ramp_server(command_of(web)[1:], where="web")
    assert url.port == args.port, "web: the health check must probe the port `serve` uses"
    app = create_app(load_settings(storage_dir=tmp_path))
    try:
        with TestClient(app) as client:  # the real app answers the probe on its own database
            assert client.get(url.path).status_code == 200, f"web: {url.path} is not healthy"
    finally:
        app.state.engine.dispose()

    from distributed.http import health

    health_paths = {path for path, *_ in health.routes}
    for name, role in [("scheduler", "scheduler"), *[(w, "worker") for w in WORKERS]]:
        url = urlsplit(health_url(services[name], where=name))
        params = parse_dask(command_of(services[name])[1:], where=name)
        assert url.port == port_of(params["dashboard_address"]), (
            f"{name}: the health check must probe the --dashboard-address port"
        )
        assert "distributed.http.health" in dask.config.get(f"distributed.{role}.http.routes")
        assert url.path in health_paths, f"{name}: Dask serves no {url.path}"


def test_dependencies_wait_for_health_or_for_a_finished_one_shot(services):
    for name, service in services.items():
        for target, dep in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = dep["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no health check"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is not a one-shot"
            if not service.get("profiles"):
                assert not services[target].get("profiles"), (
                    f"{name} starts by default but depends on {target}, which is in a profile"
                )


def test_long_running_services_restart_and_one_shots_do_not(services):
    one_shots = {"migrate", "cli"}
    for name, service in services.items():
        expected = {"no"} if name in one_shots else {"unless-stopped", "always"}
        assert service.get("restart") in expected, f"{name}: restart {service.get('restart')}"


def test_gpu_worker_reserves_one_nvidia_gpu_advertises_gpu_1_and_gets_cuda_torch(services):
    gpu = services["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    params = parse_dask(command_of(gpu)[1:], where="gpu-worker")
    assert worker_resources(params) == {"GPU": 1.0}, (
        "gpu-worker must advertise `--resources GPU=1`: GPU events' folds request {'GPU': 1}"
    )
    assert params["nthreads"] == 1, "gpu-worker: one fold at a time on the GPU (--nthreads 1)"
    torch_index = gpu["build"]["args"]["TORCH_INDEX"]
    assert "/cpu" not in torch_index, f"the GPU image must not get CPU torch ({torch_index})"
    assert gpu["image"] != services["cpu-worker"]["image"], "the CUDA build needs its own tag"


def test_cpu_worker_starts_by_default_without_gpu(services):
    cpu = services["cpu-worker"]
    assert not cpu.get("profiles") and "deploy" not in cpu
    params = parse_dask(command_of(cpu)[1:], where="cpu-worker")
    assert worker_resources(params) == {}
    assert params["nthreads"] >= 1


def test_workers_see_no_secret_and_only_the_public_bundles(services):
    server_env = environment(services["dispatcher"])
    storage_dir = server_env["RAMP_STORAGE_DIR"]
    mirror = services["public-mirror"]
    mirror_args = parse_public_mirror(command_of(mirror)[3:], where="public-mirror")
    assert ("storage", str(mirror_args.storage_dir), True) in mounts(mirror), (
        "public-mirror must read the storage read-only at its --storage-dir"
    )
    public_volumes = {s for s, t, ro in mounts(mirror) if t == str(mirror_args.to) and not ro}
    assert len(public_volumes) == 1, "public-mirror must write one volume at its --to"
    (public,) = public_volumes
    for name in (*WORKERS, "scheduler"):
        service = services[name]
        assert not environment(service), f"{name} must get no setting, secret or database URL"
        assert "storage" not in named_volumes(service), f"{name} must not mount the storage"
    for name in WORKERS:
        assert mounts(services[name]) == [(public, storage_dir, True)], (
            f"{name}: mount only the public bundles ({public}), read-only, at {storage_dir}"
        )
    storage_users = {n for n, s in services.items() if "storage" in named_volumes(s)}
    assert storage_users == {*server_side(services), "public-mirror"}, storage_users


def test_exactly_one_dispatcher_runs_and_reaches_the_scheduler_the_workers_use(services):
    dispatchers = [
        n
        for n, s in services.items()
        if "command" in s and command_of(s)[:2] == ["ramp-server", "dispatch"]
    ]
    assert dispatchers == ["dispatcher"], f"one dispatcher per database, found {dispatchers}"
    web = services["web"]
    assert parse_ramp_server(command_of(web)[1:], where="web").no_dispatcher
    web_env = environment(web)
    ramp = {k[5:].lower(): v for k, v in web_env.items() if k.startswith("RAMP_")}
    assert not Settings(**ramp).embedded_dispatcher
    address = environment(services["dispatcher"])["RAMP_SCHEDULER_ADDRESS"]
    scheduler = parse_dask(command_of(services["scheduler"])[1:], where="scheduler")
    assert address == f"tcp://scheduler:{scheduler['port']}"
    for name in WORKERS:
        assert parse_dask(command_of(services[name])[1:], where=name)["scheduler"] == address


def test_services_that_run_bubblewrap_may_create_namespaces_and_no_other(services):
    for name in WORKERS:
        service = services[name]
        assert "SYS_ADMIN" in service.get("cap_add", []), name
        assert {"apparmor=unconfined", "seccomp=unconfined"} <= set(service["security_opt"]), name
    # the dispatcher holds the database password and the test labels: no capability at all
    for name in ("db", "migrate", "web", "dispatcher", "scheduler", "public-mirror", "cli"):
        assert not services[name].get("cap_add") and not services[name].get("privileged"), name


def test_every_named_volume_is_declared_and_used(compose):
    declared = set(compose.get("volumes") or {})
    used = set().union(*(named_volumes(s) for s in compose["services"].values()))
    assert used <= declared, f"undeclared volumes {sorted(used - declared)}"
    assert declared <= used, f"unused volumes {sorted(declared - used)}"
    assert {"pgdata", "storage", "public", "kitdata"} <= declared


def test_published_ports_stay_on_loopback_unless_told_otherwise(services):
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


# -- the Dockerfile and .dockerignore -----------------------------------------------------------


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


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether ``docker build`` leaves ``path`` (or a folder above it) out of the context."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(p, pat) for p in prefixes):  # patterns start at the root
            verdict = not negate
    return verdict


def test_dockerfile_copies_only_files_that_exist_and_are_sent_to_the_build(services):
    patterns = dockerignore_patterns()
    copies = dockerfile_instructions()["COPY"]
    assert copies, f"{DOCKERFILE}: no COPY"
    for copy in copies:
        args = [a for a in shlex.split(copy) if not a.startswith("--")]
        for source in args[:-1]:
            assert (REPO / source).exists(), f"{DOCKERFILE}: COPY {source}: no such file"
            assert not ignored(source, patterns), f"{DOCKERIGNORE} excludes COPY source {source}"
    for service in services.values():
        if isinstance(service.get("build"), dict):
            assert service["build"]["context"] == "."


def test_dockerfile_installs_the_pinned_cpu_torch_by_default_and_no_torchvision():
    instructions = dockerfile_instructions()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch=="))
    assert pin == "torch==2.13.0"
    runs = " ".join(instructions["RUN"])
    assert pin in runs, f"{DOCKERFILE}: torch is not installed as {pin}"
    args = dict(a.split("=", 1) for a in instructions["ARG"] if "=" in a)
    assert args["TORCH_INDEX"].endswith("/whl/cpu"), "the default image gets CPU torch"
    assert '--index-url "$TORCH_INDEX"' in runs
    every_argument = " ".join(a for args in instructions.values() for a in args)
    assert "torchvision" not in every_argument, f"{DOCKERFILE}: torchvision is not used"


def test_dockerfile_installs_bubblewrap_the_server_extra_and_sets_the_storage_dir(services):
    instructions = dockerfile_instructions()
    runs = " ".join(instructions["RUN"])
    assert "bubblewrap" in runs and "'.[server]'" in runs
    env = " ".join(instructions["ENV"])
    storage = environment(services["web"])["RAMP_STORAGE_DIR"]
    assert f"RAMP_STORAGE_DIR={storage}" in env
    for name in re.findall(r"\b(RAMP_[A-Z0-9_]+)=", env):
        assert name[5:].lower() in Settings.model_fields, f"{DOCKERFILE}: ENV {name}"


def test_dockerignore_keeps_environments_data_secrets_and_results_out_of_the_image():
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", "data/imgs/x.jpg", "var/ramp.sqlite3", ".git/HEAD",
                 "bench/results/x.json", ".env", "ramp_server/__pycache__/x.pyc",
                 "submissions/starting_kit/training_output/fold_0/y.npy"):  # fmt: skip
        assert ignored(path, patterns), f"{DOCKERIGNORE} lets {path} into the build context"
    for path in ("ramp_server/cli/__init__.py", "problem.py", "pyproject.toml", "README.md",
                 "submissions/starting_kit/batch_classifier.py"):  # fmt: skip
        assert not ignored(path, patterns), f"{DOCKERIGNORE} excludes {path}, which is needed"


# -- the organizers' guide ----------------------------------------------------------------------

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.M | re.S)
STOP_TOKENS = {"&&", "||", ";", "|", ">", ">>", "<", "2>"}


def code_blocks(text: str, *langs: str) -> list[str]:
    return [m.group("body") for m in FENCE.finditer(text) if m.group("lang") in langs]


def shell_commands(text: str) -> Iterator[list[str]]:
    """Each shell line of the ``sh``/``bash`` (or unmarked) code blocks, as tokens."""
    for block in code_blocks(text, "sh", "bash", ""):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens:
                yield tokens


def inline_commands(text: str) -> Iterator[list[str]]:
    """Inline code of the prose that shows a command (a program and something after it)."""
    for span in re.findall(r"`([^`\n]+)`", FENCE.sub("", text)):
        tokens = shlex.split(span)
        if len(tokens) > 1 and "…" not in span:  # an ellipsis marks a command shown in part
            yield tokens


def check_verb_mention(argv: Sequence[str], *, where: str) -> None:
    """``argv`` (after ``ramp-server``) names a real command and only options it has; its
    required arguments may be left out (prose names a verb: "`ramp-server event add`")."""
    parser = build_parser()
    for token in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if token.startswith("-"):
            options = {o for a in parser._actions for o in a.option_strings}
            assert token.split("=", 1)[0] in options, f"{where}: `{token}`: no such option"
        elif subparsers and token in subparsers[0].choices:
            parser = subparsers[0].choices[token]
        else:
            assert not subparsers, f"{where}: `{token}` is not a ramp-server command"
    assert parser.get_default("func") is not None, f"{where}: names no complete command"


def commands_after(tokens: list[str], *head: str) -> Iterator[list[str]]:
    """The arguments following each occurrence of ``head`` in ``tokens``, up to ``&&``, ``|``."""
    for i in range(len(tokens) - len(head) + 1):
        if tuple(tokens[i : i + len(head)]) == head:
            rest = tokens[i + len(head) :]
            cut = next((j for j, t in enumerate(rest) if t in STOP_TOKENS), len(rest))
            yield rest[:cut]


@pytest.fixture(scope="module")
def guide() -> str:
    assert DEPLOYMENT_DOC.is_file(), f"{DEPLOYMENT_DOC} is missing"
    return DEPLOYMENT_DOC.read_text(encoding="utf-8")


def readme_deploying_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Deploying \(organizers\)\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, f"{README} has no '## Deploying (organizers)' section"
    return match.group(1)


def test_readme_points_organizers_to_the_deployment_guide():
    section = readme_deploying_section()
    assert "docs/deployment.md" in section and "docker compose" in section


def test_deployment_guide_presents_every_compose_service(guide, services):
    absent = [name for name in services if f"`{name}`" not in guide]
    assert not absent, f"{DEPLOYMENT_DOC} does not present the services {absent}"


def test_every_ramp_server_and_dask_command_of_the_guide_parses(guide):
    shown: set[str] = set()
    n_gpu_workers = 0
    for source, text in ((DEPLOYMENT_DOC.name, guide), ("README", readme_deploying_section())):
        for tokens in shell_commands(text):
            where = f"{source}: {shlex.join(tokens)}"
            for argv in commands_after(tokens, "ramp-server"):
                args = parse_ramp_server(argv, where=where)
                action = getattr(args, f"{args.command}_command", None)
                shown.add(" ".join(filter(None, [args.command, action])))
                if (args.command, action) == ("user", "add"):
                    assert args.admin, f"{where}: the first user must be an administrator"
            for argv in commands_after(tokens, "dask"):
                params = parse_dask(argv, where=where)
                if params["command"] == "worker":
                    # the guide's shell commands start GPU workers: one fold at a time per GPU
                    assert worker_resources(params) == {"GPU": 1.0}, where
                    assert params["nthreads"] == 1, where
                    n_gpu_workers += 1
    # the path of a first deployment: data, the first admin, the first event
    assert {"data download", "user add", "event add"} <= shown, sorted(shown)
    assert n_gpu_workers >= 2  # in Docker and without


def test_commands_named_in_the_guide_prose_are_real(guide):
    found = 0
    for tokens in inline_commands(guide):
        where = f"{DEPLOYMENT_DOC.name}: `{shlex.join(tokens)}`"
        for argv in commands_after(tokens, "ramp-server"):
            check_verb_mention(argv, where=where)
            found += 1
        for argv in commands_after(tokens, "dask"):
            parse_dask(argv, where=where)
            found += 1
    assert found >= 5


def test_guide_names_only_real_settings_and_every_compose_variable(guide, compose_text):
    fields = {f"RAMP_{n.upper()}" for n in Settings.model_fields}
    unknown = set(re.findall(r"\bRAMP_[A-Z0-9_]+", guide)) - fields - NON_SETTING_VARS
    assert not unknown, f"{DEPLOYMENT_DOC} names unknown settings {sorted(unknown)}"
    table = set(re.findall(r"^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)?", guide, re.M))
    documented = {name for row in table for name in row if name}
    missing = set(compose_variables(compose_text)) - documented
    assert not missing, f"{DEPLOYMENT_DOC}: the variables table lacks {sorted(missing)}"


def test_guide_compose_overrides_name_real_services_settings_and_commands(guide, services):
    blocks = code_blocks(guide, "yaml")
    assert blocks, f"{DEPLOYMENT_DOC}: no docker-compose.override.yml example"
    for block in blocks:
        override = yaml.safe_load(block)
        for name, service in override["services"].items():
            assert name in services, f"{DEPLOYMENT_DOC}: override of unknown service {name}"
            unknown = {k for k in service if k not in COMPOSE_SERVICE_KEYS}
            assert not unknown, f"{DEPLOYMENT_DOC}: {name}: unknown keys {unknown}"
            if "environment" in service:
                merged = {**environment(services[name]), **environment(service)}
                Settings(**{k[5:].lower(): v for k, v in merged.items() if k.startswith("RAMP_")})
            if "command" in service and command_of(service)[0] == "dask":
                parse_dask(command_of(service)[1:], where=f"{DEPLOYMENT_DOC.name}: {name}")


def test_slurm_example_is_python_whose_jobs_each_train_one_fold_on_one_gpu(guide):
    sources = [b for b in code_blocks(guide, "python") if "SLURMCluster" in b]
    assert len(sources) == 1, f"{DEPLOYMENT_DOC}: expected one SLURMCluster example"
    tree = ast.parse(sources[0], filename="deployment.md (SLURM example)")
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "SLURMCluster"
    )
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert kwargs["cores"] // kwargs["processes"] == 1, "one worker thread per job"
    assert "--gres=gpu:1" in kwargs["job_extra_directives"]
    params = parse_dask(
        ["worker", "tcp://login1:8786", *kwargs["worker_extra_args"]], where="SLURM example"
    )
    assert worker_resources(params) == {"GPU": 1.0}
    methods = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call)
               if isinstance(n.func, ast.Attribute)}  # fmt: skip
    assert "scale" in methods and "adapt" not in methods, (
        "with no worker the dispatcher submits nothing, so an adaptive cluster never grows"
    )
    addresses = re.findall(r"RAMP_SCHEDULER_ADDRESS=(tcp://[\w.-]+:\d+)", guide)
    assert addresses, f"{DEPLOYMENT_DOC}: the SLURM section must set RAMP_SCHEDULER_ADDRESS"
    assert {port_of(a) for a in addresses} == {kwargs["scheduler_options"]["port"]}
