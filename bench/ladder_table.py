"""The model ladder's table, rebuilt from whatever pieces exist, beside the 2015 event's figures.

Per model: accuracy (validation and test), NLL and balanced accuracy on the test set, its
contributivity in the hybrid model, the 2015 counterpart's figures, the epochs run, the training
time and where it ran. The majority class and the hybrid model (the project's blender over the
folds every finished model has) frame them. Unfinished models get a row that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ladder_pieces import Piece

#: the ladder's order, cheapest first; the two Heuritech CNNs last (their rotations quadruple
#: the images of every epoch; on a shared 2-core CPU they are the longest pieces)
LADDER_ORDER = (
    "starting_kit",
    "colour_features",
    "centre_crop",
    "small_resnet",
    "heuritech_cnn",
    "cnn_no_dropout",
)
MAJORITY = "majority class (prior)"
HYBRID = "hybrid model (blend)"
#: the 2015 event's published figures (Heuritech's account, /work/shared/docs): (acc, contrib.)
SEED_2015 = {
    MAJORITY: ('≈0.29 ("~0.3")', ""),
    "starting_kit": ("0.31 (starting models)", ""),
    "colour_features": ("— (other approaches: 0.68, 0.66, 0.65)", "15 %, 17 %, 10 %"),
    "centre_crop": ("— (reference net on crops; no figure)", ""),
    "heuritech_cnn": ("**0.71** (best)", "30 %"),
    "cnn_no_dropout": ("0.68 (before dropout)", "37 % → 2 %"),
    "small_resnet": ("— (the account's suggestions)", ""),
    HYBRID: ("above the best (no figure)", "100 %"),
}
BEGIN = "<!-- model-ladder:begin (written by bench/model_ladder.py --collect) -->"
END = "<!-- model-ladder:end -->"


@dataclass
class Table:
    """The rows (dicts of column → value) and what the caption needs."""

    rows: list[dict] = field(default_factory=list)
    folds: list[int] = field(default_factory=list)
    nested_valid: float | None = None
    n_train: int = 0
    n_test: int = 0
    notes: list[str] = field(default_factory=list)


def score_types(problem):
    """The problem's accuracy, NLL and balanced accuracy as array score functions."""
    from ramp_server.blending.scores import from_rampwf

    by_name = {st.name: st for st in problem.score_types}
    return [from_rampwf(by_name[n], n_classes=problem.N_CLASSES) for n in ("acc", "nll", "bal_acc")]


def score_row(scores, y_valid, valid_proba, y_test, test_proba) -> dict[str, float]:
    """``{"acc valid": …, "acc test": …, …}`` of one model's predictions."""
    row = {}
    for st in scores:
        row[f"{st.name} valid"] = st(y_valid, valid_proba)
        row[f"{st.name} test"] = st(y_test, test_proba)
    return row


def build_table(pieces: list[Piece], problem, expected: list[str]) -> Table:
    """Score every model over the folds all finished models share, blend them, add the rows of
    ``expected`` models that have no piece there yet."""
    from ramp_server.blending.combine import bag_scores
    from ramp_server.blending.hybrid import FoldInput, blend

    table = Table()
    by_model: dict[str, dict[int, Piece]] = {}
    for piece in pieces:
        by_model.setdefault(piece.model, {})[piece.fold] = piece
    names = [n for n in expected if n in by_model] + sorted(set(by_model) - set(expected))
    if not names:
        table.rows = [{"model": n, "note": "not finished yet"} for n in expected]
        return table
    folds = sorted(set.intersection(*(set(by_model[n]) for n in names)))
    if not folds:  # no fold that every model has: blend those of the most common fold
        counts = {f: sum(f in by_model[n] for n in names) for f in {p.fold for p in pieces}}
        folds = [max(counts, key=lambda f: (counts[f], -f))]
        dropped = [n for n in names if folds[0] not in by_model[n]]
        table.notes.append(f"left out (no fold {folds[0]}): {', '.join(dropped)}")
        names = [n for n in names if n not in dropped]
    table.folds = folds
    scores = score_types(problem)
    official = scores[0]
    first = [by_model[names[0]][f] for f in folds]
    meta = first[0].meta
    n_train = int(meta["key"]["data"]["n_train"])
    y = np.zeros(n_train, np.int64)  # labels at the validated rows (the only rows used)
    for piece in first:
        y[piece.valid_indices] = piece.valid_y
    y_test = first[0].test_y.astype(np.int64)
    table.n_train, table.n_test = n_train, len(y_test)
    covered = np.zeros(n_train, bool)
    for piece in first:
        covered[piece.valid_indices] = True

    prior = np.asarray(meta["train_class_counts"], np.float64)
    prior /= prior.sum()
    majority = score_row(
        scores,
        y[covered],
        np.tile(prior, (covered.sum(), 1)),
        y_test,
        np.tile(prior, (len(y_test), 1)),
    )
    table.rows.append({"model": MAJORITY} | majority)
    for name in names:
        fold_pieces = [by_model[name][f] for f in folds]
        _, valid_proba, mask = bag_scores(
            [p.valid_proba for p in fold_pieces],
            [p.valid_indices for p in fold_pieces],
            y,
            official,
        )
        test_proba = np.mean([p.test_proba.astype(np.float64) for p in fold_pieces], axis=0)
        row = {"model": name} | score_row(scores, y[mask], valid_proba, y_test, test_proba)
        row["epochs"] = _epochs(fold_pieces)
        row["train s"] = float(np.mean([p.meta["train_s"] for p in fold_pieces]))
        row["ran on"] = _where(fold_pieces)
        table.rows.append(row)

    result = blend(
        folds=[
            FoldInput(
                valid_indices=by_model[names[0]][f].valid_indices,
                valid_proba=[by_model[n][f].valid_proba for n in names],
                test_proba=[by_model[n][f].test_proba for n in names],
            )
            for f in folds
        ],
        y_train=y,
        score=official,
        y_test=y_test,
        names=names,
        nested=True,
    )
    for row in table.rows[1:]:
        row["contributivity"] = 100 * result.contributivity[names.index(row["model"])]
    hybrid = {"model": HYBRID} | score_row(
        scores,
        y[result.combined_valid_mask],
        result.combined_valid_proba,
        y_test,
        result.combined_test_proba,
    )
    hybrid["contributivity"] = 100.0
    table.rows.append(hybrid)
    table.nested_valid = result.nested_valid
    for name in expected:
        if name not in by_model:
            table.rows.insert(len(table.rows) - 1, {"model": name, "note": "not finished yet"})
    return table


