"""Every epoch's progress report of every fold, kept for the learning curves.

The engine relays the reports that a submission's ``gen_builder.report(epoch=..., n_epochs=...,
valid_acc=...)`` writes (:mod:`ramp_server.engine.progress_relay`, then the fold's outcome);
:func:`record_progress` keeps one row per (submission, fold, epoch) in ``progress_log`` and
:func:`learning_curves` reads them back, validation accuracy per epoch per fold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import ProgressEntry, SubmissionFold, utcnow

#: the names a report may give its validation accuracy under (the first one found is used)
VALID_ACC_KEYS = ("valid_acc", "val_acc", "valid_accuracy", "val_accuracy")
#: most epochs kept per fold (a report per batch would otherwise fill the table)
MAX_EPOCHS = 1000


@dataclass(frozen=True)
class FoldCurve:
    """One fold's learning curve: ``points`` are ``(epoch, validation accuracy)``, by epoch."""

    fold: int
    n_epochs: int | None
    points: list[tuple[int, float]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _entry(report: dict[str, Any]) -> tuple[int, int | None, float | None, dict[str, float]]:
    """``(epoch, n_epochs, valid_acc, other numbers)`` of a report with an integer epoch."""
    n_epochs = report.get("n_epochs")
    acc = next(
        (v for k in VALID_ACC_KEYS if (v := _number(report.get(k))) is not None),
        None,
    )
    others = {
        str(k): v
        for k, raw in report.items()
        if k not in ("epoch", "n_epochs", *VALID_ACC_KEYS) and (v := _number(raw)) is not None
    }
    return report["epoch"], n_epochs if _is_int(n_epochs) else None, acc, others


def record_progress(
    session: Session, *, submission_id: int, fold: int, reports: Iterable[dict[str, Any]]
) -> int:
    """Keep the epochs of ``reports`` (a fold's progress reports, oldest first): one row per
    epoch, a later report of an epoch replacing the earlier one. Reports without an integer
    ``epoch`` (a per-batch line, participant noise) are skipped; so are the reports of a fold
    that does not exist (any more). Flushes, does not commit; returns how many epochs it kept.
    """
    latest: dict[int, dict[str, Any]] = {}
    for report in reports:
        if isinstance(report, dict) and _is_int(report.get("epoch")) and report["epoch"] >= 0:
            latest[report["epoch"]] = report
    if not latest:
        return 0
    exists = session.scalar(
        select(SubmissionFold.id).where(
            SubmissionFold.submission_id == submission_id, SubmissionFold.fold == fold
        )
    )
    if exists is None:
        return 0
    known = {
        row.epoch: row
        for row in session.scalars(
            select(ProgressEntry).where(
                ProgressEntry.submission_id == submission_id,
                ProgressEntry.fold == fold,
                ProgressEntry.epoch.in_(list(latest)),
            )
        )
    }
    now = utcnow()
    for epoch, report in sorted(latest.items())[:MAX_EPOCHS]:
        _, n_epochs, acc, others = _entry(report)
        row = known.get(epoch)
        if row is None:
            row = ProgressEntry(submission_id=submission_id, fold=fold, epoch=epoch)
            session.add(row)
        row.n_epochs, row.valid_acc, row.metrics, row.recorded_at = n_epochs, acc, others, now
    session.flush()
    return len(latest)


def learning_curves(session: Session, *, submission_id: int) -> list[FoldCurve]:
    """The validation accuracy per epoch of each fold that reported one, by fold (empty when
    no fold reported a validation accuracy)."""
    rows = session.execute(
        select(
            ProgressEntry.fold, ProgressEntry.epoch, ProgressEntry.n_epochs, ProgressEntry.valid_acc
        )
        .where(ProgressEntry.submission_id == submission_id, ProgressEntry.valid_acc.is_not(None))
        .order_by(ProgressEntry.fold, ProgressEntry.epoch)
    )
    curves: dict[int, tuple[int | None, list[tuple[int, float]]]] = {}
    for fold, epoch, n_epochs, acc in rows:
        _, points = curves.setdefault(fold, (n_epochs, []))
        points.append((epoch, acc))
        if n_epochs is not None:
            curves[fold] = (n_epochs, points)
    return [FoldCurve(fold=f, n_epochs=n, points=p) for f, (n, p) in sorted(curves.items())]
