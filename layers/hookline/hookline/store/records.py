"""What the store hands back and the errors it raises, shared by every aggregate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hookline.models import Draft, State

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any


class StoreError(Exception):
    """DynamoDB refused or failed a request in a way the caller should report."""


class ItemTooLarge(StoreError):
    """A write would make an item larger than DynamoDB takes; the message says which and how big."""


class StateConflict(Exception):
    """The draft was not in the state the caller expected: someone else acted first."""

    def __init__(self, draft: Draft | None, wanted: Iterable[State]) -> None:
        self.draft = draft
        self.wanted = tuple(wanted)
        current = draft.state if draft else "missing"
        super().__init__(f"draft is {current}, not {' or '.join(s.value for s in self.wanted)}")


class DraftNotFound(Exception):
    pass


class SkipConflict(Exception):
    """Someone already asked for this skipped entry to be drafted (or its record is gone)."""

    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record
        super().__init__("already requested" if record else "no such skip")


class PaceRefused(Exception):
    """A post would break the daily cap, the monthly spend cap or the spacing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failure_streak: int = 0
    drafts_made: int = 0
    held: str | None = None
    problem: str | None = None  # what was wrong with the last document read (malformed XML...)

    @property
    def healthy(self) -> bool:
        """Nothing in the record that a 304 would change but the times."""
        return not self.failure_streak and not self.last_error


@dataclass(frozen=True)
class Pause:
    paused: bool
    reason: str | None = None
    by: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class MonthSpend:
    month: str
    cents: int
    posts: int


@dataclass(frozen=True)
class Controls:
    """What a page shows about publishing, read in one BatchGetItem (`Store.controls`)."""

    pause: Pause
    hold: dict[str, Any] | None  # CONTROL/HOLD as stored (its `reason` is shown)
    last_post_at: datetime | None
    month: MonthSpend
    day_posts: dict[str, int]  # posts reserved on each day asked for
    # CONTROL/ACCOUNT: the publisher's last check of whose account the credentials are
    # (`ok`, `username`, `user_id`, `checked_at`), or None before the first check.
    account: dict[str, Any] | None = None

    def posts_on(self, day: str) -> int | None:
        """Posts reserved on `day`, or None when that day was not read."""
        return self.day_posts.get(day)


@dataclass(frozen=True)
class Hold:
    """Publishing stopped by the publisher itself (not the pause switch), and why.

    CONTROL/HOLD: `kind` "account" or "credentials", until the account check passes again
    (the review page shows its `reason`). CONTROL/LIMIT: "usage-cap" or "rate-limit",
    `until` a time.
    """

    kind: str
    reason: str
    at: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class Move:
    """One edge of the draft state machine as a caller asks for it: where to, who and why,
    and what else changes in the same conditional write."""

    to: State
    actor: str
    action: str
    # the states the stored draft may be in; by default, the state of the caller's copy
    expect: Iterable[State] | None = None
    changes: dict[str, Any] | None = None
    remove: Iterable[str] = ()
    # a publishing attempt moves only the draft that still carries its attempt id
    expect_attempt: str | None = None
    reason: str | None = None
    text_after: str | None = None
