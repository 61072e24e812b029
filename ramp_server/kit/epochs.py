"""Copies of a submission with fewer training epochs (the demo profile, the model ladder's quick runs).

The copy differs from the original only on its ``N_EPOCHS = ...`` line, which says what it
was, so anyone browsing the code sees the change; ``transform`` and everything else is the
participant's code byte for byte.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

#: module-level integer constants scaled in a copy
SCALED_CONSTANTS = ("N_EPOCHS",)
_PATTERN = re.compile(rf"^({'|'.join(SCALED_CONSTANTS)})\s*=\s*(\d+)[^\n]*$", re.M)


def scaled_copy(
    src: str | Path,
    dst: str | Path,
    *,
    scale: float | None = None,
    epochs: int | None = None,
    reason: str = "scaled",
    min_epochs: int = 1,
) -> dict[str, tuple[int, int]]:
    """Copy the submission folder ``src`` to ``dst`` with its epochs multiplied by ``scale``
    (or set to ``epochs``, if fewer than the original's).

    Returns ``{constant: (old, new)}`` for each changed constant. At least ``min_epochs`` are
    kept (or the original number, if smaller), so short trainings are not cut further.
    ``dst`` is replaced if it exists. ``reason`` goes in the comment of the changed line.
    """
    if (scale is None) == (epochs is None):
        raise ValueError("give either scale or epochs")
    if scale is not None and not 0 < scale <= 1e6:
        raise ValueError(f"scale must be positive, got {scale}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be 1 or more, got {epochs}")
    src, dst = Path(src), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("training_output", "__pycache__"))
    changes: dict[str, tuple[int, int]] = {}
    if scale == 1.0:
        return changes
    for path in sorted(dst.glob("*.py")):
        text = path.read_text(encoding="utf-8")

        def repl(match: re.Match) -> str:
            old = int(match.group(2))
            if epochs is not None:
                new = min(old, epochs)
            else:
                new = max(min(old, min_epochs), round(old * scale), 1)
            if new == old:
                return match.group(0)
            changes[match.group(1)] = (old, new)
            return f"{match.group(1)} = {new}  # {reason}: {old} in the original submission"

        path.write_text(_PATTERN.sub(repl, text), encoding="utf-8")
    return changes


def variant_copy(
    src: str | Path,
    dst: str | Path,
    *,
    constants: dict[str, int | float],
    reason: str,
    reasons: dict[str, str] | None = None,
    files: dict[str, str | Path] | None = None,
) -> dict[str, tuple[str, str]]:
    """Copy the submission folder ``src`` to ``dst`` with module-level constants set to other
    numbers (``{"N_EPOCHS": 10, "CROP_FRACTION": 0.8}``): a participant's variant of it.

    Each changed line keeps the old value in its comment (``# {reason}: … in the original``), so
    the code pages show what differs (``reasons`` gives some constants another reason). Returns ``{constant: (old text, new text)}``. A constant
    that no ``*.py`` file of ``src`` defines as a plain number is an error (ValueError naming it).
    ``files`` replaces files of the copy by others before the constants are changed
    (``{"image_preprocessor.py": "submissions/centre_crop/image_preprocessor.py"}``: another
    submission's inputs). ``dst`` is replaced if it exists.
    """
    src, dst = Path(src), Path(dst)
    names = "|".join(map(re.escape, constants)) or "(?!)"
    pattern = re.compile(rf"^({names})\s*=\s*([-+.\w]+)[^\n]*$", re.M)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("training_output", "__pycache__"))
    for name, other in (files or {}).items():
        shutil.copyfile(other, dst / name)
    changes: dict[str, tuple[str, str]] = {}
    for path in sorted(dst.glob("*.py")):
        text = path.read_text(encoding="utf-8")

        def repl(match: re.Match) -> str:
            name, old = match.group(1), match.group(2)
            new = repr(constants[name])
            changes[name] = (old, new)
            why = (reasons or {}).get(name, reason)
            return f"{name} = {new}  # {why}: {old} in the original submission"

        path.write_text(pattern.sub(repl, text), encoding="utf-8")
    missing = sorted(set(constants) - set(changes))
    if missing:
        shutil.rmtree(dst)
        raise ValueError(
            f"{src}: no module-level numeric constant {', '.join(missing)} to change "
            "(a variant changes only lines like `NAME = 12`)"
        )
    return changes
