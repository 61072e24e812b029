"""Read models of a submission for its page and the JSON API: status, folds, scores, code, diff."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer
from sqlalchemy.orm import Session

from ramp_server.db.models import FoldState, Submission, SubmissionState
from ramp_server.services import results, submissions
from ramp_server.storage import Storage

SUBMISSION_FILES = ("image_preprocessor.py", "batch_classifier.py")
_FORMATTER = HtmlFormatter(linenos="table", cssclass="hl", wrapcode=True)
_DIFF_FORMATTER = HtmlFormatter(cssclass="hl", wrapcode=True)


def pygments_css() -> str:
    return _FORMATTER.get_style_defs(".hl")


def status(db: Session, sub: Submission, *, positions: Mapping[int, int] | None = None) -> dict:
    """The live state of a submission (what the page polls); ``positions``: the queue's
    (``web.context.queue_positions``), else computed for this submission alone."""
    folds = list(sub.folds)
    n_folds = len(folds) or sub.event.n_folds
    done = sum(f.state == FoldState.SCORED for f in folds)
    # progress: finished folds count fully, a training fold by its epoch fraction
    fraction = float(done)
    fold_rows = []
    for f in folds:
        prog = f.progress or {}
        epoch, n_epochs = prog.get("epoch"), prog.get("n_epochs")
        if f.state == FoldState.TRAINING and epoch is not None and n_epochs:
            fraction += min(1.0, float(epoch) / float(n_epochs))
        fold_rows.append(
            {
                "fold": f.fold,
                "state": f.state.value,
                "attempts": f.attempts,
                "epoch": epoch,
                "n_epochs": n_epochs,
                "metrics": prog.get("metrics"),
                "train_time": f.train_time,
                "valid_time": f.valid_time,
                "test_time": f.test_time,
                "peak_memory_mb": f.peak_memory_mb,
                "error_kind": f.error_kind.value if f.error_kind else None,
                "notes": f.notes or [],
            }
        )
    if sub.state != SubmissionState.QUEUED:
        position = None
    elif positions is not None:
        position = positions.get(sub.id)
    else:
        position = submissions.queue_position(db, submission=sub)
    state = sub.state.value
    if sub.state == SubmissionState.SCORED:
        text, fraction = f"scored on {n_folds} folds", float(n_folds)
    elif sub.state == SubmissionState.TRAINING:
        training = [r for r in fold_rows if r["state"] == "training"]
        parts = [f"{done} of {n_folds} folds done"]
        for r in training:
            part = f"training fold {r['fold'] + 1} of {n_folds}"
            if r["epoch"] is not None and r["n_epochs"]:
                part += f", epoch {r['epoch']}/{r['n_epochs']}"
            parts.append(part)
        text = " · ".join(parts)
    elif position is not None:
        text = f"queued: position {position}"
    elif sub.state == SubmissionState.ERROR:
        text = f"failed ({sub.error_kind.value if sub.error_kind else 'error'})"
    else:
        text = state
    return {
        "id": sub.id,
        "name": sub.name,
        "event": sub.event.name,
        "user": sub.user.name,
        "state": state,
        "error_kind": sub.error_kind.value if sub.error_kind else None,
        "error_message": sub.error_message,
        "submitted_at": sub.submitted_at.isoformat() if sub.submitted_at else None,
        "queue_position": position,
        "n_folds": n_folds,
        "folds_done": done,
        "progress": min(1.0, fraction / n_folds) if n_folds else 0.0,
        "progress_text": text,
        "folds": fold_rows,
        "contributivity": sub.contributivity,
        "historical_contributivity": sub.historical_contributivity,
        "baseline": bool(sub.is_baseline),
    }


def allowance_json(allowance: submissions.Allowance) -> dict[str, Any]:
    """A team's submissions left today (:class:`~ramp_server.services.submissions.Allowance`)
    as JSON: ``daily_quota``, ``min_delay_s``, ``left_today``, ``next_at`` (ISO or None)."""
    return {
        "daily_quota": allowance.daily_quota,
        "min_delay_s": allowance.min_delay_s,
        "left_today": allowance.left_today,
        "next_at": allowance.next_at.isoformat() if allowance.next_at else None,
    }


@dataclass
class ScoreTable:
    """Scores of one submission: ``rows`` per fold (None = bagged), columns split × score name."""

    score_names: list[str]
    rows: list[tuple[int | None, dict[tuple[str, str], float]]]
    columns: list[tuple[str, str]]  # (split, score name) present, train → valid → test


def score_table(db: Session, sub: Submission, *, include_test: bool) -> ScoreTable:
    names = [st["name"] for st in sub.event.score_types or []]
    by_fold: dict[int | None, dict[tuple[str, str], float]] = {}
    for s in results.scores_of_submission(db, submission_id=sub.id, include_test=include_test):
        by_fold.setdefault(s.fold, {})[(s.split.value, s.score_name)] = s.value
        if s.score_name not in names:
            names.append(s.score_name)
    folds = sorted(k for k in by_fold if k is not None)
    rows = [(k, by_fold[k]) for k in folds]
    if None in by_fold:
        rows.append((None, by_fold[None]))
    present = {key for values in by_fold.values() for key in values}
    columns = [(sp, n) for sp in ("train", "valid", "test") for n in names if (sp, n) in present]
    return ScoreTable(names, rows, columns)


def code_files(storage: Storage, sub: Submission) -> dict[str, str]:
    """``{filename: text}`` of the submission's stored files."""
    out: dict[str, str] = {}
    for f in sorted(sub.files, key=lambda f: f.filename):
        out[f.filename] = storage.read_blob(f.sha256).decode("utf-8", errors="replace")
    return out


def highlighted(code: str) -> Markup:
    return Markup(highlight(code, PythonLexer(), _FORMATTER))


def diff_html(
    old: dict[str, str], new: dict[str, str], *, old_label: str, new_label: str
) -> Markup:
    """A unified diff of two submissions' files, highlighted (empty text when identical)."""
    chunks: list[str] = []
    for filename in sorted(set(old) | set(new)):
        a = old.get(filename, "").splitlines(keepends=True)
        b = new.get(filename, "").splitlines(keepends=True)
        chunks.extend(
            difflib.unified_diff(
                a, b, fromfile=f"{old_label}/{filename}", tofile=f"{new_label}/{filename}"
            )
        )
    if not chunks:
        return Markup(
            '<p class="muted" style="padding:1rem">The two submissions are identical.</p>'
        )
    text = "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
    return Markup(highlight(text, DiffLexer(), _DIFF_FORMATTER))
