"""The layering rules of docs/architecture.md, checked on the package's imports (read with ast).

- the services own the database: outside ``services/`` and ``db/`` no module builds a query
  (``sqlalchemy``'s ``select``/``update``/``insert``/``delete``/``func``), except the health
  check's ``SELECT 1``;
- the blender is pure computation: ``blending/`` imports nothing of the server;
- no web route imports another route; no import circles anywhere in the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ramp_test_plugin import REPO_ROOT

PACKAGE = REPO_ROOT / "ramp_server"
QUERY_NAMES = {"select", "update", "insert", "delete", "func", "text", "and_", "or_"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(REPO_ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """``(module imported, names taken from it)`` for every import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


def _internal_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, names in _imports(name, path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in modules and candidate != name:
                    graph[name].add(candidate)
                    break
    return graph


def test_only_the_services_and_db_build_queries():
    offenders = []
    for name, path in _modules().items():
        if name.startswith(("ramp_server.services", "ramp_server.db")):
            continue
        for target, names in _imports(name, path):
            if target.startswith("sqlalchemy") and QUERY_NAMES & set(names):
                if name == "ramp_server.web.routes.health" and set(names) == {"text"}:
                    continue  # the connectivity probe, not a query with a purpose
                offenders.append(f"{name} imports {sorted(QUERY_NAMES & set(names))}")
    assert offenders == []


def test_the_blender_imports_nothing_of_the_server():
    server = ("services", "db", "web", "engine", "config", "cli", "storage")
    offenders = [
        f"{name} -> {target}"
        for name, path in _modules().items()
        if name.startswith("ramp_server.blending")
        for target, _ in _imports(name, path)
        if target.startswith(tuple(f"ramp_server.{s}" for s in server))
    ]
    assert offenders == []


def test_no_route_imports_another_route():
    graph = _internal_graph()
    routes = "ramp_server.web.routes."
    offenders = [
        f"{a} -> {b}"
        for a, targets in graph.items()
        if a.startswith(routes)
        for b in targets
        if b.startswith(routes)
    ]
    assert offenders == []


def test_the_package_has_no_import_circles():
    graph = _internal_graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert circles == []
