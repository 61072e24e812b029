"""An event's kit folder: this repository's ``problem.py`` and starting kit, beside a ``data/``.

``ramp-server event add --kit DIR`` reads such a folder. The demo, the test fixtures and the
benches make theirs with :func:`write_kit_folder`, then put their data beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: the repository root (a source checkout: problem.py, submissions/)
REPO_ROOT = Path(__file__).resolve().parents[2]


def write_kit_folder(dest: str | os.PathLike, *, source: str | os.PathLike = REPO_ROOT) -> Path:
    """Copy ``problem.py`` and ``submissions/starting_kit`` of ``source`` into ``dest``
    (created, or refreshed in place); returns ``dest``. ``data/`` is the caller's."""
    src, root = Path(source), Path(dest)
    (root / "submissions").mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "problem.py", root / "problem.py")
    shutil.copytree(
        src / "submissions" / "starting_kit",
        root / "submissions" / "starting_kit",
        ignore=shutil.ignore_patterns("training_output", "__pycache__"),
        dirs_exist_ok=True,
    )
    return root
