"""The Dockerfile and .dockerignore: what the image copies, installs and leaves out."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path

from ramp_server.config import Settings

from deployment_support import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPO,
    dockerfile_instructions,
    environment,
)


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
