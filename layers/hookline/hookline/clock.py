"""Time in one place, so tests and the local stack can inject it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """UTC ISO 8601 with a fixed width, so stored strings sort in time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def human_time(value: datetime, tz: tzinfo | None = None) -> str:
    """A time as people read it ("Sun 6 Dec 2026, 18:00 GMT"), in `tz` (else its own offset)."""
    local = value.astimezone(tz) if tz else value
    return local.strftime("%a %-d %b %Y, %H:%M %Z").strip()


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
