"""Service functions: the only code that reads or writes the database (keyword-only arguments).

The web routes, the CLI verbs and the engine call them and render or act on what they return;
each rule (who may do what, the bagged official score, the latest blend, the queue order) is
written once, here. ``docs/architecture.md`` lists the modules.
"""


class ServiceError(Exception):
    """A rule was broken; the message says what and what to do (shown to the user as is)."""


class NotFound(ServiceError, LookupError):
    """The named object does not exist (the web answers 404)."""
