"""The organizers' guide (docs/deployment.md) and the README's pointer to it, against the code.

Every command it shows is parsed by the real ``ramp-server`` or Dask parser, every ``RAMP_*``
name must be a real setting, and its compose overrides and SLURM example must be valid.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from collections.abc import Iterator, Sequence

import yaml

from ramp_server.cli import build_parser
from ramp_server.config import Settings

from deployment_support import (
    COMPOSE_SERVICE_KEYS,
    DEPLOYMENT_DOC,
    NON_SETTING_VARS,
    README,
    command_of,
    compose_variables,
    environment,
    parse_dask,
    parse_ramp_server,
    port_of,
    worker_resources,
)

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
