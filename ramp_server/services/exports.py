"""Archives of an event's submissions: code, scores and predictions in one zip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramp_server.db.models import Event, Score, Submission, User
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings


def export_archive(
    session: Session,
    *,
    settings: Settings,
    event: Event,
    out: str | Path | BinaryIO,
    user: User | None = None,
    include_predictions: bool = False,
) -> int:
    """Write a zip of the event's submissions (of ``user`` only, if given); returns their number.

    Layout: ``submissions.json`` (every submission with state, scores, error), ``scores.csv``
    (one row per score: fold empty = bagged), ``code/<user>/<submission>/<file>`` and, with
    ``include_predictions``, ``predictions/<submission_id>/fold_<k>.npz``.
    """
    import csv
    import io
    import json
    import zipfile

    from ramp_server.services.submission_tables import submissions_table

    storage = Storage.from_settings(settings)
    table = submissions_table(session, event=event, user=user)
    if user is not None:
        for row in table:
            row.pop("test_scores", None)
    ids = [r["submission_id"] for r in table]
    query = select(Submission).where(Submission.id.in_(ids)).order_by(Submission.id)
    subs = list(session.scalars(query)) if ids else []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("submissions.json", json.dumps(table, indent=1, ensure_ascii=False))
        if user is None:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(
                ["submission_id", "user", "submission", "fold", "split", "score", "value"]
            )
            names = {s.id: (s.user.name, s.name) for s in subs}
            for sc in (
                session.scalars(
                    select(Score)
                    .where(Score.submission_id.in_(ids))
                    .order_by(Score.submission_id, Score.fold, Score.split, Score.score_name)
                )
                if ids
                else []
            ):
                u, n = names[sc.submission_id]
                fold = "" if sc.fold is None else sc.fold
                writer.writerow(
                    [sc.submission_id, u, n, fold, sc.split.value, sc.score_name, sc.value]
                )
            zf.writestr("scores.csv", buf.getvalue())
        for sub in subs:
            for f in sub.files:
                zf.writestr(
                    f"code/{sub.user.name}/{sub.name}/{f.filename}", storage.read_blob(f.sha256)
                )
            if include_predictions:
                folder = storage.predictions_dir(event.name, sub.id)
                for p in sorted(folder.glob("fold_*.npz")) if folder.is_dir() else []:
                    zf.write(p, f"predictions/{sub.id}/{p.name}")
    return len(subs)
