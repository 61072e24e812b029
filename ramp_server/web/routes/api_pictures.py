"""The figures behind a submission page's pictures, as JSON: ``/api/submissions/{id}/pictures``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ramp_server.services import confusion, progress
from ramp_server.web import access
from ramp_server.web.deps import CurrentUser, Db

router = APIRouter(prefix="/api", tags=["submissions"])


@router.get("/submissions/{submission_id}/pictures")
def submission_pictures(request: Request, db: Db, user: CurrentUser, submission_id: int) -> Any:
    """The bagged validation confusion matrix (row-normalised, with counts), each taxon's
    accuracy and frequency, and each fold's validation accuracy per epoch. ``confusion`` is
    null until the submission is scored (never for a failed one); ``learning_curves`` is empty
    when no fold reported a validation accuracy."""
    sub = access.get_submission(db, submission_id)
    if not access.can_see_submission(db, sub, user):
        raise HTTPException(403, "this submission belongs to another participant")
    conf = confusion.bagged_confusion(settings=request.app.state.settings, submission=sub)
    curves = progress.learning_curves(db, submission_id=sub.id)
    return {
        "submission_id": sub.id,
        "state": sub.state.value,
        "confusion": conf.as_json() if conf else None,
        "learning_curves": [
            {
                "fold": c.fold,
                "n_epochs": c.n_epochs,
                "points": [{"epoch": e, "valid_acc": acc} for e, acc in c.points],
            }
            for c in curves
        ],
    }
