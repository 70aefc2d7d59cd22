"""Errors the domain raises, without HTTP: the API's exception handler maps each kind to its problem.

Apps subclass these (tasks.errors.TaskNotFound, ...) so that services speak of what went wrong and
one place (core/problems.py) decides what a client is told.
"""


class DomainError(Exception):
    """A request the domain refuses; the message is safe to show the client."""


class NotFound(DomainError):
    """The thing does not exist, or is not the caller's (never told apart)."""


class Expired(DomainError):
    """What the caller points at is gone for good (410); it must start again (e.g. a sync token)."""


class PreconditionFailed(DomainError):
    """The caller's view of the thing is stale (its version is not one the caller named)."""