def _epochs(pieces: list[Piece]) -> str:
    """Epochs run, e.g. ``20``, or ``5 of 20`` for a copy with fewer epochs (``—``: none reported)."""
    runs = [(p.meta["epochs"]["run"], p.meta["epochs"]["of"]) for p in pieces]
    runs = [(run, of) for run, of in runs if run is not None]
    if not runs:
        return "—"
    run, of = max(runs)
    return f"{run}" if run == of else f"{run} of {of}"


def _where(pieces: list[Piece]) -> str:
    """Short machine label, e.g. ``CPU AMD EPYC ×2`` or ``GPU NVIDIA H200``."""
    labels = set()
    for p in pieces:
        m = re.match(r"(?P<cpu>.+?), (?P<n>\d+) CPUs, (?P<gpu>.+)$", p.meta.get("machine", ""))
        if not m:
            labels.add(p.meta.get("machine", "?"))
        elif m["gpu"] != "no GPU":
            labels.add(f"GPU {m['gpu']}")
        else:
            labels.add(f"CPU {m['cpu']} ×{m['n']}")
    return "; ".join(sorted(labels))


def format_table(table: Table) -> str:
    """The Markdown table, with the 2015 figures beside ours."""
    columns = [
        ("model", "model"),
        ("acc valid", "acc valid"),
        ("acc test", "acc test"),
        ("nll test", "nll test"),
        ("bal_acc test", "bal_acc test"),
        ("contributivity", "contributivity"),
        ("2015 acc", None),
        ("2015 contributivity", None),
        ("epochs", "epochs"),
        ("train s", "train s"),
        ("ran on", "ran on"),
    ]
    lines = ["| " + " | ".join(c for c, _ in columns) + " |", "|" + "---|" * len(columns)]
    # the best single model in bold (not the prior, not the hybrid)
    singles = [r.get("acc test", 0) for r in table.rows if r["model"] not in (MAJORITY, HYBRID)]
    best_test = max(singles, default=None)
    for row in table.rows:
        seed_acc, seed_contrib = SEED_2015.get(row["model"], ("", ""))
        cells = []
        for title, key in columns:
            value = row.get(key) if key else None
            if title == "2015 acc":
                cells.append(seed_acc)
            elif title == "2015 contributivity":
                cells.append(seed_contrib)
            elif "note" in row and title not in ("model",):
                cells.append(f"*{row['note']}*" if title == "acc valid" else "")
            elif value is None:
                cells.append("")
            elif isinstance(value, str):
                cells.append(value)
            elif title == "contributivity":
                cells.append(f"{value:.0f} %")
            elif title == "train s":
                cells.append(f"{value:,.0f}")
            elif (
                title == "acc test"
                and value == best_test
                and row["model"]
                not in (
                    MAJORITY,
                    HYBRID,
                )
            ):
                cells.append(f"**{value:.3f}**")
            else:
                cells.append(f"{value:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def caption(table: Table) -> str:
    """One line under the table: the data, the folds, the honest hybrid score, notes."""
    folds = ", ".join(str(f) for f in table.folds) or "none"
    parts = [
        f"{table.n_train:,} training / {table.n_test:,} test images; CV fold(s) {folds} "
        "of the kit's 3 (validation: that fold's 20 %; test: the whole test set)"
    ]
    if table.nested_valid is not None:
        parts.append(f"honest (nested) hybrid validation accuracy {table.nested_valid:.3f}")
    parts += table.notes
    return "; ".join(parts) + "."


def replace_block(readme: Path, block: str) -> bool:
    """Put ``block`` between the README's ladder markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return False
    new = text[: start + len(BEGIN)] + "\n" + block.strip() + "\n" + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return True
