"""SQLAlchemy 2 ORM models of the platform (SQLite and PostgreSQL).

The one import surface of the models: ``from ramp_server.db.models import Event, Submission``.
They are grouped by domain in the modules of this package:

- :mod:`.base`: the declarative ``Base`` (one ``MetaData``, which Alembic compares with the
  migrations), :class:`UTCDateTime`, :func:`utcnow`, the string column type of enumerations;
- :mod:`.enums`: the enumerations (states, error kinds, splits, visibility, interactions);
- :mod:`.accounts`: users, API and password-reset tokens, login attempts;
- :mod:`.events`: events, their participants and invitations, their CV folds;
- :mod:`.submissions`: submissions, their files, folds, scores and per-epoch progress;
- :mod:`.collaboration`: blends, credits between submissions, interactions;
- :mod:`.toolkit`: the organisers' event jobs (re-scoring) and the e-mail outbox.

Conventions: every timestamp is stored as naive UTC and read back as an aware UTC ``datetime``
(:class:`UTCDateTime`), so both backends behave the same. Enumerations are stored as short
strings (no native PostgreSQL enum types: adding a state is then a code change, not a migration).
Leaderboards are SQL queries over ``submissions`` + ``scores``; their indexes serve them.
"""

from __future__ import annotations

from ramp_server.db.models.accounts import ApiToken, LoginAttempt, PasswordResetToken, User
from ramp_server.db.models.base import Base, UTCDateTime, utcnow
from ramp_server.db.models.collaboration import (
    Blend,
    BlendContribution,
    Interaction,
    SubmissionCredit,
)
from ramp_server.db.models.engine import EngineWorker
from ramp_server.db.models.enums import (
    ErrorKind,
    FoldState,
    InteractionKind,
    LeaderboardVisibility,
    Split,
    SubmissionState,
)
from ramp_server.db.models.events import CVFold, Event, EventInvitation, EventParticipant
from ramp_server.db.models.submissions import (
    ProgressEntry,
    Score,
    Submission,
    SubmissionFile,
    SubmissionFold,
)
from ramp_server.db.models.teams import Team, TeamInvitation, TeamMember
from ramp_server.db.models.toolkit import EventJob, OutboxMessage

__all__ = [
    "ApiToken",
    "Base",
    "Blend",
    "BlendContribution",
    "CVFold",
    "EngineWorker",
    "ErrorKind",
    "Event",
    "EventInvitation",
    "EventJob",
    "EventParticipant",
    "FoldState",
    "Interaction",
    "InteractionKind",
    "LeaderboardVisibility",
    "LoginAttempt",
    "OutboxMessage",
    "PasswordResetToken",
    "ProgressEntry",
    "Score",
    "Split",
    "Submission",
    "SubmissionCredit",
    "SubmissionFile",
    "SubmissionFold",
    "SubmissionState",
    "Team",
    "TeamInvitation",
    "TeamMember",
    "User",
    "UTCDateTime",
    "utcnow",
]
