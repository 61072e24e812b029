"""Submissions: server-side validation, immutable storage, queueing, requeue/cancel/withdraw.

Every rule is checked here (never only in a template): file names, sizes, UTF-8 Python that
compiles, the kit's static contract, name rules and uniqueness, opening and deadline, minimum
delay and daily quota. :func:`submit` is safe under concurrent calls on SQLite and PostgreSQL: the
participant's row is locked for the transaction and the name is also a unique constraint.
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramp_server.db.engine import lock_row
from ramp_server.db.models import (
    Event,
    EventParticipant,
    FoldState,
    Interaction,
    InteractionKind,
    Score,
    Submission,
    SubmissionCredit,
    SubmissionFile,
    SubmissionFold,
    SubmissionState,
    User,
    utcnow,
)
from ramp_server.services import NotFound, ServiceError
from ramp_server.services import events as event_service
from ramp_server.storage import Storage

if TYPE_CHECKING:
    from ramp_server.config import Settings

REQUIRED_FILES = ("image_preprocessor.py", "batch_classifier.py")
SUBMISSION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUBMISSION_NAME_MAX = 40
FILE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")
#: states in which a submission is still waiting for or doing work
ACTIVE_STATES = (SubmissionState.NEW, SubmissionState.QUEUED, SubmissionState.TRAINING)
#: CPython 3.11 < 3.11.8 corrupts the AST builder's recursion counter when threads parse at
#: once (gh-106905: "AST constructor recursion depth mismatch"); parsing is serialized.
_PARSE_LOCK = threading.Lock()


class SubmissionRejected(ServiceError):
    """The upload breaks a rule; the message says which and how to fix it."""


# -- validation without the database -----------------------------------------------------------


def check_submission_name(name: str) -> str:
    """The stripped name, or :class:`SubmissionRejected` explaining the rule."""
    name = name.strip()
    if not name:
        raise SubmissionRejected("the submission name is empty: give it a short name")
    if len(name) > SUBMISSION_NAME_MAX:
        raise SubmissionRejected(
            f"the submission name has {len(name)} characters; at most {SUBMISSION_NAME_MAX}"
        )
    if not SUBMISSION_NAME_RE.match(name):
        raise SubmissionRejected(
            f"submission name {name!r}: use letters, digits, '_', '-' and '.', starting with a "
            "letter or digit"
        )
    return name


def check_files(files: Mapping[str, bytes], *, max_bytes: int) -> dict[str, str]:
    """Validate uploaded files; returns ``{filename: source text}``.

    Refuses unsafe or unexpected names, missing files, sizes above ``max_bytes`` (all files
    together), binary or non-UTF-8 content, Python that does not compile, and code that breaks
    the kit's static contract (checked without importing it).
    """
    for filename in files:
        if not FILE_NAME_RE.match(filename):
            raise SubmissionRejected(
                f"file name {filename!r} is not allowed: plain names like batch_classifier.py "
                "(no folders, no '..', no hidden files)"
            )
        if filename not in REQUIRED_FILES:
            raise SubmissionRejected(
                f"unexpected file {filename!r}: a submission has exactly "
                f"{' and '.join(REQUIRED_FILES)}"
            )
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise SubmissionRejected(
            f"missing file(s) {', '.join(missing)}: a submission needs {' and '.join(REQUIRED_FILES)}"
        )
    total = sum(len(b) for b in files.values())
    if total > max_bytes:
        big = ", ".join(f"{f} {len(b):,} bytes" for f, b in files.items())
        raise SubmissionRejected(
            f"the files are too large ({big}; {total:,} bytes in all): this event accepts at "
            f"most {max_bytes:,} bytes per submission"
        )
    sources: dict[str, str] = {}
    for filename in REQUIRED_FILES:
        data = files[filename]
        nul = data.find(b"\0")
        if nul >= 0:
            raise SubmissionRejected(
                f"{filename}: binary content (NUL byte at offset {nul}): upload the Python "
                "source file"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise SubmissionRejected(
                f"{filename}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
                "file as UTF-8"
            ) from None
        if not text.strip():
            raise SubmissionRejected(f"{filename}: the file is empty")
        try:
            with _PARSE_LOCK:
                compile(text, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise SubmissionRejected(
                f"{filename}:{exc.lineno}: syntax error: {exc.msg}; fix it and check locally "
                "with ramp-test"
            ) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise SubmissionRejected(f"{filename}: cannot be compiled ({exc})") from None
        sources[filename] = text
    _check_contract(files)
    return sources


def _check_contract(files: Mapping[str, bytes]) -> None:
    from ramp_server.kit.contract import ContractError, check_submission

    with tempfile.TemporaryDirectory(prefix="ramp_check_") as tmp:
        for filename, data in files.items():
            (Path(tmp) / filename).write_bytes(data)
        try:
            with _PARSE_LOCK:
                check_submission(tmp, run=False)  # static: never imports participant code
        except ContractError as exc:
            where = Path(exc.file).name if exc.file else ""
            if where and exc.line:
                where += f":{exc.line}"
            raise SubmissionRejected(f"{where + ': ' if where else ''}{exc.message}") from None


MAX_ARCHIVE_ENTRIES = 16


def files_from_zip(data: bytes, *, max_bytes: int) -> dict[str, bytes]:
    """The ``.py`` files of an uploaded zip archive, read with bounds (zip bombs are refused).

    Entries may sit in one top folder; other names, nested folders, links and more than
    :data:`MAX_ARCHIVE_ENTRIES` entries are refused; no more than ``max_bytes`` are ever
    decompressed, whatever the archive's headers claim.
    """
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SubmissionRejected("the archive is not a valid zip file") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        raise SubmissionRejected(
            f"the archive has {len(infos)} files; a submission has {len(REQUIRED_FILES)}"
        )
    out: dict[str, bytes] = {}
    budget = max_bytes
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if (
            len(parts) > 2
            or any(p in ("", ".", "..") for p in parts)
            or info.filename.startswith("/")
        ):
            raise SubmissionRejected(
                f"archive entry {info.filename!r}: put the files at the top of the archive or "
                "in one folder (no absolute paths, no '..')"
            )
        name = parts[-1]
        if name in out:
            raise SubmissionRejected(f"archive entry {name!r} appears twice")
        if info.file_size > budget:
            raise SubmissionRejected(
                f"archive entry {info.filename!r} unpacks to {info.file_size:,} bytes: this "
                f"event accepts at most {max_bytes:,} bytes per submission"
            )
        with archive.open(info) as fh:
            try:
                content = fh.read(budget + 1)  # never trust the declared size
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise SubmissionRejected(
                    f"archive entry {info.filename!r} is corrupt ({exc})"
                ) from None
        if len(content) > budget:
            raise SubmissionRejected(
                f"the archive unpacks to more than {max_bytes:,} bytes: this event accepts at "
                f"most {max_bytes:,} bytes per submission"
            )
        budget -= len(content)
        out[name] = content
    return out


def files_from_dir(path: str | Path, *, max_bytes: int) -> dict[str, bytes]:
    """The files of a submission folder (regular files at its top; caches ignored)."""
    folder = Path(path)
    if not folder.is_dir():
        raise SubmissionRejected(f"{folder}: submission folder not found")
    out: dict[str, bytes] = {}
    total = 0
    for f in sorted(folder.iterdir()):
        if f.name == "__pycache__" or f.name.startswith(".") or f.is_dir():
            continue
        if f.is_symlink() or not f.is_file():
            raise SubmissionRejected(f"{f}: not a regular file")
        total += f.stat().st_size
        if total > max_bytes:
            raise SubmissionRejected(
                f"{folder}: the files are larger than the {max_bytes:,} bytes this event accepts"
            )
        out[f.name] = f.read_bytes()
    return out


# -- rules that need the database --------------------------------------------------------------


def _check_timing(session: Session, *, event: Event, user: User, now: datetime) -> None:
    if event.closed or (event.closing_at is not None and now >= event.closing_at):
        raise SubmissionRejected(
            f"event {event.name} is closed: submissions are no longer accepted"
        )
    if event.opening_at is not None and now < event.opening_at:
        raise SubmissionRejected(
            f"event {event.name} opens at {event.opening_at.isoformat()}: submit after that"
        )
    if user.is_admin:
        return
    charged = (
        Submission.event_id == event.id,
        Submission.user_id == user.id,
        Submission.charged_to_quota.is_(True),
    )
    if event.min_delay_s:
        last = session.scalar(select(func.max(Submission.submitted_at)).where(*charged))
        if last is not None:
            wait = last + timedelta(seconds=event.min_delay_s) - now
            if wait > timedelta(0):
                raise SubmissionRejected(
                    f"wait {math.ceil(wait.total_seconds())} s before submitting again: this event "
                    f"requires {event.min_delay_s} s between submissions"
                )
    if event.daily_quota is not None:
        since = now - timedelta(days=1)
        recent = list(
            session.scalars(
                select(Submission.submitted_at)
                .where(*charged, Submission.submitted_at > since)
                .order_by(Submission.submitted_at)
            )
        )
        if len(recent) >= event.daily_quota:
            free_at = recent[len(recent) - event.daily_quota] + timedelta(days=1)
            raise SubmissionRejected(
                f"daily quota reached: {event.daily_quota} submissions per 24 hours; the next "
                f"one is possible at {free_at.isoformat(timespec='seconds')} "
                "(failures caused by the platform do not count)"
            )


def _check_credits(
    session: Session, *, event: Event, user: User, credits: Mapping[int, float], now: datetime
) -> None:
    total = 0.0
    for sid, percent in credits.items():
        if not 0 < percent <= 100:
            raise SubmissionRejected(f"credit to submission {sid}: percent must be in (0, 100]")
        total += percent
        other = session.get(Submission, sid)
        if other is None or other.event_id != event.id:
            raise SubmissionRejected(f"credit to submission {sid}: no such submission here")
        if other.user_id != user.id and not event_service.is_collaborative(event, now=now):
            raise SubmissionRejected(
                f"credit to submission {sid}: others' submissions are visible only after the "
                "collaborative phase opens"
            )
    if total > 100 + 1e-9:
        raise SubmissionRejected(f"credits add up to {total:g}%: at most 100%")


def submit(
    session: Session,
    *,
    settings: Settings,
    event: Event,
    user: User,
    name: str,
    files: Mapping[str, bytes],
    credits: Mapping[int, float] | None = None,
    now: datetime | None = None,
) -> Submission:
    """Validate, store and queue a submission; **commits** the session.

    Raises :class:`SubmissionRejected` with a clear message for every broken rule. Files are
    stored as immutable blobs before the database write, so nothing accepted is ever lost.
    """
    now = now or utcnow()
    name = check_submission_name(name)
    check_files(files, max_bytes=event.upload_max_bytes)
    storage = Storage.from_settings(settings)
    digests = {f: storage.put_blob(bytes(files[f])) for f in REQUIRED_FILES}
    event_id, user_id = event.id, user.id

    participation = event_service.get_participation(session, event=event, user=user)
    if participation is None and user.is_admin:
        participation = event_service.join_event(session, event=event, user=user, now=now)
        session.commit()
    if participation is None or not participation.approved:
        raise SubmissionRejected(
            f"{user.name} is not an approved participant of {event.name}: "
            + ("join the event first" if participation is None else "wait for an admin's approval")
        )
    part_id = participation.id
    session.commit()  # end any read transaction: the lock below must see the latest data
    try:
        # Serializes this participant's submissions (row lock on PostgreSQL, the write lock on
        # SQLite) so that delay, quota and name checks cannot race.
        lock_row(session, EventParticipant, part_id)
        event = session.get(Event, event_id, populate_existing=True)
        user = session.get(User, user_id)
        _check_timing(session, event=event, user=user, now=now)
        if session.scalar(
            select(Submission.id).where(
                Submission.event_id == event_id,
                Submission.user_id == user_id,
                Submission.name == name,
            )
        ):
            raise SubmissionRejected(
                f"you already have a submission named {name!r} in {event.name}: choose a new name"
            )
        if credits:
            _check_credits(session, event=event, user=user, credits=credits, now=now)
        sub = Submission(
            event_id=event_id,
            user_id=user_id,
            name=name,
            state=SubmissionState.QUEUED,
            submitted_at=now,
            queued_at=now,
        )
        session.add(sub)
        session.flush()
        for filename, digest in digests.items():
            session.add(
                SubmissionFile(
                    submission_id=sub.id,
                    filename=filename,
                    sha256=digest,
                    size=len(files[filename]),
                )
            )
        for k in range(event.n_folds):
            session.add(SubmissionFold(submission_id=sub.id, fold=k, state=FoldState.QUEUED))
        for sid, percent in (credits or {}).items():
            session.add(
                SubmissionCredit(submission_id=sub.id, credited_submission_id=sid, percent=percent)
            )
        session.add(
            Interaction(
                user_id=user_id,
                event_id=event_id,
                kind=InteractionKind.SUBMIT,
                submission_id=sub.id,
                at=now,
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise SubmissionRejected(
            f"you already have a submission named {name!r}: choose a new name"
        ) from None
    except BaseException:
        session.rollback()
        raise
    return sub


# -- queries and state changes -----------------------------------------------------------------


def get_submission(session: Session, *, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id}")
    return sub


def submission_sources(*, settings: Settings, submission: Submission) -> dict[str, bytes]:
    """``{filename: content}`` of a submission, read from the immutable blobs."""
    storage = Storage.from_settings(settings)
    return {f.filename: storage.read_blob(f.sha256) for f in submission.files}


def can_view_code(
    *, event: Event, submission: Submission, user: User | None, now: datetime | None = None
) -> bool:
    """Owner and admins always; other signed-in users once the collaborative phase opened."""
    if user is None:
        return False
    if user.is_admin or submission.user_id == user.id:
        return True
    return event_service.is_collaborative(event, now=now)


def queue_position(session: Session, *, submission: Submission) -> int | None:
    """1 for the next submission to train, ``None`` when not queued (queue is platform-wide)."""
    if submission.state != SubmissionState.QUEUED or submission.queued_at is None:
        return None
    ahead = session.scalar(
        select(func.count(Submission.id)).where(
            Submission.state == SubmissionState.QUEUED,
            (Submission.queued_at < submission.queued_at)
            | ((Submission.queued_at == submission.queued_at) & (Submission.id < submission.id)),
        )
    )
    return int(ahead or 0) + 1


def requeue(session: Session, *, submission: Submission, now: datetime | None = None) -> Submission:
    """Train again from scratch (admin action): scores and errors are cleared."""
    if submission.state in (SubmissionState.QUEUED, SubmissionState.TRAINING):
        raise ServiceError(
            f"submission {submission.id} is {submission.state.value}: cancel it before requeueing"
        )
    now = now or utcnow()
    session.execute(delete(Score).where(Score.submission_id == submission.id))
    session.execute(
        update(SubmissionFold)
        .where(SubmissionFold.submission_id == submission.id)
        .values(
            state=FoldState.QUEUED,
            attempts=0,
            worker=None,
            dask_key=None,
            started_at=None,
            finished_at=None,
            error_kind=None,
            error_message=None,
            traceback=None,
            progress=None,
            train_time=None,
            valid_time=None,
            test_time=None,
            peak_memory_mb=None,
        )
    )
    submission.state = SubmissionState.QUEUED
    submission.queued_at = now
    submission.started_at = submission.finished_at = None
    submission.error_kind = submission.error_message = submission.traceback = None
    submission.train_time = submission.valid_time = submission.test_time = None
    submission.peak_memory_mb = None
    session.flush()
    session.expire(submission, ["folds"])
    return submission


def cancel(session: Session, *, submission: Submission, now: datetime | None = None) -> Submission:
    """Stop a submission: it leaves the queue; the engine kills a running fold on seeing it."""
    if submission.state not in ACTIVE_STATES:
        raise ServiceError(
            f"submission {submission.id} is {submission.state.value}: only new, queued or "
            "training submissions can be cancelled"
        )
    now = now or utcnow()
    submission.state = SubmissionState.CANCELLED
    submission.finished_at = now
    session.execute(
        update(SubmissionFold)
        .where(
            SubmissionFold.submission_id == submission.id,
            SubmissionFold.state.in_([FoldState.QUEUED, FoldState.TRAINING]),
        )
        .values(state=FoldState.CANCELLED, finished_at=now)
    )
    session.flush()
    session.expire(submission, ["folds"])
    return submission


def set_withdrawn_from_blend(
    session: Session, *, submission: Submission, withdrawn: bool = True
) -> Submission:
    """Exclude (or include again) a submission from the ensemble the blender builds."""
    submission.withdrawn_from_blend = withdrawn
    session.flush()
    return submission


def select_for_competition(session: Session, *, submission: Submission) -> Submission:
    """Make this the participant's submission on the competition leaderboard (one at a time)."""
    if submission.state != SubmissionState.SCORED:
        raise ServiceError("only a scored submission can be selected for the competition")
    session.execute(
        update(Submission)
        .where(
            Submission.event_id == submission.event_id,
            Submission.user_id == submission.user_id,
            Submission.id != submission.id,
        )
        .values(selected_for_competition=False)
    )
    submission.selected_for_competition = True
    session.flush()
    return submission


def log_interaction(
    session: Session,
    *,
    event: Event,
    user: User | None,
    kind: InteractionKind,
    submission: Submission | None = None,
    now: datetime | None = None,
) -> None:
    """Record a view/diff/copy/download (feeds historical contributivity)."""
    session.add(
        Interaction(
            user_id=user.id if user else None,
            event_id=event.id,
            kind=InteractionKind(kind),
            submission_id=submission.id if submission else None,
            at=now or utcnow(),
        )
    )
    session.flush()


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

    from ramp_server.services.leaderboards import submissions_table

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
