"""docker-compose.yml checked without Docker against the real code.

Every ``ramp-server`` command is parsed by the real CLI parser and every ``dask`` command by
Dask's own command line, the ``RAMP_*`` environment is built into real ``Settings``, health checks
must probe routes the servers really have, and the migration service's command is run for real on
an empty database.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ramp_server.config import Settings

from deployment_support import (
    COMPOSE_FILE,
    COMPOSE_SERVICE_KEYS,
    COMPOSE_TOP_KEYS,
    DOCKERFILE,
    REQUIRED_SERVICES,
    SAMPLE_ENV,
    SECRETS,
    WORKERS,
    MissingVariable,
    command_of,
    compose_variables,
    dockerfile_instructions,
    environment,
    interpolate,
    mounts,
    named_volumes,
    parse_dask,
    parse_public_mirror,
    parse_ramp_server,
    port_of,
    server_side,
    worker_resources,
)


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
