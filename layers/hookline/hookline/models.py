"""The nouns every stage shares: feed entries, drafts and their states."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["draft", "skip"]


class State(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    PUBLISHING = "PUBLISHING"
    PUBLISHED = "PUBLISHED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


# The edges of the state machine in docs/design.md; store.transition refuses anything else.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.APPROVED, State.REJECTED, State.EXPIRED}),
    State.APPROVED: frozenset({State.PUBLISHING, State.REJECTED, State.EXPIRED}),
    State.PUBLISHING: frozenset({State.PUBLISHED, State.APPROVED, State.FAILED}),
    State.FAILED: frozenset({State.APPROVED}),
    State.PUBLISHED: frozenset(),
    State.REJECTED: frozenset(),
    State.EXPIRED: frozenset(),
}


def short_hash(*parts: str, length: int = 32) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


@dataclass(frozen=True)
class EventInfo:
    start: datetime
    end: datetime | None = None
    venue: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "venue": self.venue,
        }


@dataclass(frozen=True)
class Entry:
    """One feed item, normalised; text fields are still untrusted feed text."""

    feed_id: str
    identity: str
    title: str
    link: str
    summary: str = ""
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    event: EventInfo | None = None
    author: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The draft id: derived from the entry's identity, so one entry is one draft."""
        return short_hash(self.feed_id, self.identity)


@dataclass(frozen=True)
class Judgement:
    decision: Decision
    reason: str
    rule: str | None = None
    # What decided it, for the rules report: "category:<rule term>", "keyword:<rule term>",
    # "event", "unmatched" (no include term matched), or None (a required field, the age...).
    term: str | None = None

    @property
    def drafted(self) -> bool:
        return self.decision == "draft"


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start: datetime
    end: datetime | None = None
    venue: str | None = None


class Attempt(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    started_at: datetime
    outcome: str | None = None


class Draft(BaseModel):
    """A proposed post and everything a person needs to decide on it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    feed_id: str
    state: State = State.PENDING
    kind: Literal["publication", "event"] = "publication"
    source: Literal["own", "partner"] = "own"
    partner: str | None = None
    title: str
    link: str
    post_link: str
    summary: str = ""
    categories: list[str] = Field(default_factory=list)
    published: datetime | None = None
    event: EventData | None = None
    text: str
    composed_text: str
    weighted_length: int
    reason: str
    created_at: datetime
    state_at: datetime
    version: int = 1
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    approved_at: datetime | None = None
    reminded_at: datetime | None = None
    attempt: Attempt | None = None
    ambiguous_attempts: list[Attempt] = Field(default_factory=list)
    retries: int = 0  # transient X failures in a row (ambiguous or not sent); reset when given up
    not_before: datetime | None = None
    post_id: str | None = None
    post_url: str | None = None
    published_at: datetime | None = None
    needs_confirmation: bool = False
    failure: str | None = None
    preflight: dict[str, Any] | None = None
    # What queued it, for the rules report: the rule set, the term that matched
    # ("category:Report", "keyword:report", "event"), and who drafted it from a skip.
    rule: str | None = None
    term: str | None = None
    by_hand: str | None = None
    # Each configured network's rendition, {"text", "link", "length", "limit"}; X's is `text`.
    networks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def is_event(self) -> bool:
        return self.event is not None


@dataclass(frozen=True)
class Queued:
    """A draft as its place in the publishing order needs it. The approval result page reads
    the approved queue on every decision: four attributes each, not whole drafts."""

    id: str
    state_at: datetime
    approved_at: datetime | None = None
    event_start: datetime | None = None

    @classmethod
    def of(cls, draft: Draft) -> Queued:
        return cls(draft.id, draft.state_at, draft.approved_at, draft.event.start if draft.event else None)


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    draft_id: str
    at: datetime
    actor: str
    action: str
    from_state: State | None = None
    to_state: State
    text_before: str | None = None
    text_after: str | None = None
    reason: str | None = None
