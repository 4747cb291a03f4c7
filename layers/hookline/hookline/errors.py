"""Domain errors that the HTTP and CLI edges map to answers, in one place each."""

from __future__ import annotations


class HooklineError(Exception):
    """Base class: the message is safe to show to the person who caused it."""


class BadRequest(HooklineError):
    """The request is incomplete (e.g. a form submitted without clicking a button)."""


class Forbidden(HooklineError):
    """The link is not valid for this: tampered, expired, for another draft, or revoked."""


class NotFound(HooklineError):
    pass


class Conflict(HooklineError):
    """The draft is no longer in the state the decision needs; says who decided and when."""


class Invalid(HooklineError):
    """An edit that cannot be posted (empty, too long, link removed); the page says how to fix it."""
