"""The reference docs cover every setting and every ``ramp-server`` verb, and nothing stale.

When a verb or option is added, the failure message prints a Markdown skeleton to paste into
docs/cli.md (then write its prose).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ramp_server.cli import build_parser
from ramp_server.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
HEADING = re.compile(r"^#{2,4} `ramp-server ([a-z][a-z0-9 -]*?)`\s*$", re.M)
#: RAMP_* variables documented in configuration.md that are not Settings fields
NON_SETTING_VARS = {
    "RAMP_CONFIG_FILE",
    "RAMP_TEST_MODE",
    "RAMP_PROGRESS_FILE",
    "RAMP_CHECKPOINT_DIR",
}


def verb_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[str, argparse.ArgumentParser]:
    """Every verb path of the command ("data download", "user add", ...) and its parser."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[" ".join((*path, name))] = sub
                found.update(verb_parsers(sub, (*path, name)))
    return found


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """The long option of each optional argument and the name of each positional one."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            names.append(max(action.option_strings, key=len))
        else:
            names.append(str(action.metavar or action.dest).upper())
    return names


def sections(text: str) -> dict[str, str]:
    """Text of each ``ramp-server <path>`` section, up to the next such heading."""
    heads = list(HEADING.finditer(text))
    return {
        m.group(1): text[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        for i, m in enumerate(heads)
    }


def skeleton(path: str, parser: argparse.ArgumentParser) -> str:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = (
            max(action.option_strings, key=len)
            if action.option_strings
            else str(action.metavar or action.dest).upper()
        )
        default = "" if action.default in (None, False, argparse.SUPPRESS) else action.default
        rows.append(f"| `{name}` | {default} | {action.help or ''} |")
    usage = parser.format_usage().removeprefix("usage: ").strip()
    table = ["| option | default | meaning |", "|---|---|---|", *rows] if rows else []
    return "\n".join(
        [
            f"### `ramp-server {path}`",
            "",
            parser.description or "TODO: what it does.",
            "",
            "```",
            usage,
            "```",
            "",
            *table,
        ]
    )


def test_every_setting_is_documented_with_its_environment_variable():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"RAMP_{n.upper()}" for n in Settings.model_fields if f"`RAMP_{n.upper()}`" not in text
    ]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_configuration_doc_lists_no_unknown_setting():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(RAMP_[A-Z0-9_]+)`", text, re.M))
    known = {f"RAMP_{n.upper()}" for n in Settings.model_fields} | NON_SETTING_VARS
    assert rows, "docs/configuration.md has no settings table"
    assert not rows - known, f"docs/configuration.md documents unknown settings {rows - known}"


def test_every_verb_and_option_is_documented():
    documented = sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    problems, skeletons = [], []
    for path, parser in verb_parsers(build_parser()).items():
        if path not in documented:
            problems.append(f"no section for `ramp-server {path}`")
            skeletons.append(skeleton(path, parser))
            continue
        absent = [o for o in option_names(parser) if o not in documented[path]]
        if absent:
            problems.append(f"`ramp-server {path}` section lacks {absent}")
    assert not problems, (
        "docs/cli.md is out of date:\n- "
        + "\n- ".join(problems)
        + ("\n\nSkeletons to paste and complete:\n\n" + "\n\n".join(skeletons) if skeletons else "")
    )


def test_cli_doc_documents_no_removed_verb():
    documented = set(sections((DOCS / "cli.md").read_text(encoding="utf-8")))
    stale = documented - set(verb_parsers(build_parser()))
    assert not stale, f"docs/cli.md documents verbs that do not exist: {sorted(stale)}"


def test_global_options_are_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for option in option_names(build_parser()):
        assert f"`{option}" in text, f"docs/cli.md does not mention the global option {option}"
