"""Service functions: the only code that changes the database (keyword-only arguments).

``accounts`` (users, logins, tokens), ``events`` (creation from a kit, rules, participants),
``submissions`` (validated upload, queue, cancel), ``results`` (what the engine reports),
``leaderboards`` (SQL queries), ``jobs`` (the engine's claims on queued folds).
"""


class ServiceError(Exception):
    """A rule was broken; the message says what and what to do (shown to the user as is)."""


class NotFound(ServiceError):
    """The named object does not exist."""
